"""Read a predictions file and validate it against the answer key, reporting every problem.

The file is read with pyarrow (CSV, JSON Lines, either gzip-compressed, or Parquet, recognised by
content, not by name). The result is aligned to the answer key's id order, so
scoring never joins again. No traceback reaches the user: every failure becomes a
:class:`SubmissionError` whose problems say what to change.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from arena._fast import chunks, over_slices, pooled_empty, scratch
from arena.bundles.columns import COLUMNS_PREDICTION, matching_share, read_declared, text_read
from arena.bundles.jsonl import JsonlError, line_bounds, looks_like_jsonl, read_jsonl
from arena.bundles.kinds import TEXT_TARGET_KINDS, ranking_k, read_label_sets, read_rankings
from arena.bundles.loading import AnswerKey, Task
from arena.bundles.texts import TEXT_KIND, max_answer_chars, max_text_bytes, read_answers
from arena.errors import Problem, SubmissionError, listed
from arena.metrics.ranking import ItemLists
from arena.metrics.registry import class_value_problem
from arena.metrics.text import as_objects

DEFAULT_MAX_BYTES = int(os.environ.get("ARENA_MAX_UPLOAD_MB", "200")) * 1024 * 1024
PROBABILITY_TOLERANCE = 1e-3
"""Each row of probabilities must sum to 1 within this. Metrics then use them as written, as scikit-learn does
(rescaling each row would move six-decimal values off the grid ROC AUC counts on, and change nothing that matters)."""
EXAMPLES = 5
FIELD_BYTES = 100
"""Text allowed per expected cell when reading: a number or an id takes far less."""
SLACK_BYTES = 1 << 20
BLOCK_BYTES = 1 << 20  # the CSV reader's block; less than any cap, so rows are counted before text runs out
BATCH_ROWS = 1 << 16
LARGEST_VALUE = 1e18
"""The largest magnitude of a predicted value, an answer or a row weight. A squared error of values this large
(4e36) still fits the float32 of per-row results, and sums over any test set stay far from float64's 1.8e308; a
file with a larger value is refused, naming its lines, rather than scored inf."""
SMALLEST_ANSWER = 1e-100
"""Answers and row weights other than 0 must be at least this in magnitude: the squares and products the metrics
form of smaller ones vanish (underflow) and would leave R², ROC AUC or their intervals undefined."""
NON_NEGATIVE = {"rmsle": "rmsle takes the logarithm of 1 + each value"}
"""Metrics that need every predicted value (and answer) to be 0 or more, and why."""
FOOTER_BYTES, FOOTER_ITEMS = 16 << 20, 1_000_000  # a Parquet footer's thrift limits


@dataclass(frozen=True)
class Predictions:
    """Predictions aligned with the answer key's (sorted) ids."""

    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None
    ranked: ItemLists | None = None  # ranking: each query's ids, best first, coded against the answer key's
    columns: pd.DataFrame | None = None  # prediction = "columns": the organiser's declared columns, typed
    texts: pa.Array | None = None  # a text task: each row's answer exactly as written (an Arrow string array)

    def label_codes(self) -> np.ndarray | None:
        """The predicted classes: as written, or for probabilities each row's most probable class (the first of
        equals), worked out when first asked for, since ROC AUC and log loss never need it."""
        if self.labels is None and self.probabilities is not None:
            object.__setattr__(
                self, "labels", _first_largest([self.probabilities[:, c] for c in range(self.probabilities.shape[1])])
            )
        return self.labels


@dataclass(frozen=True)
class Layout:
    """How a text file is laid out when not as sample_submission.csv is (a header naming the columns, commas
    between fields): the layouts a Codabench scoring program reads. Only a Codabench phase scored by Arena's metric
    asks for one (:func:`arena.codabench.native.score_natively`); every other check applies as to any upload.
    """

    columns: tuple[str, ...]
    """The file's columns, in order: a first line that is a header is skipped, its names unchecked (the program
    reads fields by position)."""
    header: bool = True
    delimiter: str | None = None
    """None: the first of tab, comma, semicolon and space that the file's first line holds (a comma if none)."""
    numbered: bool = False
    """The file has no id column: a row's id is its position (0, 1, ...), the row of the answer key it answers."""

    def settled(self, path: Path, compressed: bool) -> Layout:
        """This layout with its delimiter read from the file's first line when it names none."""
        if self.delimiter is not None:
            return self
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            first = handle.read(SNIFF_BYTES).split(b"\n", 1)[0]
        found = next((d for d in ("\t", ",", ";", " ") if d.encode() in first), ",")
        return Layout(self.columns, self.header, found, self.numbered)

    def described(self) -> str:
        named = {"\t": "tabs", ",": "commas", ";": "semicolons", " ": "spaces"}.get(self.delimiter or ",", "commas")
        return f"{len(self.columns)} fields separated by {named}" if len(self.columns) > 1 else "one field"


def _reordered(values, order: np.ndarray):
    """Rows ``order`` (positions) of an array or a table."""
    if isinstance(values, pd.DataFrame):
        return values.iloc[order].reset_index(drop=True)
    if isinstance(values, pa.Array):
        return values.take(pa.array(order))
    return values[order]


def take_rows(values, rows: np.ndarray):
    """The given rows (a boolean mask) of an array or a table."""
    if isinstance(values, pd.DataFrame):
        return values[rows].reset_index(drop=True)
    if isinstance(values, pa.Array):
        return values.filter(pa.array(rows))
    return values[rows]


