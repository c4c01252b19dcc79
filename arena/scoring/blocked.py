"""Log loss, MAE, RMSE and R² on the public and private rows from one pass over every row.

Each is a function of the means of per-row moments. Rather than cutting the
predictions into public and private rows and summing each part into random blocks
apart, every row's moments are computed once, and one ``bincount`` with each row's
block (fixed for a competition's split, so kept) gives both parts' block sums. A
part's value comes from its blocks' totals; its interval is the Bayesian bootstrap
of its blocks (:func:`arena.scoring.intervals.replicates_from_sums`), the same
replicates the per-part path draws.

Binary ROC AUC counts each part's classes per distinct score once, for both its
value and its interval (the per-part path counted them twice).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from arena.scoring.intervals import (AUC_BINS, BLOCKS, PartBlocks, counts_auc_replicates, expansion_rows,
                                     moment_prior, part_blocks, percentile_interval, replicates_from_sums, row_moments)
from arena.scoring.metrics import (auc_of_counts, class_counts_in_score_order, class_keys, counts_of_sorted_keys,
                                   get_metric, grid_counts, on_decimal_grid)
from arena.scoring.stats import RESAMPLES, Interval

NAMES = ("log_loss", "mae", "rmse", "r2")
KEPT = 16  # splits (and metrics) whose blocks and priors are kept


@dataclass(frozen=True)
class _SplitFacts:
    """What a metric needs of a split's truth, the same for every upload: blocks, priors and R²'s centring."""

    blocks: PartBlocks
    priors: dict[str, tuple]
    rows: dict[str, int]
    centred: np.ndarray | None


@dataclass(frozen=True)
class BlockedScore:
    values: dict[str, float]  # per part
    intervals: dict[str, Interval]  # per part
    moments: np.ndarray  # every row's moments (n, d): the first column is the per-row result kept for ranks


_kept: dict[tuple, _SplitFacts] = {}
_lock = threading.Lock()


def blocked_score(name: str, truth: np.ndarray, pred: np.ndarray, parts: dict[str, np.ndarray], split: tuple, *,
                  seed: int) -> BlockedScore:
    """The metric's value and 95% interval on each part (boolean masks over the rows); ``split`` names the split
    so its blocks and priors are computed once."""
    classes = pred.shape[1] if pred.ndim == 2 else 0
    facts = _facts(name, truth, parts, classes, (split, name, classes, seed))
    moments, value_of = row_moments(name, truth, pred, facts.centred)
    sums = facts.blocks.sums(moments)
    values, intervals = {}, {}
    for part, span in facts.blocks.parts.items():
        n = facts.rows[part]
        if n == 0:
            values[part] = float("nan")
            intervals[part] = Interval(float("nan"), float("nan"), RESAMPLES, RESAMPLES)
            continue
        block_sums, counts = sums[span], facts.blocks.counts[span]
        with np.errstate(invalid="ignore", divide="ignore"):
            values[part] = float(value_of(block_sums.sum(axis=0) / counts.sum()))
        if name == "r2" and not np.isfinite(values[part]):  # the truth is constant here: R²'s own rule decides
            values[part] = float(get_metric("r2").from_rows(truth[parts[part]], pred[parts[part]]))
        replicates = replicates_from_sums(block_sums, counts, value_of, facts.priors[part], resamples=RESAMPLES,
                                          seed=seed)
        intervals[part] = percentile_interval(replicates, expansion_rows(name, np.empty(n)))
    return BlockedScore(values, intervals, moments)


_kept_blocks: dict[tuple, PartBlocks] = {}
KEPT_BLOCKS = 4  # splits whose row blocks (4 bytes a row) are kept, shared by every metric of the split


def _blocks(parts: dict[str, np.ndarray], split: tuple, seed: int) -> PartBlocks:
    with _lock:
        found = _kept_blocks.get((split, seed))
    if found is None:
        found = part_blocks(parts, seed=seed)
        with _lock:
            _kept_blocks[(split, seed)] = found
            while len(_kept_blocks) > KEPT_BLOCKS:
                _kept_blocks.pop(next(iter(_kept_blocks)))
    return found


def _facts(name: str, truth: np.ndarray, parts: dict[str, np.ndarray], classes: int, key: tuple) -> _SplitFacts:
    with _lock:
        found = _kept.get(key)
    if found is not None:
        return found
    centred = None
    if name == "r2":  # each row's truth less its own part's mean
        centred = np.zeros(len(truth))
        for mask in parts.values():
            if mask.any():
                centred[mask] = truth[mask] - truth[mask].mean()
    facts = _SplitFacts(_blocks(parts, key[0], key[-1]),
                        {part: moment_prior(name, truth[mask], classes) for part, mask in parts.items()},
                        {part: int(mask.sum()) for part, mask in parts.items()}, centred)
    with _lock:
        _kept[key] = facts
        while len(_kept) > KEPT:
            _kept.pop(next(iter(_kept)))
    return facts


def binary_auc_score(truth: np.ndarray, proba: np.ndarray, parts: dict[str, np.ndarray], *,
                     seed: int) -> dict[str, tuple[float, Interval]] | None:
    """Binary ROC AUC and its interval on each part from one count of the classes per distinct score; None
    when a part is small enough for the per-part path to weight its rows one by one."""
    if proba.shape[1] != 2 or any(int(mask.sum()) <= BLOCKS for mask in parts.values()):
        return None
    out = {}
    count_part = _part_counter(truth == 1, np.ascontiguousarray(proba[:, 1], dtype=np.float64))
    for part, mask in parts.items():
        pos, neg = count_part(mask)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = float(auc_of_counts(pos, neg))
        if not np.isfinite(value):  # one class only on these rows
            out[part] = (float("nan"), Interval(float("nan"), float("nan"), RESAMPLES, RESAMPLES))
            continue
        replicates = counts_auc_replicates(pos, neg, resamples=RESAMPLES, seed=seed, bins=min(BLOCKS, AUC_BINS))
        out[part] = (value, percentile_interval(replicates, expansion_rows("roc_auc", np.empty(int(mask.sum())))))
    return out


def _part_counter(is_positive: np.ndarray, score: np.ndarray):
    """Class counts per distinct score for any part of the rows, the per-row work done once for all rows:
    grid points when the scores lie on the six-decimal grid, else sort keys carrying the class."""
    if float(score.min()) >= 0 and float(score.max()) <= 1 and (points := on_decimal_grid(score)) is not None:
        return lambda mask: grid_counts(is_positive[mask], points[mask])
    if float(score.min()) >= 0:
        keys = class_keys(is_positive, score)
        return lambda mask: counts_of_sorted_keys(np.sort(keys[mask]))
    return lambda mask: class_counts_in_score_order(is_positive[mask], score[mask])
