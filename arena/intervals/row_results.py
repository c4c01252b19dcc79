"""Per-row results: what each row contributed to a submission's primary metric, kept compactly.

A board recomputes metrics from these under any row weights (paired and joint
bootstraps for honest ranks, the Ladder's noise) without re-reading participants'
files. Count metrics keep the predicted class (uint16), mean-type metrics their
per-row moments (float32), ROC AUC the probabilities (float32). Text metrics keep each row's sufficient statistics
(:func:`arena.metrics.text.row_stats`): a mean metric's one value (exact match's 0 or 1 as uint8, token F1's and
ROUGE's as float32), a corpus metric's counts (BLEU's and chrF's n-grams, WER's and CER's edits and reference
lengths) as the smallest unsigned integers that hold them. A board then computes a text metric from the weighted
column sums of those statistics (:func:`arena.metrics.text.value_of_sums`): no row is ever scored again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from arena._fast import pooled_copy
from arena.intervals import text as text_intervals
from arena.intervals.bootstrap import MEAN_TYPE, moments_for, weighted_rows_auc
from arena.intervals.ladder import beats
from arena.metrics import text as text_metrics
from arena.metrics.registry import Metric


def row_results(metric: Metric, truth: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
    """The compact per-row record of ``metric`` for every answer-key row (None for a metric without one)."""
    if metric.needs == "text":
        options = metric.text if metric.text is not None else text_metrics.DEFAULT
        return text_row_results(metric.name, text_metrics.row_stats(metric.name, truth, pred, options))  # type: ignore[arg-type]
    if metric.from_confusion is not None:
        return pred.astype(np.uint16)
    if metric.name in MEAN_TYPE:  # R² keeps only the squared errors: its other moments come from the truth
        return moments_for(metric.name, truth, pred).values[:, :1].astype(np.float32)
    if metric.name == "roc_auc":  # column by column: the probabilities are read column-major
        return pooled_copy(pred.T, np.float32).T if pred.ndim == 2 else pooled_copy(pred, np.float32)
    return None


UNSIGNED = (np.uint8, np.uint16, np.uint32)


def text_row_results(name: str, stats: np.ndarray) -> np.ndarray:
    """A text metric's per-row statistics (n, d) as kept: whole counts as the smallest unsigned integers that hold
    them (exactly), a mean metric's fractional values (token F1, ROUGE) as float32, anything else as float64."""
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim != 2:
        raise ValueError(f"text metric '{name}': per-row statistics must be (rows, columns), got {stats.shape}")
    finite = bool(np.all(np.isfinite(stats)))
    if finite and np.all(stats >= 0) and np.all(stats == np.floor(stats)):
        top = float(stats.max(initial=0.0))
        for kind in UNSIGNED:
            if top <= np.iinfo(kind).max:
                return stats.astype(kind)
    return stats.astype(np.float32 if name in text_metrics.MEANS else np.float64)


