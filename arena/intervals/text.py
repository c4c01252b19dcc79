"""95% intervals of the text metrics (:mod:`arena.metrics.text`), drawn from their per-row sufficient statistics.

Each row's statistics are collected once (its match, its token F1 or ROUGE F, sacrebleu's n-gram counts for BLEU and
chrF, the edits and reference length for WER and CER). The Bayesian bootstrap of :mod:`arena.intervals.bootstrap`
then weighs them: each row its own Exp(1) weight up to ``BLOCKS`` rows, else random blocks of rows
(:func:`arena.intervals.bootstrap.block_sums`), so a resample is one matrix product of weights and summed statistics,
and the metric of each replicate is computed from its weighted sums (:func:`arena.metrics.text.value_of_sums`). No
row is rescored per resample.

The prior keeps a perfect submission's interval off a single point, as the classic metrics' does:

- exact match is a proportion: the Jeffreys pseudo-rows (half a row right, half wrong), and no expansion, as for
  accuracy;
- token F1 and ROUGE, means of scores in [0, 1]: half a pseudo-row at 1 and half at 0;
- the corpus metrics (BLEU, chrF, WER, CER): half a pseudo-row with the statistics of an average row answered
  perfectly (every n-gram matched, no edit) and half of one answered wholly wrong (no n-gram matched, every
  reference word an edit).

The percentiles of all but exact match are expanded to Student's t for
:func:`arena.intervals.bootstrap.effective_rows`: each row's influence on the metric (the metric's derivatives in the
mean statistics, times the row's deviation from them) tells how heavy-tailed the rows are. Every interval holds the
metric's own value.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from arena.intervals.bootstrap import (
    BLOCKS,
    PRIOR,
    RESAMPLES,
    Interval,
    block_sums,
    effective_rows,
    excess_kurtosis,
    holding,
    percentile_interval,
    replicates_from_sums,
    row_blocks,
)
from arena.metrics import text as text_metrics
from arena.metrics.registry import Metric

__all__ = ["interval", "stats_interval", "value_and_interval", "weighted_values"]


def value_and_interval(
    metric: Metric,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    blocks: int = BLOCKS,
) -> tuple[float, Interval]:
    """A text metric's value (what its ``from_rows`` gives) and its 95% interval, from one pass over the rows."""
    n = len(pred)
    if metric.name == "chrf" and weight is None and n > blocks:  # sums of blocks of rows, each row's never written
        block, counts = row_blocks(n, blocks, seed)
        sums = text_metrics.chrf_block_sums(truth, pred, block, blocks)
        if sums is not None:
            return _counted_interval(metric.name, sums, counts, n, resamples=resamples, seed=seed)
    options = cast(text_metrics.TextOptions, metric.text if metric.text is not None else text_metrics.DEFAULT)
    stats = text_metrics.row_stats(metric.name, truth, pred, options)
    return stats_interval(metric.name, stats, weight=weight, resamples=resamples, seed=seed, blocks=blocks)


def interval(
    metric: Metric,
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    blocks: int = BLOCKS,
) -> Interval:
    """A text metric's 95% interval on these rows (with row ``weight``, or none)."""
    return value_and_interval(metric, truth, pred, weight=weight, resamples=resamples, seed=seed, blocks=blocks)[1]


def _prior(name: str, mean_row: np.ndarray) -> tuple[tuple[float, tuple[float, ...]], ...]:
    """Half a pseudo-row answered perfectly and half answered wholly wrong, with an average row's lengths."""
    if name in text_metrics.MEANS:
        return (PRIOR, (1.0,)), (PRIOR, (0.0,))
    if name == "bleu":
        order = text_metrics.BLEU_ORDER
        total = mean_row[2 + order :]
        perfect = np.concatenate([[mean_row[0], mean_row[0]], total, total])
        wrong = np.concatenate([mean_row[:2], np.zeros(order), total])
    elif name == "chrf":
        counts = mean_row.reshape(text_metrics.CHRF_ORDER, 3)
        perfect = np.repeat(counts[:, 1:2], 3, axis=1).ravel()  # hypothesis = reference = match
        wrong = np.column_stack([counts[:, :2], np.zeros(len(counts))]).ravel()
    else:  # wer, cer: no edit, or one edit per reference word
        perfect, wrong = np.array([0.0, mean_row[1]]), np.array([mean_row[1], mean_row[1]])
    return (PRIOR, tuple(map(float, perfect))), (PRIOR, tuple(map(float, wrong)))


