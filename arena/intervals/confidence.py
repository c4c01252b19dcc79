"""Confidence intervals for a score: the fast path of :mod:`arena.intervals.bootstrap`, and the plain
row bootstrap kept as its reference.

The plain path resamples rows with replacement (multinomial counts), the textbook
percentile bootstrap. It is slow (every resample touches every row) and it loses
classes in small resamples, so scoring never uses it; tests compare the fast path
with it in distribution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from arena.intervals import kaggle_metrics as kaggle_intervals
from arena.intervals import text as text_intervals
from arena.intervals.bootstrap import (
    CONFIDENCE,
    MEAN_TYPE,
    PROPORTIONS,
    RESAMPLES,
    Interval,
    count_interval,
    has_fast_path,
    holding,
    percentile_interval,
    row_metric_interval,
)
from arena.metrics.registry import TEXT_METRICS, Metric

_MAX_CHUNK_CELLS = 20_000_000

__all__ = [
    "CONFIDENCE",
    "RESAMPLES",
    "Interval",
    "metric_interval",
    "plain_confusion_replicates",
    "plain_row_replicates",
    "bootstrap_confusion",
    "bootstrap_rows",
]


def metric_interval(
    metric: Metric,
    truth: np.ndarray | None = None,
    pred: np.ndarray | None = None,
    *,
    cm: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Interval:
    """The 95% interval of one metric: count metrics from confusion matrix ``cm``, others from the rows.

    A metric without a fast path (an organiser's own) falls back to the plain row bootstrap. Every interval
    holds the metric's own value (:func:`arena.intervals.bootstrap.holding`).
    """
    if metric.from_confusion is not None:
        if cm is None:
            raise ValueError(f"the interval of count metric {metric.name!r} needs its confusion matrix cm")
        n = int(cm.sum())
        if n == 0:
            return Interval(float("nan"), float("nan"), resamples, resamples)
        return count_interval(
            cm, metric.from_confusion, proportion=metric.name in PROPORTIONS, resamples=resamples, seed=seed
        )
    if truth is None or pred is None:
        raise ValueError(f"the interval of row metric {metric.name!r} needs truth and pred")
    if len(truth) == 0:
        return Interval(float("nan"), float("nan"), resamples, resamples)
    if metric.needs == "text" and metric.name in TEXT_METRICS:  # a built-in text metric: per-row statistics, summed
        return text_intervals.interval(metric, truth, pred, resamples=resamples, seed=seed)
    if kaggle_intervals.handles(metric.name):
        return kaggle_intervals.interval(metric.name, truth, pred, resamples=resamples, seed=seed)
    if not has_fast_path(metric.name):
        from_rows = metric.rows_function()
        return percentile_interval(
            plain_row_replicates(truth, pred, from_rows, resamples=resamples, seed=seed),
            point=float(from_rows(truth, pred)),
        )
    found = row_metric_interval(metric.name, truth, pred, resamples=resamples, seed=seed)
    # The interval's own value comes from block sums: it holds the metric's too, whatever the rounding.
    return holding(found, float(metric.rows_function()(truth, pred))) if metric.name in MEAN_TYPE else found


def plain_confusion_replicates(
    cm: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], *, resamples: int = RESAMPLES, seed: int = 0
) -> np.ndarray:
    """``metric`` on multinomial resamples of confusion matrix ``cm`` (the row bootstrap, by cells)."""
    n = int(cm.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cm.ravel() / n, size=resamples).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(metric(draws.reshape(resamples, *cm.shape)), dtype=np.float64)


def plain_row_replicates(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """``metric`` on resamples of the rows with replacement; NaN where a resample leaves it undefined."""
    n = len(y_true)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _MAX_CHUNK_CELLS // max(n, 1))
    values: list[float] = []
    for start in range(0, resamples, per_chunk):
        rows = rng.integers(0, n, size=(min(per_chunk, resamples - start), n))
        values.extend(metric(y_true[r], y_pred[r]) for r in rows)
    return np.asarray(values, dtype=np.float64)


def bootstrap_confusion(
    cm: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Plain percentile interval over multinomial resamples of ``cm`` (reference only)."""
    if cm.sum() == 0:
        return float("nan"), float("nan")
    return percentile_interval(plain_confusion_replicates(cm, metric, resamples=resamples, seed=seed)).as_tuple()


def bootstrap_rows(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Plain percentile interval over row resamples (reference only; :func:`plain_row_replicates` shows
    the undefined ones)."""
    if len(y_true) == 0:
        return float("nan"), float("nan")
    return percentile_interval(plain_row_replicates(y_true, y_pred, metric, resamples=resamples, seed=seed)).as_tuple()
