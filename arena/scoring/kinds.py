"""Multi-label and ranking tasks: how their answers and predictions are written and read.

Both keep one text target column. A multi-label answer lists a row's labels separated
by spaces (``"cat dog"``; empty for none); a ranking answer lists a query's relevant
ids, each optionally with its relevance (``"d3:2 d7"``, relevance 1 when not given).
A ranking submission lists, per query, up to K ids best first, separated by spaces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from arena.errors import Problem
from arena.scoring.metrics_ranking import parse_name, parse_relevance

TEXT_TARGET_KINDS = ("multilabel", "ranking")


def tokens(value: object) -> list[str]:
    """The space-separated items of one cell (none for an empty or missing cell)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return []
    return str(value).split()


def vocabulary(*columns: pd.Series) -> np.ndarray:
    """Every label used in the given multi-label columns, sorted: the order of probability columns."""
    return np.array(sorted({label for column in columns for cell in column for label in tokens(cell)}), dtype=object)


def label_matrix(cells, labels: np.ndarray) -> np.ndarray:
    """``(n, L)`` 0/1 matrix of label sets; unknown labels are ignored (validation reports them)."""
    index = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(cells), len(labels)), dtype=np.int8)
    for i, cell in enumerate(cells):
        for label in tokens(cell):
            if label in index:
                out[i, index[label]] = 1
    return out


def relevance_column(cells) -> np.ndarray:
    """Object array of ``{id: relevance}`` per query."""
    out = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        out[i] = parse_relevance(None if not tokens(cell) else " ".join(tokens(cell)))
    return out


def check_answers(spec, train: pd.DataFrame, answers: pd.DataFrame) -> list[Problem]:
    """A ranking answer key's relevances must be numbers of 0 or more."""
    if spec.kind != "ranking":
        return []
    for frame, where in ((answers, str(spec.answers_file or "answers")), (train, str(spec.train_file or "train"))):
        for line, cell in enumerate(frame[spec.target], start=2):
            try:
                relevance_column([cell])
            except ValueError as exc:
                return [Problem(where, f"target column '{spec.target}' has '{exc}' on line {line}: write relevant ids "
                                "separated by spaces, each optionally as id:relevance with a number of 0 or more.")]
    return []


def ranking_k(spec) -> int:
    """The most ids a ranking submission may list per query: the largest K among the task's metrics (default 10)."""
    ks = [parsed[1] for name in spec.metric_names if (parsed := parse_name(name))]
    return max(ks, default=10)


def sample_predictions(spec, train: pd.DataFrame, labels: np.ndarray | None) -> pd.Series | pd.DataFrame:
    """A trivial, valid prediction for every row: the most frequent ids or labels of train (or their frequencies)."""
    counts = pd.Series([item for cell in train[spec.target] for item in tokens(cell)], dtype=object)
    if spec.kind == "ranking":
        counts = pd.Series([item.partition(":")[0] for item in counts], dtype=object)
        return " ".join(counts.value_counts().index[:ranking_k(spec)].tolist())
    frequency = counts.value_counts() / max(len(train), 1)
    if spec.prediction == "probabilities":
        return pd.DataFrame({str(label): [round(float(frequency.get(label, 0.0)), 6)] for label in labels})
    return " ".join(label for label in labels if frequency.get(label, 0.0) >= 0.5)


def read_label_sets(cells: np.ndarray, labels: np.ndarray, report) -> np.ndarray:
    """A multi-label submission's label sets as a boolean matrix, noting labels the task does not have."""
    known = set(labels)
    unknown = sorted({label for cell in cells for label in tokens(cell)} - known)
    if unknown:
        report.add(f"labels not among the task's labels ({', '.join(map(str, labels[:5]))}"
                   f"{', ...' if len(labels) > 5 else ''}): {', '.join(unknown[:5])}. Separate labels with spaces.")
    return label_matrix(cells, labels) > 0


def read_rankings(cells: np.ndarray, k: int, report) -> np.ndarray:
    """A ranking submission's id lists (tuples, best first), noting lists longer than K or with repeats."""
    out = np.empty(len(cells), dtype=object)
    long, repeated = [], []
    for i, cell in enumerate(cells):
        items = tuple(tokens(cell))
        if len(items) > k:
            long.append(i)
        if len(set(items)) != len(items):
            repeated.append(i)
        out[i] = items
    if long:
        report.add(f"{len(long)} rows list more than {k} ids ({report.rows(np.array(long))}). List at most {k} ids "
                   "per query, best first, separated by spaces.")
    if repeated:
        report.add(f"{len(repeated)} rows list an id twice ({report.rows(np.array(repeated))}). List each id once.")
    return out
