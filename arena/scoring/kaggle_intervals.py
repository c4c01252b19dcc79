"""95% intervals for the metrics Kaggle competitions use, without calling the metric once per resample.

The method is :mod:`arena.scoring.intervals`' Bayesian bootstrap (an Exp(1) weight per
row, or per random block of rows above ``BLOCKS`` rows, and Hesterberg's expansion to
Student's t), drawn from each metric's sufficient statistics:

- means of per-row values (rmsle, mape, smape, multilabel_log_loss,
  multilabel_f1_samples, map@K, ndcg@K) sum those values into the blocks, as
  intervals.py does for MAE and RMSE;
- pearson sums the per-row first and second moments and the cross moment of the two
  sides, each centred on its mean and scaled first, so no sum loses digits;
- spearman ranks each side once. Up to ``BLOCKS`` rows each resample re-ranks the rows
  under its weights (a running sum of the weights in each side's order: the plain
  Bayesian bootstrap, exactly). Above that the weighted statistic is its first-order
  expansion: each row's influence on Spearman's rho, counting how the row moves every
  other row's rank (the terms that pearson of fixed ranks leaves out; without them the
  spread is off by up to a fifth), summed into the blocks. At that size the expansion's
  error is far below the interval's width;
- average_precision draws class weights per distinct score (one Gamma draw per score
  and class, exact) when there are up to ``BLOCKS`` distinct scores and two classes;
  one-vs-rest averages over more classes weight rows up to ``BLOCKS`` rows; above both,
  each row's influence on the average precision, read from running sums over the
  class counts in score order, is summed into the blocks;
- median_ae needs no resampling: under the Bayesian bootstrap the weighted median is
  order statistic k with a probability known in closed form (a Beta tail, the same
  Binomial(n, 1/2) tail as the distribution-free order-statistic interval), so the
  replicates are draws of k from it;
- multilabel_f1_micro and multilabel_f1_macro sum each row's true positives, false
  positives and false negatives (over all labels, or per label); multilabel_roc_auc
  weights rows up to ``BLOCKS`` rows, above that sums each row's influence (DeLong's
  placement values, per label).

The prior keeps a perfect submission's interval off a single point, as the classic
metrics' does. For means it is half a pseudo-row at the best value and half at a
trivial predictor's (intervals.py's rule, ``PRIOR``). Elsewhere the pseudo-rows enter
on the metric's own scale, weighed against the rows' total weight: half a row each for
the F1 scores and median_ae, and a sixteenth of a row each (``AUC_PRIOR``, as ROC AUC's
prior) for the ranking-type metrics whose spread shrinks near their best value:
pearson and spearman (one pseudo-row at +1, one at -1), average precision and
multi-label ROC AUC (one at 1, one at the trivial value). Every interval holds its own
point estimate: an end that the prior's pull leaves short of it is moved to it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.special import betainc

from arena.scoring.intervals import (AUC_BINS, AUC_PRIOR, BLOCKS, PRIOR, RESAMPLES, SUMMARISED, Interval, Moments,
                                     auc_influence, block_sums, gamma_draws, moment_replicates, percentile_interval,
                                     row_weights, standard_normals, weighted_rows_auc)
from arena.scoring.metrics import class_counts_in_score_order, row_levels
from arena.scoring.metrics_agreement import average_precision
from arena.scoring.metrics_multilabel import (_f1, multilabel_f1_macro, multilabel_f1_micro, multilabel_roc_auc,
                                              row_f1, row_log_losses)
from arena.scoring.metrics_ranking import parse_name as ranking_name, per_query
from arena.scoring.metrics_regression import (_unit_deviations, mid_ranks, pearson, percentage_errors,
                                              squared_log_errors, symmetric_errors, tie_groups, weighted_mean)

Prior = tuple[tuple[float, float], ...]  # (pseudo-rows, the metric's value there)

__all__ = ["handles", "interval", "point_and_replicates"]


def handles(name: str) -> bool:
    """Whether this module draws the metric's interval."""
    return name in SUMMARISED or ranking_name(name) is not None