def whole_tables(task: Task, predictions: Predictions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a plugin that needs the whole table gets: the answer file's rows (every column but usage) and the
    submission's prediction columns (the declared ones, for prediction = "columns"), both in the answer key's id order."""
    spec = task.spec
    answers = task.answers.sort_values(spec.id_column, kind="stable").reset_index(drop=True)
    answers = answers.drop(columns=[c for c in ("usage",) if c in answers.columns])
    if predictions.columns is not None:
        pred = predictions.columns.reset_index(drop=True)
    elif predictions.probabilities is not None:
        pred = pd.DataFrame(predictions.probabilities, columns=task.prediction_columns)
    elif predictions.values is not None:
        pred = pd.DataFrame({spec.target: predictions.values})
    elif predictions.texts is not None:
        pred = pd.DataFrame({spec.target: as_objects(predictions.texts)})
    elif predictions.ranked is not None:
        pred = pd.DataFrame({spec.target: [" ".join(items) for items in predictions.ranked]})
    elif predictions.labels is not None and predictions.labels.ndim == 2:
        pred = pd.DataFrame({spec.target: [" ".join(task.known_classes()[row]) for row in predictions.labels]})
    else:
        pred = pd.DataFrame({spec.target: task.known_classes()[predictions.label_codes()]})
    pred.insert(0, spec.id_column, answers[spec.id_column].to_numpy())
    return answers, pred


def _examples(values: np.ndarray) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


class _Report:
    """Collects problems with row numbers as the participant sees them in the file."""

    def __init__(self, is_csv: bool, header: bool = True, lines: np.ndarray | None = None) -> None:
        self.problems: list[Problem] = []
        self.is_csv = is_csv
        self.first = 2 if is_csv and header else 1  # the line or row number of the first data row
        self.lines = lines  # each row's line where rows and lines differ (JSON Lines' blank lines, quoted breaks)

    def add(self, message: str) -> None:
        self.problems.append(Problem("", message))

    def rows(self, positions: np.ndarray) -> str:
        # CSV line numbers count the header as line 1; Parquet rows count from 1.
        numbers = self.lines[positions[:EXAMPLES]] if self.lines is not None else positions[:EXAMPLES] + self.first
        word = "lines" if self.is_csv else "rows"
        more = f" and {len(positions) - EXAMPLES} more" if len(positions) > EXAMPLES else ""
        return f"{word} {', '.join(map(str, numbers.tolist()))}{more}"


def _sniff(path: Path) -> str:
    """The file's format by its content: parquet, csv, csv.gz, jsonl or jsonl.gz (a table whose first line starts
    an object is JSON Lines)."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as inner:
                start = inner.read(SNIFF_BYTES)
        except (OSError, EOFError, zlib.error):
            return "csv.gz"  # a broken gzip stream: the reader says so
        return "jsonl.gz" if looks_like_jsonl(start) else "csv.gz"
    return "jsonl" if looks_like_jsonl(head) else "csv"


BINARY_KINDS = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive (an Excel .xlsx file is one)",
    b"\xd0\xcf\x11\xe0": "an old Excel or Word file",
    b"BZh": "a bzip2 archive",
    b"\x28\xb5\x2f\xfd": "a Zstandard archive",
    b"\xfd7zXZ": "an xz archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\x93NUMPY": "a NumPy array",
    b"\x80": "a Python pickle",
    b"\xff\xfe": "UTF-16 text; save it as UTF-8",
    b"\xfe\xff": "UTF-16 text; save it as UTF-8",
}
SNIFF_BYTES = 8192


def _not_a_table(path: Path, fmt: str) -> str | None:
    """One line for a file that is plainly not text (an image, an archive, ...), or None.

    The reader's own error on such bytes would quote them back at the participant.
    """
    try:
        with gzip.open(path, "rb") if fmt.endswith(".gz") else open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        return None  # a broken gzip stream: the reader says so
    kind = next((name for magic, name in BINARY_KINDS.items() if head.startswith(magic)), None)
    control = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if kind is None and b"\x00" not in head and control <= len(head) // 10:
        return None
    return (
        f"this is not a CSV or Parquet file{f' (it looks like {kind})' if kind else ''}. Upload your "
        "predictions as CSV, gzip-compressed CSV or Parquet, with the header of sample_submission.csv, or as "
        "JSON Lines (one object per line)."
    )


@dataclass(frozen=True)
class Caps:
    """How much a predictions file may hold once read: ``rows`` data rows, ``text_bytes`` of text (decompressed)."""

    rows: int
    text_bytes: int


def caps_for(task: Task) -> Caps:
    """A file never needs more rows than the test set has ids, nor more text than those rows need generously."""
    rows = len(task.answer_key.ids)
    columns = 1 + len(task.prediction_columns)
    if task.spec.kind in TEXT_TARGET_KINDS and task.spec.prediction != "probabilities":  # a list per cell
        columns += ranking_k(task.spec) if task.spec.kind == "ranking" else len(task.known_classes())
    text_bytes = (rows + 1) * columns * FIELD_BYTES + SLACK_BYTES
    if task.spec.kind == TEXT_KIND:  # room for the longest answers (4 bytes a character at most), within a total
        text_bytes = min(text_bytes + (rows + 1) * 4 * max_answer_chars(), max(max_text_bytes(), text_bytes))
    return Caps(rows=rows, text_bytes=text_bytes)


class _TooMuch(Exception):
    """The file holds more than its caps allow; the message is the participant's."""


class _CappedReader(io.RawIOBase):
    """A byte stream that reports end-of-file once ``limit`` bytes were read, and remembers it was cut."""

    def __init__(self, raw: io.BufferedIOBase, limit: int) -> None:
        self.raw, self.limit, self.total, self.cut = raw, limit, 0, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        room = self.limit - self.total
        data = self.raw.read(min(len(buffer), room + 1))
        if len(data) > room:
            self.cut, data = True, data[:room]
        self.total += len(data)
        buffer[: len(data)] = data
        return len(data)


def _too_many_rows(caps: Caps) -> _TooMuch:
    return _TooMuch(
        f"the file has more than {caps.rows:,} rows, but the test set has {caps.rows:,} ids. "
        "Write exactly one row per id of test.csv."
    )


def _too_much_text(caps: Caps) -> _TooMuch:
    return _TooMuch(
        f"the file holds more than {caps.text_bytes / 2**20:.1f} MiB of text once decompressed, far more "
        f"than {caps.rows:,} rows of predictions need. Write only the header and one short row per test id."
    )


