"""Ranking metrics ``map@K`` and ``ndcg@K``: per query, the submitted ids (best first) against the relevant ids.

Truth per query is a dict ``{item id: relevance}`` (relevance above 0 is relevant;
plain lists of ids have relevance 1); a prediction is a tuple of item ids, best first.
The score is the (weighted) mean over queries.

Both sides are held as :class:`ItemLists`: every query's ids as integer codes in one
flat array, so the metrics compare codes a column of queries at a time, never text
one query at a time (a Python loop over a million queries takes seconds; the file
is read in a tenth of that). :func:`average_precision_at` and :func:`ndcg_at` stay as
the plain definitions, one query at a time, that the vectorised ones are tested against.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from arena._fast import chunks, over_slices
from arena.metrics.regression import weighted_mean

PATTERN = re.compile(r"^(map|ndcg)@([1-9][0-9]{0,2})$")
"""Ranking metric names: ``map@K`` or ``ndcg@K`` with K from 1 to 999."""


def parse_name(name: str) -> tuple[str, int] | None:
    """``("map", 5)`` for ``"map@5"``; None for a name that is not a ranking metric."""
    match = PATTERN.match(name)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True, eq=False)
class ItemLists:
    """One list of item ids per query, integer-coded: query i's are ``codes[offsets[i]:offsets[i + 1]]``, each code a
    position in ``items`` (the ids' names).

    An answer key's lists carry each item's relevance (``grades``) and list each query's items by decreasing
    relevance, so NDCG's ideal order is the stored one. A submission's rankings (best first, no grades) are coded
    against the answer key's ``items``: their ``items`` start with the key's (``key_items``, the very array), and ids
    the key never names get the codes after them. Codes of the two sides then compare as the ids do.

    Indexing with a number gives what the metrics' plain definitions and organisers' plugins take: a query's tuple of
    ids, or its ``{id: relevance}`` dict; with a mask or positions, the lists of those queries.
    """

    offsets: np.ndarray  # int64, one more than the queries
    codes: np.ndarray  # int32
    items: np.ndarray  # object array of the ids' names
    key_items: np.ndarray  # the answer key's items, which every code below its length names
    grades: np.ndarray | None = None  # float64, one per code: an answer key's relevances

    @cached_property
    def lengths(self) -> np.ndarray:
        """Each query's count, read often: computed once."""
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            i = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(index)
            at = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
            names = self.items[self.codes[at]].tolist()
            return tuple(names) if self.grades is None else dict(zip(names, self.grades[at].tolist()))
        queries = np.arange(len(self))[index]
        lengths = self.lengths[queries]
        offsets = np.zeros(len(queries) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if isinstance(index, np.ndarray) and index.dtype == bool:
            taken = np.repeat(index, self.lengths)  # the items of the chosen queries, in order
        else:
            taken = np.repeat(self.offsets[queries] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return ItemLists(
            offsets, self.codes[taken], self.items, self.key_items, None if self.grades is None else self.grades[taken]
        )

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def tolist(self) -> list:
        return list(self)

    @classmethod
    def of_relevances(cls, relevances) -> ItemLists:
        """An answer key's lists from ``{id: relevance}`` dicts, each query's items by decreasing relevance."""
        names: dict = {}
        codes, grades, lengths = [], [], []
        for relevant in relevances:
            lengths.append(len(relevant))
            for item, grade in relevant.items():
                codes.append(names.setdefault(item, len(names)))
                grades.append(float(grade))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        codes_array, grades_array = np.asarray(codes, dtype=np.int32), np.asarray(grades, dtype=np.float64)
        query = np.repeat(np.arange(len(lengths)), lengths)
        order = np.lexsort((-grades_array, query))  # stable: equal relevances keep their written order
        items = np.empty(len(names), dtype=object)
        items[:] = list(names)
        return cls(offsets, codes_array[order], items, items, grades_array[order])

    @classmethod
    def of_rankings(cls, rankings, key_items: np.ndarray) -> ItemLists:
        """A submission's lists from tuples of ids (best first), coded against an answer key's ``items``."""
        names = {item: code for code, item in enumerate(key_items.tolist())}
        codes: list[int] = []
        lengths: list[int] = []
        for ranking in rankings:
            lengths.append(len(ranking))
            codes.extend(names.setdefault(item, len(names)) for item in ranking)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        items = np.empty(len(names), dtype=object)
        items[:] = list(names)
        return cls(offsets, np.asarray(codes, dtype=np.int32), items, key_items)


def coded(truth, predicted) -> tuple[ItemLists, ItemLists]:
    """Both sides as :class:`ItemLists` whose codes compare as their ids do (a submission read against another
    answer key's items, or lists of plain Python objects, are coded here)."""
    if not isinstance(truth, ItemLists):
        truth = ItemLists.of_relevances(truth)
    if not (isinstance(predicted, ItemLists) and predicted.key_items is truth.items):
        predicted = ItemLists.of_rankings(predicted, truth.items)
    return truth, predicted


def average_precision_at(relevant: dict, predicted: tuple, k: int) -> float:
    """AP@K of one query as Kaggle computes it: precision at each hit, over min(relevant, K); 0 with none relevant."""
    wanted = {item for item, grade in relevant.items() if grade > 0}
    if not wanted:
        return 0.0
    hits, total = 0, 0.0
    for position, item in enumerate(predicted[:k], start=1):
        if item in wanted:
            hits += 1
            total += hits / position
    return total / min(len(wanted), k)


_DISCOUNT = 1 / np.log2(np.arange(2, 1002))


def ndcg_at(relevant: dict, predicted: tuple, k: int) -> float:
    """NDCG@K of one query with linear gains (the relevance itself), as scikit-learn's ndcg_score; 0 with none relevant.

    Gains are divided by the largest relevance first, so relevances of any size give the same finite result."""
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    top = ideal[0]
    best = float(np.dot(np.divide(ideal, top), _DISCOUNT[: len(ideal)]))
    gains = np.divide([relevant.get(item, 0.0) for item in predicted[:k]], top)
    return float(np.dot(gains, _DISCOUNT[: len(gains)])) / best


MAX_CELLS = 1 << 22
"""Padded cells (queries x listed positions) worked on at once: bounds the memory of the per-query metric."""


def _groups(truth_lengths: np.ndarray, listed: np.ndarray) -> list[np.ndarray | None]:
    """The queries in groups of like list lengths (each side's within a factor of four), so padding every group's
    lists to its longest wastes little; None for all queries where one group holds them all."""

    def bucket(lengths):
        return np.ceil(np.log2(np.maximum(lengths, 1)) / 2).astype(np.int64)

    key = bucket(truth_lengths) * 8 + bucket(listed)
    first = int(key[0]) if len(key) else 0
    if not len(key) or bool(np.all(key == first)):
        return [None]
    return [np.flatnonzero(key == value) for value in np.unique(key)]


def padded(lists: ItemLists, queries: np.ndarray | slice | None, width: int, values: np.ndarray, fill) -> np.ndarray:
    """``values`` (one per code) of the first ``width`` items of each of the ``queries`` (positions, a slice, or all
    where None), as a (width, queries) array, position by position; ``fill`` where a query lists fewer."""
    queries = slice(0, len(lists)) if queries is None else queries
    lengths, starts = lists.lengths[queries], lists.offsets[:-1][queries]
    count = len(lengths)
    if isinstance(queries, slice) and count and int(lengths.min()) == int(lengths.max()) >= width:
        every = values[int(starts[0]) : int(starts[0]) + count * int(lengths[0])]  # every query lists as many
        return np.ascontiguousarray(every.reshape(count, -1)[:, :width].T)
    out = np.full((width, count), fill, dtype=values.dtype)
    for j in range(width):
        there = np.flatnonzero(lengths > j)
        out[j, there] = values[starts[there] + j]
    return out


def _per_query(name: str, k: int, truth: ItemLists, predicted: ItemLists, queries: np.ndarray | slice) -> np.ndarray:
    """The metric of each of the ``queries`` (positions or a slice), a few thousand at a time: their padded lists
    and scratch stay in the core's cache."""
    listed = predicted.lengths[queries]
    width, depth = min(k, int(listed.max(initial=0))), int(truth.lengths[queries].max(initial=0))
    codes = padded(predicted, queries, width, predicted.codes, -1)
    truth_codes = padded(truth, queries, depth, truth.codes, -2)
    if truth.grades is None:
        raise ValueError("an answer key's lists carry their relevances (grades); these have none")
    grades = padded(truth, queries, depth, truth.grades, 0.0)
    count = codes.shape[1]
    gained = np.zeros(codes.shape)  # each listed item's relevance (0 where the query does not name it)
    for j in range(depth):
        np.copyto(gained, grades[j], where=codes == truth_codes[j])
    if name == "map":
        hit = gained > 0
        precision = np.cumsum(hit, axis=0, dtype=np.int16) / np.arange(1, width + 1, dtype=np.float64)[:, None]
        precision *= hit
        # Summed down the positions in order (a reduction across rows adds them one row at a time), as the plain
        # definition adds the precision at each hit: the same digits.
        total = precision.sum(axis=0) if width else np.zeros(count)
        wanted = np.minimum(np.count_nonzero(grades > 0, axis=0), k)
        return np.divide(total, wanted, out=np.zeros(count), where=wanted > 0)
    top = grades[0] if depth else np.zeros(count)
    top = np.where(top > 0, top, 1.0)  # no relevant item: a gain of 0, whatever it is divided by
    ideal, total = np.zeros(count), np.zeros(count)
    for j in range(min(depth, k)):
        ideal += grades[j] / top * _DISCOUNT[j]
    for j in range(width):
        total += gained[j] / top * _DISCOUNT[j]
    return np.divide(total, ideal, out=np.zeros(count), where=ideal > 0)


CHUNK_QUERIES = 1 << 13


def per_query(name: str, k: int, truth, predicted) -> np.ndarray:
    """The metric of each query (row): AP@K exactly as :func:`average_precision_at`, NDCG@K as :func:`ndcg_at` up
    to the order of a sum's last digits. Large inputs run on every core (:func:`arena._fast.parallel.over_slices`)."""
    truth, predicted = coded(truth, predicted)
    out = np.empty(len(truth))
    listed = np.minimum(predicted.lengths, k)
    for queries in _groups(truth.lengths, listed):
        if queries is None:

            def work(rows: slice) -> None:
                for chunk in chunks(rows, CHUNK_QUERIES):
                    out[chunk] = _per_query(name, k, truth, predicted, chunk)

            over_slices(work, len(truth), item_rows=16)
            continue
        width = max(1, min(k, int(listed[queries].max())) + int(truth.lengths[queries].max()))
        step = max(1, MAX_CELLS // width)
        for start in range(0, len(queries), step):
            part = queries[start : start + step]
            out[part] = _per_query(name, k, truth, predicted, part)
    return out


def ranking_metric(name: str, k: int):
    """``from_rows`` for ``map@K`` or ``ndcg@K``: the weighted mean over queries."""

    def compute(truth, predicted, weight: np.ndarray | None = None) -> float:
        return weighted_mean(per_query(name, k, truth, predicted), weight)

    compute.__name__ = f"{name}_at_{k}"
    return compute


def parse_relevance(text: str | None) -> dict:
    """``"a b:3 c"`` -> ``{"a": 1.0, "b": 3.0, "c": 1.0}``; raises ValueError for a bad grade."""
    out: dict = {}
    for token in (text or "").split():
        item, _, grade = token.partition(":")
        value = float(grade) if grade else 1.0
        if not math.isfinite(value) or value < 0:
            raise ValueError(token)
        out[item] = value
    return out
