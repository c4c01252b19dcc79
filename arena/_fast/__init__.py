"""The speed internals of scoring large uploads: pooled memory, one pass cut into parallel slices, and the compiled grid count.

Only metrics, intervals and the scoring entry points use them, and only through this
interface: nothing outside this folder imports its modules. The compiled grid count
needs numba, an optional dependency (the ``fast`` extra): it is imported on first use,
never by importing this package, and without numba :func:`count_cells` gives None, so
its callers take their numpy path, as they do for scores off the grid.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np

from arena._fast.grid import DECIMAL_GRID
from arena._fast.memory import pooled_copy, pooled_empty
from arena._fast.parallel import chunks, over_slices, scratch

__all__ = [
    "DECIMAL_GRID",
    "add_influence",
    "block_sums",
    "chunks",
    "count_cells",
    "has_compiled",
    "over_slices",
    "pooled_copy",
    "pooled_empty",
    "scratch",
    "text_kernels",
    "warm",
]


def _compiled() -> ModuleType | None:
    """The compiled grid count, or None where numba cannot be imported."""
    try:
        return importlib.import_module("arena._fast.gridcount")
    except ImportError:
        return None


def has_compiled() -> bool:
    """True when the compiled grid count can run (numba is installed)."""
    return _compiled() is not None


def count_cells(score: np.ndarray, plus: np.ndarray, size: int, kept: int) -> np.ndarray | None:
    """Rows per cell of the six-decimal grid (:func:`arena._fast.gridcount.count_cells`); None when a score is off
    the grid, or when numba is not installed: the caller then takes its numpy path."""
    compiled = _compiled()
    return None if compiled is None else compiled.count_cells(score, plus, size, kept)


def block_sums(values: np.ndarray, block: np.ndarray, blocks: int, *, whole: bool = False) -> np.ndarray | None:
    """Column sums of ``values`` (n, d) over each block's rows, exactly ``np.bincount``'s (``whole``: counts, summed
    on every core) (:func:`arena._fast.gridcount.block_sums`); None when numba is not installed: the caller then
    takes its numpy path."""
    compiled = _compiled()
    return None if compiled is None else compiled.block_sums(values, block, blocks, whole=whole)


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
    """Each sampled row's influence on a class's ROC AUC (:func:`arena._fast.gridcount.add_influence`); only called
    with counts that :func:`count_cells` gave, so numba is installed."""
    compiled = _compiled()
    if compiled is None:
        raise RuntimeError("the compiled grid count needs numba: install arena[fast]")
    compiled.add_influence(score, rows, part, truth, c, running, counts, slope, shift, influence)


def warm() -> None:
    """Load the compiled loops now, where numba is installed (:func:`arena._fast.gridcount.warm`,
    :func:`arena._fast.textcount.warm`)."""
    compiled = _compiled()
    if compiled is not None:
        compiled.warm()
    kernels = text_kernels()
    if kernels is not None:
        kernels.warm()


def text_kernels() -> ModuleType | None:
    """The compiled statistics of free-text answers (:mod:`arena._fast.textcount`), or None where numba cannot be
    imported: the text metrics then take their numpy path, with the same results."""
    try:
        return importlib.import_module("arena._fast.textcount")
    except ImportError:
        return None
