"""Row weights from the answer key's weight column, and intervals for weighted metrics and plugins.

``[data] weight = "w"`` names a column of the answers file. Every metric then weighs
each row by it; a whole-number weight counts as that many copies of the row. The
interval is a Bayesian bootstrap (each row's weight times an Exp(1) draw, as in
:mod:`arena.intervals.bootstrap`); a plugin that takes no weights resamples rows instead.

The classic metrics keep their unweighted method, with weights:

- count metrics draw weighted confusion matrices (each row's weight times an Exp(1)
  draw, summed per cell) plus the Jeffreys-style pseudo-counts of
  :func:`arena.intervals.bootstrap.confusion_prior`, each pseudo-row weighing as much as an
  average row, so a perfect submission's interval is not [1, 1];
- log loss, MAE, RMSE and R² sum each row's weighted moments (and its weight) into
  blocks, with the prior chosen from the rows' own range
  (:func:`arena.intervals.bootstrap.moments_interval`);
- ROC AUC weights the rows by their weight times Exp(1) draws, the prior joining only a
  perfectly ranked class (:func:`arena.intervals.bootstrap.auc_interval`).

Unequal weights make the rows' influence heavy-tailed, so the expansion to Student's t
counts fewer effective rows (:func:`arena.intervals.bootstrap.effective_rows`); this
applies to weighted accuracy too, whose posterior is no longer a Beta. Every interval
holds the metric's own value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from arena.errors import Problem, listed
from arena.intervals import kaggle_metrics as kaggle_intervals
from arena.intervals.bootstrap import (
    PROPORTIONS,
    RESAMPLES,
    Interval,
    auc_influence,
    block_sums,
    cells_excess,
    confusion_prior,
    effective_rows,
    excess_kurtosis,
    holding,
    moment_prior,
    moments_interval,
    percentile_interval,
    row_moments,
    says_nothing,
    uniform_probabilities,
    weight_chunks,
    weighted_rows_auc,
)
from arena.metrics.registry import roc_auc

MAX_CELLS = 20_000_000
"""Replicate weights drawn at once (resamples x rows): bounds the memory of an interval."""


def answer_weights(task) -> np.ndarray | None:
    """Each answer-key row's weight (in the key's id order), or None for a task without a weight column."""
    spec = task.spec
    if getattr(spec, "weight", None) is None:
        return None
    ordered = task.answers.sort_values(spec.id_column, kind="stable")
    return pd.to_numeric(ordered[spec.weight], errors="coerce").to_numpy(dtype=np.float64)


def check_weights(task) -> list[Problem]:
    """The weight column must exist in the answers file and hold finite numbers of 0 or more, not all 0."""
    spec = task.spec
    if getattr(spec, "weight", None) is None:
        return []
    where = str(spec.answers_file)
    if spec.weight not in task.answers.columns:
        return [
            Problem(
                where,
                f"has no weight column '{spec.weight}' ([data] weight); columns are: {listed(task.answers.columns)}.",
            )
        ]
    weights = answer_weights(task)
    if weights is None:  # spec.weight is set, so there are weights
        raise AssertionError(f"no weights read from column '{spec.weight}'")
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        return [
            Problem(
                where,
                f"weight column '{spec.weight}' must hold numbers of 0 or more; "
                f"{len(bad)} rows do not (e.g. ids {task.answers.sort_values(spec.id_column)[spec.id_column].iloc[bad[:5]].tolist()}).",
            )
        ]
    if weights.sum() <= 0:
        return [Problem(where, f"weight column '{spec.weight}' is 0 on every row: give some rows a positive weight.")]
    return []


def _take(values, rows: np.ndarray):
    return values.iloc[rows].reset_index(drop=True) if isinstance(values, pd.DataFrame) else values[rows]


def _chunks(n: int, resamples: int) -> list[int]:
    per = max(1, MAX_CELLS // max(n, 1))
    return [min(per, resamples - start) for start in range(0, resamples, per)]


def row_interval(
    metric, truth, pred, weight: np.ndarray | None, *, resamples: int = RESAMPLES, seed: int = 0
) -> Interval:
    """The 95% interval of a row metric with row weights (or of one :mod:`arena.intervals.bootstrap` has no fast path for)."""
    n = len(truth)
    if n == 0:
        return Interval(float("nan"), float("nan"), resamples, resamples)
    if (
        weight is not None
        and metric.name in WEIGHTED_FAST
        and getattr(metric, "needs", None) in ("value", "probabilities")
    ):
        found = weighted_interval(
            metric.name, truth, pred, np.asarray(weight, dtype=np.float64), resamples=resamples, seed=seed
        )
        return holding(found, _point(metric.from_rows(truth, pred, weight=weight)))  # its value, whatever the rounding
    if weight is not None and kaggle_intervals.handles_weighted(metric.name):  # weighted sufficient statistics
        return kaggle_intervals.interval(
            metric.name, truth, pred, resamples=resamples, seed=seed, weight=np.asarray(weight, dtype=np.float64)
        )
    rng = np.random.default_rng(seed)
    base = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    values: list[float] = []
    if not getattr(metric.from_rows, "takes_weight", True):  # a plugin without weights: resample rows
        for size in _chunks(n, resamples):
            for rows in rng.integers(0, n, size=(size, n)):
                values.append(metric.from_rows(_take(truth, rows), _take(pred, rows)))
        return percentile_interval(np.asarray(values, dtype=np.float64), n, _point(metric.from_rows(truth, pred)))
    per_row = metric.per_row(truth, pred) if metric.per_row is not None else None
    for size in _chunks(n, resamples):
        draws = rng.standard_exponential((size, n)) * base
        if per_row is not None:
            totals = draws.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = draws @ per_row / totals
            values.extend(metric.finish(means) if metric.finish is not None else means)
        else:
            values.extend(metric.from_rows(truth, pred, w) for w in draws)
    point = metric.from_rows(truth, pred, **({"weight": weight} if weight is not None else {}))
    return percentile_interval(np.asarray(values, dtype=np.float64), n, _point(point))


def _point(value) -> float | None:
    """A metric's value as a number the interval must hold, or None where it is not one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


