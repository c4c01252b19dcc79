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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from arena._fast import DECIMAL_GRID, chunks, over_slices, pooled_empty, scratch
from arena.errors import ArenaError
from arena.metrics import text as text_metrics
from arena.metrics.agreement import average_precision, mcc_cm, qwk_cm, value_weighted_qwk
from arena.metrics.multilabel import (
    binary_auc,
    multilabel_f1_macro,
    multilabel_f1_micro,
    multilabel_f1_samples,
    multilabel_log_loss,
    multilabel_roc_auc,
    row_f1,
    row_log_losses,
)
from arena.metrics.ranking import parse_name as ranking_name
from arena.metrics.ranking import per_query, ranking_metric
from arena.metrics.regression import (
    mape,
    median_ae,
    pearson,
    percentage_errors,
    rmsle,
    smape,
    spearman,
    squared_log_errors,
    symmetric_errors,
    weighted_mean,
)

Direction = Literal["max", "min"]
Needs = Literal["label", "probabilities", "value", "ranking", "table", "text"]


@dataclass(frozen=True)
class Metric:
    """A named metric.

    ``from_confusion`` is set for count-based metrics: it maps confusion matrices
    ``(..., k, k)`` (rows: truth, columns: prediction) to values ``(...)``.
    ``from_rows`` maps ``(y_true, y_pred[, weight])`` arrays to one value; for ``probabilities``
    metrics ``y_true`` holds class codes and ``y_pred`` an ``(n, k)`` matrix. Every built-in
    accepts row weights (see :mod:`arena.intervals.weighted`).
    ``per_row`` is set for metrics that are a (weighted) mean of per-row values, passed
    through ``finish`` (a square root for rmsle): their intervals resample those values.
    ``by_class_value`` is set for a metric that weighs the task's classes by their values
    (qwk_kaggle): it maps the sorted classes to ``from_confusion``, which :meth:`for_classes`
    binds. Unbound, such a metric weighs classes by their positions, as ``qwk`` does.
    ``text`` holds a text metric's task options (normalisation, tolerance, stemming: ``spec.text``), which
    :func:`get_metric` binds; its ``from_rows`` and ``per_row`` take them as ``options``.
    """

    name: str
    direction: Direction
    needs: Needs
    kinds: tuple[str, ...]
    from_rows: Callable[[np.ndarray, np.ndarray], float] | None = None
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None
    per_row: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    finish: Callable[[float], float] | None = None
    by_class_value: Callable[[np.ndarray], Callable[[np.ndarray], np.ndarray]] | None = None
    text: object | None = None  # a text_metrics.TextOptions (object: plugins pass their functions as keywords)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"

    def for_classes(self, classes: np.ndarray | None) -> Metric:
        """This metric for a task with these sorted classes: itself, except for a metric that weighs classes by
        their values, which then uses them (they must be numbers: see :func:`class_value_problem`)."""
        if self.by_class_value is None or classes is None:
            return self
        return replace(self, from_confusion=self.by_class_value(np.asarray(classes)))

    def rows_function(self) -> Callable[[np.ndarray, np.ndarray], float]:
        """``from_rows``, for a caller that needs it: an error naming the metric if it has none (a count metric)."""
        if self.from_rows is None:
            raise ValueError(f"metric {self.name!r} has no row function: it is computed from confusion matrices")
        return self.from_rows

    def confusion_function(self) -> Callable[[np.ndarray], np.ndarray]:
        """``from_confusion``, for a caller that needs it: an error naming the metric if it has none."""
        if self.from_confusion is None:
            raise ValueError(f"metric {self.name!r} has no confusion-matrix function: it is computed from rows")
        return self.from_confusion


# --- confusion-matrix metrics ----------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int, weight: np.ndarray | None = None) -> np.ndarray:
    """Confusion matrix of integer class codes in ``[0, k)`` (rows: truth); cells sum row weights when given."""
    flat = np.bincount(y_true.astype(np.int64) * k + y_pred, weights=weight, minlength=k * k)
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


