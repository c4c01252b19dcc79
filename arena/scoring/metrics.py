"""Metric registry: scikit-learn's names, each with its direction and the input it needs.

Count-based classification metrics are computed from a confusion matrix, which is a
sufficient statistic: they accept a stack of matrices ``(..., k, k)`` so that the
bootstrap can resample matrices instead of rows. Everything is float64 numpy.
Undefined cases follow scikit-learn's ``zero_division=0`` convention, except where
noted; a metric that is undefined on the given rows (ROC AUC with one class present)
returns NaN rather than raising.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np
from scipy.stats import rankdata

from arena.errors import ArenaError

Direction = Literal["max", "min"]
Needs = Literal["label", "probabilities", "value"]


@dataclass(frozen=True)
class Metric:
    """A named metric.

    ``from_confusion`` is set for count-based metrics: it maps confusion matrices
    ``(..., k, k)`` (rows: truth, columns: prediction) to values ``(...)``.
    ``from_rows`` maps ``(y_true, y_pred)`` arrays to one value; for ``probabilities``
    metrics ``y_true`` holds class codes and ``y_pred`` an ``(n, k)`` matrix.
    """

    name: str
    direction: Direction
    needs: Needs
    kinds: tuple[str, ...]
    from_rows: Callable[[np.ndarray, np.ndarray], float] | None = None
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"


# --- confusion-matrix metrics ----------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrix of integer class codes in ``[0, k)`` (rows: truth)."""
    flat = np.bincount(y_true.astype(np.int64) * k + y_pred, minlength=k * k)
    return flat.reshape(k, k).astype(np.float64)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise division with 0 where the denominator is 0 (``zero_division=0``)."""
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _parts(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted totals, true totals and the classes present anywhere."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    predicted = cm.sum(axis=-2)
    actual = cm.sum(axis=-1)
    present = (predicted + actual) > 0  # scikit-learn averages over labels seen in y_true or y_pred
    return tp, predicted, actual, present


def _macro(per_class: np.ndarray, present: np.ndarray) -> np.ndarray:
    return _divide((per_class * present).sum(axis=-1), present.sum(axis=-1))


def accuracy_cm(cm: np.ndarray) -> np.ndarray:
    tp, _, actual, _ = _parts(cm)
    return _divide(tp.sum(axis=-1), actual.sum(axis=-1))


def balanced_accuracy_cm(cm: np.ndarray) -> np.ndarray:
    tp, _, actual, _ = _parts(cm)
    return _macro(_divide(tp, actual), actual > 0)  # recall over classes present in y_true


def precision_macro_cm(cm: np.ndarray) -> np.ndarray:
    tp, predicted, _, present = _parts(cm)
    return _macro(_divide(tp, predicted), present)


def recall_macro_cm(cm: np.ndarray) -> np.ndarray:
    tp, _, actual, present = _parts(cm)
    return _macro(_divide(tp, actual), present)


def _f1_per_class(cm: np.ndarray) -> np.ndarray:
    tp, predicted, actual, _ = _parts(cm)
    return _divide(2 * tp, predicted + actual)


def f1_macro_cm(cm: np.ndarray) -> np.ndarray:
    return _macro(_f1_per_class(cm), _parts(cm)[3])


def f1_micro_cm(cm: np.ndarray) -> np.ndarray:
    # With every label counted, micro-averaged F1 equals accuracy for single-label tasks.
    return accuracy_cm(cm)


def f1_weighted_cm(cm: np.ndarray) -> np.ndarray:
    actual = cm.sum(axis=-1)
    return _divide((_f1_per_class(cm) * actual).sum(axis=-1), actual.sum(axis=-1))


# --- row metrics -----------------------------------------------------------------


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class; probabilities clipped as scikit-learn does."""
    eps = np.finfo(np.float64).eps
    picked = proba[np.arange(len(y_true)), y_true]
    return float(-np.mean(np.log(np.clip(picked, eps, 1 - eps))))


def _binary_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    n_pos = int(is_positive.sum())
    n_neg = len(is_positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)  # ties get their average rank, as in the Mann-Whitney U statistic
    return float((ranks[is_positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Binary ROC AUC on the second class's probability; one-vs-rest macro for k > 2.

    NaN when a class needed for the average has no positive or no negative row.
    """
    if proba.shape[1] == 2:
        return _binary_auc(y_true == 1, proba[:, 1])
    return float(np.mean([_binary_auc(y_true == c, proba[:, c]) for c in range(proba.shape[1])]))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination; a constant truth gives 1.0 if matched exactly, else 0.0."""
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - np.mean(y_true)) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


def exact_match(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


CLASSIFICATION = ("classification",)
REGRESSION = ("regression", "forecasting")

_METRICS = [
    Metric("accuracy", "max", "label", CLASSIFICATION, from_confusion=accuracy_cm),
    Metric("balanced_accuracy", "max", "label", CLASSIFICATION, from_confusion=balanced_accuracy_cm),
    Metric("f1_macro", "max", "label", CLASSIFICATION, from_confusion=f1_macro_cm),
    Metric("f1_micro", "max", "label", CLASSIFICATION, from_confusion=f1_micro_cm),
    Metric("f1_weighted", "max", "label", CLASSIFICATION, from_confusion=f1_weighted_cm),
    Metric("precision_macro", "max", "label", CLASSIFICATION, from_confusion=precision_macro_cm),
    Metric("recall_macro", "max", "label", CLASSIFICATION, from_confusion=recall_macro_cm),
    Metric("log_loss", "min", "probabilities", CLASSIFICATION, from_rows=log_loss),
    Metric("roc_auc", "max", "probabilities", CLASSIFICATION, from_rows=roc_auc),
    Metric("exact_match", "max", "label", CLASSIFICATION, from_rows=exact_match),
    Metric("mae", "min", "value", REGRESSION, from_rows=mae),
    Metric("rmse", "min", "value", REGRESSION, from_rows=rmse),
    Metric("r2", "max", "value", REGRESSION, from_rows=r2),
]

METRICS: dict[str, Metric] = {metric.name: metric for metric in _METRICS}
ALIASES = {"macro_f1": "f1_macro", "micro_f1": "f1_micro", "weighted_f1": "f1_weighted"}


def unknown_metric_message(name: str) -> str:
    """The error text for a metric name that is not registered, with a suggestion."""
    close = difflib.get_close_matches(name, list(METRICS) + list(ALIASES), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"unknown metric '{name}'.{hint} Known metrics: {', '.join(sorted(METRICS))}."


def get_metric(name: str) -> Metric:
    """Look a metric up by name (or alias); unknown names raise with a suggestion."""
    name = ALIASES.get(name, name)
    if name not in METRICS:
        raise ArenaError(unknown_metric_message(name))
    return METRICS[name]


def is_known(name: str) -> bool:
    return ALIASES.get(name, name) in METRICS


def needs_for_prediction(prediction: str) -> set[str]:
    """Which metric inputs a submission format can feed.

    Labels are derived from probabilities by arg-max, so a probabilities task may
    also use label metrics.
    """
    return {"label": {"label"}, "probabilities": {"label", "probabilities"}, "value": {"value"}}[prediction]