def _read_csv(
    path: Path,
    compressed: bool,
    caps: Caps,
    text: list[str] | None = None,
    numbers: list[str] | None = None,
    layout: Layout | None = None,
    exact: bool = False,
) -> pa.Table:
    """Stream the CSV within the caps: reading stops at the first byte or row past them.

    ``text`` columns (ids, labels) are kept as written, so ``0300`` is not read as 300.
    A plain file within the text cap whose lines are within the row cap is parsed whole,
    with threads, as fast as a plain read; a file that fails to parse is read again by
    the streaming reader, whose messages name the row. ``numbers`` (probabilities,
    values) are read again as numbers when the streaming reader took them for integers
    from its first block and then met a fraction. A ``layout`` names the columns and the delimiter of a file laid
    out otherwise than sample_submission.csv. With ``exact`` (a text task's answers) no text becomes a missing
    value: an empty field is an empty answer, and ``NA`` or ``null`` are the words themselves.
    """
    convert = pacsv.ConvertOptions(strings_can_be_null=not exact, column_types={c: pa.binary() for c in text or ()})
    if not compressed and path.stat().st_size <= caps.text_bytes:
        with pa.memory_map(str(path)) as mapped:  # the page cache's own pages: no copy of the file
            data = mapped.read_buffer()
            if _line_breaks(data) <= caps.rows + 1:  # quoted line breaks only over-count
                try:
                    table = pacsv.read_csv(
                        pa.BufferReader(data),
                        convert_options=convert,
                        read_options=_read_options(layout, use_threads=True),
                        parse_options=_parse_options(layout, exact),
                    )
                except pa.ArrowInvalid:
                    table = None
                if table is not None:
                    _names(table.schema)
                    if table.num_rows > caps.rows:
                        raise _too_many_rows(caps)
                    return table
            del data
    try:
        return _stream_csv(path, compressed, caps, convert, layout, exact)
    except pa.ArrowInvalid:
        if not numbers:
            raise
    # A number column whose first block held only whole numbers was taken for integers; read it as numbers.
    floats = pacsv.ConvertOptions(
        strings_can_be_null=not exact, column_types={**convert.column_types, **{c: pa.float64() for c in numbers}}
    )
    return _stream_csv(path, compressed, caps, floats, layout, exact)


def _read_options(layout: Layout | None, *, use_threads: bool) -> pacsv.ReadOptions:
    if layout is None:
        return pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=use_threads)
    return pacsv.ReadOptions(
        block_size=BLOCK_BYTES, use_threads=use_threads, column_names=list(layout.columns), skip_rows=int(layout.header)
    )


def _parse_options(layout: Layout | None, exact: bool = False) -> pacsv.ParseOptions:
    """Commas (or the layout's delimiter); with ``exact`` (text answers) a quoted text may hold line breaks."""
    delimiter = layout.delimiter if layout is not None and layout.delimiter else ","
    return pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=exact)


COUNT_BYTES = 1 << 22  # bytes compared at once when counting line breaks: a chunk's comparison stays in cache


def _line_breaks(data: pa.Buffer) -> int:
    """How many line breaks ``data`` holds, counted a few MiB at a time (several times faster than bytes.count)."""
    octets = np.frombuffer(data, dtype=np.uint8)

    def count(rows: slice) -> int:
        return sum(int(np.count_nonzero(octets[chunk] == 10)) for chunk in chunks(rows, COUNT_BYTES))

    return sum(over_slices(count, len(octets), min_rows=COUNT_BYTES))


def _stream_csv(
    path: Path,
    compressed: bool,
    caps: Caps,
    convert: pacsv.ConvertOptions,
    layout: Layout | None = None,
    exact: bool = False,
) -> pa.Table:
    with gzip.open(path, "rb") if compressed else open(path, "rb") as raw:
        stream = _CappedReader(raw, caps.text_bytes)
        reader = pacsv.open_csv(
            io.BufferedReader(stream, BLOCK_BYTES),
            read_options=_read_options(layout, use_threads=False),
            parse_options=_parse_options(layout, exact),
            convert_options=convert,
        )
        _names(reader.schema)
        batches, rows = [], 0
        try:
            for batch in reader:
                rows += batch.num_rows
                if rows > caps.rows:
                    raise _too_many_rows(caps)
                batches.append(batch)
        except pa.ArrowInvalid:
            if stream.cut:  # the last line was cut short at the cap
                raise _too_much_text(caps) from None
            raise
        if stream.cut:
            raise _too_much_text(caps)
        return pa.Table.from_batches(batches, schema=reader.schema)


def _read_parquet(path: Path, columns: list[str], caps: Caps) -> tuple[pa.Table, list[str]]:
    """Read only the expected columns, once the footer shows they fit the caps; text stays dictionary-encoded
    (compact) until its decoded size is known to fit too. Returns the table and every column name in the file."""
    with open(path, "rb") as handle:  # an open handle: the server's path never appears in an error
        parquet = pq.ParquetFile(
            handle, pre_buffer=False, thrift_string_size_limit=FOOTER_BYTES, thrift_container_size_limit=FOOTER_ITEMS
        )
        schema, meta = parquet.schema_arrow, parquet.metadata
        names = _names(schema)
        wanted = [c for c in columns if c in names]
        for name in wanted:
            if pa.types.is_nested(schema.field(name).type):
                raise _TooMuch(
                    f"column '{name}' holds {schema.field(name).type}; write one plain number or text per cell."
                )
        if meta.num_rows > caps.rows:
            raise _too_many_rows(caps)
        stored = sum(
            meta.row_group(g).column(i).total_uncompressed_size
            for g in range(meta.num_row_groups)
            for i in range(meta.num_columns)
            if meta.schema.column(i).path.split(".")[0] in wanted
        )
        if stored > caps.text_bytes:
            raise _too_much_text(caps)
        text = [c for c in wanted if _is_text(schema.field(c).type)]
        handle.seek(0)
        parquet = pq.ParquetFile(
            handle,
            read_dictionary=text,
            pre_buffer=False,
            thrift_string_size_limit=FOOTER_BYTES,
            thrift_container_size_limit=FOOTER_ITEMS,
        )
        batches, rows, size = [], 0, 0
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=wanted, use_threads=False):
            rows += batch.num_rows
            size += sum(_decoded_bytes(column) for column in batch.columns)
            if rows > caps.rows:
                raise _too_many_rows(caps)
            if size > caps.text_bytes:
                raise _too_much_text(caps)
            batches.append(batch)
    if not batches:
        return pa.table({c: pa.array([], schema.field(c).type) for c in wanted}), names
    table = pa.Table.from_batches(batches)
    decoded = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(dict(zip(table.column_names, decoded))), names


