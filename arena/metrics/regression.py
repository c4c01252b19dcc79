"""Kaggle's regression and correlation metrics (rmsle, mape, smape, median_ae, pearson, spearman), each with weights.

Every function takes ``(y_true, y_pred, weight=None)``: with a weight per row, a
whole-number weight counts as that many copies of the row, so each weighted metric
equals the unweighted metric on repeated rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def weights_for(weight: np.ndarray | None, n: int) -> np.ndarray:
    """The row weights as float64, ones when there are none."""
    return np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)


def weighted_mean(values: np.ndarray, weight: np.ndarray | None) -> float:
    """The (weighted) mean of per-row values; NaN for no rows or no weight."""
    w = weights_for(weight, len(values))
    total = w.sum()
    return float(np.dot(w, values) / total) if len(values) and total > 0 else float("nan")


def squared_log_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return (np.log1p(y_pred) - np.log1p(y_true)) ** 2


def rmsle(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Root mean squared logarithmic error (values must be 0 or more)."""
    return float(np.sqrt(weighted_mean(squared_log_errors(y_true, y_pred), weight)))


EPSILON = np.finfo(np.float64).eps


def percentage_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """|error| / |truth|, with scikit-learn's floor of machine epsilon under the truth."""
    return np.abs(y_pred - y_true) / np.maximum(np.abs(y_true), EPSILON)


