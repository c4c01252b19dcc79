"""Agreement metrics from a confusion matrix (qwk, mcc) and average precision (PR-AUC) from probabilities.

Confusion-matrix functions take a stack ``(..., k, k)`` (rows: truth), like the
other count metrics, so a weighted matrix (cells summing row weights) gives the
weighted metric.
"""

from __future__ import annotations

import numpy as np

from arena.metrics.regression import weights_for


def qwk_cm(cm: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Cohen's kappa with quadratic weights; NaN when chance agreement is total.

    The weight of a disagreement between classes i and j is ``(i - j)**2`` over the
    classes' positions in sorted order (scikit-learn's ``cohen_kappa_score``), or
    ``(values[i] - values[j])**2`` with the classes' own ``values`` (Kaggle's
    ``quadratic_weighted_kappa``, which weighs by rating: with ratings 1, 2 and 5, a
    2 read as 5 costs nine times a 1 read as 2, not once). A stack of ``k`` classes
    uses the first ``k`` values.
    """
    cm = np.asarray(cm, dtype=np.float64)
    k = cm.shape[-1]
    codes = np.arange(k, dtype=np.float64) if values is None else np.asarray(values, dtype=np.float64)[:k]
    codes = codes - codes[0] if k else codes  # weights depend on differences only; small numbers keep them exact
    penalty = (codes[:, None] - codes[None, :]) ** 2.0
    total = cm.sum(axis=(-2, -1))
    expected = cm.sum(axis=-1)[..., :, None] * cm.sum(axis=-2)[..., None, :]
    observed = (penalty * cm).sum(axis=(-2, -1))
    chance = (penalty * expected).sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - observed * total / chance


def value_weighted_qwk(values: np.ndarray):
    """qwk_kaggle's ``from_confusion`` for a task whose sorted classes are these numbers (ratings)."""
    ratings = np.asarray(values, dtype=np.float64)
    spread = float(np.max(np.abs(ratings - ratings[0]))) if len(ratings) else 0.0
    if spread > 0:
        ratings = (ratings - ratings[0]) / spread  # the kappa is the same for ratings shifted or scaled

    def qwk_by_value(cm: np.ndarray) -> np.ndarray:
        return qwk_cm(cm, ratings)

    return qwk_by_value


def mcc_cm(cm: np.ndarray) -> np.ndarray:
    """Matthews correlation (its multi-class form, as scikit-learn computes it); 0 when undefined."""
    cm = np.asarray(cm, dtype=np.float64)
    s = cm.sum(axis=(-2, -1))
    c = np.trace(cm, axis1=-2, axis2=-1)
    t, p = cm.sum(axis=-1), cm.sum(axis=-2)
    cov_tp = c * s - (t * p).sum(axis=-1)
    cov_pp = s * s - (p * p).sum(axis=-1)
    cov_tt = s * s - (t * t).sum(axis=-1)
    # one class only (predicted or true): zero up to rounding, which weights like 0.1 leave behind
    cov_pp, cov_tt = (np.where(cov > 1e-12 * s * s, cov, 0.0) for cov in (cov_pp, cov_tt))
    denominator = cov_pp * cov_tt
    out = np.zeros(np.shape(s))
    np.divide(
        cov_tp, np.sqrt(denominator, where=denominator > 0, out=np.ones(np.shape(s))), out=out, where=denominator > 0
    )
    return out


def binary_average_precision(is_positive: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Area under the step precision-recall curve, one step per distinct score (scikit-learn's definition).

    NaN when there is no positive row.
    """
    w = weights_for(weight, len(score))
    positives = float(np.dot(w, is_positive))
    if positives <= 0:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    s, pos, wt = score[order], is_positive[order].astype(np.float64), w[order]
    tp = np.cumsum(pos * wt)
    seen = np.cumsum(wt)
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]  # the last row of each distinct score
    tp, seen = tp[last], seen[last]
    precision = np.divide(tp, seen, out=np.zeros(len(tp)), where=seen > 0)
    recall = tp / positives
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def average_precision(y_true: np.ndarray, proba: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Average precision of the second class for two classes; the mean over classes (one-vs-rest) for more.

    NaN when a class in the average has no positive row.
    """
    if proba.shape[1] == 2:
        return binary_average_precision(y_true == 1, proba[:, 1], weight)
    return float(np.mean([binary_average_precision(y_true == c, proba[:, c], weight) for c in range(proba.shape[1])]))
