"""Row weights from the answer key's weight column, and intervals for weighted metrics and plugins.

``[data] weight = "w"`` names a column of the answers file. Every metric then weighs
each row by it; a whole-number weight counts as that many copies of the row. The
interval is a Bayesian bootstrap (each row's weight times an Exp(1) draw, as in
:mod:`arena.scoring.intervals`); a plugin that takes no weights resamples rows instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from arena.errors import Problem
from arena.scoring.intervals import RESAMPLES, Interval, percentile_interval

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
        return [Problem(where, f"has no weight column '{spec.weight}' ([data] weight); columns are: "
                        f"{', '.join(map(str, task.answers.columns[:12]))}.")]
    weights = answer_weights(task)
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if len(bad):
        return [Problem(where, f"weight column '{spec.weight}' must hold numbers of 0 or more; "
                        f"{len(bad)} rows do not (e.g. ids {task.answers.sort_values(spec.id_column)[spec.id_column].iloc[bad[:5]].tolist()}).")]
    if weights.sum() <= 0:
        return [Problem(where, f"weight column '{spec.weight}' is 0 on every row: give some rows a positive weight.")]
    return []


def _take(values, rows: np.ndarray):
    return values.iloc[rows].reset_index(drop=True) if isinstance(values, pd.DataFrame) else values[rows]


def _chunks(n: int, resamples: int) -> list[int]:
    per = max(1, MAX_CELLS // max(n, 1))
    return [min(per, resamples - start) for start in range(0, resamples, per)]


def row_interval(metric, truth, pred, weight: np.ndarray | None, *, resamples: int = RESAMPLES,
                 seed: int = 0) -> Interval:
    """The 95% interval of a row metric with row weights (or of one :mod:`arena.scoring.intervals` has no fast path for)."""
    n = len(truth)
    if n == 0:
        return Interval(float("nan"), float("nan"), resamples, resamples)
    rng = np.random.default_rng(seed)
    base = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    values: list[float] = []
    if not getattr(metric.from_rows, "takes_weight", True):  # a plugin without weights: resample rows
        for size in _chunks(n, resamples):
            for rows in rng.integers(0, n, size=(size, n)):
                values.append(metric.from_rows(_take(truth, rows), _take(pred, rows)))
        return percentile_interval(np.asarray(values, dtype=np.float64), n)
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
    return percentile_interval(np.asarray(values, dtype=np.float64), n)


def confusion_interval(metric, cells: np.ndarray, k: int, weight: np.ndarray, *, resamples: int = RESAMPLES,
                       seed: int = 0) -> Interval:
    """The 95% interval of a count metric with row weights: weighted confusion matrices of reweighted rows.

    ``cells`` holds each scored row's cell ``truth * k + prediction``.
    """
    n = len(cells)
    if n == 0:
        return Interval(float("nan"), float("nan"), resamples, resamples)
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for size in _chunks(n, resamples):
        draws = rng.standard_exponential((size, n)) * weight
        offsets = (np.arange(size)[:, None] * (k * k) + cells[None, :]).ravel()
        stack = np.bincount(offsets, weights=draws.ravel(), minlength=size * k * k).reshape(size, k, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            values.extend(np.asarray(metric.from_confusion(stack), dtype=np.float64).reshape(-1))
    return percentile_interval(np.asarray(values, dtype=np.float64), n)