def _is_text(kind: pa.DataType) -> bool:
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
    )


def _decoded_bytes(column: pa.Array) -> int:
    """The bytes a column takes once dictionary-decoded (a tiny dictionary can stand for gigabytes)."""
    if pa.types.is_dictionary(column.type):
        lengths = pc.binary_length(column.dictionary).fill_null(0)
        return int(pc.sum(pc.take(lengths, column.indices.fill_null(0))).as_py() or 0) + 4 * len(column)
    return column.nbytes


def _names(schema: pa.Schema) -> list[str]:
    """Column names, refusing a header that is not UTF-8 text (the participant's to fix, not a failure of ours)."""
    try:
        return schema.names
    except UnicodeDecodeError:
        raise _TooMuch(
            "the header is not UTF-8 text. Save the file as UTF-8 (plain ASCII is fine), "
            "with the header line like sample_submission.csv."
        ) from None


def _scrub(message: str, path: Path) -> str:
    """An error text without the server's file paths in it."""
    for text in (str(path), str(path.parent), path.name):
        message = message.replace(text, "the file")
    return message


def read_submission(
    task: Task,
    path: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    caps: Caps | None = None,
    layout: Layout | None = None,
) -> Predictions:
    """Read and validate a predictions file for ``task``.

    Raises :class:`SubmissionError` with every problem found: unreadable or empty
    file, a header that is not UTF-8, missing or extra columns, duplicated, missing or
    unknown ids, empty or non-finite values, labels outside the classes, probabilities
    that are negative or do not sum to 1, a file over ``max_bytes``, or one that holds
    more rows or text than ``caps`` (default :func:`caps_for`) allow. Reading stops at
    the caps, so a compressed bomb costs bounded memory. A ``layout`` reads a text file laid out otherwise (no
    header, tabs, no id column: see :class:`Layout`); a Parquet file is then refused.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise SubmissionError(
            f"the file is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB. "
            "Compress it (.csv.gz) or write Parquet, which are much smaller."
        )
    if size == 0:
        raise SubmissionError("the file is empty. Upload a CSV with a header line, like sample_submission.csv.")
    fmt = _sniff(path)
    if layout is not None and fmt.startswith("jsonl"):  # a layout names a text file of fields, read as such
        fmt = fmt.replace("jsonl", "csv")
    if fmt != "parquet" and (message := _not_a_table(path, fmt)):
        raise SubmissionError(message)
    if layout is not None:
        if fmt == "parquet":
            raise SubmissionError(
                f"this is a Parquet file; this task reads a text file of {layout.described()} a line, "
                "laid out as the competition's instructions say."
            )
        layout = layout.settled(path, fmt == "csv.gz")
    spec = task.spec
    expected = [spec.id_column, *task.prediction_columns]
    single = _single_probability_columns(task)
    caps = caps or caps_for(task)
    lines = None
    try:
        if fmt == "parquet":
            table, present = _read_parquet(path, expected + single, caps)
        elif fmt.startswith("jsonl"):
            table, lines = _read_jsonl(path, fmt == "jsonl.gz", caps, _text_columns(task))
            present = table.column_names
        else:
            table = _read_csv(
                path,
                fmt == "csv.gz",
                caps,
                text=_text_columns(task),
                numbers=_number_columns(task),
                layout=layout,
                exact=spec.kind == TEXT_KIND,
            )
            if layout is not None and layout.numbered:  # each row's id is its position
                table = table.append_column(spec.id_column, pa.array(np.arange(table.num_rows, dtype=np.int64)))
            present = table.column_names
    except _TooMuch as exc:
        raise SubmissionError(str(exc)) from None
    except JsonlError as exc:
        raise SubmissionError([Problem("", _scrub(problem, path)) for problem in exc.problems]) from None
    except (pa.ArrowException, OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise SubmissionError(_unreadable(fmt, _scrub(str(exc), path), layout)) from None
    report = _Report(fmt != "parquet", header=layout is None or layout.header, lines=lines)
    header = listed(expected, sep=",")
    if fmt.startswith("jsonl"):
        header = _object_example(expected)
    if single:  # a binary task: one column with the probability of the second class will do, as on Kaggle
        header += f" (or {spec.id_column},{single[0]}: the probability of class '{task.known_classes()[1]}')"
        chosen = next((c for c in single if c in present), None)
        if chosen is not None and not set(task.prediction_columns) & set(present):
            expected = [spec.id_column, chosen]
    missing_columns = [c for c in expected if c not in present]
    extra_columns = [c for c in present if c not in expected]
    what, must = (
        ("keys", "Each line must be an object like") if fmt.startswith("jsonl") else ("columns", "The header must be:")
    )
    if missing_columns:
        report.add(f"missing {what}: {listed(missing_columns)}. {must} {header}")
    if extra_columns:
        report.add(f"unexpected {what}: {listed(extra_columns)}. {must} {header}")
    if table.num_rows == 0:
        report.add(
            "the file has no rows. Write one object per test id, one per line."
            if fmt.startswith("jsonl")
            else "the file has a header but no rows. Write one row per test id."
        )
    elif layout is not None and layout.numbered and table.num_rows != len(task.answer_key.ids):
        report.add(
            f"the file has {table.num_rows:,} rows; it needs {len(task.answer_key.ids):,}, one for each row of the "
            "reference data, in its order."
        )
    if report.problems:
        raise SubmissionError(report.problems)
    table = _as_text(table.select(expected), report)
    if report.problems:
        raise SubmissionError(report.problems)
    if spec.kind == TEXT_KIND and fmt.startswith("csv") and report.lines is None:
        report.lines = _csv_lines(table, report.first)

    key = task.answer_key
    order = _align_ids(table.column(spec.id_column), key, report)
    predictions = _read_predictions(task, table, report)
    if report.problems:
        raise SubmissionError(report.problems)
    if order is None:
        return predictions
    return Predictions(
        **{name: (_reordered(value, order) if value is not None else None) for name, value in vars(predictions).items()}
    )


def _read_jsonl(path: Path, compressed: bool, caps: Caps, text: list[str]) -> tuple[pa.Table, np.ndarray]:
    """A JSON Lines file read within the caps: at most ``caps.text_bytes`` of it are ever decompressed, a line
    nested deeper than a flat object needs is refused before Arrow reads it (:mod:`arena.bundles.jsonl`). Returns
    the table and each row's line."""
    with gzip.open(path, "rb") if compressed else open(path, "rb") as raw:
        stream = _CappedReader(raw, caps.text_bytes)
        data = stream.readall()
    if stream.cut:
        raise _too_much_text(caps)
    starts, ends = line_bounds(data)
    if len(starts) > caps.rows + 1 and int(np.count_nonzero(ends - starts > 1)) > caps.rows:
        raise _too_many_rows(caps)
    read = read_jsonl(data, text_columns=text)
    if read.table.num_rows > caps.rows:
        raise _too_many_rows(caps)
    return read.table, read.lines


