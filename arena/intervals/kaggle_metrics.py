"""95% intervals for the metrics Kaggle competitions use, without calling the metric once per resample.

The method is :mod:`arena.intervals.bootstrap`' Bayesian bootstrap (an Exp(1) weight per
row, or per random block of rows above ``BLOCKS`` rows, and Hesterberg's expansion to
Student's t), drawn from each metric's sufficient statistics. Up to ``BLOCKS`` rows every
row keeps its own weight, so the replicates are the plain Bayesian bootstrap's, exactly;
above that:

- means of per-row values (rmsle, mape, smape, multilabel_log_loss,
  multilabel_f1_samples, map@K, ndcg@K) sum those values into the blocks, as
  intervals.py does for MAE and RMSE;
- pearson sums the per-row first and second moments and the cross moment of the two
  sides, each centred on its mean and scaled first, so no sum loses digits;
- spearman sorts each side once (:func:`arena.metrics.regression.ranked_pair`: the value
  and the influences come from the two sorted orders, never a rank array in row order).
  Up to ``BLOCKS`` rows each resample re-ranks the rows under its weights (a running sum
  of the weights in each side's order). Above that the weighted statistic is its
  first-order expansion: each row's influence on Spearman's rho, which counts how the row
  moves every other row's rank, summed into the blocks.
  Pearson's r of ranks fixed once, the usual shortcut, leaves those terms out: its
  spread comes out 2% to 8% too narrow for rank correlations of 0.6 to 0.97 (bivariate
  normal, 2,000 rows), while the influence's matches re-ranking (tests/test_fast_intervals.py);
- average_precision, for two classes and at most ``BLOCKS`` distinct scores, draws one
  Gamma(count) weight per score and class (exact: a class's rows at one score weigh
  their sum of Exp(1) weights); otherwise each row's influence on the average precision
  (read from running sums over the class counts in score order, averaged over the
  classes one-vs-rest) is summed into the blocks;
- median_ae needs no resampling at any size: under the Bayesian bootstrap the weighted
  median is the k-th smallest error with a probability known in closed form (a Beta tail,
  the same Binomial(n, 1/2) tail as the distribution-free order-statistic interval), so
  the replicates are draws of k from it, read off two partial sorts;
- multilabel_f1_micro sums each row's true positives, false positives and false
  negatives over the labels; multilabel_f1_macro keeps them per label (block sums
  that count only the non-zero cells); multilabel_roc_auc sums each row's influence
  (DeLong's placement values, per label, averaged over the labels that have both classes).

With row weights (a task's weight column) each row's Exp(1) draw is times its weight, and every metric here keeps
its method: the means, pearson's moments and the multi-label counts sum each row's values times its weight into the
blocks with the weight itself; spearman re-ranks the rows under their weights up to ``BLOCKS`` rows, and above
that sums its weighted influence (the same expansion with every expectation weighted, E[F²] then moving even
without ties); average precision and multi-label ROC AUC weigh every row up to ``BLOCKS`` rows and sum their
influences from weighted class counts in score order above; median_ae draws only the rows near its weighted
median. A pseudo-row of the prior weighs as much as an average row, and a trivial predictor's value weighs the
rows as the metric does.

The prior keeps a perfect submission's interval off a single point, as the classic
metrics' does (:func:`arena.intervals.bootstrap.moments_interval`). A loss that is a mean
(rmsle, mape, smape, multilabel_log_loss) gets half a pseudo-row at its lowest and half
at its highest row (block) value, the rows' own scale; where every row is alike (a
perfect submission), and for scores in [0, 1] that are means (per-row F1, AP@K,
NDCG@K), half a pseudo-row at the best value and half at a trivial predictor's
(``PRIOR``). Elsewhere the pseudo-rows enter on the metric's own scale, weighed against
the rows' total weight: half a row each for the F1 scores and median_ae, and a sixteenth
of a row each (``AUC_PRIOR``, as ROC AUC's prior) for the ranking-type metrics whose
spread shrinks near their best value, where half a row would drag the interval: pearson
and spearman (one pseudo-row at +1, one at -1), average precision and multi-label ROC
AUC (one at 1, one at the trivial value). A prediction that says nothing of the truth (a
constant one: a correlation of 0, a ROC AUC of 1/2 however the rows are weighted) gets
its value as its interval.

The percentiles are expanded to Student's t for
:func:`arena.intervals.bootstrap.effective_rows`: fewer rows where each row's influence on
the metric (the per-row values of a mean, the influence functions above, the F1's
derivatives times each row's counts) is heavy-tailed. Every interval holds its own
value: an end that falls short of it is moved to it, so a perfect submission's interval
reaches the perfect value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import betainc

from arena._fast import over_slices
from arena.intervals.bootstrap import (
    AUC_BINS,
    AUC_PRIOR,
    BLOCKS,
    PRIOR,
    RESAMPLES,
    SUMMARISED,
    Interval,
    block_sums,
    effective_rows,
    excess_kurtosis,
    gamma_draws,
    percentile_interval,
    replicates_from_sums,
    row_weights,
    standard_normals,
    weighted_rows_auc,
)
from arena.metrics.agreement import average_precision
from arena.metrics.multilabel import (
    _f1,
    multilabel_f1_macro,
    multilabel_f1_micro,
    multilabel_roc_auc,
    row_f1,
    row_log_losses,
)
from arena.metrics.ranking import parse_name as ranking_name
from arena.metrics.ranking import per_query
from arena.metrics.registry import row_levels
from arena.metrics.regression import (
    RankedPair,
    _unit_deviations,
    pair_of,
    pearson,
    percentage_errors,
    sorted_side,
    spearman,
    spearman_of,
    squared_log_errors,
    symmetric_errors,
    tie_groups,
    weighted_mean,
    weighted_median,
)

Prior = tuple[tuple[float, float], ...]  # (pseudo-rows, the metric's value there)

__all__ = ["Draws", "draws", "handles", "handles_weighted", "interval", "point_and_replicates", "value_and_interval"]


@dataclass(frozen=True)
class Draws:
    """A metric's value on the rows, its Bayesian-bootstrap replicates, and the rows its percentiles are expanded for
    (:func:`arena.intervals.bootstrap.effective_rows`: fewer than the rows where the rows' influence on the metric is
    heavy-tailed). ``exact``: the predictions say nothing of the truth (a constant prediction's correlation is 0
    however the rows are weighted), so the interval is the value itself."""

    point: float
    values: np.ndarray
    rows: float
    exact: bool = False


def handles(name: str) -> bool:
    """Whether this module draws the metric's interval."""
    return name in SUMMARISED or ranking_name(name) is not None


