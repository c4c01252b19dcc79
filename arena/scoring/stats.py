"""Bootstrap confidence intervals for a score.

Count-based metrics resample the confusion matrix (a sufficient statistic: a
multinomial draw over its cells is the row bootstrap, at a cost independent of
the number of rows). Other metrics resample rows, in chunks to bound memory.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RESAMPLES = 1000
CONFIDENCE = 0.95
_MAX_CHUNK_CELLS = 20_000_000


def _interval(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_confusion(cm: np.ndarray, metric: Callable[[np.ndarray], np.ndarray], *,
                        resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ``metric`` over multinomial resamples of confusion matrix ``cm``."""
    n = int(cm.sum())
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cm.ravel() / n, size=resamples).astype(np.float64)
    return _interval(metric(draws.reshape(resamples, *cm.shape)))


def bootstrap_rows(y_true: np.ndarray, y_pred: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float], *,
                   resamples: int = RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ``metric`` over resamples of the rows (with replacement)."""
    n = len(y_true)
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _MAX_CHUNK_CELLS // n)
    values = []
    for start in range(0, resamples, per_chunk):
        rows = rng.integers(0, n, size=(min(per_chunk, resamples - start), n))
        values.extend(metric(y_true[r], y_pred[r]) for r in rows)
    return _interval(np.asarray(values, dtype=np.float64))
