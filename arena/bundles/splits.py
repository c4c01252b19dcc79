"""Deterministic train/test splits and the secret public/private row assignment."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np


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
    """The SplitMix64 finaliser: a fast, well-mixed bijection on 64-bit integers.

    Computed in place on one copy of ``x`` (uint64 arithmetic wraps modulo 2**64), so a
    10M-row answer key costs a few passes over memory rather than a dozen temporaries.
    """
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        shifted = np.empty_like(x)
        for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB)):
            np.right_shift(x, np.uint64(shift), out=shifted)
            x ^= shifted
            x *= np.uint64(factor)
        np.right_shift(x, np.uint64(31), out=shifted)
        x ^= shifted
        return x


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
            (
                int.from_bytes(hashlib.blake2b(str(i).encode(), key=key[:32], digest_size=8).digest(), "little")
                for i in ids
            ),
            dtype=np.uint64,
            count=len(ids),
        )
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def public_mask(
    ids: np.ndarray, secret: bytes, scope: str, public_fraction: float, labels: np.ndarray | None = None
) -> np.ndarray:
    """True for rows scored live (public), False for rows kept for the final (private) board.

    Exactly ``round(public_fraction * n)`` rows are public: the rows are ranked by their
    keyed hash (see :func:`row_hash_unit`) and the first ones taken, so the selection is
    as unpredictable as the hash. With ``labels`` (classification) it is stratified:
    each class gives its share of the public rows (largest remainders settle the
    rounding), so both boards see the classes in the test set's proportions.

    Within a class the rows taken are those of the smallest hashes, equal hashes in row
    order. Each class's cut is found by a partial sort (linear time), not by sorting every
    row: a 10M-row answer key is split in well under a second instead of about five.
    """
    n = len(ids)
    h = row_hash_unit(ids, secret, scope)
    groups, sizes = _class_codes(labels, n)
    quota = _apportion(sizes, int(round(public_fraction * n)))
    public = np.zeros(n, dtype=bool)
    for rows, take in zip(_rows_by_class(groups, sizes), quota):
        public[_smallest(rows, h[rows], int(take))] = True
    return public


def _class_codes(labels: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's class as 0..k-1 in sorted label order, and each class's size.

    The codes are those of ``np.unique``; integer labels of a modest range (class codes)
    are counted in linear time instead of being sorted.
    """
    if labels is None:
        return np.zeros(n, dtype=np.int64), np.array([n])
    labels = np.asarray(labels)
    if labels.ndim == 1 and n and np.issubdtype(labels.dtype, np.integer):
        low, high = int(labels.min()), int(labels.max())
        if high - low <= 2 * n + 1024 and high < 2**63:
            offset = labels.astype(np.int64) - low
            counts = np.bincount(offset)
            present = counts > 0
            return (np.cumsum(present) - 1)[offset], counts[present]
    _, groups, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    return groups.reshape(-1), sizes


def _rows_by_class(groups: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """Each class's row indices, in row order.

    A few classes are picked out one comparison pass each; many are grouped by one stable
    sort of their codes (a radix sort for small integer codes), cut at the class sizes.
    """
    if len(sizes) <= 16:
        return [np.flatnonzero(groups == g) for g in range(len(sizes))]
    code_type = np.uint16 if len(sizes) <= np.iinfo(np.uint16).max else np.int64
    order = np.argsort(groups.astype(code_type), kind="stable")
    return np.split(order, np.cumsum(sizes)[:-1])


def _smallest(rows: np.ndarray, values: np.ndarray, take: int) -> np.ndarray:
    """The ``take`` entries of ``rows`` with the smallest ``values``, equal values in ``rows``' order.

    Those are exactly the first ``take`` rows of a stable sort by value, found with one
    partition: every row below the cut value, then the first rows equal to it.
    """
    if take <= 0:
        return rows[:0]
    if take >= len(rows):
        return rows
    cut = np.partition(values, take - 1)[take - 1]
    below = values < cut
    ties = np.flatnonzero(values == cut)[: take - int(below.sum())]
    return np.concatenate([rows[below], rows[ties]])


def _apportion(sizes: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups in proportion to ``sizes`` (largest remainders, ties to the larger group)."""
    exact = sizes * (total / max(int(sizes.sum()), 1))
    quota = np.floor(exact).astype(np.int64)
    left = total - int(quota.sum())
    if left > 0:
        by_remainder = np.lexsort((-sizes, -(exact - quota)))
        quota[by_remainder[:left]] += 1
    return quota
