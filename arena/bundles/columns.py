"""Organiser-declared submission columns: the declaration in ``task.toml`` and reading them from a submission.

Some tasks predict several things per row (a box's ``x``, ``y``, ``width`` and
``height``; several targets at once). With ``[submission] prediction = "columns"`` the
organiser declares the submission's own columns and their types::

    [submission]
    prediction = "columns"
    columns = { x = "float", y = "float", tag = "text" }

The submission then holds the id and exactly these columns, checked cell by cell like
any other prediction; only metric plugins with ``needs = "table"`` can score them, since
no built-in metric knows what the columns mean.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

COLUMNS_PREDICTION = "columns"
COLUMN_TYPES = {
    "float": "a finite number",
    "int": "a whole number",
    "text": "text, not empty",
    "bool": "true or false (also 1 or 0)",
}
"""Each type a declared column may have, with what its cells must hold (as the messages say it)."""
TYPE_HINTS = {
    "str": "text",
    "string": "text",
    "number": "float",
    "double": "float",
    "real": "float",
    "integer": "int",
    "boolean": "bool",
}
"""Type names organisers write by habit, with the type they mean (a hint, never accepted silently)."""
TRUE_WORDS, FALSE_WORDS = ("true", "1"), ("false", "0")
TEXT_DEFAULT = "-"
"""A sample submission's value for a text column that train does not have: any non-empty text is valid."""
EXAMPLES = 5


@dataclass(frozen=True)
class SubmissionColumn:
    """One declared column of a submission: its name in the header and its type (a key of :data:`COLUMN_TYPES`)."""

    name: str
    type: str


def read_columns(
    raw: dict[str, object] | None, prediction: str, id_column: str, problem: Callable[[str, str], None]
) -> tuple[SubmissionColumn, ...]:
    """Validate ``[submission] columns``, calling ``problem(key, message)`` for every fault.

    Columns go with ``prediction = "columns"`` and it with them: either alone would leave
    the submission's format unclear. A column whose type is wrong is kept as text, a
    stand-in: the data stage still knows it holds answers, not features, so checking the
    data files adds no problem of its own.
    """
    key = "submission.columns"
    if raw is None:
        if prediction == COLUMNS_PREDICTION:
            problem(
                key,
                'is required with prediction = "columns": declare each column of the submission and its '
                'type, e.g. columns = { x = "float", y = "float", tag = "text" }.',
            )
        return ()
    if prediction != COLUMNS_PREDICTION:
        problem(
            key,
            f'declares the submission\'s own columns, which needs prediction = "columns" (scored by plugins '
            f"with needs = \"table\"); with prediction = '{prediction}' the task's kind fixes the columns.",
        )
        return ()
    if not raw:
        problem(key, 'declares no column: give at least one, e.g. columns = { x = "float" }.')
    out = []
    for name, kind in raw.items():
        where = f"{key}.{name}"
        if not name.strip():
            problem(key, "a column name must not be empty.")
        elif name == id_column:
            problem(where, f"'{name}' is the id column ([data] id): declare only the columns that hold predictions.")
        elif not isinstance(kind, str):
            problem(where, f"the type must be a string, one of: {_types()}; got {kind!r}.")
            out.append(SubmissionColumn(name, "text"))
        elif kind not in COLUMN_TYPES:
            problem(where, f"unknown type '{kind}'.{_did_you_mean(kind)} Types: {_types()}.")
            out.append(SubmissionColumn(name, "text"))
        else:
            out.append(SubmissionColumn(name, kind))
    return tuple(out)


def _types() -> str:
    return ", ".join(f"{name} ({what})" for name, what in COLUMN_TYPES.items())


def _did_you_mean(kind: str) -> str:
    close = TYPE_HINTS.get(kind.lower()) or next(
        iter(difflib.get_close_matches(kind.lower(), list(COLUMN_TYPES), n=1)), None
    )
    return f" Did you mean '{close}'?" if close else ""


def describe(columns: tuple[SubmissionColumn, ...]) -> str:
    """``x (float), tag (text)``: the declared columns as pages and the command line show them."""
    return ", ".join(f"{column.name} ({column.type})" for column in columns)


def text_read(columns: tuple[SubmissionColumn, ...]) -> list[str]:
    """Columns a CSV is read as text, to be parsed here: text (``0300`` stays ``0300``) and bool (``1``, ``true``)."""
    return [column.name for column in columns if column.type in ("text", "bool")]


# --- reading a submission's declared columns ---------------------------------------------


def read_declared(table: pa.Table, columns: tuple[SubmissionColumn, ...], report) -> pd.DataFrame:
    """The declared columns of a submission (in file order), noting every bad cell with its line in ``report``."""
    readers = {"float": _floats, "int": _whole_numbers, "text": _text, "bool": _bools}
    return pd.DataFrame(
        {column.name: readers[column.type](table.column(column.name), column.name, report) for column in columns}
    )


def _cells(column: pa.ChunkedArray) -> np.ndarray:
    """Each cell as text (None where empty)."""
    return column.cast(pa.string()).to_numpy(zero_copy_only=False)