def weighted_values(metric: Metric, truth: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The metric under each row weighting in ``weights`` (R, n): one value per weighting."""
    if metric.needs == "text":  # before the label metrics: a text task's exact_match shares their name
        return text_intervals.weighted_values(metric.name, rows.reshape(len(rows), -1), weights)
    if metric.from_confusion is not None:
        k = int(max(truth.max(initial=0), rows.max(initial=0))) + 1
        cells = truth.astype(np.int64) * k + rows.astype(np.int64)
        onehot = sparse.csr_matrix((np.ones(len(cells)), (np.arange(len(cells)), cells)), shape=(len(cells), k * k))
        matrices = np.asarray((onehot.T @ weights.T).T).reshape(len(weights), k, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(metric.from_confusion(matrices), dtype=np.float64)
    if metric.name in MEAN_TYPE:
        moments = rows.astype(np.float64)
        if metric.name == "r2":
            centred = truth - truth.mean()
            moments = np.column_stack([moments[:, 0], centred, centred * centred])
        value_of = moments_for(metric.name, truth[:1], _example(metric.name, truth)).value_of
        means = (weights @ moments) / weights.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(value_of(means), dtype=np.float64)
    if metric.name == "roc_auc":
        return weighted_rows_auc(truth, rows.astype(np.float64), weights, prior=False)
    raise ValueError(f"no per-row results for metric '{metric.name}'")


def _example(name: str, truth: np.ndarray):
    """A one-row prediction of the right shape, only to fetch a metric's value function."""
    return np.ones((1, 2)) / 2 if name == "log_loss" else truth[:1]


def value(metric: Metric, truth: np.ndarray, rows: np.ndarray) -> float:
    """The metric on all rows, from the per-row record."""
    return float(weighted_values(metric, truth, rows, np.ones((1, len(truth))))[0])


# --- the Ladder's test: does a submission beat the team's best by more than the noise of the public rows? -------

CHUNK_CELLS = 1 << 22
"""Confusion-matrix cells built at once while the jackknife of a count metric walks its row kinds (32 MB)."""

CONFUSION_BUDGET = 1 << 26
"""The most confusion-matrix cells that jackknife may evaluate in all; beyond it (very many classes and many kinds of
rows) the noise is the interval bound, still never below the exact effect of one row."""

INTERVAL_Z = 1.959963984540054
"""The normal quantile of a 95% interval: a side of the interval over it is (at least) one standard error."""


@dataclass(frozen=True)
class Comparison:
    """A submission against the team's best on the public rows.

    ``gain`` is how much better it is (> 0: better) and ``noise`` what it must beat, in the same units: the metric's
    own, except for RMSE and R², whose test is made on the mean squared error (they are monotone in it).
    ``row_effect`` is the largest change one row alone makes between the two (where known), ``how`` says where the
    noise came from: "jackknife" (the per-row results of both), "intervals" (their public 95% intervals) or "none"
    (nothing to measure it with: the score does not move)."""

    gain: float
    noise: float
    row_effect: float
    how: str
    scale: float = 0.0  # the size of the values compared, for the rounding margin

    @property
    def beats(self) -> bool:
        return beats(self.gain, self.noise, self.scale)


def paired_comparison(
    metric: Metric | None,
    truth: np.ndarray,
    new_rows: np.ndarray | None,
    best_rows: np.ndarray | None,
    weights: np.ndarray | None = None,
    *,
    value: float | None = None,
    best_value: float | None = None,
    interval: tuple[float, float] | None = None,
    best_interval: tuple[float, float] | None = None,
    higher_is_better: bool | None = None,
) -> Comparison:
    """The Ladder's test of a submission against the team's best, on the same (public) rows.

    With the per-row results of both (a built-in metric that keeps them), the noise is the jackknife standard error
    of the paired difference, which for a (weighted) mean of per-row losses is exactly the standard error of the mean
    paired difference, and it is never below the largest change one row alone makes, so changing one row never
    passes, whatever the weights. Without them (a metric that keeps none, an organiser's metric, a score kept before
    per-row results were), the noise is the interval bound: sd(A - B) <= sd(A) + sd(B), each standard error read off
    the wider side of that score's public 95% interval, never below ``metric_range / rows``; where that is 0 or
    unknown the score does not move. ``value``/``best_value`` are the two scores, ``interval``/``best_interval``
    their public intervals (only needed without per-row results). ``metric`` is None for an organiser's metric,
    whose direction ``higher_is_better`` then gives."""
    if higher_is_better is not None:
        higher = higher_is_better
    elif metric is not None:
        higher = metric.higher_is_better
    else:
        raise ValueError("an organiser's metric (metric None) needs its direction, higher_is_better")
    sign = 1.0 if higher else -1.0
    if (
        metric is not None
        and new_rows is not None
        and best_rows is not None
        and len(new_rows) == len(best_rows) == len(truth)
    ):
        found = _rows_comparison(metric, truth, new_rows, best_rows, weights)
        if found is not None:
            if np.isfinite(found.noise):
                return found
            bound = interval_bound(value, interval, best_value, best_interval)  # too large to jackknife
            return Comparison(found.gain, max(bound, found.row_effect), found.row_effect, "intervals", found.scale)
    if value is None or best_value is None or not (np.isfinite(value) and np.isfinite(best_value)):
        return Comparison(float("nan"), float("inf"), float("nan"), "none")
    gain = sign * (float(value) - float(best_value))
    floor = METRIC_RANGES.get(_range_name(metric), 0.0) / max(len(truth), 1)
    bound = max(interval_bound(value, interval, best_value, best_interval), floor)
    if not bound > 0:
        return Comparison(gain, float("inf"), float("nan"), "none")
    return Comparison(gain, bound, float("nan"), "intervals", abs(value) + abs(best_value))


METRIC_RANGES = {
    "pearson": 2.0,
    "spearman": 2.0,
    "average_precision": 1.0,
    "multilabel_f1_micro": 1.0,
    "multilabel_f1_macro": 1.0,
    "multilabel_f1_samples": 1.0,
    "multilabel_roc_auc": 1.0,
    "map@": 1.0,
    "ndcg@": 1.0,
}
"""The width of a metric's possible values, where it is bounded and keeps no per-row results: one row's worth of
it (width / rows) is the least noise the interval bound gives."""


def _range_name(metric: Metric | None) -> str:
    name = getattr(metric, "name", "")
    return name.split("@")[0] + "@" if "@" in name else name


def interval_bound(value: float | None, interval, best_value: float | None, best_interval) -> float:
    """An upper bound on the standard error of the difference of two scores from their 95% intervals:
    sd(A - B) <= sd(A) + sd(B) for any two estimators, each sd taken as the wider side of its interval over 1.96
    (the wider side, so that a skewed interval is not read as narrower than it is). Infinite when one is unknown."""
    sides = []
    for point, (low, high) in ((value, interval or (None, None)), (best_value, best_interval or (None, None))):
        if point is None or low is None or high is None or not all(np.isfinite(float(x)) for x in (point, low, high)):
            return float("inf")
        sides.append(max(float(high) - float(point), float(point) - float(low), 0.0))
    return sum(sides) / INTERVAL_Z


def _rows_comparison(
    metric: Metric, truth: np.ndarray, new_rows: np.ndarray, best_rows: np.ndarray, weights: np.ndarray | None
) -> Comparison | None:
    if metric.needs == "text":
        return _text_comparison(metric, new_rows, best_rows, weights)
    if metric.from_confusion is not None:
        return _confusion_comparison(metric, truth, new_rows, best_rows, weights)
    if metric.name in MEAN_TYPE:
        return _mean_comparison(metric.name, new_rows, best_rows, weights)
    if metric.name == "roc_auc" and np.ndim(new_rows) == 2:
        return _auc_comparison(truth, new_rows, best_rows, weights)
    return None


def _jackknife(loo: np.ndarray, count: np.ndarray) -> float:
    """The jackknife standard error from each kind of row's leave-one-out value and how many rows are of that kind."""
    m = float(count.sum())
    if m < 2 or not np.all(np.isfinite(loo)):
        return float("inf")
    centre = float(count @ loo) / m
    return float(np.sqrt((m - 1) / m * float(count @ (loo - centre) ** 2)))


def _positive(weights: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows that count (positive weight) and their weights."""
    if weights is None:
        return np.ones(n, dtype=bool), np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    keep = w > 0
    return keep, w[keep]


def _mean_comparison(name: str, new_rows: np.ndarray, best_rows: np.ndarray, weights: np.ndarray | None) -> Comparison:
    """A (weighted) mean of per-row values: log loss, MAE, exact match, and RMSE and R² through the mean squared
    error. The difference is the mean of the paired per-row differences (exactly 0 on rows that did not change),
    its jackknife standard error is the exact one of a (weighted) mean, and one row's effect is its weight times its
    difference over the total weight."""
    new = np.asarray(new_rows, dtype=np.float64).reshape(len(new_rows), -1)[:, 0]
    best = np.asarray(best_rows, dtype=np.float64).reshape(len(best_rows), -1)[:, 0]
    keep, w = _positive(weights, len(new))
    loss = new[keep] - best[keep]  # the change of each row's loss (its match, for exact match: higher is better)
    if name == "exact_match":
        loss = -loss
    total = float(w.sum())
    shares = w * loss
    change = float(shares.sum()) / total if total > 0 else float("nan")
    if len(loss) < 2 or not np.isfinite(change):
        return Comparison(-change, float("inf"), float("nan"), "none")
    effect = float(np.max(np.abs(shares))) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        loo = (float(shares.sum()) - shares) / (total - w)
    scale = abs(float(w @ new[keep])) / total + abs(float(w @ best[keep])) / total
    return Comparison(-change, max(_jackknife(loo, np.ones(len(loo))), effect), effect, "jackknife", scale)


TEXT_CHUNK_ROWS = 1 << 15
"""Rows whose leave-one-out statistics a text metric's jackknife builds at once (chrF's 18 columns: 4.5 MB)."""


def _text_comparison(
    metric: Metric, new_rows: np.ndarray, best_rows: np.ndarray, weights: np.ndarray | None
) -> Comparison:
    """A text metric, from both submissions' per-row statistics: each row's leave-one-out value is the metric of the
    column sums less that row's statistics (for a mean metric, exactly the leave-one-out mean; for BLEU, chrF, WER
    and CER, the corpus metric without that row), for the jackknife of the difference; one row's effect is the
    change of the new value when that row alone goes back to the best's statistics."""
    name = metric.name
    keep, w = _positive(weights, len(new_rows))
    if len(w) < 2:
        return Comparison(float("nan"), float("inf"), float("nan"), "none")
    relative = w / w.mean()  # each row counts its weight relative to the mean (text_metrics.weighted_sums)
    new = np.asarray(new_rows, dtype=np.float64).reshape(len(new_rows), -1)[keep]
    best = np.asarray(best_rows, dtype=np.float64).reshape(len(best_rows), -1)[keep]
    total = float(relative.sum())
    new_sums, best_sums = relative @ new, relative @ best
    with np.errstate(invalid="ignore", divide="ignore"):
        new_value = float(text_metrics.value_of_sums(name, new_sums, total))
        best_value = float(text_metrics.value_of_sums(name, best_sums, total))
    sign = 1.0 if metric.higher_is_better else -1.0
    gain, scale = sign * (new_value - best_value), abs(new_value) + abs(best_value)
    if not (np.isfinite(new_value) and np.isfinite(best_value)):
        return Comparison(gain, float("inf"), float("nan"), "none", scale)
    loo = np.empty(len(w))
    effect = 0.0
    for start in range(0, len(w), TEXT_CHUNK_ROWS):
        part = slice(start, start + TEXT_CHUNK_ROWS)
        mine, theirs, r = new[part] * relative[part, None], best[part] * relative[part, None], relative[part]
        with np.errstate(invalid="ignore", divide="ignore"):
            loo[part] = text_metrics.value_of_sums(name, new_sums - mine, total - r) - text_metrics.value_of_sums(
                name, best_sums - theirs, total - r
            )
            moved = text_metrics.value_of_sums(name, new_sums - mine + theirs, total) - new_value
        effect = max(effect, float(np.max(np.abs(moved), initial=0.0)))
    if not np.isfinite(effect):
        return Comparison(gain, float("inf"), float("inf"), "none", scale)
    return Comparison(gain, max(_jackknife(loo, np.ones(len(loo))), effect), effect, "jackknife", scale)


