"""Per-row results: what each row contributed to a submission's primary metric, kept compactly.

A board recomputes metrics from these under any row weights (paired and joint
bootstraps for honest ranks, the Ladder's noise) without re-reading participants'
files. Count metrics keep the predicted class (uint16), mean-type metrics their
per-row moments (float32), ROC AUC the probabilities (float32).
"""

from __future__ import annotations

import io

import numpy as np
from scipy import sparse

from arena.scoring.intervals import MEAN_TYPE, moments_for, weight_chunks, weighted_rows_auc
from arena.scoring.metrics import Metric
from arena.scoring.pooled import pooled_copy

NOISE_RESAMPLES = 200


def row_results(metric: Metric, truth: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
    """The compact per-row record of ``metric`` for every answer-key row (None for a metric without one)."""
    if metric.from_confusion is not None:
        return pred.astype(np.uint16)
    if metric.name in MEAN_TYPE:  # R² keeps only the squared errors: its other moments come from the truth
        return moments_for(metric.name, truth, pred).values[:, :1].astype(np.float32)
    if metric.name == "roc_auc":  # column by column: the probabilities are read column-major
        return pooled_copy(pred.T, np.float32).T if pred.ndim == 2 else pooled_copy(pred, np.float32)
    return None


def weighted_values(metric: Metric, truth: np.ndarray, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The metric under each row weighting in ``weights`` (R, n): one value per weighting."""
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


def paired_noise(metric: Metric, truth: np.ndarray, new_rows: np.ndarray, best_rows: np.ndarray, *,
                 seed: int = 0) -> float:
    """One standard error of the difference between two submissions' values, from a paired Bayesian bootstrap
    (the same row weights for both). For a mean of per-row losses it is the Ladder's std / sqrt(n)."""
    difference = np.concatenate([weighted_values(metric, truth, new_rows, weights)
                                 - weighted_values(metric, truth, best_rows, weights)
                                 for weights in weight_chunks(NOISE_RESAMPLES, len(truth), seed)])
    difference = difference[np.isfinite(difference)]
    return float(np.std(difference, ddof=1)) if len(difference) > 1 else float("inf")


def to_bytes(rows: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, rows, allow_pickle=False)
    return buffer.getvalue()


def from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)