WEIGHTED_FAST = ("log_loss", "mae", "rmse", "r2", "roc_auc")  # drawn from sufficient statistics, with row weights


def weighted_interval(
    name: str, truth: np.ndarray, pred: np.ndarray, weight: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0
) -> Interval:
    """The 95% interval of log loss, MAE, RMSE, R² or ROC AUC with row weights (see the module's docstring)."""
    counted = weight > 0
    rows = float(counted.sum())
    if rows == 0:
        return Interval(float("nan"), float("nan"), resamples, resamples)
    relative = weight * (rows / float(weight.sum()))  # each row's weight over the mean weight
    if name == "roc_auc":
        point = roc_auc(truth, pred, weight)
        if not np.isfinite(point):
            return Interval(float("nan"), float("nan"), resamples, resamples)
        values = np.concatenate(
            [
                weighted_rows_auc(
                    truth, pred, chunk * weight, seed=seed + j, prior="perfect", unit=float(weight.sum()) / rows
                )
                for j, chunk in enumerate(weight_chunks(resamples, len(truth), seed))
            ]
        )
        if np.all(relative[counted] == 1):  # equal weights: the unweighted method
            influence = auc_influence(truth, pred)[counted]
            return percentile_interval(
                values, effective_rows(rows, excess_kurtosis(influence, np.ones(int(rows)))), point
            )
        influence = weighted_auc_influence(truth[counted], pred[counted], weight[counted])
        spread_rows = min(rows, class_rows(influence, truth[counted], weight[counted]))
        return percentile_interval(
            values, effective_rows(spread_rows, excess_kurtosis(influence, np.ones(int(rows)))), point
        )
    centred = truth - np.average(truth, weights=weight) if name == "r2" else None
    values, _ = row_moments(name, truth, pred, centred)
    columns = np.column_stack([values * weight[:, None], weight, counted])
    sums, _ = block_sums(columns, seed=seed)
    d = values.shape[1]
    fallback = moment_prior(name, truth, pred.shape[1] if pred.ndim == 2 else 0)
    return moments_interval(
        name,
        sums[:, :d],
        sums[:, d],
        fallback,
        rows=sums[:, d + 1],
        resamples=resamples,
        seed=seed,
        says_nothing=lambda: name == "log_loss" and uniform_probabilities(pred[counted]),
    )