def interval(name: str, truth: np.ndarray, pred: np.ndarray, *, resamples: int = RESAMPLES, seed: int = 0,
             blocks: int = BLOCKS) -> Interval:
    """The metric's 95% interval (the Bayesian bootstrap's expanded percentile interval), holding its value."""
    point, values = point_and_replicates(name, truth, pred, resamples=resamples, seed=seed, blocks=blocks)
    found = percentile_interval(values, len(truth))
    if not (np.isfinite(point) and np.isfinite(found.low)):
        return found
    return Interval(min(found.low, point), max(found.high, point), found.undefined, found.resamples)


def point_and_replicates(name: str, truth: np.ndarray, pred: np.ndarray, *, resamples: int = RESAMPLES,
                         seed: int = 0, blocks: int = BLOCKS) -> tuple[float, np.ndarray]:
    """The metric's value (exactly what its ``from_rows`` gives) and its Bayesian-bootstrap replicates."""
    options = {"resamples": resamples, "seed": seed, "blocks": blocks}
    if name in MEANS:
        values, finish, prior = MEANS[name](truth, pred)
        point = weighted_mean(values, None)
        moments = Moments(values[:, None], finish, tuple((PRIOR, (v,)) for v in prior))
        return float(finish(np.array([point]))), moment_replicates(moments, **options)
    parsed = ranking_name(name)
    if parsed is not None:
        values = per_query(*parsed, truth, pred)
        moments = Moments(values[:, None], _first, ((PRIOR, (1.0,)), (PRIOR, (0.0,))))
        return weighted_mean(values, None), moment_replicates(moments, **options)
    return OTHERS[name](truth, pred, **options)


# --- means of per-row values --------------------------------------------------------


def _first(means: np.ndarray) -> np.ndarray:
    return means[..., 0]


def _root(means: np.ndarray) -> np.ndarray:
    return np.sqrt(means[..., 0])


