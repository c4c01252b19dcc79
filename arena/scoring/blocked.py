"""Log loss, MAE, RMSE and R² on the public and private rows from one pass over every row.

Each is a function of the means of per-row moments. Rather than cutting the
predictions into public and private rows and summing each part into random blocks
apart, every row's moments are computed once, and one ``bincount`` with each row's
block (fixed for a competition's split, so kept) gives both parts' block sums. A
part's value comes from its blocks' totals; its interval is the Bayesian bootstrap
of its blocks (:func:`arena.scoring.intervals.replicates_from_sums`), the same
replicates the per-part path draws.

ROC AUC counts each part's classes per distinct score once, for both its value and
its interval. Scores written with six decimals (most CSVs) are counted on that grid
for every part at once: each row's cell is its grid point plus a band for its part
and class, kept per split, so one ``bincount`` per class gives every count. For four
or more classes each row's influence (DeLong's placement value) is then read from a
table over those cells and summed into the kept blocks, the per-part path's interval
without its per-part copies and second count.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from arena.scoring.intervals import (AUC_BINS, BLOCKS, VALUE_OF, PartBlocks, auc_and_replicates, expansion_rows,
                                     moment_prior, part_blocks, percentile_interval, replicates_from_sums,
                                     row_first_moment, true_class_positions)
from arena.scoring.metrics import (DECIMAL_GRID, class_counter, get_metric, may_lie_on_decimal_grid,
                                   on_decimal_grid)
from arena.scoring.pooled import pooled_empty
from arena.scoring.slices import over_slices
from arena.scoring.stats import RESAMPLES, Interval

NAMES = ("log_loss", "mae", "rmse", "r2")
KEPT = 16  # (split, metric) pairs whose priors (and R²'s centring) are kept


@dataclass(frozen=True)
class _SplitFacts:
    """What a metric needs of a split's truth, the same for every upload: blocks, priors, log loss's positions of
    the true classes, and R²'s block sums of the truth centred on each part's mean (and of its square)."""

    blocks: PartBlocks
    priors: dict[str, tuple]
    picks: np.ndarray | None
    truth_sums: np.ndarray | None


@dataclass(frozen=True)
class BlockedScore:
    values: dict[str, float]  # per part
    intervals: dict[str, Interval]  # per part
    rows: np.ndarray  # every row's result (float32), kept for ranks: its loss, or absolute or squared error


UNDEFINED = Interval(float("nan"), float("nan"), RESAMPLES, RESAMPLES)  # a part without rows, or one class only

_kept: dict[tuple, _SplitFacts] = {}
_lock = threading.Lock()


def blocked_score(name: str, truth: np.ndarray, pred: np.ndarray, parts: dict[str, np.ndarray], split: tuple, *,
                  seed: int) -> BlockedScore:
    """The metric's value and 95% interval on each part (boolean masks over the rows); ``split`` names the split
    so its blocks and priors are computed once."""
    classes = pred.shape[1] if pred.ndim == 2 else 0
    facts = _facts(name, truth, parts, classes, (split, name, classes, seed))
    first = row_first_moment(name, truth, pred, picks=facts.picks)
    sums = facts.blocks.sums(first[:, None])
    if facts.truth_sums is not None:
        sums = np.hstack([sums, facts.truth_sums])
    value_of = VALUE_OF[name]
    values, intervals = {}, {}
    for part, span in facts.blocks.parts.items():
        block_sums, counts = sums[span], facts.blocks.counts[span]
        n = int(counts.sum())
        if n == 0:
            values[part] = float("nan")
            intervals[part] = UNDEFINED
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            values[part] = float(value_of(block_sums.sum(axis=0) / counts.sum()))
        if name == "r2" and not np.isfinite(values[part]):  # the truth is constant here: R²'s own rule decides
            values[part] = float(get_metric("r2").from_rows(truth[parts[part]], pred[parts[part]]))
        replicates = replicates_from_sums(block_sums, counts, value_of, facts.priors[part], resamples=RESAMPLES,
                                          seed=seed)
        intervals[part] = percentile_interval(replicates, expansion_rows(name, n))
    rows = pooled_empty(len(first), np.float32)
    np.copyto(rows, first, casting="same_kind")
    return BlockedScore(values, intervals, rows)


_kept_blocks: dict[tuple, PartBlocks] = {}
KEPT_BLOCKS = 4  # splits whose row blocks (8 bytes a row) are kept, shared by every metric of the split
_kept_offsets: dict[tuple, np.ndarray] = {}
KEPT_OFFSETS = 8  # (split, class) pairs whose grid offsets (4 bytes a row) are kept


def _kept_or_made(kept: dict, key: tuple, make, limit: int):
    """``kept[key]``, made first if missing; the oldest entries go beyond ``limit``."""
    with _lock:
        found = kept.get(key)
    if found is None:
        found = make()
        with _lock:
            kept[key] = found
            while len(kept) > limit:
                kept.pop(next(iter(kept)))
    return found


def _split_blocks(parts: dict[str, np.ndarray], split: tuple, seed: int) -> PartBlocks:
    """The split's row blocks, shared by every metric scored on it."""
    return _kept_or_made(_kept_blocks, (split, seed), lambda: part_blocks(parts, seed=seed), KEPT_BLOCKS)