def _row_kinds(keys: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (key, weight) pairs among the rows: their keys, weights and how many rows each."""
    if w is None:
        kinds, count = np.unique(keys, return_counts=True)
        return kinds, np.ones(len(kinds)), count.astype(np.float64)
    order = np.lexsort((w, keys))
    keys, w = keys[order], w[order]
    start = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]) | (w[1:] != w[:-1])])
    return keys[start], w[start], np.diff(np.r_[start, len(keys)]).astype(np.float64)


def _moved(
    metric: Metric, base: np.ndarray, minus: np.ndarray, plus: np.ndarray | None, amount: np.ndarray
) -> np.ndarray:
    """The metric on copies of the confusion matrix ``base`` (k, k), the i-th with ``amount[i]`` taken from cell
    ``minus[i]`` (and given to cell ``plus[i]``), a few thousand copies at a time."""
    from_confusion = metric.confusion_function()
    k2 = base.size
    out = np.empty(len(minus))
    step = max(1, CHUNK_CELLS // k2)
    flat = base.reshape(-1)
    for start in range(0, len(minus), step):
        part = slice(start, start + step)
        count = len(minus[part])
        matrices = np.tile(flat, (count, 1))
        at = np.arange(count)
        matrices[at, minus[part]] -= amount[part]
        if plus is not None:
            matrices[at, plus[part]] += amount[part]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[part] = from_confusion(matrices.reshape(count, *base.shape))
    return out


def _confusion_comparison(
    metric: Metric, truth: np.ndarray, new_rows: np.ndarray, best_rows: np.ndarray, weights: np.ndarray | None
) -> Comparison:
    """A count metric (accuracy, F1, QWK, MCC, ...): the jackknife of the difference, each row left out of both
    confusion matrices, computed once per kind of row (its true, new and best class, and weight); one row's effect is
    the change of the new matrix's value when that row alone goes back to the best's class."""
    keep, w = _positive(weights, len(truth))
    t, a, b = (np.asarray(x)[keep].astype(np.int64) for x in (truth, new_rows, best_rows))
    sign = 1.0 if metric.higher_is_better else -1.0
    if len(t) == 0:
        return Comparison(float("nan"), float("inf"), float("nan"), "none")
    k = int(max(t.max(), a.max(), b.max())) + 1
    new_cm = np.bincount(t * k + a, weights=w, minlength=k * k).reshape(k, k)
    best_cm = np.bincount(t * k + b, weights=w, minlength=k * k).reshape(k, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        new_value, best_value = (float(metric.confusion_function()(cm)) for cm in (new_cm, best_cm))
    gain = sign * (new_value - best_value)
    scale = abs(new_value) + abs(best_value)
    kinds, kind_w, count = _row_kinds((t * k + a) * k + b, None if weights is None else w)
    true_class, rest = np.divmod(kinds, k * k)
    new_class, best_class = np.divmod(rest, k)
    moved = new_class != best_class
    if int(moved.sum()) * k * k > CONFUSION_BUDGET:  # very many classes and many rows changed: no one-row probe
        return Comparison(gain, float("inf"), 0.0, "none", scale)
    new_cell, best_cell = true_class * k + new_class, true_class * k + best_class
    reverted = _moved(metric, new_cm, new_cell[moved], best_cell[moved], kind_w[moved])
    effect = float(np.max(np.abs(new_value - reverted))) if moved.any() else 0.0
    if not np.isfinite(effect):
        return Comparison(gain, float("inf"), float("inf"), "none", scale)
    if 2 * len(kinds) * k * k > CONFUSION_BUDGET:
        return Comparison(gain, float("inf"), effect, "none", scale)
    loo = _moved(metric, new_cm, new_cell, None, kind_w) - _moved(metric, best_cm, best_cell, None, kind_w)
    return Comparison(gain, max(_jackknife(loo, count), effect), effect, "jackknife", scale)


def _placements(positive: np.ndarray, score: np.ndarray, w: np.ndarray):
    """For ROC AUC under row weights: the function that places a score among the rows (for a positive row, the weight
    of negatives below it plus half of those tied; for a negative one, the weight of positives above it plus half of
    those tied), and the total positive and negative weight."""
    levels, level = np.unique(score, return_inverse=True)
    pos = np.bincount(level, weights=np.where(positive, w, 0.0), minlength=len(levels))
    neg = np.bincount(level, weights=np.where(positive, 0.0, w), minlength=len(levels))
    neg_before = np.r_[0.0, np.cumsum(neg)]  # the weight of the levels below each level (and of all, last)
    pos_before = np.r_[0.0, np.cumsum(pos)]
    pos_total = float(pos_before[-1])

    def place(is_positive: np.ndarray, values: np.ndarray) -> np.ndarray:
        at = np.searchsorted(levels, values, side="left")  # the first level at or above each value
        safe = np.minimum(at, len(levels) - 1)
        tied = (at < len(levels)) & (levels[safe] == values)
        below = neg_before[at] + np.where(tied, 0.5 * neg[safe], 0.0)
        above = pos_total - np.where(tied, pos_before[safe + 1] - 0.5 * pos[safe], pos_before[at])
        return np.where(is_positive, below, above)

    return place, pos_total, float(neg.sum())


def _auc_comparison(
    truth: np.ndarray, new_rows: np.ndarray, best_rows: np.ndarray, weights: np.ndarray | None
) -> Comparison:
    """ROC AUC (binary, or one-vs-rest macro): each row's leave-one-out AUC from its placement among the other class
    (DeLong's placement values), for the jackknife of the difference; one row's effect is the change of the new AUC
    when that row alone goes back to the best's scores."""
    keep, w = _positive(weights, len(truth))
    t = np.asarray(truth)[keep]
    new = np.asarray(new_rows, dtype=np.float64)[keep]
    best = np.asarray(best_rows, dtype=np.float64)[keep]
    classes = [1] if new.shape[1] == 2 else range(new.shape[1])
    n = len(t)
    loo = np.zeros(n)
    effect = np.zeros(n)
    values = np.zeros(2)
    changed = np.any(new != best, axis=1)
    for c in classes:
        positive = t == c
        for j, scores in enumerate((new[:, c], best[:, c])):
            place, p, q = _placements(positive, scores, w)
            if not (p > 0 and q > 0):
                return Comparison(float("nan"), float("inf"), float("nan"), "none")
            mine = place(positive, scores)
            u = float(w @ np.where(positive, mine, 0.0))
            values[j] += u / (p * q) / len(classes)
            with np.errstate(invalid="ignore", divide="ignore"):
                left = (u - w * mine) / np.where(positive, (p - w) * q, p * (q - w))
            loo += (left if j == 0 else -left) / len(classes)
            if j == 0 and changed.any():
                back = place(positive[changed], best[changed, c])
                effect[changed] += w[changed] * (back - mine[changed]) / (p * q) / len(classes)
    gain = values[0] - values[1]
    row_effect = float(np.max(np.abs(effect))) if n else 0.0
    return Comparison(
        gain, max(_jackknife(loo, np.ones(n)), row_effect), row_effect, "jackknife", abs(values[0]) + abs(values[1])
    )


def to_bytes(rows: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, rows, allow_pickle=False)
    return buffer.getvalue()


def from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)
