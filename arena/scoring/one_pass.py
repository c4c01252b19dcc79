"""Log loss, MAE, RMSE and R² on the public and private rows from one pass over every row.

Each is a function of the means of per-row moments. Rather than cutting the
predictions into public and private rows and summing each part into random blocks
apart, every row's moments are computed once, and one ``bincount`` with each row's
block (fixed for a competition's split, so kept) gives both parts' block sums. A
part's value comes from its blocks' totals; its interval is the Bayesian bootstrap
of its blocks (:func:`arena.intervals.bootstrap.replicates_from_sums`), the same
replicates the per-part path draws.

ROC AUC counts each part's classes per distinct score once, for both its value and
its interval. Scores written with six decimals (most CSVs) are counted on that grid
for every part at once: each row's cell is its grid point plus a band for its part
and class, kept per split, so one compiled pass per class gives every count
(:mod:`arena._fast.gridcount`). For three or more classes each row's influence
(DeLong's placement value) is then read from running sums over those counts and summed
into the kept blocks, the per-part path's interval without its per-part copies and
second count; above ``INFLUENCE_ROWS`` rows a part, only for a random sample of its rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from arena._fast import DECIMAL_GRID, add_influence, count_cells, has_compiled, over_slices, pooled_empty
from arena._fast import warm as warm_compiled
from arena.intervals.bootstrap import (
    AUC_BINS,
    BLOCKS,
    VALUE_OF,
    PartBlocks,
    auc_counts_replicates,
    effective_rows,
    influence_interval,
    moment_prior,
    moments_interval,
    part_blocks,
    percentile_interval,
    row_first_moment,
    true_class_positions,
    uniform_probabilities,
)
from arena.intervals.confidence import RESAMPLES, Interval
from arena.metrics.registry import class_counter, get_metric, may_lie_on_decimal_grid

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


def blocked_score(
    name: str, truth: np.ndarray, pred: np.ndarray, parts: dict[str, np.ndarray], split: tuple, *, seed: int
) -> BlockedScore:
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
            values[part] = float(get_metric("r2").rows_function()(truth[parts[part]], pred[parts[part]]))

        def says_nothing(mask: np.ndarray = parts[part]) -> bool:
            return name == "log_loss" and uniform_probabilities(pred[mask])

        intervals[part] = moments_interval(
            name, block_sums, counts, facts.priors[part], resamples=RESAMPLES, seed=seed, says_nothing=says_nothing
        )
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


def binary_auc_score(
    truth: np.ndarray, proba: np.ndarray, parts: dict[str, np.ndarray], split: tuple, *, seed: int
) -> dict[str, tuple[float, Interval]] | None:
    """Binary ROC AUC and its interval on each part from one count of the classes per distinct score; None
    when a part is small enough for the per-part path to weight its rows one by one."""
    sizes = {part: int(mask.sum()) for part, mask in parts.items()}
    if proba.shape[1] != 2 or min(sizes.values()) <= BLOCKS:
        return None
    counts = list(_part_class_counts(truth, 1, proba[:, 1], parts, split).items())

    def interval(each: slice) -> list[tuple[float, Interval]]:  # the parts are independent: each on its own core
        found = []
        for part, (pos, neg) in counts[each]:
            value, replicates, excess = auc_counts_replicates(
                pos, neg, resamples=RESAMPLES, seed=seed, bins=min(BLOCKS, AUC_BINS)
            )
            found.append(
                (float("nan"), UNDEFINED)
                if not np.isfinite(value)  # one class only on these rows
                else (value, percentile_interval(replicates, effective_rows(sizes[part], excess), value))
            )
        return found

    return dict(zip(parts, sum(over_slices(interval, len(counts), min_rows=1), [])))


def _part_class_counts(
    truth: np.ndarray, positive: int, score: np.ndarray, parts: dict[str, np.ndarray], split: tuple
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each part's rows of class ``positive`` and of the others per score level, in increasing score order (on the
    six-decimal grid, every grid point is a level, most of them empty); ``split`` names the split."""
    bands = _grid_bands(truth, positive, score, parts, split)
    if bands is None:
        count_part = class_counter(truth == positive, np.ascontiguousarray(score, dtype=np.float64))
        return {part: count_part(mask) for part, mask in parts.items()}
    return {part: (bands[2 * j + 1], bands[2 * j]) for j, part in enumerate(parts)}


def warm() -> None:
    """Load the compiled grid count now, where numba is installed: a worker that forks a child per job hands it to
    every child instead of each loading it anew."""
    warm_compiled()


GRID_WIDTH = DECIMAL_GRID + 1