def weighted_auc_influence(truth: np.ndarray, proba: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each row's influence on the weighted (macro one-vs-rest) ROC AUC: its weight times its weighted placement
    (the weight of the other class's rows it outranks, ties counting one half) less the AUC, scaled as
    :func:`arena.intervals.bootstrap.auc_influence` scales it."""
    k = proba.shape[1]
    n = len(truth)
    total = np.zeros(n)
    for c in [1] if k == 2 else range(k):
        positive = truth == c
        score = proba[:, c]
        order = np.argsort(score, kind="stable")
        ordered = score[order]
        low, high = np.searchsorted(ordered, score, "left"), np.searchsorted(ordered, score, "right")
        w_pos, w_neg = weight * positive, weight * ~positive
        run_pos = np.concatenate([[0.0], np.cumsum(w_pos[order])])
        run_neg = np.concatenate([[0.0], np.cumsum(w_neg[order])])
        p, q = run_pos[-1], run_neg[-1]
        if p <= 0 or q <= 0:
            continue
        neg_below = run_neg[low] + 0.5 * (run_neg[high] - run_neg[low])
        pos_above = p - run_pos[high] + 0.5 * (run_pos[high] - run_pos[low])
        auc = float(np.dot(w_pos, neg_below)) / (p * q)
        total += np.where(positive, weight * (neg_below / q - auc) * n / p, weight * (pos_above / p - auc) * n / q)
    return total / (1 if k == 2 else k)


def class_rows(influence: np.ndarray, truth: np.ndarray, weight: np.ndarray) -> float:
    """The rows ROC AUC's spread is estimated from, for Student's t: the Welch-Satterthwaite degrees of freedom
    (plus one) of its variance, a sum over the true classes, each class counting its rows' effective number
    under their weights (Kish: (sum w)² / sum w²). A rare class, or a few heavy rows, leave few."""
    share, count = [], []
    for c in np.unique(truth):
        mine = truth == c
        share.append(float(np.sum(influence[mine] ** 2)))
        count.append(float(weight[mine].sum() ** 2 / np.sum(weight[mine] ** 2)))
    shares, counts = np.array(share), np.array(count)
    spread = np.sum(shares[counts > 1] ** 2 / (counts[counts > 1] - 1))
    return float(1 + shares.sum() ** 2 / spread) if spread > 0 else float(len(truth))


def confusion_interval(
    metric, cells: np.ndarray, k: int, weight: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0
) -> Interval:
    """The 95% interval of a count metric with row weights: weighted confusion matrices of reweighted rows.

    ``cells`` holds each scored row's cell ``truth * k + prediction``.
    """
    n = len(cells)
    weight = np.asarray(weight, dtype=np.float64)
    rows = float(np.count_nonzero(weight > 0))
    if n == 0 or rows == 0:
        return Interval(float("nan"), float("nan"), resamples, resamples)
    cm = np.bincount(cells, weights=weight, minlength=k * k).reshape(k, k)
    with np.errstate(invalid="ignore", divide="ignore"):
        point = float(metric.from_confusion(cm))
    if says_nothing(cm, metric.from_confusion, point):
        return Interval(point, point, 0, resamples)
    unit = float(weight.sum()) / rows  # a pseudo-row weighs as much as an average row
    prior = confusion_prior(cm)
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for size in _chunks(n, resamples):
        draws = rng.standard_exponential((size, n)) * weight
        offsets = (np.arange(size)[:, None] * (k * k) + cells[None, :]).ravel()
        stack: np.ndarray = np.bincount(offsets, weights=draws.ravel(), minlength=size * k * k).reshape(size, k, k)
        stack += unit * rng.standard_gamma(np.broadcast_to(prior, (size, k, k)))
        with np.errstate(invalid="ignore", divide="ignore"):
            values.extend(np.asarray(metric.from_confusion(stack), dtype=np.float64).reshape(-1))
    relative = weight / unit
    squares = np.bincount(cells, weights=relative**2, minlength=k * k).reshape(k, k)
    fourths = np.bincount(cells, weights=relative**4, minlength=k * k).reshape(k, k)
    if np.all(relative[weight > 0] == 1):  # equal weights: the unweighted method (stats.metric_interval)
        spread_rows = None if metric.name in PROPORTIONS else rows
    else:
        spread_rows = effective_rows(rows, cells_excess(cm, metric.from_confusion, squares, fourths, rows))
    return percentile_interval(np.asarray(values, dtype=np.float64), spread_rows, point)