def mape(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Mean absolute percentage error as a fraction (0.1 is 10%), as scikit-learn computes it."""
    return weighted_mean(percentage_errors(y_true, y_pred), weight)


def symmetric_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """200 |error| / (|truth| + |prediction|) per row; 0 where both are 0 (Kaggle's convention)."""
    scale = np.abs(y_true) + np.abs(y_pred)
    out = np.zeros(len(y_true))
    np.divide(200 * np.abs(y_pred - y_true), scale, out=out, where=scale != 0)
    return out


def smape(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Symmetric mean absolute percentage error in percent, 0 to 200, as Kaggle computes it."""
    return weighted_mean(symmetric_errors(y_true, y_pred), weight)


def weighted_median(values: np.ndarray, weight: np.ndarray | None = None) -> float:
    """The median; with weights, the median of the rows repeated by their weights (the middle two averaged)."""
    if len(values) == 0:
        return float("nan")
    if weight is None:
        return float(np.median(values))
    w = np.asarray(weight, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    v, cum = values[order], np.cumsum(w[order])
    half = cum[-1] / 2
    low = int(np.searchsorted(cum, half, side="left"))  # first row whose cumulative weight reaches half
    if np.isclose(cum[low], half, rtol=1e-12, atol=0) and low + 1 < len(v):
        nxt = low + 1 + int(np.searchsorted(cum[low + 1 :], cum[low], side="right"))  # next row with weight
        return float((v[low] + v[min(nxt, len(v) - 1)]) / 2)
    return float(v[low])


def median_ae(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Median absolute error."""
    return weighted_median(np.abs(y_pred - y_true), weight)


def _unit_deviations(values: np.ndarray, w: np.ndarray, total: float) -> np.ndarray | None:
    """The values less their weighted mean, divided by the largest such deviation (so within [-1, 1], one of them
    ±1); None when every value is the same. Values so large that the mean or a deviation overflows, or so small that
    the deviations near underflow, are first divided by their largest magnitude: the result is the same at any
    scale (1e-300 or 1e300)."""
    with np.errstate(over="ignore", invalid="ignore"):
        deviations = values - np.dot(w, values) / total
        low, high = float(np.min(deviations)), float(np.max(deviations))
    if not (np.isfinite(low) and np.isfinite(high) and max(-low, high) > 1e-280):
        top = max(abs(float(np.min(values))), abs(float(np.max(values))))
        if top == 0:
            return None
        scaled = values / top
        deviations = scaled - np.dot(w, scaled) / total
        low, high = float(np.min(deviations)), float(np.max(deviations))
    if low == high:  # every value the same (each then lies equally far from the mean)
        return None
    return deviations / max(-low, high)


def pearson(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Pearson's correlation, computed as scipy does (centred, then scaled, so values at any scale give the same
    result); 0.0 when either side is constant on the rows that carry weight (scipy calls it undefined)."""
    w = weights_for(weight, len(y_true))
    if len(y_true) < 2 or not np.sum(w) > 0:
        return float("nan")
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if not float(np.min(w)) > 0:  # rows without weight count for nothing, not even as constants
        keep = w > 0
        w, y_true, y_pred = w[keep], y_true[keep], y_pred[keep]
    heaviest = float(np.max(w))
    if not 1e-100 <= heaviest <= 1e100:
        w = w / heaviest  # weights of any scale: their sums and products stay finite and non-zero
    total = float(np.sum(w))
    t = _unit_deviations(y_true, w, total)
    p = _unit_deviations(y_pred, w, total) if t is not None else None
    if t is None or p is None:
        return 0.0
    spread = np.sqrt(np.dot(w, t * t)) * np.sqrt(np.dot(w, p * p))
    return float(np.clip(np.dot(w, t * p) / spread, -1.0, 1.0))


def weighted_ranks(values: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """Mid-ranks; with weights, each row's mid-rank among the rows repeated by their weights (up to a shift)."""
    if weight is None:
        return mid_ranks(*tie_groups(values))
    w = weights_for(weight, len(values))
    _, inverse = np.unique(values, return_inverse=True)
    inverse = inverse.reshape(-1)
    per_value = np.bincount(inverse, weights=w)
    below = np.concatenate([[0.0], np.cumsum(per_value)[:-1]])
    return (below + per_value / 2)[inverse]


def tie_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows in increasing order of ``values`` and where each run of equal values starts in that order."""
    values = np.asarray(values).reshape(-1)
    order = np.argsort(values)  # equal values form one run whatever their order: no stable sort needed
    ordered = values[order]
    return order, np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))


def mid_ranks(order: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each row's mid-rank from :func:`tie_groups`: the rows below its run plus half its run (as
    :func:`weighted_ranks` without weights, value for value)."""
    ranks = np.empty(len(order))
    if len(starts) == len(order):  # no ties: each row's run is itself, its mid-rank its position plus 1/2
        ranks[order] = np.arange(len(order)) + 0.5
        return ranks
    sizes = np.diff(np.append(starts, len(order)))
    ranks[order] = np.repeat(starts + sizes / 2, sizes)
    return ranks


@dataclass(frozen=True)
class SortedSide:
    """One side's rows in increasing order (``order``), where each run of equal values starts in that order
    (``starts``; None when no two values are equal), and the mid-rank at each sorted position (``mid``: the rows
    below its run plus half its run, so the mid-ranks sum to n²/2; None without ties, where it is the position
    plus 1/2)."""

    order: np.ndarray
    starts: np.ndarray | None
    mid: np.ndarray | None

    def runs(self) -> np.ndarray:
        """Where each run starts, every position its own run when there are no ties."""
        return np.arange(len(self.order)) if self.starts is None else self.starts


def sorted_side(values: np.ndarray) -> SortedSide:
    """:class:`SortedSide` of ``values``: one argsort and one pass over the sorted values."""
    values = np.asarray(values).reshape(-1)
    order = np.argsort(values)  # equal values form one run whatever their order: no stable sort needed
    ordered = values[order]
    new = ordered[1:] != ordered[:-1]
    if new.all():
        return SortedSide(order, None, None)
    starts = np.flatnonzero(np.concatenate(([True], new)))
    sizes = np.diff(np.append(starts, len(order)))
    return SortedSide(order, starts, np.repeat(starts + sizes / 2, sizes))


@dataclass(frozen=True)
class RankedPair:
    """Both sides sorted once (:func:`sorted_side`) and ``at_p``, the prediction-order position (int32) of the row
    at each truth-order position: everything spearman and its interval need, with no rank array in row order."""

    truth: SortedSide
    pred: SortedSide
    at_p: np.ndarray


def pair_of(truth: SortedSide, pred: SortedSide) -> RankedPair:
    """The :class:`RankedPair` of two sorted sides."""
    n = len(pred.order)
    position = np.empty(n, dtype=np.int32)
    position[pred.order] = np.arange(n, dtype=np.int32)
    return RankedPair(truth, pred, position[truth.order])


def ranked_pair(y_true: np.ndarray, y_pred: np.ndarray) -> RankedPair:
    """The :class:`RankedPair` of two columns."""
    return pair_of(sorted_side(y_true), sorted_side(y_pred))


def centred_ranks(pair: RankedPair) -> tuple[np.ndarray, np.ndarray]:
    """Both sides' mid-ranks less their mean n/2 (exact: multiples of 1/2), at the truth-order positions."""
    n = len(pair.at_p)
    half = n / 2
    t = np.arange(n) - (half - 0.5) if pair.truth.mid is None else pair.truth.mid - half
    p = pair.at_p - (half - 0.5) if pair.pred.mid is None else (pair.pred.mid - half)[pair.at_p]
    return t, p


def spearman_of(pair: RankedPair) -> float:
    """Spearman's rho from a :class:`RankedPair`: Pearson's r of the centred mid-ranks; 0.0 for a constant side."""
    t, p = centred_ranks(pair)
    spread = float(np.dot(t, t)) * float(np.dot(p, p))
    if not spread > 0:
        return 0.0 if len(t) >= 2 else float("nan")
    return float(np.clip(np.dot(t, p) / np.sqrt(spread), -1.0, 1.0))


def spearman(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Spearman's rank correlation (Pearson's on mid-ranks); 0.0 when either side is constant."""
    if weight is None:
        return spearman_of(ranked_pair(y_true, y_pred)) if len(y_true) >= 2 else float("nan")
    return pearson(weighted_ranks(y_true, weight), weighted_ranks(y_pred, weight), weight)
