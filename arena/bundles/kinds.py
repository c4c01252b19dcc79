"""Multi-label and ranking tasks: how their answers and predictions are written and read.

Both keep one text target column. A multi-label answer lists a row's labels separated
by spaces (``"cat dog"``; empty for none); a ranking answer lists a query's relevant
ids, each optionally with its relevance (``"d3:2 d7"``, relevance 1 when not given).
A ranking submission lists, per query, up to K ids best first, separated by spaces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from arena.errors import Problem
from arena.metrics.ranking import ItemLists, padded, parse_name, parse_relevance

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


def relevance_column(cells) -> ItemLists:
    """Each query's ``{id: relevance}``, integer-coded (:class:`arena.metrics.ranking.ItemLists`)."""
    return ItemLists.of_relevances(
        parse_relevance(None if not tokens(cell) else " ".join(tokens(cell))) for cell in cells
    )


def check_answers(spec, train: pd.DataFrame, answers: pd.DataFrame) -> list[Problem]:
    """A ranking answer key's relevances must be numbers of 0 or more."""
    if spec.kind != "ranking":
        return []
    for frame, where in ((answers, str(spec.answers_file or "answers")), (train, str(spec.train_file or "train"))):
        for line, cell in enumerate(frame[spec.target], start=2):
            try:
                parse_relevance(" ".join(tokens(cell)))
            except ValueError as exc:
                return [
                    Problem(
                        where,
                        f"target column '{spec.target}' has '{exc}' on line {line}: write relevant ids "
                        "separated by spaces, each optionally as id:relevance with a number of 0 or more.",
                    )
                ]
    return []


def ranking_k(spec) -> int:
    """The most ids a ranking submission may list per query: the largest K among the task's metrics (default 10)."""
    ks = [parsed[1] for name in spec.metric_names if (parsed := parse_name(name))]
    return max(ks, default=10)


def sample_predictions(spec, train: pd.DataFrame, labels: np.ndarray | None) -> str | pd.DataFrame:
    """A trivial, valid prediction for every row: the most frequent ids or labels of train (as one cell's text), or
    their frequencies (a one-row frame of probability columns)."""
    counts = pd.Series([item for cell in train[spec.target] for item in tokens(cell)], dtype=object)
    if spec.kind == "ranking":
        counts = pd.Series([item.partition(":")[0] for item in counts], dtype=object)
        return " ".join(counts.value_counts().index[: ranking_k(spec)].tolist())
    if labels is None:
        raise ValueError(f"task {spec.name!r} ({spec.kind}) has no labels to predict")
    frequency = counts.value_counts() / max(len(train), 1)
    if spec.prediction == "probabilities":
        return pd.DataFrame({str(label): [round(float(frequency.get(label, 0.0)), 6)] for label in labels})
    return " ".join(label for label in labels if frequency.get(label, 0.0) >= 0.5)


def read_label_sets(cells: np.ndarray, labels: np.ndarray, report) -> np.ndarray:
    """A multi-label submission's label sets as a boolean matrix, noting labels the task does not have."""
    known = set(labels)
    unknown = sorted({label for cell in cells for label in tokens(cell)} - known)
    if unknown:
        report.add(
            f"labels not among the task's labels ({', '.join(map(str, labels[:5]))}"
            f"{', ...' if len(labels) > 5 else ''}): {', '.join(unknown[:5])}. Separate labels with spaces."
        )
    return label_matrix(cells, labels) > 0


def read_rankings(cells, k: int, report, key_items: np.ndarray | None = None) -> ItemLists:
    """A ranking submission's id lists (best first), coded against the answer key's items (``key_items``), noting
    lists longer than K or with repeats.

    The column is split and its ids looked up in the key by Arrow's kernels, with no Python per query; ids the key
    never names are told apart by a dictionary of their own."""
    if isinstance(cells, (pa.Array, pa.ChunkedArray)):
        column = cells.cast(pa.string())
    else:
        column = pa.array([" ".join(tokens(cell)) for cell in cells], type=pa.string())
    # Trimmed first: after a run of spaces, Arrow's split can leave a trailing space on a list's last id.
    lists = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(column))
    lists = lists.combine_chunks() if isinstance(lists, pa.ChunkedArray) else lists
    query = pc.list_parent_indices(lists).to_numpy()
    encoded = pc.dictionary_encode(lists.flatten())  # each distinct id once: only those are looked up
    names = encoded.dictionary.to_numpy(zero_copy_only=False)
    key_items = np.empty(0, dtype=object) if key_items is None else key_items
    found = pc.index_in(encoded.dictionary, value_set=pa.array(key_items.tolist(), type=pa.string()))
    code_of = found.fill_null(-1).to_numpy().astype(np.int32)
    empty = names == ""  # split off spaces before, after or around ids
    unknown = np.flatnonzero((code_of < 0) & ~empty)
    code_of[unknown] = len(key_items) + np.arange(len(unknown))  # ids the key never names: codes after the key's
    items = np.concatenate([key_items, names[unknown].astype(object)]) if len(unknown) else key_items
    codes = code_of[encoded.indices.to_numpy()]
    if empty.any():
        kept = ~empty[encoded.indices.to_numpy()]
        codes, query = codes[kept], query[kept]
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.bincount(query, minlength=len(lists)), out=offsets[1:])
    out = ItemLists(offsets, codes, items, key_items)
    lengths = out.lengths
    long = np.flatnonzero(lengths > k)
    repeated = _repeats(out)
    if len(long):
        report.add(
            f"{len(long)} rows list more than {k} ids ({report.rows(long)}). List at most {k} ids "
            "per query, best first, separated by spaces."
        )
    if len(repeated):
        report.add(f"{len(repeated)} rows list an id twice ({report.rows(repeated)}). List each id once.")
    return out


def _repeats(lists: ItemLists) -> np.ndarray:
    """The queries that list some id twice: each position compared with those before it, in groups of queries of
    like lengths (a sort of each query's ids where they are long)."""
    lengths = lists.lengths
    found = []
    for low, high in ((2, 16), (17, 64), (65, None)):
        queries = np.flatnonzero((lengths >= low) & (lengths <= (high or lengths.max(initial=0))))
        if not len(queries):
            continue
        width = int(lengths[queries].max())
        codes = padded(lists, None if len(queries) == len(lengths) else queries, width, lists.codes, -1)
        codes[codes < 0] = -1 - np.nonzero(codes < 0)[0]  # unequal fillers: -1 - position
        if width <= 16:
            twice = np.zeros(len(queries), dtype=bool)
            for j in range(1, width):
                for i in range(j):
                    twice |= codes[i] == codes[j]
        else:
            ordered = np.sort(codes, axis=0)
            twice = (ordered[1:] == ordered[:-1]).any(axis=0)
        found.append(queries[twice])
    return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
