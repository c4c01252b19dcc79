"""The public/private row split: the linear-time selection picks exactly the rows the full sort picked."""

from __future__ import annotations

import numpy as np
import pytest

from arena.bundles import splits
from arena.bundles.splits import _apportion, public_mask, row_hash_unit


def sorted_selection(h: np.ndarray, labels: np.ndarray | None, public_fraction: float) -> np.ndarray:
    """The split as it was first written: every row sorted by class, then hash (stable, so ties in row order)."""
    n = len(h)
    target = int(round(public_fraction * n))
    if labels is None:
        groups, sizes = np.zeros(n, dtype=np.int64), np.array([n])
    else:
        _, groups, sizes = np.unique(np.asarray(labels), return_inverse=True, return_counts=True)
        groups = groups.reshape(-1)
    quota = _apportion(sizes, target)
    order = np.lexsort((h, groups))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n) - np.repeat(starts, sizes)
    return rank < quota[groups]


def random_labels(rng: np.random.Generator, n: int, case: str) -> np.ndarray | None:
    """Labels of every shape the split meets: none, a few classes, many, sparse codes, negatives, text."""
    classes = {"few": 5, "many": 40, "sparse": 7, "negative": 6, "text": 4}.get(case)
    if case == "none":
        return None
    skewed = np.r_[[0.6], [0.4 / (classes - 1)] * (classes - 1)]
    codes = rng.integers(0, classes, n) if rng.random() < 0.5 else rng.choice(classes, n, p=skewed)
    if case == "sparse":
        return codes * 1000 + 3
    if case == "negative":
        return codes - 3
    if case == "text":
        return np.array([f"class-{c}" for c in codes])
    return codes


@pytest.mark.parametrize("case", ["none", "few", "many", "sparse", "negative", "text"])
@pytest.mark.parametrize("seed", range(6))
def test_the_selection_is_the_sorted_one_on_random_keys(case, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    ids = rng.permutation(10 * n)[:n]
    labels = random_labels(rng, n, case)
    fraction = float(rng.choice([0.0, 0.01, 0.3, 0.5, 0.77, 1.0]))
    h = row_hash_unit(ids, b"s" * 32, "scope")
    assert np.array_equal(public_mask(ids, b"s" * 32, "scope", fraction, labels), sorted_selection(h, labels, fraction))


@pytest.mark.parametrize("case", ["none", "few", "many", "text"])
@pytest.mark.parametrize("seed", range(6))
def test_equal_hashes_are_taken_in_row_order_as_the_stable_sort_took_them(monkeypatch, case, seed):
    """Duplicate ids hash alike; a hash of a few values makes ties at every cut."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 2000))
    labels = random_labels(rng, n, case)
    tied = rng.integers(0, int(rng.integers(1, 6)), n) / 8
    monkeypatch.setattr(splits, "row_hash_unit", lambda ids, secret, scope: tied)
    for fraction in (0.1, 0.3, 0.5, 0.9):
        assert np.array_equal(
            public_mask(np.arange(n), b"s" * 32, "scope", fraction, labels), sorted_selection(tied, labels, fraction)
        )


def test_duplicate_ids_select_as_the_stable_sort_did():
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 50, 1000)  # every id about 20 times: equal hashes
    labels = rng.integers(0, 3, 1000)
    h = row_hash_unit(ids, b"d" * 32, "scope")
    for fraction in (0.05, 0.3, 0.62):
        assert np.array_equal(
            public_mask(ids, b"d" * 32, "scope", fraction, labels), sorted_selection(h, labels, fraction)
        )
        assert np.array_equal(public_mask(ids, b"d" * 32, "scope", fraction), sorted_selection(h, None, fraction))


def test_an_empty_key_has_no_public_rows():
    assert public_mask(np.array([], dtype=np.int64), b"s" * 32, "scope", 0.3).shape == (0,)
    assert public_mask(np.array([], dtype=np.int64), b"s" * 32, "scope", 0.3, np.array([], dtype=np.int64)).shape == (
        0,
    )


def test_the_keyed_hash_of_integer_ids_is_unchanged():
    """The split of every hosted competition depends on these values: they must never move."""
    h = row_hash_unit(np.array([-5, -1, 0, 1, 2**62, -(2**63)]), b"k" * 32, "y")
    assert h.tolist() == [
        0.9161397069827829,
        0.44772422266345746,
        0.46223352665593276,
        0.793328040264918,
        0.8557861205140047,
        0.9318102323968834,
    ]