def _grid_bands(
    truth: np.ndarray, positive: int, score: np.ndarray, parts: dict[str, np.ndarray], split: tuple
) -> np.ndarray | None:
    """Rows per point of the six-decimal grid in each band, part j's negatives (band 2j) then its positives (rows
    of class ``positive``, band 2j + 1); None for scores off the grid, or without numba. Each row is counted in its band by an
    offset (rows in no part in two last bands, not returned); the offsets are the same for every upload to the
    split, so they are kept per class."""
    if not has_compiled() or not may_lie_on_decimal_grid(score):  # before the offsets are made and kept: scores
        # off the grid (or no numba to count them) take the numpy path and need none
        return None

    def offsets() -> np.ndarray:
        band = np.full(len(truth), 2 * len(parts), dtype=np.int32)
        for j, mask in enumerate(parts.values()):
            band[mask] = 2 * j
        band += truth == positive
        band *= GRID_WIDTH
        return band

    plus = _kept_or_made(_kept_offsets, (split, positive), offsets, KEPT_OFFSETS)
    counts = count_cells(score, plus, (2 * len(parts) + 2) * GRID_WIDTH, 2 * len(parts) * GRID_WIDTH)
    return None if counts is None else counts.reshape(2 * len(parts), GRID_WIDTH)


INFLUENCE_ROWS = 1 << 17  # a part's rows beyond this: its multi-class ROC AUC interval reads a sample's influence


@dataclass(frozen=True)
class _InfluenceSample:
    """The rows whose influence sets the multi-class ROC AUC interval, the same for every upload to the split, so
    kept. A part of up to ``INFLUENCE_ROWS`` rows gives all its rows; a larger one about that many, drawn at random
    within each of its classes, an equal share each, so a rare class (whose rows weigh the most) keeps all its rows.
    Each sampled row stands for 1 / p rows of its class and part, p being the share drawn there: its influence is
    weighed by 1 / sqrt(p), so the sampled rows' squared influences add up to the part's, and the bootstrap's spread
    over the part's blocks is that of all its rows."""

    rows: np.ndarray  # in increasing order
    part: np.ndarray  # each sampled row's part (its position among the parts)
    truth: np.ndarray  # each sampled row's class
    block: np.ndarray  # each sampled row's block
    weight: np.ndarray  # each sampled row's 1 / sqrt(p): 1 where every row is read


_kept_samples: dict[tuple, _InfluenceSample] = {}


def _influence_sample(
    truth: np.ndarray, parts: dict[str, np.ndarray], split: tuple, seed: int, k: int, *, every_row: bool = False
) -> _InfluenceSample:
    """The split's sample (kept), or with ``every_row`` all the rows of every part (made anew: it is large)."""

    def make() -> _InfluenceSample:
        blocks = _split_blocks(parts, split, seed)
        draw = None  # one uniform draw a row, made only if some part is sampled
        part_of_row = np.full(len(truth), -1, dtype=np.intp)
        share = np.ones((len(parts), k))  # the share of each part's rows of each class that is read
        for j, mask in enumerate(parts.values()):
            chosen = mask
            if mask.sum() > INFLUENCE_ROWS and not every_row:
                share[j] = np.minimum(1.0, INFLUENCE_ROWS / k / np.maximum(1, np.bincount(truth[mask], minlength=k)))
                draw = np.random.default_rng([seed, 3]).random(len(truth)) if draw is None else draw
                chosen = mask & (draw < share[j][truth])
            part_of_row[chosen] = j
        rows = np.flatnonzero(part_of_row >= 0)
        part, classes = part_of_row[rows], truth[rows]
        return _InfluenceSample(rows, part, classes, blocks.block[rows], 1 / np.sqrt(share[part, classes]))

    return make() if every_row else _kept_or_made(_kept_samples, (split, seed, k), make, KEPT_BLOCKS)


SAMPLE_NOISE = 0.05  # the sampled sum of squared influences may be this uncertain (relative), else read every row


def _too_noisy(weighted: np.ndarray, sample: _InfluenceSample, parts: int) -> bool:
    """Whether a part's sampled influences leave the interval's spread uncertain: its sum of squares, estimated
    from the sample, has a relative standard error above ``SAMPLE_NOISE`` (about half that on the width). It
    happens when a few rows carry most of the spread, as the few misranked rows of a nearly perfect submission do;
    an equal share per class cannot know which rows those are."""
    squares = weighted**2
    unread = 1 - 1 / sample.weight**2  # the share of the rows each sampled row stands for that were not read
    for j in range(parts):
        mine = sample.part == j
        total = float(np.sum(squares[mine]))
        if total > 0 and np.sqrt(float(np.sum(squares[mine] ** 2 * unread[mine]))) > SAMPLE_NOISE * total:
            return True
    return False


