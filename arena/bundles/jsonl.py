"""JSON Lines tables: one JSON object per line, read with pyarrow within bounds hostile bytes cannot stretch.

Submissions and a bundle's data files may be JSON Lines (``.jsonl``, ``.jsonl.gz``). Arrow's JSON reader is fast
but has two sharp edges this module files down: a value nested many thousands deep crashes it (so every line that
holds more brackets than a flat object needs is first read by Python's parser, which refuses deep nesting with an
error), and its messages count rows within a block, not the file's lines (so when it fails, a second pass with
Python's parser names the lines at fault). Blank lines are skipped, as Arrow skips them; :func:`read_jsonl` returns
each row's line number so that later checks name lines too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson

MIN_BLOCK_BYTES = 1 << 20
EXAMPLES = 5
BOM = b"\xef\xbb\xbf"


class JsonlError(ValueError):
    """The bytes are not a JSON Lines table of the expected shape; ``problems`` name the lines at fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class JsonlTable:
    """What :func:`read_jsonl` read: the table, and the line (counting from 1) each of its rows came from."""

    table: pa.Table
    lines: np.ndarray


def looks_like_jsonl(head: bytes) -> bool:
    """Whether a file's first bytes start a JSON object (after a byte-order mark and blank space): a CSV header
    never does."""
    return head.removeprefix(BOM).lstrip(b" \t\r\n").startswith(b"{")


def line_bounds(data: bytes | memoryview) -> tuple[np.ndarray, np.ndarray]:
    """The start and end offset of every line of ``data`` (ends exclude the line break)."""
    octets = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(octets == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(octets)]))
    return starts, ends


def _per_line(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many of each line's bytes ``mask`` marks."""
    total = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    return total[ends] - total[starts]


def read_jsonl(
    data: bytes,
    *,
    text_columns: Sequence[str] = (),
    lists: bool = False,
    what: str = "the file",
) -> JsonlTable:
    """A table from JSON Lines ``data``: one object per line, keys as columns.

    ``text_columns`` are read as text, and a line giving one of them a number or true/false is refused (so
    ``"007"`` stays ``"007"`` and a number is never taken for text). With ``lists`` a value may be a list of
    texts (a data file's several references); otherwise every value must be a plain number, text, true/false or
    null. Raises :class:`JsonlError` with the lines at fault.
    """
    if data.startswith(BOM):
        data = data[len(BOM) :]
    starts, ends = line_bounds(data)
    octets = np.frombuffer(data, dtype=np.uint8)
    blank = _per_line(~np.isin(octets, (9, 10, 13, 32)), starts, ends) == 0
    line_numbers = np.flatnonzero(~blank) + 1
    opening = _per_line((octets == ord("{")) | (octets == ord("[")), starts, ends)
    problems = _nested(data, starts, ends, np.flatnonzero(opening > 1), lists)  # more than the object's own brace
    if problems:
        raise JsonlError(problems)
    longest = int((ends - starts).max(initial=0))
    schema = pa.schema([(name, pa.string()) for name in text_columns])
    try:
        table = pajson.read_json(
            pa.BufferReader(data),
            read_options=pajson.ReadOptions(use_threads=True, block_size=max(MIN_BLOCK_BYTES, longest + 2)),
            parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer", newlines_in_values=False
            ),
        )
    except pa.ArrowInvalid as exc:
        raise JsonlError(
            diagnose(data, text_columns, lists) or [f"{what} cannot be read as JSON Lines: {exc}"]
        ) from None
    if table.num_rows != len(line_numbers):  # a line Arrow skipped or split: name lines by Python's reading
        raise JsonlError(diagnose(data, text_columns, lists) or [f"{what} holds lines that are not one object each."])
    for name in text_columns:  # a text column no line gives is missing, not empty: the checks say which key
        if name in table.column_names and table.column(name).null_count == table.num_rows:
            table = table.drop_columns([name])
    return JsonlTable(table, line_numbers)


def _nested(data: bytes, starts: np.ndarray, ends: np.ndarray, lines: np.ndarray, lists: bool) -> list[str]:
    """Problems of the lines that hold more brackets than a flat object needs, each read by Python's parser
    (which refuses nesting too deep for it with an error, where Arrow's reader would crash)."""
    problems: list[str] = []
    for index in lines:
        line = data[starts[index] : ends[index]]
        try:
            value = json.loads(line)
        except RecursionError:
            problems.append(f"line {index + 1} nests lists or objects too deeply; write one flat object per line.")
        except UnicodeDecodeError:
            problems.append(f"line {index + 1} is not UTF-8 text. Save the file as UTF-8.")
        except ValueError as exc:
            problems.append(f"line {index + 1} is not valid JSON ({_reason(exc)}).")
        else:
            if (problem := _shape(value, index + 1, lists)) is not None:
                problems.append(problem)
        if len(problems) >= EXAMPLES:
            break
    return problems


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    return str(exc)[:200]


def _shape(value: object, line: int, lists: bool) -> str | None:
    """What is wrong with one line's value, or None: an object of plain values (or lists of texts, with ``lists``)."""
    if not isinstance(value, dict):
        return (
            f"line {line} holds {_kind(value)}, not an object; write one object per line, "
            'e.g. {"id": 1, "answer": "Paris"}.'
        )
    for key, item in value.items():
        if isinstance(item, dict) or (isinstance(item, list) and not lists):
            return f"line {line}: '{key}' holds {_kind(item)}; write one plain number or text per key."
        if isinstance(item, list) and not all(isinstance(x, str) for x in item):
            return f"line {line}: '{key}' holds a list of other things than texts; write a list of texts in quotes."
    return None


def _kind(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a text", bool: "true or false", int: "a number"}
    return "null" if value is None else names.get(type(value), "a number")


def diagnose(data: bytes, text_columns: Sequence[str] = (), lists: bool = False) -> list[str]:
    """The lines at fault, read one by one by Python's parser: bad JSON, a line that is not an object, a nested
    value, a text column given a number, a key whose type changes from line to line."""
    problems: list[str] = []
    first_type: dict[str, tuple[str, int]] = {}
    text = set(text_columns)
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except RecursionError:
            problems.append(f"line {number} nests lists or objects too deeply; write one flat object per line.")
        except UnicodeDecodeError:
            problems.append(f"line {number} is not UTF-8 text. Save the file as UTF-8.")
        except ValueError as exc:
            problems.append(f"line {number} is not valid JSON ({_reason(exc)}).")
        else:
            problem = _shape(value, number, lists)
            if problem is None and isinstance(value, dict):
                problem = _types(value, number, text, first_type)
            if problem is not None:
                problems.append(problem)
        if len(problems) >= EXAMPLES:
            break
    return problems


def _types(value: dict, line: int, text: set[str], first_type: dict[str, tuple[str, int]]) -> str | None:
    for key, item in value.items():
        if item is None:
            continue
        kind = _kind(item)
        if key in text and not isinstance(item, (str, list)):
            return f"line {line}: '{key}' must be text in quotes, got {json.dumps(item)[:50]}."
        seen = first_type.setdefault(key, (kind, line))
        if seen[0] != kind:
            return f"line {line}: '{key}' holds {kind}, but line {seen[1]} gives it {seen[0]}; keep one type per key."
    return None
