"""Rows per cell of the six-decimal grid, counted in one compiled pass: ROC AUC's class counts at 10M rows.

Why compiled: numpy needs two passes over the rows, one writing out every score's
grid point (8 bytes a row) and a ``bincount`` of them whose 8-byte counters, one per
grid point of every part and class, outgrow the processor's cache, so nearly every
row waits on memory. Here a few thousand scores at a time are turned into their
cells in cache, then counted in 2-byte counters: a part and class's counters (2 MB)
stay in cache. A counter that wraps past 65,535 is noted, and its notes added back at
the end (a wrap takes 65,536 rows in one cell, so there are few). Per class this is
several times faster than numpy's two passes, and slices of the rows run on every core
at once (the loops hold no GIL). The loops are compiled on first use and cached on
disk; :func:`warm` loads them ahead.

The grid is :func:`arena.metrics.registry.on_decimal_grid`'s: a score counts only if it
lies in [0, 1] and is the double nearest some k / 10^6, and then in cell k plus its row's
offset; otherwise nothing is counted and the caller sorts instead.
"""

from __future__ import annotations

import numba
import numpy as np

from arena._fast.grid import DECIMAL_GRID
from arena._fast.memory import pooled_empty
from arena._fast.parallel import over_slices

GRID = float(DECIMAL_GRID)
CHUNK = 4096  # scores turned into cells at once: the cells stay in the core's cache until counted


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _cells(score, plus, cells):  # pragma: no cover (compiled; tested through count_cells)
    """Each score's grid point plus its ``plus`` into ``cells``; True if any score is off the grid."""
    off = False
    for i in range(score.shape[0]):
        s = score[i]
        point = np.floor(s * GRID + 0.5)
        off |= (point / GRID != s) | (point < 0.0) | (point > GRID)  # a NaN fails the first
        point = point if (point >= 0.0) & (point <= GRID) else 0.0  # never convert a NaN or an infinity
        cells[i] = np.int64(point) + plus[i]
    return off


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _tally(cells, low, wraps, wrapped):  # pragma: no cover (compiled; tested through count_cells)
    """One more row in each of ``cells``, in 2-byte counters; a counter that wraps to 0 is noted in ``wraps``
    after the ``wrapped`` notes already there. Returns the number of notes."""
    for i in range(cells.shape[0]):
        cell = cells[i]
        count = np.uint16(low[cell] + 1)  # (numba widens the sum: wrap it back to 2 bytes)
        low[cell] = count
        if count == 0:
            wraps[wrapped] = cell
            wrapped += 1
    return wrapped


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _count(score, plus, low, wraps):  # pragma: no cover (compiled; tested through count_cells)
    """Every row counted in its cell, a chunk at a time (loops over array slices vectorise; over offsets into whole
    arrays they did not). Returns how many counters wrapped (noted in ``wraps``), or -1, having stopped, at the
    first chunk holding a score off the grid."""
    cells = np.empty(CHUNK, np.int64)
    wrapped = 0
    for start in range(0, score.shape[0], CHUNK):
        stop = min(start + CHUNK, score.shape[0])
        if _cells(score[start:stop], plus[start:stop], cells[: stop - start]):
            return -1
        wrapped = _tally(cells[: stop - start], low, wraps, wrapped)
    return wrapped


WRAP = 1 << 16  # rows a 2-byte counter holds before it wraps


