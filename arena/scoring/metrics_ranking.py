"""Ranking metrics ``map@K`` and ``ndcg@K``: per query, the submitted ids (best first) against the relevant ids.

Truth per query is a dict ``{item id: relevance}`` (relevance above 0 is relevant;
plain lists of ids have relevance 1); a prediction is a tuple of item ids, best first.
The score is the (weighted) mean over queries.
"""

from __future__ import annotations

import math
import re

import numpy as np

from arena.scoring.metrics_regression import weighted_mean

PATTERN = re.compile(r"^(map|ndcg)@([1-9][0-9]{0,2})$")
"""Ranking metric names: ``map@K`` or ``ndcg@K`` with K from 1 to 999."""


def parse_name(name: str) -> tuple[str, int] | None:
    """``("map", 5)`` for ``"map@5"``; None for a name that is not a ranking metric."""
    match = PATTERN.match(name)
    return (match.group(1), int(match.group(2))) if match else None


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
    best = float(np.dot(np.divide(ideal, top), _DISCOUNT[:len(ideal)]))
    gains = np.divide([relevant.get(item, 0.0) for item in predicted[:k]], top)
    return float(np.dot(gains, _DISCOUNT[:len(gains)])) / best


def per_query(name: str, k: int, truth: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The metric of each query (row)."""
    one = average_precision_at if name == "map" else ndcg_at
    return np.fromiter((one(t, p, k) for t, p in zip(truth, predicted)), dtype=np.float64, count=len(truth))


def ranking_metric(name: str, k: int):
    """``from_rows`` for ``map@K`` or ``ndcg@K``: the weighted mean over queries."""
    def compute(truth: np.ndarray, predicted: np.ndarray, weight: np.ndarray | None = None) -> float:
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