def _object_example(expected: list[str]) -> str:
    """One line of a JSON Lines submission with the expected keys, as messages show it."""
    return "{" + listed(f'"{key}": ...' for key in expected) + "}"


def _csv_lines(table: pa.Table, first: int) -> np.ndarray | None:
    """Each row's line in a CSV whose quoted texts hold line breaks (None when none does: rows and lines agree)."""
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            breaks += pc.count_substring(column, "\n").fill_null(0).to_numpy(zero_copy_only=False)
    if not breaks.any():
        return None
    return first + np.arange(table.num_rows) + np.concatenate(([0], np.cumsum(breaks)[:-1]))


def _unreadable(fmt: str, detail: str, layout: Layout | None = None) -> str:
    if fmt == "parquet":
        return (
            f"the file cannot be read as a Parquet file: {detail}. Write it again with pandas' to_parquet "
            "(or pyarrow), or upload a CSV like sample_submission.csv."
        )
    if fmt.startswith("jsonl"):
        return (
            f"the file cannot be read as JSON Lines: {detail}. Write one JSON object per line, "
            'e.g. {"id": 1, "answer": "Paris"}.'
        )
    kind = "a gzip-compressed CSV file" if fmt == "csv.gz" else "a CSV file"
    if layout is not None:
        return f"the file cannot be read as a table: {detail}. Check that every line has {layout.described()}."
    return (
        f"the file cannot be read as {kind}: {detail}. "
        "Check that every line has the same number of comma-separated fields as the header."
    )


def _as_text(table: pa.Table, report: _Report) -> pa.Table:
    """Bytes columns (what the CSV reader makes of text that is not UTF-8) become text, or a problem is noted."""
    columns = []
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            try:
                column = column.cast(pa.string())
            except pa.ArrowInvalid:
                report.add(
                    f"column '{name}' holds text that is not UTF-8. Save the file as UTF-8 (plain ASCII is fine)."
                )
        columns.append(column)
    return pa.table(dict(zip(table.column_names, columns)))


def _align_ids(column: pa.ChunkedArray, key: AnswerKey, report: _Report) -> np.ndarray | None:
    """Rows of the file in answer-key order, or None when the file is already in that order."""
    if column.null_count:
        positions = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
        report.add(f"{column.null_count} rows have an empty id ({report.rows(positions)}).")
        return None
    if _in_key_order(column, key):
        return None  # the common case: ids in the order of test.csv, which is sorted
    ids = _ids_like_key(column, key, report)
    if ids is None:
        return None
    if len(ids) == len(key.ids) and np.array_equal(ids, key.ids):
        return None
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    repeated = sorted_ids[1:] == sorted_ids[:-1]
    if repeated.any():
        duplicated = np.unique(sorted_ids[1:][repeated])
        positions = np.sort(order[1:][repeated])
        report.add(
            f"{len(duplicated)} ids appear more than once, e.g. {_examples(duplicated)} "
            f"(repeats at {report.rows(positions)}). Keep one row per id."
        )
    unique_ids = np.unique(sorted_ids)
    unknown = np.setdiff1d(unique_ids, key.ids, assume_unique=True)
    if len(unknown):
        report.add(
            f"{len(unknown)} ids are not in the test set, e.g. {_examples(unknown)}. Use the ids of test.csv only."
        )
    absent = np.setdiff1d(key.ids, unique_ids, assume_unique=True)
    if len(absent):
        report.add(
            f"{len(absent)} test ids have no prediction, e.g. {_examples(absent)}. "
            "Write one row for every id in test.csv."
        )
    return order


def _in_key_order(column: pa.ChunkedArray, key: AnswerKey) -> bool:
    """True when a column of whole numbers holds exactly the answer key's ids, in its order: compared block by
    block as the reader left them, without first copying the column into one array."""
    if column.type != pa.int64() or key.ids.dtype != np.int64 or len(column) != len(key.ids):
        return False  # other types take the general path (mixed integer types would compare as floats)
    start = 0
    for chunk in column.chunks:
        ids = chunk.to_numpy()  # no copy: the column has no empty cells
        if not np.array_equal(ids, key.ids[start : start + len(ids)]):
            return False
        start += len(ids)
    return True


