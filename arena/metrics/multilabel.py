"""Multi-label metrics: truth is an ``(n, L)`` 0/1 matrix, one column per label.

Predictions are a boolean ``(n, L)`` matrix (label metrics) or ``(n, L)`` independent
probabilities (probability metrics). Every function takes row weights.
"""

from __future__ import annotations

import numpy as np

from arena.metrics.regression import weighted_mean, weights_for

THRESHOLD = 0.5
"""A label is predicted when its probability is at least this."""


def row_log_losses(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's binary log loss averaged over the labels (probabilities clipped as scikit-learn does)."""
    eps = np.finfo(np.float64).eps
    p = np.clip(proba, eps, 1 - eps)
    return -np.mean(np.where(y_true > 0, np.log(p), np.log1p(-p)), axis=1)


def multilabel_log_loss(y_true: np.ndarray, proba: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean column-wise log loss: the binary log loss of each label, averaged over labels."""
    return weighted_mean(row_log_losses(y_true, proba), weight)


def _counts(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None) -> tuple[np.ndarray, ...]:
    w = weights_for(weight, len(y_true))[:, None]
    truth, pred = y_true > 0, y_pred > 0
    return ((truth & pred) * w).sum(axis=0), ((~truth & pred) * w).sum(axis=0), ((truth & ~pred) * w).sum(axis=0)


def _f1(tp, fp, fn) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp)), where=denominator > 0)


def multilabel_f1_micro(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """F1 over every (row, label) cell pooled."""
    tp, fp, fn = _counts(y_true, y_pred, weight)
    return float(_f1(tp.sum(), fp.sum(), fn.sum()))


def multilabel_f1_macro(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """F1 of each label, averaged over labels (0 for a label neither true nor predicted anywhere)."""
    return float(np.mean(_f1(*_counts(y_true, y_pred, weight))))


def row_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Each row's F1 between its true and predicted label sets (0 when both are empty)."""
    truth, pred = y_true > 0, y_pred > 0
    return _f1((truth & pred).sum(axis=1), (~truth & pred).sum(axis=1), (truth & ~pred).sum(axis=1))


def multilabel_f1_samples(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """F1 of each row's label set, averaged over rows (Kaggle's "mean F1")."""
    return weighted_mean(row_f1(y_true, y_pred), weight)


def _weighted_binary_auc(is_positive: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """ROC AUC with row weights: the weighted share of (positive, negative) pairs ranked right, ties half."""
    pos_total, neg_total = float(weight[is_positive].sum()), float(weight[~is_positive].sum())
    if pos_total <= 0 or neg_total <= 0:
        return float("nan")
    levels, inverse = np.unique(score, return_inverse=True)
    inverse = inverse.reshape(-1)
    pos = np.bincount(inverse, weights=weight * is_positive, minlength=len(levels))
    neg = np.bincount(inverse, weights=weight * ~is_positive, minlength=len(levels))
    below = np.cumsum(neg) - neg
    return float(np.dot(pos, below + neg / 2) / (pos_total * neg_total))


def binary_auc(is_positive: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Binary ROC AUC, with row weights when given; NaN without both classes."""
    return _weighted_binary_auc(is_positive, score, weights_for(weight, len(score)))


def multilabel_roc_auc(y_true: np.ndarray, proba: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean column-wise ROC AUC over the labels that have both a positive and a negative row (NaN if none)."""
    values = np.array([binary_auc(y_true[:, j] > 0, proba[:, j], weight) for j in range(y_true.shape[1])])
    defined = values[np.isfinite(values)]
    return float(defined.mean()) if len(defined) else float("nan")