def _facts(name: str, truth: np.ndarray, parts: dict[str, np.ndarray], classes: int, key: tuple) -> _SplitFacts:
    def make() -> _SplitFacts:
        blocks = _split_blocks(parts, key[0], key[-1])
        truth_sums = None
        if name == "r2":  # each row's truth less its own part's mean
            centred = np.zeros(len(truth))
            for mask in parts.values():
                if mask.any():
                    centred[mask] = truth[mask] - truth[mask].mean()
            truth_sums = blocks.sums(np.column_stack([centred, centred * centred]))
        picks = true_class_positions(truth) if name == "log_loss" else None
        priors = {part: moment_prior(name, truth[mask], classes) for part, mask in parts.items()}
        return _SplitFacts(blocks, priors, picks, truth_sums)

    return _kept_or_made(_kept, key, make, KEPT)


def binary_auc_score(truth: np.ndarray, proba: np.ndarray, parts: dict[str, np.ndarray], split: tuple, *,
                     seed: int) -> dict[str, tuple[float, Interval]] | None:
    """Binary ROC AUC and its interval on each part from one count of the classes per distinct score; None
    when a part is small enough for the per-part path to weight its rows one by one."""
    sizes = {part: int(mask.sum()) for part, mask in parts.items()}
    if proba.shape[1] != 2 or min(sizes.values()) <= BLOCKS:
        return None
    counts = list(_part_class_counts(truth, 1, proba[:, 1], parts, split).items())

    def interval(each: slice) -> list[tuple[float, Interval]]:  # the parts are independent: each on its own core
        found = []
        for part, (pos, neg) in counts[each]:
            value, replicates = auc_and_replicates(pos, neg, resamples=RESAMPLES, seed=seed,
                                                   bins=min(BLOCKS, AUC_BINS))
            found.append((float("nan"), UNDEFINED) if not np.isfinite(value)  # one class only on these rows
                         else (value, percentile_interval(replicates, expansion_rows("roc_auc", sizes[part]))))
        return found

    return dict(zip(parts, sum(over_slices(interval, len(counts), min_rows=1), [])))


def _part_class_counts(truth: np.ndarray, positive: int, score: np.ndarray, parts: dict[str, np.ndarray],
                       split: tuple) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each part's rows of class ``positive`` and of the others per score level, in increasing score order (on the
    six-decimal grid, every grid point is a level, most of them empty); ``split`` names the split."""
    grid = _grid_cells(truth, positive, score, parts, split)
    if grid is None:
        count_part = class_counter(truth == positive, np.ascontiguousarray(score, dtype=np.float64))
        return {part: count_part(mask) for part, mask in parts.items()}
    return dict(zip(parts, _grid_counts(grid, len(parts))))


GRID_WIDTH = DECIMAL_GRID + 1


def _grid_cells(truth: np.ndarray, positive: int, score: np.ndarray, parts: dict[str, np.ndarray], split: tuple
                ) -> np.ndarray | None:
    """Each row's cell among the counts of every part and class on the six-decimal grid (None for scores off it):
    its grid point plus the offset of its band: part j's negatives then its positives (rows of class ``positive``),
    and rows in no part last. The offsets are the same for every upload to the split, so they are kept per class."""
    if not may_lie_on_decimal_grid(score):  # before the offsets are made and kept: scores off the grid need none
        return None

    def offsets() -> np.ndarray:
        band = np.full(len(truth), 2 * len(parts), dtype=np.int32)
        for j, mask in enumerate(parts.values()):
            band[mask] = 2 * j
        band += truth == positive
        band *= GRID_WIDTH
        return band

    return on_decimal_grid(score, plus=_kept_or_made(_kept_offsets, (split, positive), offsets, KEPT_OFFSETS))


def _grid_counts(cells: np.ndarray, n_parts: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each part's positives and negatives per grid point (zeros where no row scored that), from the cells."""
    counts = np.bincount(cells, minlength=(2 * n_parts + 2) * GRID_WIDTH)  # in halves on two cores: no faster
    bands = counts.reshape(2 * n_parts + 2, GRID_WIDTH)
    return [(bands[2 * j + 1], bands[2 * j]) for j in range(n_parts)]


