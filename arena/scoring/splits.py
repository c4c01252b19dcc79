"""Deterministic train/test splits and the secret public/private row assignment."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def stratified_split(labels: np.ndarray | None, n: int, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of test rows: ``test_fraction`` of each class (or of all rows), from ``seed``.

    Written out rather than taken from scikit-learn so that a bundle's split can
    never change with a library upgrade.
    """
    rng = np.random.default_rng(seed)
    is_test = np.zeros(n, dtype=bool)
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    for rows in groups:
        chosen = rng.permutation(rows)[: int(round(len(rows) * test_fraction))]
        is_test[chosen] = True
    return is_test


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser: a fast, well-mixed bijection on 64-bit integers."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        return x ^ (x >> np.uint64(31))


def split_scope(task_name: str, split_key: str | None = None) -> str:
    """What the public/private assignment is keyed by, besides the installation secret.

    A competition's own random split key, so two competitions hosting the same task
    get independent splits; without one (``arena score``, or a competition hosted
    before split keys existed) the task name.
    """
    return f"competition:{split_key}" if split_key else task_name


def row_hash_unit(ids: np.ndarray, secret: bytes, scope: str) -> np.ndarray:
    """A keyed pseudo-random number in [0, 1) per row id, stable across runs.

    The key is derived from the installation secret and the scope (see :func:`split_scope`)
    with HMAC, so nobody without the secret can predict it. Integer ids are mixed with a keyed
    SplitMix64 (vectorised: millions of rows per second); other ids with keyed BLAKE2b.
    """
    key = hmac.new(secret, f"arena-public-rows:{scope}".encode(), hashlib.sha256).digest()
    if np.issubdtype(np.asarray(ids).dtype, np.integer):
        k1 = np.uint64(int.from_bytes(key[:8], "little"))
        k2 = np.uint64(int.from_bytes(key[8:16], "little"))
        mixed = _splitmix64(_splitmix64(np.asarray(ids).astype(np.int64).view(np.uint64) ^ k1) ^ k2)
    else:
        mixed = np.fromiter(
            (int.from_bytes(hashlib.blake2b(str(i).encode(), key=key[:32], digest_size=8).digest(), "little")
             for i in ids),
            dtype=np.uint64, count=len(ids),
        )
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def public_mask(ids: np.ndarray, secret: bytes, scope: str, public_fraction: float,
                labels: np.ndarray | None = None) -> np.ndarray:
    """True for rows scored live (public), False for rows kept for the final (private) board.

    Exactly ``round(public_fraction * n)`` rows are public: the rows are ranked by their
    keyed hash (see :func:`row_hash_unit`) and the first ones taken, so the selection is
    as unpredictable as the hash. With ``labels`` (classification) it is stratified:
    each class gives its share of the public rows (largest remainders settle the
    rounding), so both boards see the classes in the test set's proportions.
    """
    n = len(ids)
    h = row_hash_unit(ids, secret, scope)
    target = int(round(public_fraction * n))
    if labels is None:
        groups, sizes = np.zeros(n, dtype=np.int64), np.array([n])
    else:
        _, groups, sizes = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
        groups = groups.reshape(-1)
    quota = _apportion(sizes, target)
    order = np.lexsort((h, groups))  # by class, then by hash within each class
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, sizes)
    return rank < quota[groups]


def _apportion(sizes: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups in proportion to ``sizes`` (largest remainders, ties to the larger group)."""
    exact = sizes * (total / max(int(sizes.sum()), 1))
    quota = np.floor(exact).astype(np.int64)
    left = total - int(quota.sum())
    if left > 0:
        by_remainder = np.lexsort((-sizes, -(exact - quota)))
        quota[by_remainder[:left]] += 1
    return quota
