"""Integer-coded rankings (arena.metrics.ranking.ItemLists): the vectorised map@K and ndcg@K agree with the
plain one-query-at-a-time definitions, and a submission read by Arrow's kernels holds what a Python split would."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.bundles.kinds import read_rankings, relevance_column, tokens
from arena.metrics.ranking import ItemLists, average_precision_at, ndcg_at, per_query

ITEMS = [f"i{j}" for j in range(12)] + ["x", "y"]  # x and y: ids the answer key never names


@st.composite
def queries(draw):
    """Answer cells ("i3:2 i5") and submitted cells (ids best first, sometimes an id twice, one the key lacks, extra
    spaces), of lists of unequal or (``same``) equal lengths."""
    n = draw(st.integers(1, 25))
    same = draw(st.booleans())
    listed = draw(st.integers(0, 6))
    answers, submitted = [], []
    for _ in range(n):
        relevant = draw(st.lists(st.sampled_from(ITEMS[:12]), unique=True, max_size=8))
        grades = draw(
            st.lists(
                st.sampled_from(["", ":0", ":1", ":2.5", ":3", ":1e6"]), min_size=len(relevant), max_size=len(relevant)
            )
        )
        answers.append(" ".join(item + grade for item, grade in zip(relevant, grades)))
        size = listed if same else draw(st.integers(0, 9))
        ids = draw(st.lists(st.sampled_from(ITEMS), min_size=size, max_size=size))
        submitted.append(draw(st.sampled_from([" ", "  "])).join(ids) + draw(st.sampled_from(["", " "])))
    return answers, submitted, draw(st.integers(1, 10))


class Report:
    def __init__(self):
        self.messages = []

    def add(self, message):
        self.messages.append(message)

    def rows(self, positions):
        return ", ".join(map(str, positions))


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(queries())
def test_coded_map_and_ndcg_equal_the_plain_definitions(case):
    answers, submitted, k = case
    truth = relevance_column(answers)
    report = Report()
    predicted = read_rankings(
        pa.chunked_array([pa.array(submitted[:3], pa.string()), pa.array(submitted[3:], pa.string())]),
        999,
        report,
        truth.items,
    )
    assert [predicted[i] for i in range(len(submitted))] == [tuple(tokens(cell)) for cell in submitted]
    twice = [i for i, cell in enumerate(submitted) if len(set(tokens(cell))) < len(tokens(cell))]
    assert bool(twice) == any("twice" in m for m in report.messages)
    plain_truth = [truth[i] for i in range(len(truth))]
    plain = [(t, tuple(tokens(cell))) for t, cell in zip(plain_truth, submitted)]
    ap = per_query("map", k, truth, predicted)
    assert ap.tolist() == [average_precision_at(t, p, k) for t, p in plain]  # to the last digit
    ndcg = per_query("ndcg", k, truth, predicted)
    assert ndcg == pytest.approx([ndcg_at(t, p, k) for t, p in plain], rel=1e-13, abs=1e-15)
    # Plain Python lists give the same, and so do the queries taken by a mask or by positions.
    objects = np.empty(len(plain), dtype=object)
    objects[:] = [p for _, p in plain]
    assert per_query("map", k, np.array(plain_truth, dtype=object), objects).tolist() == ap.tolist()
    mask = np.arange(len(truth)) % 2 == 0
    assert per_query("map", k, truth[mask], predicted[mask]).tolist() == ap[mask].tolist()
    order = np.arange(len(truth))[::-1]
    assert per_query("ndcg", k, truth[order], predicted[order]).tolist() == ndcg[order].tolist()


def test_answer_key_lists_give_back_their_relevances():
    truth = relevance_column(["a b:3 c:0", "", None, "b"])
    assert [truth[i] for i in range(4)] == [{"a": 1.0, "b": 3.0, "c": 0.0}, {}, {}, {"b": 1.0}]
    assert isinstance(truth[np.array([True, False, False, True])], ItemLists) and len(truth[1:]) == 3


def test_long_lists_are_reported():
    report = Report()
    read_rankings(np.array(["a b c", "a"], dtype=object), 2, report, np.array(["a"], dtype=object))
    assert report.messages == [
        "1 rows list more than 2 ids (0). List at most 2 ids per query, best first, separated by spaces."
    ]
