"""Large per-upload arrays taken from Arrow's memory pool instead of numpy's allocator.

Why: numpy asks the kernel for a fresh mapping for every large array, so every page
of a 10M-row array is faulted in (and zeroed) again for every upload: on a busy
machine that costs as much as the arithmetic on it, and far more when transparent
huge pages must first be compacted. Arrow's pool (mimalloc or jemalloc) keeps freed
pages mapped and hands them to the next upload. Only arrays that a submission's size
scales are worth it; small ones stay numpy's.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa


def pooled_empty(shape: int | tuple[int, ...], dtype=np.float64) -> np.ndarray:
    """An uninitialised, writable array of ``shape`` whose memory comes from Arrow's pool (64-byte aligned)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    buffer = pa.allocate_buffer(count * dtype.itemsize)
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


def pooled_copy(values: np.ndarray, dtype=None) -> np.ndarray:
    """``values`` (cast to ``dtype``) copied into a pooled array."""
    out = pooled_empty(values.shape, dtype or values.dtype)
    np.copyto(out, values, casting="unsafe")
    return out