def multiclass_auc_score(truth: np.ndarray, proba: np.ndarray, parts: dict[str, np.ndarray], split: tuple, *,
                         seed: int) -> dict[str, tuple[float, Interval]] | None:
    """One-vs-rest macro ROC AUC and its interval on each part, from one pass over the rows per class; None unless
    every class's scores lie on the six-decimal grid and every part is large enough to resample in blocks.

    The interval is the per-part path's (:func:`arena.scoring.intervals.auc_replicates`): each row's influence
    (DeLong's placement values, centred and scaled, averaged over the classes) summed into the split's kept
    blocks. Here a row's influence for a class is read from a table over the cells its scores were counted in.
    """
    k = proba.shape[1]
    sizes = [int(mask.sum()) for mask in parts.values()]
    if k < 3 or min(sizes) <= BLOCKS:
        return None
    influence = pooled_empty(len(truth))
    influence.fill(0)
    looked_up = pooled_empty(len(truth))
    aucs = np.zeros((len(parts), k))
    table = pooled_empty((2 * len(parts) + 2, GRID_WIDTH))  # each cell's influence on the macro AUC, for one class
    table.fill(0)  # rows in no part have none
    running, halves = pooled_empty(GRID_WIDTH, np.int64), pooled_empty(GRID_WIDTH)
    for c in range(k):
        cells = _grid_cells(truth, c, proba[:, c], parts, split)
        if cells is None:
            return None
        for j, (pos, neg) in enumerate(_grid_counts(cells, len(parts))):
            n_pos, n_neg, n = int(pos.sum()), int(neg.sum()), sizes[j]
            positives, negatives = table[2 * j + 1], table[2 * j]
            if n_pos == 0 or n_neg == 0:
                aucs[j, c] = np.nan
                table[2 * j: 2 * j + 2] = 0
                continue
            # A positive's placement: the negatives below it, ties counting one half (in place: no fresh pages).
            np.cumsum(neg, out=running)
            np.copyto(positives, running)
            np.multiply(neg, 0.5, out=halves)
            positives -= halves
            aucs[j, c] = float(np.dot(pos, positives) / (n_pos * n_neg))
            positives *= n / (n_neg * n_pos * k)  # (placement / n_neg - AUC) * n / n_pos / k
            positives -= aucs[j, c] * n / (n_pos * k)
            # A negative's: the positives above it, ties counting one half.
            np.cumsum(pos, out=running)
            np.copyto(negatives, running)
            np.multiply(pos, 0.5, out=halves)
            negatives -= halves  # positives at or below, less half the ties
            negatives *= -n / (n_pos * n_neg * k)  # ((n_pos - that) / n_pos - AUC) * n / n_neg / k
            negatives += (1 - aucs[j, c]) * n / (n_neg * k)
        flat = table.reshape(-1)

        def add_influence(rows: slice) -> None:
            np.take(flat, cells[rows], out=looked_up[rows], mode="clip")
            np.add(influence[rows], looked_up[rows], out=influence[rows])

        over_slices(add_influence, len(cells))
    blocks = _split_blocks(parts, split, seed)
    sums = blocks.sums(influence[:, None])
    out = {}
    for j, part in enumerate(parts):
        point = float(aucs[j].mean())
        if not np.isfinite(point):
            out[part] = (float("nan"), UNDEFINED)
            continue
        span = blocks.parts[part]
        replicates = replicates_from_sums(sums[span], blocks.counts[span], lambda m, p=point: p + m[..., 0],
                                          resamples=RESAMPLES, seed=seed)
        out[part] = (point, percentile_interval(replicates, expansion_rows("roc_auc", sizes[j])))
    return out