def _single_probability_columns(task: Task) -> list[str]:
    """For a binary probabilities task, the names a single probability column may take
    (the target, or the second class); empty for every other task."""
    if task.spec.prediction != "probabilities" or not task.spec.is_classification or len(task.known_classes()) != 2:
        return []
    names = [task.spec.target, str(task.known_classes()[1])]
    return [
        n
        for i, n in enumerate(names)
        if n not in names[:i] and n != task.spec.id_column and n not in task.prediction_columns[:1]
    ]


def _number_columns(task: Task) -> list[str]:
    """Columns that hold numbers whatever their first rows look like: probabilities and predicted values."""
    if task.spec.prediction == "value":
        return [task.spec.target]
    if task.spec.prediction == "probabilities":
        return [*task.prediction_columns, *_single_probability_columns(task)]
    return []


def _text_columns(task: Task) -> list[str]:
    """Columns a CSV is read as text: the id and the label where the answer key holds text (``0300``, ``01``).

    Whole-number ids and classes are read as numbers (faster), and ``7.0`` still counts as 7.
    """
    key = task.answer_key
    columns = [] if np.issubdtype(key.ids.dtype, np.integer) else [task.spec.id_column]
    if task.spec.prediction == COLUMNS_PREDICTION:
        columns += text_read(task.spec.submission_columns)
    elif task.spec.kind in TEXT_TARGET_KINDS and task.spec.prediction != "probabilities":
        columns.append(task.spec.target)  # label sets and ranked ids are lists of text
    elif task.spec.kind == TEXT_KIND:
        columns.append(task.spec.target)  # answers exactly as written: "007" stays "007"
    elif task.spec.prediction == "label" and not np.issubdtype(task.known_classes().dtype, np.integer):
        columns.append(task.spec.target)
    return columns


def _whole_numbers(column: pa.ChunkedArray) -> np.ndarray | None:
    """int64 values of a column of whole numbers (as integers, floats like 1.0, or text), else None."""
    if pa.types.is_integer(column.type):
        return column.to_numpy().astype(np.int64, copy=False)
    try:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                return pc.cast(column, pa.int64()).to_numpy()
            except pa.ArrowInvalid:
                column = pc.cast(column, pa.float64())
        if not pa.types.is_floating(column.type):
            return None
        values = column.to_numpy().astype(np.float64, copy=False)
    except pa.ArrowInvalid:
        return None
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
        return values.astype(np.int64)
    return None


def _ids_like_key(column: pa.ChunkedArray, key: AnswerKey, report: _Report) -> np.ndarray | None:
    """The file's ids converted to the answer key's id type, or None (with a problem noted)."""
    if np.issubdtype(key.ids.dtype, np.integer):
        whole = _whole_numbers(column)
        if whole is not None:
            return whole
        report.add(
            f"ids must be whole numbers, as in test.csv; found values such as {_examples(column.to_numpy(zero_copy_only=False)[:EXAMPLES])}."
        )
        return None
    return column.cast(pa.string()).to_numpy(zero_copy_only=False).astype(str)


def _read_predictions(task: Task, table: pa.Table, report: _Report) -> Predictions:
    spec = task.spec
    if spec.prediction == COLUMNS_PREDICTION:
        return Predictions(columns=read_declared(table, spec.submission_columns, report))
    if spec.kind == TEXT_KIND:
        return Predictions(texts=read_answers(table.column(spec.target), report))
    if spec.kind in TEXT_TARGET_KINDS and spec.prediction != "probabilities":
        if spec.kind == "ranking":  # coded against the answer key's ids, never turned into Python strings
            return Predictions(
                ranked=read_rankings(table.column(spec.target), ranking_k(spec), report, task.answer_key.truth.items)
            )
        cells = table.column(spec.target).cast(pa.string()).to_numpy(zero_copy_only=False)
        return Predictions(labels=read_label_sets(cells, task.known_classes(), report))
    if spec.kind == "multilabel":  # one probability per label, each between 0 and 1
        proba = np.column_stack([_finite_numbers(table.column(c), c, report) for c in task.prediction_columns])
        outside = np.flatnonzero(((proba < 0) | (proba > 1)).any(axis=1))
        if len(outside) and not report.problems:
            report.add(
                f"{len(outside)} rows have probabilities outside 0 to 1 ({report.rows(outside)}); "
                "each label's column holds that label's probability."
            )
        return Predictions(labels=proba >= 0.5, probabilities=proba)
    if spec.prediction == "label":
        return Predictions(labels=_label_codes(table.column(spec.target), task.known_classes(), report))
    if spec.prediction == "value":
        values = _finite_numbers(table.column(spec.target), spec.target, report)
        _note_out_of_range(values, spec.target, report, _non_negative_metrics(spec))
        return Predictions(values=values)
    if task.prediction_columns[0] not in table.column_names:  # one column: the second class's probability
        name = table.column_names[1]
        columns = pooled_empty((2, table.num_rows))  # column-major probabilities: each class's scores lie together
        positive = _finite_numbers(table.column(name), name, report, out=columns[1])
        outside = np.flatnonzero((positive < 0) | (positive > 1))
        if len(outside) and not report.problems:
            report.add(
                f"column '{name}' holds probabilities of class '{task.known_classes()[1]}': they must lie between 0 and 1 "
                f"({report.rows(outside)})."
            )
        np.subtract(1, positive, out=columns[0])
    else:
        columns = pooled_empty((len(task.prediction_columns), table.num_rows))
        for c, name in enumerate(task.prediction_columns):
            _finite_numbers(table.column(name), name, report, out=columns[c], check=False)
    if report.problems:
        return Predictions()
    # The smallest probability and row sums first: the row-by-row searches run only when something is wrong.
    smallest, low_sum, high_sum = _probability_bounds(columns)
    if not np.isfinite([smallest, low_sum, high_sum]).all():  # an empty, NaN or infinite cell makes one so
        for column, name in zip(columns, task.prediction_columns):  # (a single column was checked as it was read)
            _note_non_finite(column, name, report)
        if report.problems:
            return Predictions()
    if smallest < 0:
        negative = np.flatnonzero(np.logical_or.reduce([column < 0 for column in columns]))
        report.add(f"{len(negative)} rows have negative probabilities ({report.rows(negative)}).")
    if low_sum < 1 - PROBABILITY_TOLERANCE or high_sum > 1 + PROBABILITY_TOLERANCE:
        sums = np.sum(columns, axis=0)
        off = np.flatnonzero(np.abs(sums - 1) > PROBABILITY_TOLERANCE)
        report.add(
            f"{len(off)} rows have probabilities that do not sum to 1 (tolerance {PROBABILITY_TOLERANCE}), "
            f"e.g. sum {sums[off[0]]:.4f} at {report.rows(off)}."
        )
    if report.problems:
        return Predictions()
    return Predictions(probabilities=columns.T)