def _median_guess(truth: np.ndarray, errors: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> float:
    """The metric's mean when every row is predicted the truth's median (a trivial predictor)."""
    return float(np.mean(errors(truth, np.full(len(truth), np.median(truth))))) if len(truth) else 0.0


def _rmsle(truth, pred):
    logs = np.log1p(truth)
    return squared_log_errors(truth, pred), _root, (0.0, float(np.var(logs)))  # a guess of exp(mean log1p) - 1


def _mape(truth, pred):  # the better of two trivial guesses: the median, or 0 (a MAPE of exactly 1)
    return percentage_errors(truth, pred), _first, (0.0, min(1.0, _median_guess(truth, percentage_errors)))


def _smape(truth, pred):
    return symmetric_errors(truth, pred), _first, (0.0, _median_guess(truth, symmetric_errors))


def _multilabel_log_loss(truth, proba):  # the trivial guess: 1/2 for every label
    return row_log_losses(truth, proba), _first, (0.0, float(np.log(2)))


def _f1_samples(truth, pred):  # the trivial guess: no label
    return row_f1(truth, pred), _first, (1.0, 0.0)


MEANS = {"rmsle": _rmsle, "mape": _mape, "smape": _smape, "multilabel_log_loss": _multilabel_log_loss,
         "multilabel_f1_samples": _f1_samples}
"""Means of per-row values: (per-row values, the function of their mean that gives the metric, the values of the
prior's two pseudo-rows in the same units as the per-row values)."""


# --- shared machinery ---------------------------------------------------------------


def _weighted_sums(values: np.ndarray, *, resamples: int, seed: int, blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Each resample's weighted sums (R, d) of per-row ``values`` (n, d), and its total weight (R,): Exp(1) weights
    per row up to ``blocks`` rows, else per random block (:func:`arena.scoring.intervals.block_sums`)."""
    sums, counts = block_sums(values, blocks=blocks, seed=seed)
    both = row_weights(resamples, len(counts), seed) @ np.column_stack([sums, counts])
    return both[:, :-1], both[:, -1]


def _with_prior(values: np.ndarray, mass: np.ndarray, prior: Prior, seed: int) -> np.ndarray:
    """Replicates with the prior's pseudo-rows on the metric's own scale: each is the weighted mean of the rows'
    value (weight ``mass``, the rows' total) and the pseudo-rows' values (Gamma(pseudo-rows) weights)."""
    rng = np.random.default_rng([seed, 7])
    total, weight = values * mass, mass.astype(np.float64, copy=True)
    for shape, value in prior:
        draw = rng.standard_gamma(shape, len(values))
        total += draw * value
        weight += draw
    return total / weight


def _linear(point: float, influence: np.ndarray, *, resamples: int, seed: int, blocks: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """First-order replicates: the value plus the weighted mean of the rows' influences, and the total weights."""
    sums, mass = _weighted_sums(influence[:, None], resamples=resamples, seed=seed, blocks=blocks)
    return point + sums[:, 0] / mass, mass


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


def _pearson(truth, pred, *, resamples, seed, blocks):
    point = pearson(truth, pred)
    if not np.isfinite(point):
        return point, np.full(resamples, np.nan)
    ones = np.ones(len(truth))
    t = _unit_deviations(np.asarray(truth, dtype=np.float64), ones, float(len(truth)))
    p = _unit_deviations(np.asarray(pred, dtype=np.float64), ones, float(len(truth))) if t is not None else None
    if t is None or p is None:  # a constant side: 0 however the rows are weighted
        _, mass = _weighted_sums(ones[:, None], resamples=resamples, seed=seed, blocks=blocks)
        return point, _with_prior(np.zeros(resamples), mass, CORRELATION_PRIOR, seed)
    sums, mass = _weighted_sums(np.stack([t, p, t * t, p * p, t * p], axis=1), resamples=resamples, seed=seed,
                                blocks=blocks)
    return point, _with_prior(_correlation_of(sums / mass[:, None]), mass, CORRELATION_PRIOR, seed)


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
        w = weights[start:start + RERANK_CHUNK]
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
        out[start:start + len(w)] = np.clip(found, -1.0, 1.0)
    return out


def _above_and_tied(order: np.ndarray, starts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the sum of ``values`` over the rows ranked above it plus half over its run of ties."""
    n = len(order)
    runs = np.add.reduceat(values[order], starts)
    above = runs.sum() - np.cumsum(runs)
    out = np.empty(n)
    out[order] = np.repeat(above + runs / 2, np.diff(np.append(starts, n)))
    return out


def spearman_influence(sides: list[tuple[np.ndarray, np.ndarray]], point: float) -> np.ndarray:
    """Each row's influence on Spearman's rho (Pearson's r of the mid-rank distribution functions F and G).

    rho = (E[FG] - 1/4) / sqrt((E[F²] - 1/4)(E[G²] - 1/4)); a row moves each mean directly and through every
    other row's F and G: E[FG] by F_i G_i + E[G 1{X > x_i}] + E[F 1{Y > y_i}] - 3 E[FG] (ties count one half),
    E[F²] by F_i² + 2 E[F 1{X > x_i}] - 3 E[F²] (zero but for ties).
    """
    (order_t, starts_t), (order_p, starts_p) = sides
    n = len(order_t)
    f, g = mid_ranks(order_t, starts_t) / n, mid_ranks(order_p, starts_p) / n
    m1, m2, m3 = float(np.mean(f * g)), float(np.mean(f * f)), float(np.mean(g * g))
    vf, vg = m2 - 0.25, m3 - 0.25
    d1 = f * g + (_above_and_tied(order_t, starts_t, g) + _above_and_tied(order_p, starts_p, f)) / n - 3 * m1
    d2 = f * f + 2 * _above_and_tied(order_t, starts_t, f) / n - 3 * m2
    d3 = g * g + 2 * _above_and_tied(order_p, starts_p, g) / n - 3 * m3
    return d1 / np.sqrt(vf * vg) - point / 2 * (d2 / vf + d3 / vg)


def _spearman(truth, pred, *, resamples, seed, blocks):
    sides = [tie_groups(truth), tie_groups(pred)]
    n = len(truth)
    point = pearson(mid_ranks(*sides[0]), mid_ranks(*sides[1]))  # spearman's own computation
    if not np.isfinite(point):
        return point, np.full(resamples, np.nan)
    if len(sides[0][1]) < 2 or len(sides[1][1]) < 2:  # a constant side: 0 however the rows are weighted
        values, mass = np.zeros(resamples), _weighted_sums(np.ones((n, 1)), resamples=resamples, seed=seed,
                                                           blocks=blocks)[1]
    elif n <= blocks:
        weights = row_weights(resamples, n, seed)
        values, mass = _reranked_spearman(weights, sides), weights.sum(axis=1)
    else:
        values, mass = _linear(point, spearman_influence(sides, point), resamples=resamples, seed=seed,
                               blocks=blocks)
        values = np.clip(values, -1.0, 1.0)
    return point, _with_prior(values, mass, CORRELATION_PRIOR, seed)


# --- median absolute error ----------------------------------------------------------


def _median_ae(truth, pred, *, resamples, seed, blocks):
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
    ordered = np.sort(window[lo:hi + 1])
    values = ordered[k - 1 - lo]
    mass = rng.standard_gamma(float(n), resamples)  # S_n: independent of where the median falls
    reference = float(np.median(np.abs(truth - np.median(truth))))  # predicting the truth's median
    return point, _with_prior(values, mass, ((PRIOR, 0.0), (PRIOR, reference)), seed)


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


def ap_influence(is_positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each row's influence on the average precision (n times its derivative by the row's weight).

    AP = (1/P) sum over levels l of pos_l TP_l / N_l, levels in decreasing score order, TP_l and N_l the positives
    and rows at or above l. A row at level m is in N_l for every l at or below m, a positive also in TP_l and P.
    """
    level, levels = row_levels(score)
    pos = np.bincount(level[is_positive], minlength=levels)[::-1].astype(np.float64)
    total = np.bincount(level, minlength=levels)[::-1].astype(np.float64)
    hits, seen = np.cumsum(pos), np.cumsum(total)
    positives = hits[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(seen > 0, hits / seen, 0.0)
        gain = np.where(pos > 0, pos / seen, 0.0)
        loss = np.where(pos > 0, gain * precision, 0.0)
    ap = float(np.dot(pos, precision) / positives)
    at_or_below = lambda v: np.cumsum(v[::-1])[::-1]  # noqa: E731  the sum over l at or below each level
    through_seen = -at_or_below(loss)
    through_hits = at_or_below(gain)
    m = levels - 1 - level  # each row's level in decreasing order
    out = through_seen[m]
    out += np.where(is_positive, precision[m] + through_hits[m] - ap, 0.0)
    return out * (len(score) / positives)


def _average_precision(truth, proba, *, resamples, seed, blocks):
    k = proba.shape[1]
    classes = [1] if k == 2 else list(range(k))
    counts = [class_counts_in_score_order(truth == c, proba[:, c]) for c in classes]
    point = float(np.mean([_ap_of_counts(pos, neg) for pos, neg in counts])) if k > 2 else _ap_of_counts(*counts[0])
    if not np.isfinite(point):
        return point, np.full(resamples, np.nan)
    n = len(truth)
    trivial = float(np.mean([np.mean(truth == c) for c in classes]))  # a random order: about the share of positives
    prior = ((AUC_PRIOR, 1.0), (AUC_PRIOR, trivial))
    if k == 2 and n > blocks and len(counts[0][0]) <= blocks:  # Gamma(count) weights per score and class: exact
        pos, neg = counts[0]
        rng = np.random.default_rng(seed)
        normals = standard_normals(resamples, AUC_BINS if len(pos) <= AUC_BINS else blocks, seed)
        pos_w, neg_w = gamma_draws(rng, pos, normals[0]), gamma_draws(rng, neg, normals[1])
        return point, _with_prior(_ap_of_level_weights(pos_w, neg_w), pos_w.sum(axis=1) + neg_w.sum(axis=1), prior,
                                  seed)
    if n <= blocks:  # row weights shared by every class
        weights = row_weights(resamples, n, seed)
        values = np.mean([_weighted_rows_ap(weights, truth == c, proba[:, c]) for c in classes], axis=0)
        return point, _with_prior(values, weights.sum(axis=1), prior, seed)
    influence = np.mean([ap_influence(truth == c, proba[:, c]) for c in classes], axis=0)
    values, mass = _linear(point, influence, resamples=resamples, seed=seed, blocks=blocks)
    return point, _with_prior(np.clip(values, 0.0, 1.0), mass, prior, seed)


def _weighted_rows_ap(weights: np.ndarray, is_positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Average precision under each row of ``weights`` (R, n)."""
    order, starts = tie_groups(score)
    out = np.empty(len(weights))
    positive = is_positive[order]
    for start in range(0, len(weights), RERANK_CHUNK):
        w = weights[start:start + RERANK_CHUNK][:, order]
        pos = np.add.reduceat(w * positive, starts, axis=1)
        out[start:start + len(w)] = _ap_of_level_weights(pos, np.add.reduceat(w, starts, axis=1) - pos)
    return out


# --- multi-label counts and ROC AUC -------------------------------------------------


def _sparse_block_sums(cells: np.ndarray, *, blocks: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`arena.scoring.intervals.block_sums` of a 0/1 matrix (n, d), counting only its ones."""
    n, d = cells.shape
    block = np.random.default_rng(seed + 1).integers(0, blocks, n, dtype=np.int32)  # block_sums' blocks
    rows, columns = np.nonzero(cells)
    sums = np.bincount(block[rows].astype(np.int64) * d + columns, minlength=blocks * d).reshape(blocks, d)
    return sums.astype(np.float64), np.bincount(block, minlength=blocks).astype(np.float64)


def _multilabel_f1(average: str):
    def replicates(truth, pred, *, resamples, seed, blocks):
        metric = multilabel_f1_micro if average == "micro" else multilabel_f1_macro
        point = metric(truth, pred)
        n, labels = truth.shape
        t, p = truth > 0, pred > 0
        cells = [t & p, ~t & p, t & ~p]
        if average == "micro":
            counts = np.stack([c.sum(axis=1) for c in cells], axis=1).astype(np.float64)
            sums, mass = _weighted_sums(counts, resamples=resamples, seed=seed, blocks=blocks)
        elif n <= blocks:
            counts = np.concatenate(cells, axis=1).astype(np.float64)
            weights = row_weights(resamples, n, seed)
            sums, mass = weights @ counts, weights.sum(axis=1)
        else:
            block_counts, rows = _sparse_block_sums(np.concatenate(cells, axis=1), blocks=blocks, seed=seed)
            weights = row_weights(resamples, blocks, seed)
            sums, mass = weights @ block_counts, weights @ rows
        tp, fp, fn = np.split(sums, 3, axis=1)
        values = _f1(tp, fp, fn)
        values = values[:, 0] if average == "micro" else values.mean(axis=1)
        return point, _with_prior(values, mass, ((PRIOR, 1.0), (PRIOR, 0.0)), seed)

    return replicates


def _multilabel_roc_auc(truth, proba, *, resamples, seed, blocks):
    point = multilabel_roc_auc(truth, proba)
    if not np.isfinite(point):
        return point, np.full(resamples, np.nan)
    n = len(truth)
    defined = [j for j in range(truth.shape[1]) if 0 < int((truth[:, j] > 0).sum()) < n]
    columns = [((truth[:, j] > 0).astype(np.int64), np.stack([1 - proba[:, j], proba[:, j]], axis=1))
               for j in defined]
    prior = ((AUC_PRIOR, 1.0), (AUC_PRIOR, 0.5))
    if n <= blocks:
        weights = row_weights(resamples, n, seed)
        values = np.mean([weighted_rows_auc(t, s, weights, prior=False) for t, s in columns], axis=0)
        return point, _with_prior(values, weights.sum(axis=1), prior, seed)
    influence = np.mean([auc_influence(t, s) for t, s in columns], axis=0)
    values, mass = _linear(point, influence, resamples=resamples, seed=seed, blocks=blocks)
    return point, _with_prior(np.clip(values, 0.0, 1.0), mass, prior, seed)


OTHERS = {"pearson": _pearson, "spearman": _spearman, "median_ae": _median_ae,
          "average_precision": _average_precision, "multilabel_f1_micro": _multilabel_f1("micro"),
          "multilabel_f1_macro": _multilabel_f1("macro"), "multilabel_roc_auc": _multilabel_roc_auc}