def interval(
    name: str,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    blocks: int = BLOCKS,
    weight: np.ndarray | None = None,
) -> Interval:
    """The metric's 95% interval: the replicates' expanded percentile interval, holding the metric's value."""
    return value_and_interval(name, truth, pred, resamples=resamples, seed=seed, blocks=blocks, weight=weight)[1]


def value_and_interval(
    name: str,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    blocks: int = BLOCKS,
    weight: np.ndarray | None = None,
) -> tuple[float, Interval]:
    """The metric's value (what its ``from_rows`` gives) and its 95% interval, from one pass: scoring needs both."""
    found = draws(name, truth, pred, resamples=resamples, seed=seed, blocks=blocks, weight=weight)
    if found.exact:
        return found.point, Interval(found.point, found.point, 0, resamples)
    return found.point, percentile_interval(found.values, found.rows, found.point)


WEIGHTED = (
    "rmsle",
    "mape",
    "smape",
    "multilabel_log_loss",
    "multilabel_f1_samples",
    "median_ae",
    "pearson",
    "spearman",
    "average_precision",
    "multilabel_f1_micro",
    "multilabel_f1_macro",
    "multilabel_roc_auc",
)
"""The metrics drawn here with row weights too (and map@K, ndcg@K): every one this module draws."""


def handles_weighted(name: str) -> bool:
    """Whether this module draws the metric's interval with row weights."""
    return name in WEIGHTED or ranking_name(name) is not None


def point_and_replicates(
    name: str, truth: np.ndarray, pred: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0, blocks: int = BLOCKS
) -> tuple[float, np.ndarray]:
    """The metric's value (exactly what its ``from_rows`` gives) and its Bayesian-bootstrap replicates."""
    found = draws(name, truth, pred, resamples=resamples, seed=seed, blocks=blocks)
    return found.point, found.values


def draws(
    name: str,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    blocks: int = BLOCKS,
    weight: np.ndarray | None = None,
) -> Draws:
    """The metric's :class:`Draws` on these rows, with row ``weight`` (:func:`handles_weighted` metrics) or none."""
    options = {"resamples": resamples, "seed": seed, "blocks": blocks}
    if name in MEANS:
        values, finish, loss, fallback = MEANS[name](truth, pred, None if weight is None else np.asarray(weight, float))
        return _mean_draws(values, finish, loss, fallback, weight=weight, **options)
    parsed = ranking_name(name)
    if parsed is not None:
        return _mean_draws(per_query(*parsed, truth, pred), _first, False, (1.0, 0.0), weight=weight, **options)
    if weight is None:
        return OTHERS[name](truth, pred, **options)
    if name not in WEIGHTED:
        raise ValueError(f"no weighted draws for metric '{name}'")
    return OTHERS[name](truth, pred, weight=np.asarray(weight, dtype=np.float64), **options)


def _undefined(point: float, resamples: int) -> Draws:
    return Draws(point, np.full(resamples, np.nan), 0.0)


