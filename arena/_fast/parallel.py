"""One pass over the rows of a large upload, cut into contiguous slices that run at once, one per core.

Why: numpy's loops (arithmetic, comparisons, ``bincount``) release the GIL but use one
core each. At 10M rows a pass costs tens of milliseconds, about as much as reading a
slice of the file; on every core at once the passes after the read take a fraction
of it. Only passes whose slices are independent run here: each slice writes its own
part of an output, or returns a partial result that the caller adds up.

Both mechanisms pay (``bench/parallel.py``, 10M rows on two cores): the slices on every core make
validation's and scoring's passes about 1.5x faster than the same chunk loops on one thread, and the chunk
loops inside each slice (:func:`chunks`, :func:`scratch`) add 6-15% while never writing an array the size of a slice.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")

MIN_SLICE_ROWS = 1 << 20  # below this a thread's start costs more than its share of the pass
CHUNK_ROWS = 1 << 15  # rows a slice works on at once: the scratch of a few numpy calls stays in the core's cache
_WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """This process's threads, started when first needed."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(8, _WORKERS), thread_name_prefix="arena-slices")
        return _pool


def _forget_the_parents_threads() -> None:
    """In a forked child (a queue's work horse): the parent's threads are not in it, yet its pool would count
    them as idle and wait for them forever (and its lock may have been held at the fork)."""
    global _pool, _lock
    _pool, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_the_parents_threads)


def over_slices(work: Callable[[slice], T], rows: int, *, min_rows: int | None = None, item_rows: int = 1) -> list[T]:
    """``work(s)`` for contiguous slices ``s`` that cover ``range(rows)``, at most one per core and none under
    ``min_rows`` (default ``MIN_SLICE_ROWS`` rows, of which each item of ``range(rows)`` stands for ``item_rows``,
    as a block of a column does; small inputs run in the caller's thread); the results in row order.

    ``work`` must not itself call :func:`over_slices` (its slices would wait for the workers it holds).
    """
    least = MIN_SLICE_ROWS // max(1, item_rows) if min_rows is None else min_rows
    count = max(1, min(_WORKERS, rows // max(1, least)))
    bounds = np.linspace(0, rows, count + 1).astype(np.int64)
    slices = [slice(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]
    if count == 1:
        return [work(slices[0])]
    return list(_threads().map(work, slices))


def chunks(rows: slice, size: int | None = None) -> Iterator[slice]:
    """``rows`` cut in order into slices of at most ``size`` rows (default ``CHUNK_ROWS``)."""
    size = CHUNK_ROWS if size is None else size
    return (slice(start, min(start + size, rows.stop)) for start in range(rows.start, rows.stop, size))


def scratch(rows: slice, dtype=np.float64) -> np.ndarray:
    """A work array for one chunk of ``rows`` (use its first ``len(chunk)`` values)."""
    return np.empty(min(CHUNK_ROWS, rows.stop - rows.start), dtype=dtype)