def _probability_bounds(columns: np.ndarray) -> tuple[float, float, float]:
    """The smallest probability and the smallest and largest row sum of the (classes, rows) ``columns``,
    a few thousand rows at a time on every core, so no sum of every row is ever written out. An empty, NaN or
    infinite cell makes one of them NaN or infinite: they are combined with numpy's minimum and maximum, which
    keep a NaN (Python's ``min`` and ``max`` would drop it)."""

    def bounds(rows: slice) -> tuple[float, float, float]:
        sums = scratch(rows)
        smallest, low, high = np.inf, np.inf, -np.inf
        for chunk in chunks(rows):
            part = columns[:, chunk]
            total = sums[: part.shape[1]]
            np.add(part[0], part[1], out=total)
            for column in part[2:]:
                total += column
            smallest = np.minimum(smallest, part.min())
            low, high = np.minimum(low, total.min()), np.maximum(high, total.max())
        return smallest, low, high

    found = np.array(over_slices(bounds, columns.shape[1]), dtype=np.float64).reshape(-1, 3)
    return float(np.min(found[:, 0])), float(np.min(found[:, 1])), float(np.max(found[:, 2]))


def _first_largest(columns: list[np.ndarray]) -> np.ndarray:
    """Each row's column of its largest value, the first where several tie (``argmax`` over the columns, which
    compares them whole rather than a few values at a time along each row, several times faster), a few thousand
    rows at a time on every core."""
    rows = len(columns[0])
    labels = pooled_empty(rows, np.uint8 if len(columns) <= 256 else np.int64)  # a byte a row: a quarter pass

    def choose(part: slice) -> None:
        best, larger = scratch(part), scratch(part, bool)
        for chunk in chunks(part):
            top, won, chosen = best[: chunk.stop - chunk.start], larger[: chunk.stop - chunk.start], labels[chunk]
            np.copyto(top, columns[0][chunk])
            chosen.fill(0)
            for c, column in enumerate(columns[1:], start=1):
                np.greater(column[chunk], top, out=won)
                np.copyto(chosen, c, where=won)
                if c < len(columns) - 1:
                    np.maximum(top, column[chunk], out=top)

    over_slices(choose, rows)
    return labels


def _finite_numbers(
    column: pa.ChunkedArray, name: str, report: _Report, *, out: np.ndarray | None = None, check: bool = True
) -> np.ndarray:
    """A number column's values as float64, noting empty, NaN or infinite cells (unless ``check`` is off, for a
    caller that checks them later): written into ``out`` when given, else a read-only array in Arrow's pool."""
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)):
        raw = column.cast(pa.string()).to_numpy(zero_copy_only=False)
        report.add(f"column '{name}' must hold numbers; found text such as {_examples(raw[:EXAMPLES])}.")
        return np.zeros(len(column))
    if out is not None:
        _copy_blocks(column, out)
        values = out
    else:
        if column.num_chunks > 1:
            column = column.combine_chunks()  # in Arrow's pool: numpy's concatenation would fault in fresh pages
        values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if check:
        _note_non_finite(values, name, report)
    return values


def _note_non_finite(values: np.ndarray, name: str, report: _Report) -> None:
    if not np.isfinite(values.sum()):  # a NaN or an infinity makes the sum one (so may a vast total, checked below)
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            report.add(f"column '{name}' has {len(bad)} empty, NaN or infinite values ({report.rows(bad)}).")


def _non_negative_metrics(spec) -> list[str]:
    """The task's built-in metrics that need values of 0 or more (a plugin of the same name decides for itself)."""
    plugins = {plugin.name for plugin in getattr(spec, "plugins", ())}
    return [name for name in spec.metric_names if name in NON_NEGATIVE and name not in plugins]


def _note_out_of_range(values: np.ndarray, name: str, report: _Report, non_negative: list[str]) -> None:
    """Note predicted values beyond ±``LARGEST_VALUE``, and negative ones when a metric needs 0 or more. The
    smallest and largest value are found first (every row's own check runs only when one is out of range); a NaN
    or infinite cell was noted as the column was read."""
    if not len(values):
        return
    low, high = float(np.min(values)), float(np.max(values))
    if not (np.isfinite(low) and np.isfinite(high)):
        return
    if high > LARGEST_VALUE or low < -LARGEST_VALUE:
        far = np.flatnonzero(np.abs(values) > LARGEST_VALUE)
        report.add(
            f"column '{name}' has {len(far)} values larger in magnitude than {LARGEST_VALUE:.0e}, the largest "
            f"Arena accepts, e.g. {_examples(values[far])} at {report.rows(far)}. Write every value between "
            f"-{LARGEST_VALUE:.0e} and {LARGEST_VALUE:.0e}."
        )
    if non_negative and low < 0:
        negative = np.flatnonzero(values < 0)
        report.add(
            f"column '{name}' has {len(negative)} negative values, e.g. {_examples(values[negative])} at "
            f"{report.rows(negative)}: {NON_NEGATIVE[non_negative[0]]}, so every prediction must be 0 or "
            "more. Clip negative predictions at 0."
        )