def _examples(values) -> str:
    shown = ", ".join(repr(v) for v in list(values)[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


def _numbers(column: pa.ChunkedArray, name: str, report) -> np.ndarray:
    """float64 values; a cell holding text is noted and read as NaN (so it is not reported twice)."""
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.float64)
    cells = pd.Series(_cells(column), dtype=object)
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    blank = cells.isna().to_numpy() | cells.astype(str).str.strip().str.lower().isin(["", "nan", "-nan"]).to_numpy()
    text = np.flatnonzero(np.isnan(values) & ~blank)
    if len(text):
        report.add(
            f"column '{name}' must hold numbers; {len(text)} cells hold text, e.g. "
            f"{_examples(cells.iloc[text].unique())} ({report.rows(text)})."
        )
        values[text] = 0.0
    return values


def _floats(column: pa.ChunkedArray, name: str, report) -> np.ndarray:
    values = _numbers(column, name, report)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        report.add(
            f"column '{name}' has {len(bad)} empty, NaN or infinite values ({report.rows(bad)}); "
            "write a number in every cell."
        )
    return values


def _whole_numbers(column: pa.ChunkedArray, name: str, report) -> np.ndarray:
    if pa.types.is_integer(column.type) and column.null_count == 0:
        return column.to_numpy().astype(np.int64, copy=False)
    values = _floats(column, name, report)
    finite = np.isfinite(values)
    fractional = np.flatnonzero(finite & ((values != np.round(values)) | (np.abs(values) >= 2**53)))
    if len(fractional):
        report.add(
            f"column '{name}' must hold whole numbers; {len(fractional)} cells do not, e.g. "
            f"{_examples(np.unique(values[fractional]).tolist())} ({report.rows(fractional)})."
        )
    return np.where(finite, values, 0).astype(np.int64)


def _text(column: pa.ChunkedArray, name: str, report) -> np.ndarray:
    cells = _cells(column)
    empty = np.flatnonzero([cell is None or not str(cell).strip() for cell in cells])
    if len(empty):
        report.add(f"column '{name}' has {len(empty)} empty cells ({report.rows(empty)}); write text in every cell.")
    return np.array(["" if cell is None else str(cell) for cell in cells], dtype=object)


def _bools(column: pa.ChunkedArray, name: str, report) -> np.ndarray:
    if pa.types.is_boolean(column.type) and column.null_count == 0:
        return column.to_numpy(zero_copy_only=False).astype(bool)
    words = pd.Series(_cells(column), dtype=object).str.strip().str.lower()
    values = words.isin(TRUE_WORDS).to_numpy()
    empty = np.flatnonzero(words.isna().to_numpy() | (words == "").to_numpy())
    if len(empty):
        report.add(f"column '{name}' has {len(empty)} empty cells ({report.rows(empty)}); write true or false.")
    other = np.flatnonzero(~words.isin(TRUE_WORDS + FALSE_WORDS).to_numpy() & ~np.isin(np.arange(len(words)), empty))
    if len(other):
        found = pd.Series(_cells(column), dtype=object).iloc[other].unique()
        report.add(
            f"column '{name}' must hold true or false (or 1 or 0); found {_examples(found)} ({report.rows(other)})."
        )
    return values


# --- samples ------------------------------------------------------------------------------


def sample_values(columns: tuple[SubmissionColumn, ...], train: pd.DataFrame) -> dict[str, float | int | bool | str]:
    """One trivial, valid value per declared column: train's mean (float) or most frequent value where train
    has the column, else 0, false or a dash."""
    out: dict[str, float | int | bool | str] = {}
    for column in columns:
        known = train[column.name].dropna() if column.name in train.columns else pd.Series([], dtype=object)
        out[column.name] = _typical(column.type, known)
    return out


def _typical(kind: str, known: pd.Series) -> float | int | bool | str:
    if kind in ("float", "int"):
        numbers = pd.to_numeric(known, errors="coerce").to_numpy(dtype=np.float64)
        numbers = numbers[np.isfinite(numbers)]
        if kind == "float":
            return round(float(numbers.mean()), 6) if len(numbers) else 0.0
        return int(np.round(np.median(numbers))) if len(numbers) else 0
    words = known.astype(str).str.strip()
    words = words[words != ""]
    if kind == "bool":
        return bool(words.str.lower().isin(TRUE_WORDS).mean() > 0.5) if len(words) else False
    return str(words.mode().iloc[0]) if len(words) else TEXT_DEFAULT


def matching_share(pred: pd.DataFrame, answers: pd.DataFrame) -> float | None:
    """The share of rows where every declared column the answers also hold equals the answer (numbers within
    ``np.isclose``); None when no column is shared or the answers are the same on every row (nothing to give away).

    Both tables are in the answer key's id order.
    """
    shared = [name for name in pred.columns if name in answers.columns]
    if not shared or len(answers[shared].drop_duplicates()) < 2:
        return None
    same = np.ones(len(pred), dtype=bool)
    for name in shared:
        guess, truth = pred[name].to_numpy(), answers[name].to_numpy()
        if pd.api.types.is_numeric_dtype(pred[name]) and pd.api.types.is_numeric_dtype(answers[name]):
            same &= np.isclose(guess.astype(np.float64), truth.astype(np.float64))
        else:
            same &= guess.astype(str) == truth.astype(str)
    return float(same.mean())
