"""Read a predictions file and validate it against the answer key, reporting every problem.

The file is read with pyarrow (CSV, gzip-compressed CSV or Parquet, recognised by
content, not by name). The result is aligned to the answer key's id order, so
scoring never joins again. No traceback reaches the user: every failure becomes a
:class:`SubmissionError` whose problems say what to change.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arena.scoring.datasets import AnswerKey, Task
from arena.errors import Problem, SubmissionError

DEFAULT_MAX_BYTES = int(os.environ.get("ARENA_MAX_UPLOAD_MB", "200")) * 1024 * 1024
PROBABILITY_TOLERANCE = 1e-3
"""Each row of probabilities must sum to 1 within this; rows are then renormalised to sum to exactly 1."""
EXAMPLES = 5


@dataclass(frozen=True)
class Predictions:
    """Predictions aligned with the answer key's (sorted) ids."""

    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None


def _examples(values: np.ndarray) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


class _Report:
    """Collects problems with row numbers as the participant sees them in the file."""

    def __init__(self, is_csv: bool) -> None:
        self.problems: list[Problem] = []
        self.is_csv = is_csv

    def add(self, message: str) -> None:
        self.problems.append(Problem("", message))

    def rows(self, positions: np.ndarray) -> str:
        # CSV line numbers count the header as line 1; Parquet rows count from 1.
        numbers = positions[:EXAMPLES] + (2 if self.is_csv else 1)
        word = "lines" if self.is_csv else "rows"
        more = f" and {len(positions) - EXAMPLES} more" if len(positions) > EXAMPLES else ""
        return f"{word} {', '.join(map(str, numbers.tolist()))}{more}"