def row_log_loss(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Each row's negative log-likelihood of its true class; probabilities clipped as scikit-learn does."""
    eps = np.finfo(np.float64).eps
    return -np.log(np.clip(proba[np.arange(len(y_true)), y_true], eps, 1 - eps))


def log_loss(y_true: np.ndarray, proba: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean negative log-likelihood of the true class."""
    return weighted_mean(row_log_loss(y_true, proba), weight)


def score_levels(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort order of ``score`` and each sorted row's level: rows with equal scores share one, in increasing order."""
    order = np.argsort(score)  # ties are grouped into levels below, so the sort need not be stable
    ordered = score[order]
    level = np.zeros(len(score), dtype=np.int64)
    if len(score) > 1:
        np.cumsum(ordered[1:] != ordered[:-1], out=level[1:])
    return order, level


GRID_MIN_ROWS = DECIMAL_GRID // 16  # below this the grid's fixed cost (a million counters) outweighs a sort


def class_counts_in_score_order(is_positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per distinct score, in increasing score order: ROC AUC's sufficient statistic."""
    return class_counter(is_positive, score)(None)


def class_counter(
    is_positive: np.ndarray, score: np.ndarray
) -> Callable[[np.ndarray | None], tuple[np.ndarray, np.ndarray]]:
    """Class counts per distinct score (as :func:`class_counts_in_score_order`) for any part of the rows (a
    boolean mask; None for all), with the per-row work done once for every part.

    Probabilities written with six decimals or fewer (the usual CSV) are counted on
    that grid in one pass; other non-negative scores are sorted as 64-bit keys that
    carry the class in their lowest bit (a plain sort, about twice as fast as an
    argsort); anything else takes the argsort.
    """
    score = np.asarray(score, dtype=np.float64)
    is_positive = np.asarray(is_positive, dtype=bool)

    def rows(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return values if mask is None else values[mask]

    if (points := on_decimal_grid(score)) is not None:
        return lambda mask: grid_counts(rows(is_positive, mask), rows(points, mask))
    if len(score) and float(score.min()) >= 0:
        keys = class_keys(is_positive, score)
        return lambda mask: counts_of_sorted_keys(np.sort(rows(keys, mask)))
    return lambda mask: _argsort_counts(rows(is_positive, mask), rows(score, mask))


def _argsort_counts(is_positive: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(score) == 0:
        return np.zeros(0), np.zeros(0)
    order, level = score_levels(score)
    n_levels = int(level[-1]) + 1
    pos = np.bincount(level, weights=is_positive[order], minlength=n_levels)
    return pos, np.bincount(level, minlength=n_levels) - pos


def may_lie_on_decimal_grid(score: np.ndarray) -> bool:
    """Whether :func:`on_decimal_grid` may find a point for every score: enough scores, and a sample of them on
    the grid (so scores off it are turned away at almost no cost)."""
    if len(score) < GRID_MIN_ROWS:
        return False
    sample = score[:: max(1, len(score) // 1024)]
    return bool(np.array_equal(np.rint(sample * DECIMAL_GRID) / DECIMAL_GRID, sample))


def on_decimal_grid(score: np.ndarray) -> np.ndarray | None:
    """Each score's point on the six-decimal grid when every score lies in [0, 1] and is the double nearest some
    k / 10^6, else None (and None for fewer than ``GRID_MIN_ROWS`` scores, which sort faster).

    Division is correctly rounded, so ``k / 10^6 == score`` holds exactly for such
    scores: distinct scores get distinct, increasing points. A sample is tried first,
    so scores off the grid cost almost nothing. The rows are converted a few thousand
    at a time, on every core (:mod:`arena._fast.parallel`).
    """
    if not may_lie_on_decimal_grid(score):
        return None
    points = pooled_empty(len(score), np.intp)  # per-upload arrays from the pool: see arena._fast.memory

    def convert(rows: slice) -> bool:
        work = scratch(rows)
        for chunk in chunks(rows):
            part = score[chunk]
            grid, at = work[: len(part)], points[chunk]
            if not (float(part.min()) >= 0 and float(part.max()) <= 1):  # a NaN fails here too
                return False
            np.multiply(part, DECIMAL_GRID, out=grid)
            np.rint(grid, out=grid)
            np.copyto(at, grid, casting="unsafe")
            np.divide(grid, DECIMAL_GRID, out=grid)
            if not np.array_equal(grid, part):
                return False
        return True

    return points if all(over_slices(convert, len(score))) else None


def grid_counts(is_positive: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per occupied grid point, in increasing order."""
    total = np.bincount(points, minlength=DECIMAL_GRID + 1)
    pos = np.bincount(points[is_positive], minlength=DECIMAL_GRID + 1)
    present = total > 0
    return pos[present].astype(np.float64), (total - pos)[present].astype(np.float64)


def row_levels(score: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's level among increasing scores (equal scores share one) and the number of levels; levels
    may be left empty. Scores on the six-decimal grid take their grid point (no sort), others an argsort."""
    score = np.asarray(score, dtype=np.float64)
    if (points := on_decimal_grid(score)) is not None:
        return points, DECIMAL_GRID + 1
    order, level = score_levels(score)
    at_row = np.empty(len(score), dtype=np.int64)
    at_row[order] = level
    return at_row, int(level[-1]) + 1 if len(level) else 0


def class_keys(is_positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """64-bit keys that sort like the (non-negative) scores and carry the class in their lowest bit: a score's
    bits order like the score itself when it is non-negative, and the shift drops the sign (-0.0 meets 0.0)."""
    keys = np.left_shift(score.view(np.uint64), np.uint64(1))
    keys |= is_positive
    return keys


def counts_of_sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positives and negatives per distinct score from sorted :func:`class_keys` (a plain sort, about twice
    as fast as an argsort)."""
    positive = (keys & np.uint64(1)).astype(np.float64)
    if len(keys) < 2:
        return positive, 1 - positive
    new_level = np.bitwise_xor(keys[1:], keys[:-1]) > 1  # the scores differ, not just the class
    if new_level.all():  # every score distinct (the usual case for real-valued scores): one row per level
        return positive, 1 - positive
    starts = np.concatenate(([0], np.flatnonzero(new_level) + 1))
    pos = np.add.reduceat(positive, starts)
    return pos, np.diff(np.append(starts, len(keys))) - pos


def auc_of_counts(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """The Mann-Whitney AUC of positive and negative weights per score level (..., L); ties count one half."""
    below = np.cumsum(neg, axis=-1) - neg
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(pos * (below + 0.5 * neg), axis=-1) / (pos.sum(axis=-1) * neg.sum(axis=-1))


def _binary_auc(is_positive: np.ndarray, score: np.ndarray) -> float:
    n_pos = int(is_positive.sum())
    if n_pos == 0 or n_pos == len(is_positive):
        return float("nan")
    return float(auc_of_counts(*class_counts_in_score_order(is_positive, score)))


def roc_auc(y_true: np.ndarray, proba: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Binary ROC AUC on the second class's probability; one-vs-rest macro for k > 2.

    NaN when a class needed for the average has no positive or no negative row.
    """
    auc = _binary_auc if weight is None else (lambda pos, score: binary_auc(pos, score, weight))
    if proba.shape[1] == 2:
        return auc(y_true == 1, proba[:, 1])
    return float(np.mean([auc(y_true == c, proba[:, c]) for c in range(proba.shape[1])]))


def absolute_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return np.abs(y_true - y_pred)


def squared_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return (y_true - y_pred) ** 2


def mae(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    return weighted_mean(absolute_errors(y_true, y_pred), weight)


def rmse(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    return float(np.sqrt(weighted_mean(squared_errors(y_true, y_pred), weight)))


def r2(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Coefficient of determination; a constant truth gives 1.0 if matched exactly, else 0.0."""
    if weight is None:
        residual, total = np.sum((y_true - y_pred) ** 2), np.sum((y_true - np.mean(y_true)) ** 2)
    else:
        w = np.asarray(weight, dtype=np.float64)
        residual, total = np.dot(w, (y_true - y_pred) ** 2), np.dot(w, (y_true - np.dot(w, y_true) / w.sum()) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


def matches(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return (y_true == y_pred).astype(np.float64)


def exact_match(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    return weighted_mean(matches(y_true, y_pred), weight)


CLASSIFICATION = ("classification",)
REGRESSION = ("regression", "forecasting")
MULTILABEL = ("multilabel",)
RANKING = ("ranking",)
TEXT = ("text",)

_METRICS = [
    Metric("accuracy", "max", "label", CLASSIFICATION, from_confusion=accuracy_cm),
    Metric("balanced_accuracy", "max", "label", CLASSIFICATION, from_confusion=balanced_accuracy_cm),
    Metric("f1_macro", "max", "label", CLASSIFICATION, from_confusion=f1_macro_cm),
    Metric("f1_micro", "max", "label", CLASSIFICATION, from_confusion=f1_micro_cm),
    Metric("f1_weighted", "max", "label", CLASSIFICATION, from_confusion=f1_weighted_cm),
    Metric("precision_macro", "max", "label", CLASSIFICATION, from_confusion=precision_macro_cm),
    Metric("recall_macro", "max", "label", CLASSIFICATION, from_confusion=recall_macro_cm),
    Metric("log_loss", "min", "probabilities", CLASSIFICATION, from_rows=log_loss, per_row=row_log_loss),
    Metric("roc_auc", "max", "probabilities", CLASSIFICATION, from_rows=roc_auc),
    Metric("exact_match", "max", "label", CLASSIFICATION, from_rows=exact_match, per_row=matches),
    Metric("mae", "min", "value", REGRESSION, from_rows=mae, per_row=absolute_errors),
    Metric("rmse", "min", "value", REGRESSION, from_rows=rmse, per_row=squared_errors, finish=np.sqrt),
    Metric("r2", "max", "value", REGRESSION, from_rows=r2),
    # The metrics Kaggle competitions use (arena.metrics: regression, agreement, multilabel, ranking), each taking row weights.
    Metric("rmsle", "min", "value", REGRESSION, from_rows=rmsle, per_row=squared_log_errors, finish=np.sqrt),
    Metric("mape", "min", "value", REGRESSION, from_rows=mape, per_row=percentage_errors),
    Metric("smape", "min", "value", REGRESSION, from_rows=smape, per_row=symmetric_errors),
    Metric("median_ae", "min", "value", REGRESSION, from_rows=median_ae),
    Metric("pearson", "max", "value", REGRESSION, from_rows=pearson),
    Metric("spearman", "max", "value", REGRESSION, from_rows=spearman),
    Metric("qwk", "max", "label", CLASSIFICATION, from_confusion=qwk_cm),
    Metric("qwk_kaggle", "max", "label", CLASSIFICATION, from_confusion=qwk_cm, by_class_value=value_weighted_qwk),
    Metric("mcc", "max", "label", CLASSIFICATION, from_confusion=mcc_cm),
    Metric("average_precision", "max", "probabilities", CLASSIFICATION, from_rows=average_precision),
    Metric(
        "multilabel_log_loss", "min", "probabilities", MULTILABEL, from_rows=multilabel_log_loss, per_row=row_log_losses
    ),
    Metric("multilabel_f1_micro", "max", "label", MULTILABEL, from_rows=multilabel_f1_micro),
    Metric("multilabel_f1_macro", "max", "label", MULTILABEL, from_rows=multilabel_f1_macro),
    Metric("multilabel_f1_samples", "max", "label", MULTILABEL, from_rows=multilabel_f1_samples, per_row=row_f1),
    Metric("multilabel_roc_auc", "max", "probabilities", MULTILABEL, from_rows=multilabel_roc_auc),
]

METRICS: dict[str, Metric] = {metric.name: metric for metric in _METRICS}

# Free-text answers (arena.metrics.text): a text task's exact_match is this one, not the label metric above.
_TEXT_KIND = ("text",)
TEXT_METRICS: dict[str, Metric] = {
    name: Metric(
        name,
        "min" if name in text_metrics.LOWER_IS_BETTER else "max",
        "text",
        _TEXT_KIND,
        from_rows=text_metrics.scorer(name),
        per_row=text_metrics.per_row(name) if name in text_metrics.MEANS else None,
    )
    for name in text_metrics.NAMES
}
ALIASES = {"macro_f1": "f1_macro", "micro_f1": "f1_micro", "weighted_f1": "f1_weighted"}


def unknown_metric_message(name: str) -> str:
    """The error text for a metric name that is not registered, with a suggestion."""
    known = list(METRICS) + list(ALIASES) + list(TEXT_METRICS)
    close = difflib.get_close_matches(name, known + ["map@10", "ndcg@10"], n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return (
        f"unknown metric '{name}'.{hint} Known metrics: {', '.join(sorted(set(METRICS) | set(TEXT_METRICS)))}, "
        "and for ranking map@K and ndcg@K (K from 1 to 999, e.g. map@12)."
    )


def _ranking(name: str) -> Metric | None:
    """``map@K`` / ``ndcg@K``, built for the K in the name."""
    parsed = ranking_name(name)
    if parsed is None:
        return None
    family, k = parsed
    return Metric(
        name,
        "max",
        "ranking",
        RANKING,
        from_rows=ranking_metric(family, k),
        per_row=lambda truth, pred: per_query(family, k, truth, pred),
    )


def get_metric(
    name: str,
    classes: np.ndarray | None = None,
    *,
    kind: str | None = None,
    text: text_metrics.TextOptions | None = None,
) -> Metric:
    """Look a metric up by name (or alias); unknown names raise with a suggestion. With the task's sorted
    ``classes``, a metric that weighs classes by their values (qwk_kaggle) uses them (:meth:`Metric.for_classes`).
    For a text task (``kind="text"``, or a name only text tasks use) the text metric, bound to the task's ``text``
    options when given."""
    name = ALIASES.get(name, name)
    if name in TEXT_METRICS and (kind in _TEXT_KIND or name not in METRICS):
        found = TEXT_METRICS[name]
        if text is None:
            return found
        bound = text_metrics.per_row(name, text) if found.per_row is not None else None
        return replace(found, text=text, from_rows=text_metrics.scorer(name, text), per_row=bound)
    if name not in METRICS:
        metric = _ranking(name)
        if metric is None:
            raise ArenaError(unknown_metric_message(name))
        return metric
    return METRICS[name].for_classes(classes)


def class_value_problem(name: str, classes: np.ndarray | None) -> str | None:
    """Why metric ``name`` cannot score a task with these classes, or None: a metric that weighs classes by their
    values needs classes that are numbers."""
    metric = METRICS.get(ALIASES.get(name, name))
    if metric is None or metric.by_class_value is None or classes is None:
        return None
    try:
        values = np.asarray(classes, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or not np.all(np.isfinite(values)):
        shown = ", ".join(map(str, list(classes)[:5])) + (", ..." if len(classes) > 5 else "")
        return (
            f"'{metric.name}' weighs disagreements by the difference between ratings, so the classes must be "
            f"numbers; they are {shown}. Use 'qwk', which weighs by the classes' order."
        )
    return None


def is_known(name: str) -> bool:
    name = ALIASES.get(name, name)
    return name in METRICS or name in TEXT_METRICS or ranking_name(name) is not None


def needs_for_prediction(prediction: str) -> set[str]:
    """Which metric inputs a submission format can feed.

    Labels are derived from probabilities by arg-max, so a probabilities task may
    also use label metrics.
    """
    return {
        "label": {"label"},
        "probabilities": {"label", "probabilities"},
        "value": {"value"},
        "ranking": {"ranking"},
        "text": {"text"},
    }[prediction]
