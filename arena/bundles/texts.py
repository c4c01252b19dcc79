"""Text tasks (``kind = "text"``): free-text answers and their accepted references.

A row's answer cell holds one reference, written exactly as it must be matched (spaces and all; an empty cell is
one empty reference), or several written as a JSON list of texts: ``["Paris", "paris, France"]``. A cell that is
not a JSON list is one reference, so ``[citation needed]`` is a reference of its own, and an answer that must read
``["a"]`` is written ``["[\\"a\\"]"]``. A Parquet or JSON Lines data file may instead hold a real list of texts in
the cell, which means the same. The answer key's truth is an object array whose element ``i`` is the tuple of row
``i``'s references; a submission's answers are an Arrow string column, kept exactly as written (the metrics read
it where it lies; :func:`arena.metrics.text.as_objects` gives Python strings).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from arena.errors import Problem

TEXT_KIND = "text"
DEFAULT_MAX_ANSWER_CHARS = 10_000
DEFAULT_MAX_TEXT_MB = 64
EXAMPLES = 5


def max_answer_chars() -> int:
    """The longest answer (in characters) a text submission may hold: ``ARENA_MAX_ANSWER_CHARS``."""
    return int(os.environ.get("ARENA_MAX_ANSWER_CHARS", DEFAULT_MAX_ANSWER_CHARS))


def max_text_bytes() -> int:
    """The most text (bytes, once decompressed) one text submission may hold in all: ``ARENA_MAX_ANSWER_TEXT_MB``.
    Within it the upload's own caps (:func:`arena.scoring.validation.caps_for`) still hold."""
    return int(float(os.environ.get("ARENA_MAX_ANSWER_TEXT_MB", DEFAULT_MAX_TEXT_MB)) * 2**20)


def parse_references(cell: object) -> tuple[str, ...]:
    """A cell's references. Raises ValueError saying how to write the cell when it holds none usable."""
    if isinstance(cell, str):
        stripped = cell.strip()
        if not (stripped.startswith("[") and stripped.endswith("]")):
            return (cell,)
        try:
            value = json.loads(stripped)
        except (ValueError, RecursionError):
            return (cell,)  # not a JSON list: one reference, as written
        if not isinstance(value, list):
            return (cell,)
        return _listed(value)
    if isinstance(cell, (list, tuple, np.ndarray)):
        return _listed(list(cell))
    if cell is None or (isinstance(cell, float) and np.isnan(cell)) or cell is pd.NA:
        raise ValueError('it is empty (null); write "" for an empty reference')
    raise ValueError(f"it holds {cell!r}, not text; write the reference as text")


def _listed(items: list) -> tuple[str, ...]:
    if not items:
        raise ValueError('the list [] gives no reference; give at least one, e.g. ["Paris"]')
    if not all(isinstance(item, str) for item in items):
        shown = json.dumps(items, ensure_ascii=False)[:60]
        raise ValueError(f"the list {shown} holds something other than texts; write each reference in quotes")
    return tuple(items)


def reference_column(cells: Iterable[object]) -> np.ndarray:
    """Each row's references as a tuple, in an object array (never a 2-D array, whatever the lengths)."""
    cells = list(cells)
    out = np.empty(len(cells), dtype=object)
    for i, cell in enumerate(cells):
        out[i] = parse_references(cell)
    return out


def canonical(cell: object) -> object:
    """A data file's cell as text: a real list of references (Parquet, JSON Lines) becomes its JSON list, so every
    answer key is text, hashed and cached alike whatever file it came from; other cells are kept as they are."""
    if isinstance(cell, (list, tuple, np.ndarray)):
        items = list(cell)
        if all(isinstance(item, str) for item in items):
            return json.dumps(items, ensure_ascii=False)
    return cell