def _sniff(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    return "csv"


def _read_table(path: Path, fmt: str, id_column: str) -> pa.Table:
    if fmt == "parquet":
        return pq.read_table(path)
    convert = pacsv.ConvertOptions(strings_can_be_null=True)
    if fmt == "csv.gz":
        with gzip.open(path, "rb") as handle:
            return pacsv.read_csv(handle, convert_options=convert)
    return pacsv.read_csv(path, convert_options=convert)


def read_submission(task: Task, path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Predictions:
    """Read and validate a predictions file for ``task``.

    Raises :class:`SubmissionError` with every problem found: unreadable or empty
    file, missing or extra columns, duplicated, missing or unknown ids, empty or
    non-finite values, labels outside the classes, probabilities that are negative
    or do not sum to 1, or a file over ``max_bytes``.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError(f"the file is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB. "
                              "Compress it (.csv.gz) or write Parquet, which are much smaller.")
    if size == 0:
        raise SubmissionError("the file is empty. Upload a CSV with a header line, like sample_submission.csv.")
    fmt = _sniff(path)
    spec = task.spec
    try:
        table = _read_table(path, fmt, spec.id_column)
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError) as exc:
        kind = {"parquet": "a Parquet file", "csv.gz": "a gzip-compressed CSV file", "csv": "a CSV file"}[fmt]
        raise SubmissionError(f"the file cannot be read as {kind}: {exc}. "
                              "Check that every line has the same number of comma-separated fields as the header.") from None
    report = _Report(fmt != "parquet")
    expected = [spec.id_column, *task.prediction_columns]
    present = table.column_names
    missing_columns = [c for c in expected if c not in present]
    extra_columns = [c for c in present if c not in expected]
    header = ",".join(expected) if len(expected) <= 12 else ",".join(expected[:12]) + ",..."
    if missing_columns:
        report.add(f"missing columns: {', '.join(missing_columns)}. The header must be: {header}")
    if extra_columns:
        report.add(f"unexpected columns: {', '.join(map(str, extra_columns[:10]))}. The header must be: {header}")
    if table.num_rows == 0:
        report.add("the file has a header but no rows. Write one row per test id.")
    if report.problems:
        raise SubmissionError(report.problems)

    key = task.answer_key
    order = _align_ids(table.column(spec.id_column), key, report)
    predictions = _read_predictions(task, table, report)
    if report.problems:
        raise SubmissionError(report.problems)
    if order is None:
        return predictions
    return Predictions(**{name: (value[order] if value is not None else None)
                          for name, value in vars(predictions).items()})


def _align_ids(column: pa.ChunkedArray, key: AnswerKey, report: _Report) -> np.ndarray | None:
    """Rows of the file in answer-key order, or None when the file is already in that order."""
    if column.null_count:
        positions = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
        report.add(f"{column.null_count} rows have an empty id ({report.rows(positions)}).")
        return None
    ids = _ids_like_key(column, key, report)
    if ids is None:
        return None
    if len(ids) == len(key.ids) and np.array_equal(ids, key.ids):
        return None  # the common case: ids in the order of test.csv, which is sorted
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    repeated = sorted_ids[1:] == sorted_ids[:-1]
    if repeated.any():
        duplicated = np.unique(sorted_ids[1:][repeated])
        positions = np.sort(order[1:][repeated])
        report.add(f"{len(duplicated)} ids appear more than once, e.g. {_examples(duplicated)} "
                   f"(repeats at {report.rows(positions)}). Keep one row per id.")
    unique_ids = np.unique(sorted_ids)
    unknown = np.setdiff1d(unique_ids, key.ids, assume_unique=True)
    if len(unknown):
        report.add(f"{len(unknown)} ids are not in the test set, e.g. {_examples(unknown)}. "
                   "Use the ids of test.csv only.")
    absent = np.setdiff1d(key.ids, unique_ids, assume_unique=True)
    if len(absent):
        report.add(f"{len(absent)} test ids have no prediction, e.g. {_examples(absent)}. "
                   "Write one row for every id in test.csv.")
    return order


def _ids_like_key(column: pa.ChunkedArray, key: AnswerKey, report: _Report) -> np.ndarray | None:
    """The file's ids converted to the answer key's id type, or None (with a problem noted)."""
    if np.issubdtype(key.ids.dtype, np.integer):
        if pa.types.is_integer(column.type):
            return column.to_numpy()
        as_float = pc.cast(column, pa.float64(), safe=False) if pa.types.is_floating(column.type) else None
        if as_float is not None:
            values = as_float.to_numpy()
            if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
                return values.astype(np.int64)
        report.add(f"ids must be whole numbers, as in test.csv; found values such as {_examples(column.to_numpy(zero_copy_only=False)[:EXAMPLES])}.")
        return None
    return column.cast(pa.string()).to_numpy(zero_copy_only=False).astype(str)


def _read_predictions(task: Task, table: pa.Table, report: _Report) -> Predictions:
    spec = task.spec
    if spec.prediction == "label":
        return Predictions(labels=_label_codes(table.column(spec.target), task.classes, report))
    if spec.prediction == "value":
        return Predictions(values=_finite_numbers(table.column(spec.target), spec.target, report))
    columns = [_finite_numbers(table.column(c), c, report) for c in task.prediction_columns]
    if report.problems:
        return Predictions()
    proba = np.column_stack(columns)
    negative = np.flatnonzero((proba < 0).any(axis=1))
    if len(negative):
        report.add(f"{len(negative)} rows have negative probabilities ({report.rows(negative)}).")
    sums = proba.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1) > PROBABILITY_TOLERANCE)
    if len(off):
        report.add(f"{len(off)} rows have probabilities that do not sum to 1 (tolerance {PROBABILITY_TOLERANCE}), "
                   f"e.g. sum {sums[off[0]]:.4f} at {report.rows(off)}.")
    if report.problems:
        return Predictions()
    proba = proba / sums[:, None]
    return Predictions(labels=proba.argmax(axis=1), probabilities=proba)


def _finite_numbers(column: pa.ChunkedArray, name: str, report: _Report) -> np.ndarray:
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)):
        raw = column.cast(pa.string()).to_numpy(zero_copy_only=False)
        report.add(f"column '{name}' must hold numbers; found text such as {_examples(raw[:EXAMPLES])}.")
        return np.zeros(len(column))
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        report.add(f"column '{name}' has {len(bad)} empty, NaN or infinite values ({report.rows(bad)}).")
    return values


def _label_codes(column: pa.ChunkedArray, classes: np.ndarray, report: _Report) -> np.ndarray:
    """Class codes (indexes into ``classes``) for a label column, noting empty or unknown labels."""
    if column.null_count:
        positions = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
        report.add(f"{column.null_count} rows have an empty label ({report.rows(positions)}).")
        return np.zeros(len(column), dtype=np.int64)
    k = len(classes)
    if np.issubdtype(classes.dtype, np.integer) and pa.types.is_integer(column.type):
        values = column.to_numpy()
        if np.array_equal(classes, np.arange(k)):
            outside = np.flatnonzero((values < 0) | (values >= k))  # fast path: labels are 0..k-1
            codes = values
        else:
            codes = np.searchsorted(classes, values).clip(0, k - 1)
            outside = np.flatnonzero(classes[codes] != values)
    else:
        values = column.cast(pa.string()).to_numpy(zero_copy_only=False).astype(str)
        names = np.array([str(c) for c in classes])
        order = np.argsort(names)
        codes = order[np.searchsorted(names[order], values).clip(0, k - 1)]
        outside = np.flatnonzero(names[codes] != values)
    if len(outside):
        unknown = np.unique(np.asarray(values)[outside])
        report.add(f"{len(outside)} labels are not among the task's classes ({_examples(np.array([str(c) for c in classes]))}), "
                   f"e.g. {_examples(unknown)} at {report.rows(outside)}.")
    return codes.astype(np.int64, copy=False)