def stats_interval(
    name: str,
    stats: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
    blocks: int = BLOCKS,
) -> tuple[float, Interval]:
    """Text metric ``name``'s value and 95% interval from its per-row statistics (n, d)
    (:func:`arena.metrics.text.row_stats`), each row counting its ``weight`` relative to the mean weight."""
    stats = np.asarray(stats, dtype=np.float64)
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
        stats, weight = stats[weight > 0], weight[weight > 0]
    if not len(stats):
        return float("nan"), Interval(float("nan"), float("nan"), resamples, resamples)
    if weight is None:
        counted = name in text_metrics.RATIOS
        sums, mass = block_sums(stats, blocks=blocks, seed=seed, whole=counted)
        if counted:
            return _counted_interval(name, sums, mass, len(stats), resamples=resamples, seed=seed)
        counts = mass
        totals, rows = text_metrics.weighted_sums(stats, None)
    else:
        totals, rows = text_metrics.weighted_sums(stats, weight)
        relative = weight / weight.mean()
        both, counts = block_sums(np.column_stack([stats * relative[:, None], relative]), blocks=blocks, seed=seed)
        sums, mass = both[:, :-1], both[:, -1]
    return _interval(name, sums, mass, counts, totals, rows, resamples=resamples, seed=seed)


def _counted_interval(
    name: str, sums: np.ndarray, counts: np.ndarray, n: int, *, resamples: int, seed: int
) -> tuple[float, Interval]:
    """A corpus metric's value and interval from its unweighted block sums and the blocks' row counts: its
    statistics are counts, whose sums are exact in any order, so their total is the blocks'."""
    return _interval(name, sums, counts, counts, sums.sum(axis=0), float(n), resamples=resamples, seed=seed)


def _interval(
    name: str,
    sums: np.ndarray,
    mass: np.ndarray,
    counts: np.ndarray,
    totals: np.ndarray,
    rows: float,
    *,
    resamples: int,
    seed: int,
) -> tuple[float, Interval]:
    """The value and interval from the block sums of the statistics (blocks, d), each block's weight (``mass``) and
    row count, and the statistics' totals over ``rows`` rows (or total weight)."""
    point = float(text_metrics.value_of_sums(name, totals, rows))
    n = float(counts.sum())

    def value_of(means: np.ndarray) -> np.ndarray:
        return text_metrics.value_of_sums(name, means * n, n)  # corpus metrics read counts on the rows' scale

    means = totals / rows
    values = replicates_from_sums(sums, mass, value_of, _prior(name, means), resamples=resamples, seed=seed)
    if name == "exact_match":  # a proportion: its Jeffreys posterior covers unexpanded, as accuracy's
        return point, holding(percentile_interval(values), point)
    slope = _gradient(value_of, means)
    excess = excess_kurtosis((sums - np.outer(mass, means)) @ slope, counts) if np.all(np.isfinite(slope)) else 0.0
    return point, percentile_interval(values, effective_rows(n, excess), point)


def _gradient(value_of, means: np.ndarray) -> np.ndarray:
    """The metric's derivatives in each mean statistic (central differences; 0 for a statistic that is 0)."""
    steps = 1e-6 * np.maximum(np.abs(means), 1e-12)
    bumped = means[None, :] + np.diag(steps)
    lowered = means[None, :] - np.diag(np.minimum(steps, np.abs(means)))
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (np.asarray(value_of(bumped)) - np.asarray(value_of(lowered))) / (bumped - lowered).sum(axis=1)
    return np.where(np.isfinite(slope) & (means != 0), slope, 0.0)  # a statistic 0 on every row moves nothing


def weighted_values(name: str, stats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Text metric ``name`` under each row weighting in ``weights`` (R, n) from the rows' statistics (n, d): one value
    per weighting (a board's paired and joint bootstraps). Each weighting is scaled to a mean of 1 first, so a corpus
    metric's smoothing sees counts on the rows' scale."""
    weights = np.asarray(weights, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = weights / weights.mean(axis=1, keepdims=True)
    sums = scaled @ np.asarray(stats, dtype=np.float64)
    return np.asarray(text_metrics.value_of_sums(name, sums, scaled.sum(axis=1)), dtype=np.float64)