def count_cells(score: np.ndarray, plus: np.ndarray, size: int, kept: int) -> np.ndarray | None:
    """Rows per cell, for the first ``kept`` of ``size`` cells, each row's cell being its score's point on the
    six-decimal grid plus ``plus`` (int32, each at most ``size - DECIMAL_GRID - 1``); None when a score is off the
    grid. Slices of the rows are counted on every core at once, each into counters of its own (pooled memory,
    :mod:`arena._fast.memory`: numpy's fresh pages would be faulted in, and compacted into huge pages, anew for
    every upload)."""
    if not DECIMAL_GRID < size < 2**31 or not 0 <= kept <= size:
        raise ValueError(f"{size} cells, {kept} kept: cells are counted by 32-bit offsets from a whole grid")
    score = np.ascontiguousarray(score, dtype=np.float64)
    plus = np.ascontiguousarray(plus, dtype=np.int32)
    if len(plus) != len(score):
        raise ValueError(f"{len(score)} scores but {len(plus)} offsets")

    def count(rows: slice) -> tuple[np.ndarray, np.ndarray] | None:
        low = pooled_empty(size, np.uint16)
        low.fill(0)
        wraps = np.empty((rows.stop - rows.start) // WRAP + 1, np.int64)  # a wrap takes WRAP rows in one cell
        wrapped = _count(score[rows], plus[rows], low, wraps)
        return None if wrapped < 0 else (low, wraps[:wrapped])

    results = over_slices(count, len(score))
    found = [counted for counted in results if counted is not None]
    if len(found) < len(results):  # a slice found a score off the grid
        return None
    total = pooled_empty(kept, np.int64)
    np.copyto(total, found[0][0][:kept])
    for low, _ in found[1:]:
        np.add(total, low[:kept], out=total)
    for _, wraps in found:
        np.add.at(total, wraps[wraps < kept], WRAP)
    return total


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _add_influence(score, rows, part, truth, c, running, counts, slope, shift, influence):  # pragma: no cover
    """:func:`add_influence`'s loop (compiled; tested through multi-class ROC AUC)."""
    width = DECIMAL_GRID + 1
    for i in range(rows.shape[0]):
        point = np.floor(score[rows[i]] * GRID + 0.5)
        point = np.int64(point if (point >= 0.0) & (point <= GRID) else 0.0)  # on the grid: counted before
        band = 2 * part[i] + (truth[i] == c)
        other = (band ^ 1) * width + point  # the same grid point in the band of the part's other class
        influence[i] += slope[band] * (running[other] - 0.5 * counts[other]) + shift[band]


def add_influence(
    score: np.ndarray,
    rows: np.ndarray,
    part: np.ndarray,
    truth: np.ndarray,
    c: int,
    running: np.ndarray,
    counts: np.ndarray,
    slope: np.ndarray,
    shift: np.ndarray,
    influence: np.ndarray,
) -> None:
    """For ROC AUC of class ``c`` against the rest: add to ``influence`` each of ``rows``' (in part ``part``, of
    class ``truth``) ``slope * placement + shift`` of its band (part j's negatives 2j, positives 2j + 1), its
    placement being the rows of the part's other class below its score, ties counting one half: read from
    ``running`` (rows at or below each grid point) and ``counts`` (rows at each), both (bands, grid points).

    One compiled pass over the rows, whose scores lie on the grid (they were counted: a score off it is read as
    grid point 0, never outside the arrays); numpy took one pass per step.
    """
    bands = 2 * (int(part.max(initial=-1)) + 1)
    if running.shape != counts.shape or running.shape[0] < bands or running.shape[1] != DECIMAL_GRID + 1:
        raise ValueError(f"running sums {running.shape} and counts {counts.shape} must cover {bands} bands")
    if not len(rows) == len(part) == len(truth) == len(influence) or min(len(slope), len(shift)) < bands:
        raise ValueError("one part, class and influence per row, and a slope and shift per band")
    if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= len(score) or int(part.min()) < 0):
        raise ValueError("rows must be rows of the scores, and parts numbered from 0")
    _add_influence(
        np.ascontiguousarray(score, dtype=np.float64),
        rows,
        part,
        truth,
        c,
        running.reshape(-1),
        counts.reshape(-1),
        slope,
        shift,
        influence,
    )


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _block_sums(values, block, first, last, out):  # pragma: no cover (compiled)
    for i in range(first, last):
        b = block[i]
        for j in range(values.shape[1]):
            out[b, j] += values[i, j]


def block_sums(values: np.ndarray, block: np.ndarray, blocks: int, *, whole: bool = False) -> np.ndarray:
    """Column sums of ``values`` (n, d) over the rows of each block (``block``: each row's, below ``blocks``), in one
    pass over the rows in order: each sum adds its rows in the order ``np.bincount`` does, so the sums are its own
    to the last bit, where numpy would make d passes over a strided column each. ``whole``: the values are whole
    numbers (counts), whose sums are exact in any order, so slices of the rows are summed on every core at once."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if not whole:
        out = np.zeros((blocks, values.shape[1]))
        _block_sums(values, block, 0, len(values), out)
        return out

    def work(rows: slice) -> np.ndarray:
        part = np.zeros((blocks, values.shape[1]))
        _block_sums(values, block, rows.start, rows.stop, part)
        return part

    return np.sum(over_slices(work, len(values), min_rows=1 << 17), axis=0)


def warm() -> None:
    """Load the compiled loops now (from the disk cache, else compiling them): a process that forks a child per
    job, as the queue's worker does, then hands them to every child instead of each loading them anew."""
    count_cells(np.zeros(1), np.zeros(1, np.int32), DECIMAL_GRID + 1, 1)
    grid = np.zeros((2, DECIMAL_GRID + 1), np.int64)
    one = np.zeros(1, np.intp)
    add_influence(np.zeros(1), one, one, np.zeros(1, np.int64), 0, grid, grid, np.zeros(2), np.zeros(2), np.zeros(1))
    block_sums(np.zeros((1, 1)), np.zeros(1, np.int32), 1)