def _class_auc(
    c: int, k: int, counts: np.ndarray, score: np.ndarray, sample: _InfluenceSample, sizes: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Class ``c``'s one-vs-rest AUC on each part, and each sampled row's influence through it on the macro AUC,
    from the class's counts per grid point and band (:func:`_grid_bands`) and its scores."""
    running = np.cumsum(counts, axis=1, out=pooled_empty(counts.shape, np.int64))  # rows at or below each point
    aucs = np.full(len(sizes), np.nan)
    slope, shift = np.zeros(len(counts)), np.zeros(len(counts))  # a row's influence: slope * placement + shift
    for j, n in enumerate(sizes):
        n_neg, n_pos = int(running[2 * j, -1]), int(running[2 * j + 1, -1])
        if n_pos == 0 or n_neg == 0:
            continue
        negatives, positives = counts[2 * j], counts[2 * j + 1]  # whole numbers: exact sums
        wins = float(np.dot(positives, running[2 * j])) - 0.5 * float(np.dot(positives, negatives))
        auc = aucs[j] = wins / (n_pos * n_neg)
        # A positive's placement: the negatives below it, ties counting one half (the negatives at or below it
        # less half those tied); its influence (placement / n_neg - AUC) * n / n_pos / k.
        slope[2 * j + 1], shift[2 * j + 1] = n / (n_neg * n_pos * k), -auc * n / (n_pos * k)
        # A negative's: the positives above it, ties counting one half, which is n_pos less the same count of the
        # positives; its influence ((n_pos - that) / n_pos - AUC) * n / n_neg / k.
        slope[2 * j], shift[2 * j] = -n / (n_pos * n_neg * k), (1 - auc) * n / (n_neg * k)
    found = np.zeros(len(sample.rows))
    add_influence(score, sample.rows, sample.part, sample.truth, c, running, counts, slope, shift, found)
    return aucs, found


def multiclass_auc_score(
    truth: np.ndarray,
    proba: np.ndarray,
    parts: dict[str, np.ndarray],
    split: tuple,
    *,
    seed: int,
    every_row: bool = False,
) -> dict[str, tuple[float, Interval]] | None:
    """One-vs-rest macro ROC AUC and its interval on each part, from one pass over the rows per class; None unless
    every class's scores lie on the six-decimal grid and every part is large enough to resample in blocks.

    The interval is the per-part path's (:func:`arena.intervals.bootstrap.auc_replicates`): each row's influence
    (DeLong's placement values, centred and scaled, averaged over the classes) summed into the split's kept
    blocks. A row's placement is read from running sums over the grid's counts. Above ``INFLUENCE_ROWS`` rows a
    part's influence is read for a random sample of about that many of its rows, drawn within each class and
    weighed to stand for the rows not drawn (:class:`_InfluenceSample`); the AUC itself counts every row. Where
    the sample leaves the spread uncertain (:func:`_too_noisy`), or with ``every_row``, every row is read.
    """
    k = proba.shape[1]
    sizes = [int(mask.sum()) for mask in parts.values()]
    if k < 3 or min(sizes) <= BLOCKS:
        return None
    sample = _influence_sample(truth, parts, split, seed, k, every_row=every_row)
    influence = np.zeros(len(sample.rows))
    aucs = np.zeros((len(parts), k))
    for c in range(k):
        counts = _grid_bands(truth, c, proba[:, c], parts, split)
        if counts is None:
            return None
        aucs[:, c], found = _class_auc(c, k, counts, proba[:, c], sample, sizes)
        influence += found
    weighted = influence * sample.weight
    if not every_row and _too_noisy(weighted, sample, len(parts)):
        return multiclass_auc_score(truth, proba, parts, split, seed=seed, every_row=True)
    blocks = _split_blocks(parts, split, seed)
    sums = np.bincount(sample.block, weights=weighted, minlength=len(blocks.counts))
    out = {}
    for j, part in enumerate(parts):
        point = float(aucs[j].mean())
        if not np.isfinite(point):
            out[part] = (float("nan"), UNDEFINED)
            continue
        span = blocks.parts[part]
        block_sums, block_counts = sums[span, None], blocks.counts[span]  # every row's count: see _InfluenceSample
        perfect = []  # classes ranked perfectly on this part get the prior (intervals.auc_interval)
        if np.any((aucs[j] == 0) | (aucs[j] == 1)):
            positives = np.bincount(truth[parts[part]], minlength=k)
            perfect = [
                (float(aucs[j, c]), float(positives[c]), float(sizes[j] - positives[c]))
                for c in range(k)
                if aucs[j, c] in (0.0, 1.0)
            ]
        out[part] = (
            point,
            influence_interval(point, block_sums, block_counts, perfect, k=k, resamples=RESAMPLES, seed=seed),
        )
    return out
