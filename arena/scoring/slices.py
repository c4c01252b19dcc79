"""One pass over the rows of a large upload, cut into contiguous slices that run at once, one per core.

Why: numpy's loops (arithmetic, comparisons, ``bincount``) release the GIL but use one
core each. At 10M rows a pass costs tens of milliseconds, about as much as reading a
slice of the file; on every core at once the passes after the read take a fraction
of it. Only passes whose slices are independent run here: each slice writes its own
part of an output, or returns a partial result that the caller adds up.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

import numpy as np

T = TypeVar("T")

MIN_SLICE_ROWS = 1 << 20  # below this a thread's start costs more than its share of the pass
_WORKERS = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
_pools: dict[int, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """This process's threads. A forked child (a queue's work horse) gets its own: the parent's threads are not
    in it, yet a pool copied from the parent would count them as idle and wait for them forever."""
    with _lock:
        pool = _pools.get(os.getpid())
        if pool is None:
            _pools.clear()
            pool = _pools[os.getpid()] = ThreadPoolExecutor(max_workers=8, thread_name_prefix="arena-slices")
        return pool


def over_slices(work: Callable[[slice], T], rows: int, *, min_rows: int | None = None) -> list[T]:
    """``work(s)`` for contiguous slices ``s`` that cover ``range(rows)``, at most one per core and none under
    ``min_rows`` (default ``MIN_SLICE_ROWS``; small inputs run in the caller's thread); the results in row order.

    ``work`` must not itself call :func:`over_slices` (its slices would wait for the workers it holds).
    """
    count = max(1, min(_WORKERS, rows // max(1, MIN_SLICE_ROWS if min_rows is None else min_rows)))
    bounds = np.linspace(0, rows, count + 1).astype(np.int64)
    slices = [slice(int(start), int(stop)) for start, stop in zip(bounds[:-1], bounds[1:])]
    if count == 1:
        return [work(slices[0])]
    return list(_pool().map(work, slices))