def canonical_column(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` with ``column``'s lists written as JSON lists (see :func:`canonical`)."""
    if column not in frame.columns or frame[column].dtype != object:
        return frame
    values = frame[column]
    if not any(isinstance(cell, (list, tuple, np.ndarray)) for cell in values):
        return frame
    return frame.assign(**{column: values.map(canonical).astype(object)})


def first_line(path: object) -> int:
    """The line (or row) number of a data file's first row: 2 under a CSV header, 1 in JSON Lines and Parquet."""
    return 2 if str(path).endswith((".csv", ".csv.gz")) else 1


def check_references(spec, frames: Iterable[tuple[pd.DataFrame, object]]) -> list[Problem]:
    """Every answer cell of a text task must give at least one reference: a problem per file, naming lines."""
    problems = []
    for frame, where in frames:
        if spec.target not in frame.columns:
            continue
        bad: list[tuple[int, str]] = []
        for i, cell in enumerate(frame[spec.target]):
            try:
                parse_references(cell)
            except ValueError as exc:
                bad.append((i, str(exc)))
        if bad:
            start = first_line(where)
            word = "row" if str(where).endswith(".parquet") else "line"
            shown = "; ".join(f"{word} {i + start}: {why}" for i, why in bad[:EXAMPLES])
            more = f" (and {len(bad) - EXAMPLES} more)" if len(bad) > EXAMPLES else ""
            problems.append(
                Problem(
                    str(where),
                    f"target column '{spec.target}' holds {len(bad)} cells that give no reference: {shown}{more}. "
                    'Write one reference per cell, or several as a JSON list: ["Paris", "paris, France"].',
                )
            )
    return problems


def sample_answer(train: pd.DataFrame, target: str) -> str:
    """A trivial, valid answer for every row: the first reference of train's most frequent answer cell. A train file
    may hold what the answer key may not (numbers in JSON Lines): a number is written as text (``42``), anything
    else that gives no reference is passed over; "" when no cell gives one."""
    for cell in train[target].astype(object).value_counts().index if len(train) else ():
        if isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, (bool, np.bool_)):
            return str(cell.item() if isinstance(cell, np.generic) else cell)
        try:
            return parse_references(cell)[0]
        except ValueError:
            continue
    return ""


def read_answers(column: pa.Array | pa.ChunkedArray, report) -> pa.Array:
    """A submission's text column as one Arrow string array, kept exactly as written; notes rows with
    no answer at all (null: a key missing from a JSON line, an empty Parquet cell) and answers longer than
    :func:`max_answer_chars`. An empty text is an answer (a wrong one), never a problem. Every answer must be
    UTF-8: a Parquet file's text is not checked by its reader, and the metrics read the bytes as UTF-8."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    try:
        column = column.cast(pa.string())
        column.validate(full=True)
    except pa.ArrowInvalid:
        bad = _not_utf8(column)
        report.add(f"{len(bad)} answers are not UTF-8 text ({report.rows(bad)}). Save the file with its text in UTF-8.")
        return pa.array([""] * len(column), pa.string())  # never scored: the upload is refused
    if column.null_count:
        positions = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
        report.add(
            f"{column.null_count} rows have no answer ({report.rows(positions)}). Give every row an answer; "
            'write "" for an empty one.'
        )
    limit = max_answer_chars()
    lengths = pc.utf8_length(column).fill_null(0).to_numpy(zero_copy_only=False)
    long = np.flatnonzero(lengths > limit)
    if len(long):
        report.add(
            f"{len(long)} answers are longer than {limit:,} characters, the most an answer may hold "
            f"({report.rows(long)}, the longest {int(lengths.max()):,}). Shorten them."
        )
    return column


def _not_utf8(column: pa.Array) -> np.ndarray:
    """The positions of cells whose bytes are not UTF-8 (only looked for once a check has failed)."""
    wide = pa.types.is_large_string(column.type) or pa.types.is_large_binary(column.type)
    as_bytes = column.view(pa.large_binary() if wide else pa.binary())
    bad = []
    for i, cell in enumerate(as_bytes.to_pylist()):
        try:
            if cell is not None:
                cell.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return np.array(bad, dtype=np.int64)