def check_answer_values(task: Task) -> list[Problem]:
    """An answer key Arena can score: answers (of a value task) and row weights of 0 or between ``SMALLEST_ANSWER``
    and ``LARGEST_VALUE`` in magnitude, answers of 0 or more for rmsle, and numbers as classes for a metric that
    weighs classes by value (qwk_kaggle)."""
    spec = task.spec
    problems = []
    classes = task.classes if spec.is_classification else None
    for name in dict.fromkeys(spec.metric_names):
        if (why := class_value_problem(name, classes)) is not None:
            problems.append(Problem(f"{Path(spec.bundle_dir) / 'task.toml'} [metrics]", why))
    where = str(spec.answers_file or spec.data_file or "answers")
    ids = task.answers[spec.id_column].to_numpy()

    def named(rows: np.ndarray) -> str:
        return f"{len(rows)} rows, e.g. ids {ids[rows[:EXAMPLES]].tolist()}"

    columns: list[tuple[str, str, list[str]]] = []  # (role, column, metrics that need it non-negative)
    if spec.prediction == "value" and spec.target in task.answers.columns:
        columns.append(("target", spec.target, _non_negative_metrics(spec)))
    weight = getattr(spec, "weight", None)
    if weight is not None and weight in task.answers.columns:
        columns.append(("weight", weight, []))
    for role, column, non_negative in columns:
        values = pd.to_numeric(task.answers[column], errors="coerce").to_numpy(dtype=np.float64)
        finite = np.isfinite(values)  # empty and non-numeric cells are reported by the checks of the column itself
        size = np.where(finite, np.abs(values), 0.0)
        large, small = np.flatnonzero(size > LARGEST_VALUE), np.flatnonzero((size > 0) & (size < SMALLEST_ANSWER))
        if len(large):
            problems.append(
                Problem(
                    where,
                    f"{role} column '{column}' has values larger in magnitude than "
                    f"{LARGEST_VALUE:.0e}, the largest Arena scores ({named(large)}): squares and sums "
                    "of them overflow. Rescale the column (in thousands or millions, say).",
                )
            )
        if len(small):
            problems.append(
                Problem(
                    where,
                    f"{role} column '{column}' has values other than 0 closer to 0 than "
                    f"{SMALLEST_ANSWER:.0e} ({named(small)}): their squares vanish. Rescale the "
                    "column, or write such values as 0.",
                )
            )
        negative = np.flatnonzero(finite & (values < 0))
        if non_negative and len(negative):
            problems.append(
                Problem(
                    where,
                    f"{role} column '{column}' has negative answers ({named(negative)}), but "
                    f"{NON_NEGATIVE[non_negative[0]]}: the answers must be 0 or more.",
                )
            )
    return problems


def check_sample_submission(task: Task) -> list[Problem]:
    """The organiser's own sample submission must be a valid submission of the task."""
    if task.spec.sample_file is None:
        return []
    try:
        predictions = read_submission(task, task.spec.sample_file)
    except SubmissionError as exc:
        return [
            Problem(str(task.spec.sample_file), f"is not a valid submission for this task: {p}") for p in exc.messages()
        ]
    key = task.answer_key
    if task.spec.kind in TEXT_TARGET_KINDS:
        return []
    matching: float | None
    if predictions.texts is not None:  # a text task: its sample must not be the references themselves
        answers = as_objects(predictions.texts)
        matching = float(np.mean([answer in refs for answer, refs in zip(answers, key.truth, strict=True)]))
        leaks = matching > 0.5 and len({refs[0] for refs in key.truth}) > 1
    elif predictions.columns is not None:  # declared columns: those the answers hold too must not match them
        matching = matching_share(predictions.columns, task.answers.sort_values(task.spec.id_column, kind="stable"))
        leaks = matching is not None and matching > 0.5
    elif predictions.label_codes() is not None and key.classes is not None:
        matching = float(np.mean(predictions.label_codes() == key.truth))
        leaks = matching >= 0.9 and matching > np.bincount(key.truth).max() / len(key.truth) + 0.1
    else:
        if predictions.values is None:
            raise ValueError(f"the sample submission of {task.name!r} was read without its values")
        matching = float(np.mean(np.isclose(predictions.values, key.truth)))
        leaks = matching > 0.5 and len(np.unique(key.truth)) > 1
    if leaks:
        return [
            Problem(
                str(task.spec.sample_file),
                f"matches the hidden answers on {matching:.0%} of the rows: it would "
                "give the answer key away. Ship a trivial one (one class for every row, or the training mean).",
            )
        ]
    return []


def _copy_blocks(column: pa.ChunkedArray, out: np.ndarray) -> None:
    """The column's blocks (as the reader left them) copied into ``out``, the blocks shared among the cores."""
    starts = np.cumsum([0] + [len(chunk) for chunk in column.chunks])
    rows_per_block = max(1, len(column) // max(1, column.num_chunks))

    def copy(blocks: slice) -> None:
        for b in range(blocks.start, blocks.stop):
            out[starts[b] : starts[b + 1]] = column.chunk(b).to_numpy(zero_copy_only=False)

    over_slices(copy, column.num_chunks, item_rows=rows_per_block)


def _label_codes(column: pa.ChunkedArray, classes: np.ndarray, report: _Report) -> np.ndarray:
    """Class codes (indexes into ``classes``) for a label column, noting empty or unknown labels."""
    if column.null_count:
        positions = np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))
        report.add(f"{column.null_count} rows have an empty label ({report.rows(positions)}).")
        return np.zeros(len(column), dtype=np.int64)
    k = len(classes)
    whole = _whole_numbers(column) if np.issubdtype(classes.dtype, np.integer) else None
    if whole is not None:
        values = whole
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
        report.add(
            f"{len(outside)} labels are not among the task's classes ({_examples(np.array([str(c) for c in classes]))}), "
            f"e.g. {_examples(unknown)} at {report.rows(outside)}."
        )
    return codes.astype(np.int64, copy=False)