def _counted(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows that carry weight, and their weights over the largest (weights of any scale: sums stay finite)."""
    counted = weight > 0
    kept = weight[counted]
    return counted, kept / float(kept.max()) if len(kept) else kept


# --- means of per-row values --------------------------------------------------------


def _first(means: np.ndarray) -> np.ndarray:
    return means[..., 0]


def _root(means: np.ndarray) -> np.ndarray:
    return np.sqrt(means[..., 0])


def _median_guess(
    truth: np.ndarray, errors: Callable[[np.ndarray, np.ndarray], np.ndarray], weight: np.ndarray | None
) -> float:
    """The metric's (weighted) mean when every row is predicted the truth's (weighted) median: a trivial predictor."""
    if not len(truth):
        return 0.0
    return weighted_mean(errors(truth, np.full(len(truth), weighted_median(truth, weight))), weight)


def _rmsle(truth, pred, weight):  # the trivial guess: exp(mean log1p) - 1
    logs = np.log1p(truth)
    spread = weighted_mean((logs - weighted_mean(logs, weight)) ** 2, weight) if len(truth) else 0.0
    return squared_log_errors(truth, pred), _root, True, (0.0, spread)


def _mape(truth, pred, weight):  # the better of two trivial guesses: the median, or 0 (a MAPE of exactly 1)
    return (
        percentage_errors(truth, pred),
        _first,
        True,
        (0.0, min(1.0, _median_guess(truth, percentage_errors, weight))),
    )


def _smape(truth, pred, weight):
    return symmetric_errors(truth, pred), _first, True, (0.0, _median_guess(truth, symmetric_errors, weight))


def _multilabel_log_loss(truth, proba, weight):  # the trivial guess: 1/2 for every label
    return row_log_losses(truth, proba), _first, True, (0.0, float(np.log(2)))


def _f1_samples(truth, pred, weight):  # the trivial guess: no label
    return row_f1(truth, pred), _first, False, (1.0, 0.0)


MEANS = {
    "rmsle": _rmsle,
    "mape": _mape,
    "smape": _smape,
    "multilabel_log_loss": _multilabel_log_loss,
    "multilabel_f1_samples": _f1_samples,
}
"""Means of per-row values, from (truth, prediction, row weights or None): (per-row values, the function of their mean
that gives the metric, whether it is a loss, and the best and a trivial predictor's per-row value, the trivial one
weighing the rows as the metric does)."""


def _mean_draws(
    values: np.ndarray,
    finish: Callable[[np.ndarray], np.ndarray],
    loss: bool,
    fallback: tuple[float, float],
    *,
    resamples: int,
    seed: int,
    blocks: int,
    weight: np.ndarray | None = None,
) -> Draws:
    """A function of the (weighted) mean of per-row values, with :func:`arena.intervals.bootstrap.moments_interval`'s
    prior: a loss gets half a pseudo-row at its lowest and half at its highest row (block) value, the rows' own
    scale; a score in [0, 1] (per-row F1, AP@K, NDCG@K), or a loss whose rows are all alike, half at the best value
    and half at a trivial predictor's (``fallback``). With row weights each row's Exp(1) draw is times its weight, and
    a pseudo-row weighs as much as an average row (as :mod:`arena.intervals.weighted` does for the classic metrics)."""
    point = float(finish(np.array([weighted_mean(values, weight)])))
    unit = 1.0
    if weight is not None:
        counted = weight > 0
        values, weight = values[counted], weight[counted]
        unit = float(weight.sum()) / max(len(weight), 1)
        if not len(values) or unit <= 0:
            return _undefined(point, resamples)
        sums, counts = block_sums(np.column_stack([values * weight, weight]), blocks=blocks, seed=seed)
        sums, mass = sums[:, :1], sums[:, 1]
    else:
        sums, counts = block_sums(values[:, None], blocks=blocks, seed=seed)
        mass = counts
    occupied = mass > 0
    first = sums[occupied, 0] / mass[occupied]
    low, high = float(first.min()), float(first.max())
    prior: tuple[tuple[float, tuple[float]], ...]
    if loss and high - low > 1e-9 * max(abs(low), abs(high)):
        prior = ((PRIOR, (low,)), (PRIOR, (high,)))
    else:
        prior = tuple((PRIOR, (v,)) for v in fallback)
    replicates = replicates_from_sums(sums, mass, finish, prior, resamples=resamples, seed=seed, unit=unit)
    mean = float(sums.sum() / mass.sum())
    # Each block's influence: its rows' (weighted) deviations from the mean, in units of an average row's weight.
    influence = (sums[:, 0] - mass * mean) / unit
    return Draws(point, replicates, effective_rows(len(values), excess_kurtosis(influence, counts)))


# --- shared machinery ---------------------------------------------------------------


def _weighted_sums(values: np.ndarray, *, resamples: int, seed: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Each resample's weighted sums (R, d) of per-row ``values`` (n, d), and its total weight (R,): Exp(1) weights
    per row up to ``blocks`` rows, else per random block (:func:`arena.intervals.bootstrap.block_sums`)."""
    sums, counts = block_sums(values, blocks=blocks, seed=seed)
    both = row_weights(resamples, len(counts), seed) @ np.column_stack([sums, counts])
    return both[:, :-1], both[:, -1]


def _with_prior(
    values: np.ndarray, mass: np.ndarray, prior: Prior, seed: int, bounds: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """Replicates with the prior's pseudo-rows on the metric's own scale: each is the weighted mean of the rows'
    value (weight ``mass``, the rows' total) and the pseudo-rows' values (Gamma(pseudo-rows) weights), kept
    within the metric's ``bounds`` (a last-digit rounding may step past them)."""
    rng = np.random.default_rng([seed, 7])
    total, weight = values * mass, mass.astype(np.float64, copy=True)
    for shape, value in prior:
        draw = rng.standard_gamma(shape, len(values))
        total += draw * value
        weight += draw
    return np.clip(total / weight, *bounds)


def _influence_rows(influence: np.ndarray, *, blocks: int, seed: int) -> float:
    """The rows the percentiles are expanded for, from each row's influence on the metric (its kurtosis, read off
    the same blocks the bootstrap weighs)."""
    sums, counts = block_sums(influence[:, None], blocks=blocks, seed=seed)
    mean = float(sums.sum() / counts.sum())
    return effective_rows(len(influence), excess_kurtosis(sums[:, 0] - counts * mean, counts))


def _linear(
    point: float,
    influence: np.ndarray,
    *,
    resamples: int,
    seed: int,
    blocks: int,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """First-order replicates (the value plus the weighted mean of the rows' influences, each row weighing its Exp(1)
    draw times its ``weight``), the total weights (in average rows), and the rows the percentiles are expanded for."""
    if weight is None:
        sums, counts = block_sums(influence[:, None], blocks=blocks, seed=seed)
        mass = counts
    else:
        relative = weight / (float(weight.sum()) / len(weight))  # in units of an average row's weight
        both_sums, counts = block_sums(np.column_stack([influence * relative, relative]), blocks=blocks, seed=seed)
        sums, mass = both_sums[:, :1], both_sums[:, 1]
    both = row_weights(resamples, len(counts), seed) @ np.column_stack([sums, mass])
    mean = float(sums.sum() / mass.sum())
    rows = effective_rows(len(influence), excess_kurtosis(sums[:, 0] - mass * mean, counts))
    return point + both[:, 0] / both[:, 1], both[:, 1], rows


CORRELATION_PRIOR: Prior = ((AUC_PRIOR, 1.0), (AUC_PRIOR, -1.0))


# --- pearson and spearman -----------------------------------------------------------


def _correlation_of(means: np.ndarray) -> np.ndarray:
    """Pearson's r from weighted means (R, 5) of t, p, t², p² and tp; 0 where a side has no spread."""
    t, p = means[:, 0], means[:, 1]
    cov = means[:, 4] - t * p
    spread = np.sqrt(np.maximum(means[:, 2] - t * t, 0)) * np.sqrt(np.maximum(means[:, 3] - p * p, 0))
    out = np.zeros(len(means))
    np.divide(cov, spread, out=out, where=spread > 0)
    return np.clip(out, -1.0, 1.0)


def _pearson(truth, pred, *, resamples, seed, blocks, weight=None):
    point = pearson(truth, pred, weight)  # the metric's own computation
    if not np.isfinite(point):
        return _undefined(point, resamples)
    if weight is not None:
        counted, weight = _counted(weight)
        truth, pred = truth[counted], pred[counted]
    n = len(truth)
    relative = np.ones(n) if weight is None else weight / (float(weight.sum()) / n)  # in average rows' weight
    t = _unit_deviations(np.asarray(truth, dtype=np.float64), relative, float(n))
    p = _unit_deviations(np.asarray(pred, dtype=np.float64), relative, float(n)) if t is not None else None
    if t is None or p is None:  # a constant side: 0 however the rows are weighted
        return Draws(point, np.full(resamples, point), n, exact=True)
    moments = np.stack([t, p, t * t, p * p, t * p], axis=1)
    if weight is None:
        sums, counts = block_sums(moments, blocks=blocks, seed=seed)
        mass = counts
    else:  # each row's moments times its weight, and the weight, summed per block
        sums, counts = block_sums(np.column_stack([moments * relative[:, None], relative]), blocks=blocks, seed=seed)
        sums, mass = sums[:, :-1], sums[:, -1]
    both = row_weights(resamples, len(counts), seed) @ np.column_stack([sums, mass])
    total = both[:, -1]
    values = _with_prior(_correlation_of(both[:, :-1] / total[:, None]), total, CORRELATION_PRIOR, seed, (-1.0, 1.0))
    # Each block's influence on r, for the expansion: r's derivatives in the five means times the block's moments.
    mt, mp, mtt, mpp, mtp = sums.sum(axis=0) / mass.sum()
    vt, vp = mtt - mt * mt, mpp - mp * mp
    r, spread = (mtp - mt * mp) / np.sqrt(vt * vp), np.sqrt(vt * vp)
    slope = np.array([r * mt / vt - mp / spread, r * mp / vp - mt / spread, -r / (2 * vt), -r / (2 * vp), 1 / spread])
    deviations = (sums - np.outer(mass, [mt, mp, mtt, mpp, mtp])) @ slope
    return Draws(point, values, effective_rows(n, excess_kurtosis(deviations, counts)))


RERANK_CHUNK = 16  # resamples re-ranked at a time: their weights stay in cache


def _reranked_spearman(weights: np.ndarray, sides: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Spearman's rho under each row of ``weights`` (R, n), every resample re-ranking the rows: a row's weighted
    mid-rank is the weight below its run of equal values plus half the run's (as ``spearman`` with weights).

    The weighted mean of such mid-ranks is always half the total weight W, so the weighted covariance is
    sum(w r s) - W³/4 and each variance sum(w r²) - W³/4.
    """
    r, n = weights.shape
    out = np.empty(r)
    for start in range(0, r, RERANK_CHUNK):
        w = weights[start : start + RERANK_CHUNK]
        quarter = w.sum(axis=1) ** 3 / 4
        ranks = []
        for order, starts in sides:
            ordered = w[:, order]
            if len(starts) == n:  # no ties: each row its own run
                mid = np.cumsum(ordered, axis=1)
                mid -= ordered / 2
            else:
                runs = np.add.reduceat(ordered, starts, axis=1)
                mid = np.cumsum(runs, axis=1)
                mid -= runs / 2
                mid = np.repeat(mid, np.diff(np.append(starts, n)), axis=1)
            placed = np.empty_like(mid)
            placed[:, order] = mid
            ranks.append(placed)
        t, p = ranks
        weighted = w * t
        cov = np.einsum("ij,ij->i", weighted, p) - quarter
        spread = np.einsum("ij,ij->i", weighted, t) - quarter
        spread *= np.einsum("ij,ij,ij->i", w, p, p) - quarter
        found = np.zeros(len(w))
        np.divide(cov, np.sqrt(np.maximum(spread, 0)), out=found, where=spread > 0)
        out[start : start + len(w)] = np.clip(found, -1.0, 1.0)
    return out


def _above_sorted(values: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
    """At each sorted position, the sum of ``values`` (in that order) over the positions above its run of ties
    plus half over its run (itself included); ``starts``: where the runs start (None: each position its own)."""
    if starts is None:
        out = np.cumsum(values)
        np.subtract(out[-1], out, out=out)
        out += values / 2
        return out
    runs = np.add.reduceat(values, starts)
    above = runs.sum() - np.cumsum(runs)
    above += runs / 2
    return np.repeat(above, np.diff(np.append(starts, len(values))))


def spearman_influence(pair: RankedPair, point: float, weight: np.ndarray | None = None) -> np.ndarray:
    """Each row's influence on Spearman's rho (Pearson's r of the mid-rank distribution functions F and G), in the
    truth's sorted order (:class:`arena.metrics.regression.RankedPair`), with row ``weight`` or none.

    rho = (E[FG] - 1/4) / sqrt((E[F²] - 1/4)(E[G²] - 1/4)), E[F] being 1/2 under any weights; a row moves each mean
    directly and through every other row's F and G: E[FG] by F_i G_i + E[G 1{X > x_i}] + E[F 1{Y > y_i}] - 3 E[FG]
    (ties, the row itself included, count one half), E[F²] by F_i² + 2 E[F 1{X > x_i}] - 3 E[F²], which is zero
    without ties or weights (E[F²] is then fixed). The expectations weigh each row by its weight.
    """
    side_t, side_p, at_p = pair.truth, pair.pred, pair.at_p
    n = len(at_p)
    back = np.empty(n, dtype=np.int32)  # the truth-order position of the row at each prediction-order position
    back[at_p] = np.arange(n, dtype=np.int32)
    if weight is None:
        total = float(n)
        w_t = w_p = None
        f = (np.arange(n) + 0.5) if side_t.mid is None else side_t.mid.copy()
        f /= total
        g_p = (np.arange(n) + 0.5) if side_p.mid is None else side_p.mid.copy()
        g_p /= total
    else:
        total = float(weight.sum())
        w_t, w_p = weight[side_t.order], weight[side_p.order]
        f = 1 - _above_sorted(w_t, side_t.starts) / total
        g_p = 1 - _above_sorted(w_p, side_p.starts) / total
    g, f_p = g_p[at_p], f[back]

    def times_weight(values: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        return values if w is None else values * w

    def mean(values: np.ndarray, w: np.ndarray | None) -> float:
        return float(values.sum() if w is None else np.dot(values, w)) / total

    product = f * g
    m1, m2, m3 = mean(product, w_t), mean(f * f, w_t), mean(g_p * g_p, w_p)
    vf, vg = m2 - 0.25, m3 - 0.25
    if not vf * vg > 0:  # the weight on one row, but for rounding: no spread to move
        return np.zeros(n)
    out = _above_sorted(times_weight(g, w_t), side_t.starts)
    out += _above_sorted(times_weight(f_p, w_p), side_p.starts)[at_p]
    out /= total
    out += product
    out -= 3 * m1
    out /= np.sqrt(vf * vg)
    if weight is not None or side_t.starts is not None:  # with ties or weights E[F²] moves too
        moved = f * f + 2 * _above_sorted(times_weight(f, w_t), side_t.starts) / total - 3 * m2
        out -= point / 2 / vf * moved
    if weight is not None or side_p.starts is not None:
        moved = g_p * g_p + 2 * _above_sorted(times_weight(g_p, w_p), side_p.starts) / total - 3 * m3
        out -= (point / 2 / vg * moved)[at_p]
    return out


PARALLEL_ROWS = 1 << 16  # rows from which spearman's two sides are sorted on two cores at once


def _both(tasks: list[Callable[[], object]], rows: int) -> list:
    """The tasks' results, in order: on every core at once (:func:`arena._fast.parallel.over_slices`) from
    ``PARALLEL_ROWS`` rows. None of them may itself use the slices' threads."""
    if rows < PARALLEL_ROWS:
        return [task() for task in tasks]
    return [
        found
        for part in over_slices(lambda each: [task() for task in tasks[each]], len(tasks), min_rows=1)
        for found in part
    ]


def _spearman(truth, pred, *, resamples, seed, blocks, weight=None):
    if weight is not None:
        point = spearman(truth, pred, weight)  # the metric's own computation
        counted, weight = _counted(weight)
        truth, pred = truth[counted], pred[counted]
    n = len(truth)
    if n < 2:
        return _undefined(float("nan") if weight is None else point, resamples)
    side_t, side_p = _both([lambda: sorted_side(truth), lambda: sorted_side(pred)], n)
    pair = pair_of(side_t, side_p)
    if weight is None:
        point = spearman_of(pair)  # spearman's own computation
    if not np.isfinite(point):
        return _undefined(point, resamples)
    if len(side_t.runs()) < 2 or len(side_p.runs()) < 2:  # a constant side: 0 however the rows are weighted
        return Draws(point, np.full(resamples, point), n, exact=True)
    influence = spearman_influence(pair, point, weight)
    w_sorted = None if weight is None else weight[side_t.order]  # the influences are in the truth's order
    if n <= blocks:
        weights = row_weights(resamples, n, seed)
        unit = 1.0 if weight is None else float(weight.sum()) / n
        if weight is not None:
            weights = weights * weight
        sides = [(side_t.order, side_t.runs()), (side_p.order, side_p.runs())]
        values, mass = _reranked_spearman(weights, sides), weights.sum(axis=1) / unit
        rows = _influence_rows(influence if w_sorted is None else influence * w_sorted / unit, blocks=blocks, seed=seed)
    else:
        values, mass, rows = _linear(point, influence, resamples=resamples, seed=seed, blocks=blocks, weight=w_sorted)
    return Draws(point, _with_prior(values, mass, CORRELATION_PRIOR, seed, (-1.0, 1.0)), rows)


# --- median absolute error ----------------------------------------------------------


def _median_ae(truth, pred, *, resamples, seed, blocks, weight=None):
    if weight is not None:
        return _weighted_median_ae(truth, pred, weight, resamples=resamples, seed=seed, blocks=blocks)
    errors = np.abs(pred - truth)
    n = len(errors)
    point = float(np.median(errors))
    # Rows in increasing error, weights w: the weighted median is the k-th (1-based) smallest, k the first with
    # S_k = w_1 + ... + w_k >= S_n / 2. S_k / S_n is Beta(k, n - k), so P(k' <= k) = P(Beta(k, n - k) >= 1/2).
    spread = int(np.ceil(8 * np.sqrt(n))) + 2
    ks = np.arange(max(1, n // 2 - spread), min(n, n // 2 + spread) + 1)
    below = np.where(ks < n, 1 - betainc(ks, np.maximum(n - ks, 1), 0.5), 1.0)
    rng = np.random.default_rng([seed, 5])
    k = ks[np.minimum(np.searchsorted(below, rng.random(resamples)), len(ks) - 1)]
    lo, hi = int(k.min()) - 1, int(k.max()) - 1
    window = np.partition(errors, [lo, hi]) if hi > lo else np.partition(errors, lo)
    ordered = np.sort(window[lo : hi + 1])
    values = ordered[k - 1 - lo]
    mass = rng.standard_gamma(float(n), resamples)  # S_n: independent of where the median falls
    reference = float(np.median(np.abs(truth - np.median(truth))))  # predicting the truth's median
    values = _with_prior(values, mass, ((PRIOR, 0.0), (PRIOR, reference)), seed, (0.0, np.inf))
    return Draws(point, values, n)  # a row's influence on a median is its side of it: never heavy-tailed


def _weighted_median_ae(truth, pred, weight, *, resamples, seed, blocks):
    """median_ae with row weights: under the Bayesian bootstrap (row i weighing w_i E_i) only the rows whose share
    of the weight below them lies near 1/2 can be the median, so only those get their own draws; the weight below
    and above them is drawn as a whole (a Gamma with the mean and variance of its sum of w_i E_i). The prior is the
    unweighted one's, each pseudo-row weighing an average row."""
    point = weighted_median(np.abs(pred - truth), weight)  # the metric's own computation, on every row
    reference = weighted_median(np.abs(truth - weighted_median(truth, weight)), weight)  # predicting its median
    counted = weight > 0
    errors, weight = np.abs(pred - truth)[counted], weight[counted]
    n = len(errors)
    if not n:
        return _undefined(point, resamples)
    order = np.argsort(errors, kind="stable")
    errors, w = errors[order], weight[order]
    total, squares = float(w.sum()), float(np.dot(w, w))
    share = (np.cumsum(w) - w / 2) / total
    spread = 8 * np.sqrt(squares) / total + float(w.max()) / total
    lo = int(np.searchsorted(share, 0.5 - spread, "left"))
    hi = max(lo + 1, int(np.searchsorted(share, 0.5 + spread, "right")))
    rng = np.random.default_rng([seed, 5])

    def whole(part: np.ndarray) -> np.ndarray:  # Gamma matching the mean and variance of sum(w E)
        mean, var = float(part.sum()), float(np.dot(part, part))
        return rng.standard_gamma(mean * mean / var, resamples) * (var / mean) if mean > 0 else np.zeros(resamples)

    below, above = whole(w[:lo]), whole(w[hi:])
    inside = rng.standard_exponential((resamples, hi - lo)) * w[lo:hi]
    running = below[:, None] + np.cumsum(inside, axis=1)
    mass = running[:, -1] + above
    k = np.minimum((running < (mass / 2)[:, None]).sum(axis=1), hi - lo - 1)
    values = errors[lo:hi][k]
    unit = total / n
    values = _with_prior(values, mass / unit, ((PRIOR, 0.0), (PRIOR, reference)), seed, (0.0, np.inf))
    kish = total * total / squares  # unequal weights: fewer rows' worth of information
    return Draws(point, values, kish)


# --- average precision --------------------------------------------------------------


def _ap_of_level_weights(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Average precision of class weights per score level (R, L), levels in increasing score order."""
    pos, neg = pos[:, ::-1], neg[:, ::-1]
    hits = np.cumsum(pos, axis=1)
    seen = hits + np.cumsum(neg, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(np.where(pos > 0, pos * hits / seen, 0.0), axis=1) / hits[:, -1]


def _ap_of_counts(pos: np.ndarray, neg: np.ndarray) -> float:
    """Average precision from class counts per occupied level in increasing score order, by the very operations of
    ``binary_average_precision`` (so to the last bit); NaN without a positive."""
    pos, total = pos[::-1].astype(np.float64), (pos + neg)[::-1].astype(np.float64)
    hits, seen = np.cumsum(pos), np.cumsum(total)
    positives = float(hits[-1]) if len(hits) else 0.0
    if positives <= 0:
        return float("nan")
    precision = np.divide(hits, seen, out=np.zeros(len(hits)), where=seen > 0)
    return float(np.sum(np.diff(np.r_[0.0, hits / positives]) * precision))


def _score_levels(
    is_positive: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's level among increasing scores (:func:`arena.metrics.registry.row_levels`: on the six-decimal grid,
    a grid point), and the positives and rows per level (some levels may be empty), each row counting its
    ``weight`` when given."""
    level, levels = row_levels(score)
    if weight is None:
        return level, np.bincount(level[is_positive], minlength=levels), np.bincount(level, minlength=levels)
    positives = np.bincount(level[is_positive], weights=weight[is_positive], minlength=levels)
    return level, positives, np.bincount(level, weights=weight, minlength=levels)


def ap_influence(
    is_positive: np.ndarray,
    level: np.ndarray,
    pos: np.ndarray,
    total: np.ndarray,
    out: np.ndarray | None = None,
    rows: float | None = None,
) -> np.ndarray:
    """Each row's influence on the average precision (the rows' total weight ``rows``, n without weights, times its
    derivative by the row's weight), from :func:`_score_levels`; added to ``out`` when given.

    AP = (1/P) sum over levels l of pos_l TP_l / N_l, TP_l and N_l the positives and rows at or above l. A row at
    level m is in N_l for every l at or below m, a positive also in TP_l and in P; so a negative's influence is
    -(n/P) sum_{l <= m} pos_l TP_l / N_l², a positive's (n/P) (TP_m / N_m + sum_{l <= m} pos_l / N_l - AP) more.
    """
    hits, seen = np.cumsum(pos[::-1])[::-1], np.cumsum(total[::-1])[::-1]  # at or above each level
    positives = float(hits[0])
    precision, gain = np.zeros(len(pos)), np.zeros(len(pos))
    np.divide(hits, seen, out=precision, where=seen > 0)
    np.divide(pos, seen, out=gain, where=pos > 0)
    ap = float(np.dot(pos, precision)) / positives
    scale = (len(is_positive) if rows is None else rows) / positives
    negative = np.cumsum(gain * precision)  # at or below each level
    negative *= -scale
    positive = np.cumsum(gain)
    positive += precision
    positive -= ap
    positive *= scale
    out = np.zeros(len(level)) if out is None else out
    out += negative[level]
    positive_rows = np.flatnonzero(is_positive)
    out[positive_rows] += positive[level[positive_rows]]
    return out


def _average_precision(truth, proba, *, resamples, seed, blocks, weight=None):
    k = proba.shape[1]
    classes = [1] if k == 2 else list(range(k))
    if weight is not None:
        point = average_precision(truth, proba, weight)  # the metric's own computation
        counted, weight = _counted(weight)
        truth, proba = truth[counted], proba[counted]
    n = len(truth)
    levels = [_score_levels(truth == c, proba[:, c], weight) for c in classes]
    counts = []
    for _, pos, total in levels:
        occupied = total > 0
        counts.append((pos[occupied], (total - pos)[occupied]))
    if weight is None:
        point = float(np.mean([_ap_of_counts(*c) for c in counts])) if k > 2 else _ap_of_counts(*counts[0])
    if not np.isfinite(point):
        return _undefined(point, resamples)
    w = np.ones(n) if weight is None else weight
    # A random order: about the (weighted) share of positives.
    trivial = float(np.mean([np.dot(w, truth == c) for c in classes])) / float(w.sum())
    prior = ((AUC_PRIOR, 1.0), (AUC_PRIOR, trivial))
    influence = np.zeros(n)
    for c, (level, pos, total) in zip(classes, levels):
        ap_influence(truth == c, level, pos, total, influence, float(w.sum()))
    influence /= len(classes)
    unit = float(w.sum()) / n
    if n > blocks and (weight is not None or not (k == 2 and len(counts[0][0]) <= blocks)):
        values, mass, rows = _linear(point, influence, resamples=resamples, seed=seed, blocks=blocks, weight=weight)
        return Draws(point, _with_prior(values, mass, prior, seed), rows)
    if n > blocks:  # two classes, few distinct scores: Gamma(count) weights per score and class, exact
        pos, neg = counts[0]
        rng = np.random.default_rng(seed)
        normals = standard_normals(resamples, AUC_BINS if len(pos) <= AUC_BINS else blocks, seed)
        pos_w, neg_w = gamma_draws(rng, pos, normals[0]), gamma_draws(rng, neg, normals[1])
        values, mass = _ap_of_level_weights(pos_w, neg_w), pos_w.sum(axis=1) + neg_w.sum(axis=1)
    else:  # row weights (times each row's own weight) shared by every class
        weights = row_weights(resamples, n, seed)
        if weight is not None:
            weights = weights * weight
        values = np.mean([_weighted_rows_ap(weights, truth == c, proba[:, c]) for c in classes], axis=0)
        mass = weights.sum(axis=1) / unit
    spread = influence if weight is None else influence * (weight / unit)
    return Draws(point, _with_prior(values, mass, prior, seed), _influence_rows(spread, blocks=blocks, seed=seed))


def _weighted_rows_ap(weights: np.ndarray, is_positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Average precision under each row of ``weights`` (R, n)."""
    order, starts = tie_groups(score)
    out = np.empty(len(weights))
    positive = is_positive[order]
    for start in range(0, len(weights), RERANK_CHUNK):
        w = weights[start : start + RERANK_CHUNK][:, order]
        pos = np.add.reduceat(w * positive, starts, axis=1)
        out[start : start + len(w)] = _ap_of_level_weights(pos, np.add.reduceat(w, starts, axis=1) - pos)
    return out


# --- multi-label counts and ROC AUC -------------------------------------------------


def _sparse_block_sums(
    cells: np.ndarray, *, blocks: int, seed: int, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`arena.intervals.bootstrap.block_sums` of a 0/1 matrix (n, d), counting only its ones (each the row's
    ``weight`` when given), and the rows (or their weight) per block."""
    n, d = cells.shape
    block = np.random.default_rng(seed + 1).integers(0, blocks, size=int(n), dtype=np.int32)  # block_sums' blocks
    rows, columns = np.nonzero(cells)
    at = block[rows].astype(np.int64) * d + columns
    sums = np.bincount(at, weights=None if weight is None else weight[rows], minlength=blocks * d)
    return sums.reshape(blocks, d).astype(np.float64), np.bincount(block, weights=weight, minlength=blocks)


def _multilabel_f1(average: str):
    def f1_draws(truth, pred, *, resamples, seed, blocks, weight=None):
        metric = multilabel_f1_micro if average == "micro" else multilabel_f1_macro
        point = metric(truth, pred, weight)  # the metric's own computation
        relative = None
        if weight is not None:  # each row counts its weight, in units of an average row's
            counted, weight = _counted(weight)
            truth, pred = truth[counted], pred[counted]
            relative = weight / (float(weight.sum()) / max(len(weight), 1))
        n, labels = truth.shape
        if not n:
            return _undefined(point, resamples)
        t, p = truth > 0, pred > 0
        cells = [t & p, ~t & p, t & ~p]
        if average == "micro":
            counts = np.stack([c.sum(axis=1) for c in cells], axis=1).astype(np.float64)
            if relative is None:
                sums, mass = _weighted_sums(counts, resamples=resamples, seed=seed, blocks=blocks)
            else:
                both, _ = _weighted_sums(
                    np.column_stack([counts * relative[:, None], relative]),
                    resamples=resamples,
                    seed=seed,
                    blocks=blocks,
                )
                sums, mass = both[:, :-1], both[:, -1]
            rows_counts = counts
        elif n <= blocks:
            rows_counts = np.concatenate(cells, axis=1).astype(np.float64)
            weights = row_weights(resamples, n, seed)
            if relative is not None:
                weights = weights * relative
            sums, mass = weights @ rows_counts, weights.sum(axis=1)
        else:
            block_counts, block_rows = _sparse_block_sums(
                np.concatenate(cells, axis=1), blocks=blocks, seed=seed, weight=relative
            )
            weights = row_weights(resamples, blocks, seed)
            sums, mass = weights @ block_counts, weights @ block_rows
            rows_counts = None
        tp, fp, fn = np.split(sums, 3, axis=1)
        values = _f1(tp, fp, fn)
        values = values[:, 0] if average == "micro" else values.mean(axis=1)
        # Each row's influence, for the expansion: the F1's derivatives in the summed counts, times the row's counts
        # (and its weight).
        w = np.ones(n) if relative is None else relative
        totals = [w @ c for c in cells] if average == "macro" else [np.array([float(w @ c.sum(axis=1))]) for c in cells]
        scale = (2 * totals[0] + totals[1] + totals[2]) ** 2
        by_tp = np.divide(2 * (totals[1] + totals[2]), scale, out=np.zeros(len(scale)), where=scale > 0)
        by_error = np.divide(-2 * totals[0], scale, out=np.zeros(len(scale)), where=scale > 0)
        if average == "micro":
            influence = rows_counts @ np.concatenate([by_tp, by_error, by_error])
        else:
            influence = cells[0] @ by_tp + (cells[1] | cells[2]) @ by_error
        influence = np.asarray(influence, dtype=np.float64)
        if relative is not None:
            influence = influence * relative
        rows = _influence_rows(influence, blocks=blocks, seed=seed)
        return Draws(point, _with_prior(values, mass, ((PRIOR, 1.0), (PRIOR, 0.0)), seed), rows)

    return f1_draws


def _label_auc(pos: np.ndarray, total: np.ndarray) -> float:
    """A label's ROC AUC from its positives and rows per score level, by the very operations of the multi-label
    metric's per-label AUC (so to the last bit); NaN without both classes."""
    occupied = total > 0
    pos, neg = pos[occupied].astype(np.float64), (total - pos)[occupied].astype(np.float64)
    pos_total, neg_total = float(pos.sum()), float(neg.sum())
    if pos_total <= 0 or neg_total <= 0:
        return float("nan")
    below = np.cumsum(neg) - neg
    return float(np.dot(pos, below + neg / 2) / (pos_total * neg_total))


def label_auc_influence(
    is_positive: np.ndarray,
    level: np.ndarray,
    pos: np.ndarray,
    total: np.ndarray,
    auc: float,
    out: np.ndarray,
    rows: float | None = None,
) -> None:
    """Add each row's influence on a label's ROC AUC (DeLong's placement value less the AUC, times n over its class's
    rows, as :func:`arena.intervals.bootstrap.auc_influence`) to ``out``, from :func:`_score_levels`; with row
    weights ``pos`` and ``total`` are weighted and ``rows`` is the rows' total weight."""
    n = len(level) if rows is None else rows
    neg = total - pos
    n_pos, n_neg = float(pos.sum()), float(neg.sum())
    below = np.cumsum(neg) - neg / 2  # a positive's placement: the negatives below it, ties counting one half
    above = n_pos - np.cumsum(pos) + pos / 2  # a negative's: the positives above it, ties one half
    negative = above / n_pos
    negative -= auc
    negative *= n / n_neg
    positive = below / n_neg
    positive -= auc
    positive *= n / n_pos
    positive -= negative
    out += negative[level]
    positive_rows = np.flatnonzero(is_positive)
    out[positive_rows] += positive[level[positive_rows]]


def _multilabel_roc_auc(truth, proba, *, resamples, seed, blocks, weight=None):
    if weight is not None:
        weighted_point = multilabel_roc_auc(truth, proba, weight)  # the metric's own computation
        counted, weight = _counted(weight)
        truth, proba = truth[counted], proba[counted]
    n, labels = truth.shape
    found = [
        (truth[:, j] > 0, _score_levels(truth[:, j] > 0, np.ascontiguousarray(proba[:, j]), weight))
        for j in range(labels)
    ]
    aucs = np.array([_label_auc(pos, total) for _, (_, pos, total) in found])
    defined = np.flatnonzero(np.isfinite(aucs))
    if not len(defined):
        return _undefined(float("nan"), resamples)
    point = float(aucs[defined].mean()) if weight is None else weighted_point  # the metric's own computation
    if all(np.count_nonzero(found[j][1][2]) == 1 for j in defined):  # one score per label: 1/2 however weighted
        return Draws(point, np.full(resamples, point), n, exact=True)
    total_weight = float(n) if weight is None else float(weight.sum())
    influence = np.zeros(n)
    for j in defined:
        t, (level, pos, total) = found[j]
        label_auc_influence(t, level, pos, total, float(aucs[j]), influence, total_weight)
    influence /= len(defined)
    unit = total_weight / n
    if n > blocks:
        values, mass, rows = _linear(point, influence, resamples=resamples, seed=seed, blocks=blocks, weight=weight)
        return Draws(point, _with_prior(values, mass, AUC_LABEL_PRIOR, seed), rows)
    weights = row_weights(resamples, n, seed)
    if weight is not None:
        weights = weights * weight
    values = np.mean(
        [
            weighted_rows_auc(
                found[j][0].astype(np.int64), np.stack([1 - proba[:, j], proba[:, j]], axis=1), weights, prior=False
            )
            for j in defined
        ],
        axis=0,
    )
    spread = influence if weight is None else influence * (weight / unit)
    return Draws(
        point,
        _with_prior(values, weights.sum(axis=1) / unit, AUC_LABEL_PRIOR, seed),
        _influence_rows(spread, blocks=blocks, seed=seed),
    )


AUC_LABEL_PRIOR: Prior = ((AUC_PRIOR, 1.0), (AUC_PRIOR, 0.5))


OTHERS = {
    "pearson": _pearson,
    "spearman": _spearman,
    "median_ae": _median_ae,
    "average_precision": _average_precision,
    "multilabel_f1_micro": _multilabel_f1("micro"),
    "multilabel_f1_macro": _multilabel_f1("macro"),
    "multilabel_roc_auc": _multilabel_roc_auc,
}
