"""Tables for papers: a suite board or a two-model comparison as CSV, JSON, Parquet, LaTeX or Markdown.

A :class:`Table` is format-free: columns, rows of :class:`Cell` (a value, its 95% interval, and a mark when it is
the best of its column or not significantly worse than the best), and notes that say how the numbers were made.
:func:`render` writes it in one of :data:`FORMATS`, always the same bytes for the same table, so a release that
stores an export can promise it never changes a byte.

Every value with an interval reads ``0.912 [0.905, 0.919]`` in the text of LaTeX, Markdown and CSV; CSV, JSON and
Parquet also carry the numbers apart (``KEY_value``, ``KEY_ci_low``, ``KEY_ci_high``, ``KEY_mark``), so a script
reads them without parsing text. Names come from participants, so each format makes them inert: LaTeX escapes
every special character, Markdown every character that could make a link, an HTML tag or a new cell, and CSV
quotes a cell a spreadsheet would run as a formula. JSON and Parquet carry the names as they are: they are data.
"""

from __future__ import annotations

import csv
import io
import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from arena.errors import ArenaError
from arena.hidden_text import is_hidden

FORMATS = ("csv", "json", "parquet", "latex", "markdown")
EXTENSIONS = {"csv": "csv", "json": "json", "parquet": "parquet", "latex": "tex", "markdown": "md"}
"""The file extension of each format (a download's name, a release's stored file)."""
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
    "latex": "application/x-tex; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}
BINARY_FORMATS = frozenset({"parquet"})
"""Formats that are not text: a terminal cannot show them."""
MARKS = ("best", "tied")
"""A cell's mark: the best of its column, or not significantly worse than the best ("tied")."""
PART_SUFFIXES = ("_value", "_ci_low", "_ci_high", "_mark")
"""The columns CSV, JSON and Parquet add after a numeric column's text, with the numbers apart."""


class ExportError(ArenaError):
    headline = "The export cannot be made"


@dataclass(frozen=True)
class Cell:
    """One cell: a name or a number, the number's 95% interval, and its mark ("best", "tied" or None)."""

    value: float | int | str | bool | None
    ci: tuple[float, float] | None = None
    mark: str | None = None


@dataclass(frozen=True)
class Table:
    """A table for a paper: ``columns`` are (key, header); a row maps a column's key to its cell (a key it lacks
    is an empty cell); ``notes`` are printed under the table and say how its numbers were made."""

    title: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Cell]]
    notes: list[str]
    decimals: int = 3
    numbers: tuple[str, ...] = ()  # columns that carry numbers even while no row has one yet (pending statistics)


def export_format(name: str | None) -> str:
    """The format a name or a file extension asks for ("tex" is latex, "md" markdown); anything else is refused
    with the list of formats, so the person asking can pick one."""
    wanted = (name or "").strip().lower()
    for fmt, extension in EXTENSIONS.items():
        if wanted in (fmt, extension):
            return fmt
    if not wanted:
        raise ExportError(f"no format asked for: ask for one of {', '.join(FORMATS)}.")
    raise ExportError(f"{name!r:.60} is not an export format: ask for one of {', '.join(FORMATS)}.")


def render(table: Table, fmt: str) -> bytes:
    """The table in format ``fmt`` (one of :data:`FORMATS`): the same table always gives the same bytes."""
    if fmt not in FORMATS:
        raise ExportError(f"{fmt!r} is not an export format: ask for one of {', '.join(FORMATS)}.")
    _check(table)
    if fmt == "csv":
        return _csv(table)
    if fmt == "json":
        return _json(table)
    if fmt == "parquet":
        return _parquet(table)
    if fmt == "latex":
        return _latex(table)
    return _markdown(table)


# --- what every format shares ---------------------------------------------------------------------------------


def _finite(value: object) -> object:
    """A cell's value with NaN and infinities as None: no format has one number for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value) is not None


def _number_text(value: float | int, decimals: int) -> str:
    if isinstance(value, int):
        return str(value)
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"


def _interval(cell: Cell) -> tuple[float | int, float | int] | None:
    if cell.ci is None or len(cell.ci) != 2 or not all(_is_number(end) for end in cell.ci):
        return None
    return cell.ci[0], cell.ci[1]


def cell_text(cell: Cell, decimals: int) -> str | None:
    """What a cell shows: ``0.912 [0.905, 0.919]`` for a number with its interval, a name as it is, "yes" or
    "no", or None for an empty cell."""
    value = _finite(cell.value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not _is_number(value):
        return str(value)
    text = _number_text(value, decimals)
    ci = _interval(cell)
    if ci is not None:
        text += f" [{_number_text(ci[0], decimals)}, {_number_text(ci[1], decimals)}]"
    return text


def _numeric_keys(table: Table) -> set[str]:
    """The columns with a number, an interval or a mark in any cell: they get the parts with the numbers apart."""
    found = set(table.numbers)
    for row in table.rows:
        for key, cell in row.items():
            if _is_number(cell.value) or _interval(cell) is not None or cell.mark is not None:
                found.add(key)
    return found


def flat_names(key: str, numeric: bool) -> list[str]:
    """The columns of CSV, JSON and Parquet that one table column becomes."""
    return [key, *(key + suffix for suffix in PART_SUFFIXES)] if numeric else [key]


def _check(table: Table) -> None:
    """Refuse a table no format can write faithfully: a programming error of whoever built it."""
    keys = [key for key, _ in table.columns]
    numeric = _numeric_keys(table)
    names = [name for key in keys for name in flat_names(key, key in numeric)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"the table's columns would share the names {twice}: give them other keys.")
    for row in table.rows:
        unknown = sorted(set(row) - set(keys))
        if unknown:
            raise ValueError(f"a row has cells for columns the table does not have: {unknown}.")
        bad = sorted({str(cell.mark) for cell in row.values() if cell.mark is not None and cell.mark not in MARKS})
        if bad:
            raise ValueError(f"unknown marks {bad}: a mark is one of {MARKS}.")
    if not 0 <= table.decimals <= 12:
        raise ValueError("decimals must be between 0 and 12.")


def _records(table: Table) -> tuple[list[str], dict[str, str], list[dict[str, object]]]:
    """The flat columns (names, and each one's type: text, int, float) and one record per row."""
    numeric = _numeric_keys(table)
    names: list[str] = []
    types: dict[str, str] = {}
    for key, _ in table.columns:
        names += flat_names(key, key in numeric)
        types[key] = "text"
        if key in numeric:
            ends = [
                end
                for row in table.rows
                if key in row
                for end in (row[key].value, *(_interval(row[key]) or ()))
                if _is_number(end)
            ]
            kind = "int" if ends and all(isinstance(end, int) for end in ends) else "float"
            types |= {key + "_value": kind, key + "_ci_low": kind, key + "_ci_high": kind, key + "_mark": "text"}
    records = []
    for row in table.rows:
        record: dict[str, object] = {}
        for key, _ in table.columns:
            cell = row.get(key, Cell(None))
            record[key] = cell_text(cell, table.decimals)
            if key in numeric:
                ci = _interval(cell) or (None, None)
                cast = int if types[key + "_value"] == "int" else float
                value = _finite(cell.value)
                record[key + "_value"] = cast(value) if _is_number(value) else None
                record[key + "_ci_low"] = None if ci[0] is None else cast(ci[0])
                record[key + "_ci_high"] = None if ci[1] is None else cast(ci[1])
                record[key + "_mark"] = cell.mark
        records.append(record)
    return names, types, records


def _legend_needed(table: Table) -> bool:
    return any(cell.mark is not None for row in table.rows for cell in row.values())


PLAIN_LEGEND = "mark: best = the best in its column; tied = not significantly worse than the best."


def _about(table: Table) -> dict[str, object]:
    """What JSON and Parquet carry beside the rows: the title, the columns' headers, the notes."""
    numeric = _numeric_keys(table)
    notes = [*table.notes, *([PLAIN_LEGEND] if _legend_needed(table) else [])]
    return {
        "title": table.title,
        "columns": [
            {"key": key, "header": header, "kind": "number" if key in numeric else "text"}
            for key, header in table.columns
        ],
        "notes": notes,
        "decimals": table.decimals,
    }


# --- CSV, JSON, Parquet: the numbers apart ---------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (the same rule as the
competition boards' CSV; the library may not import the server's)."""


def spreadsheet_safe(text: str) -> str:
    """Text a spreadsheet shows as text, never runs: a leading formula character gets a quote (OWASP)."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv(table: Table) -> bytes:
    names, _, records = _records(table)
    texts = {key for key, _ in table.columns}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(name) for name in names])
    for row, record in zip(table.rows, records):
        line = []
        for name in names:
            value = record[name]
            if value is None:
                line.append("")
            elif name in texts and isinstance(row.get(name, Cell(None)).value, str):
                line.append(spreadsheet_safe(str(value)))  # a name: a participant's text
            elif isinstance(value, float):
                line.append(repr(value))
            else:
                line.append(str(value))  # numbers, their interval text and marks: Arena's own text
        writer.writerow(line)
    return buffer.getvalue().encode()


def _json(table: Table) -> bytes:
    names, _, records = _records(table)
    data = {**_about(table), "rows": [{name: record[name] for name in names} for record in records]}
    return (json.dumps(data, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode()


def _parquet(table: Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names, types, records = _records(table)
    arrow = {"text": pa.string(), "int": pa.int64(), "float": pa.float64()}
    schema = pa.schema(
        [pa.field(name, arrow[types[name]]) for name in names],
        metadata={"arena": json.dumps(_about(table), ensure_ascii=True, sort_keys=True)},
    )
    columns = [pa.array([record[name] for record in records], type=arrow[types[name]]) for name in names]
    buffer = io.BytesIO()
    pq.write_table(  # every option pinned: the same table is the same bytes
        pa.Table.from_arrays(columns, schema=schema),
        buffer,
        version="2.6",
        compression="snappy",
        use_dictionary=False,
        write_statistics=True,
        data_page_version="1.0",
        store_schema=True,
        write_page_index=False,
        write_page_checksum=False,
        row_group_size=max(1, len(records)),
    )
    return buffer.getvalue()


# --- LaTeX and Markdown: a table to paste into a paper ---------------------------------------------------------


def _plain(text: str) -> str:
    """Text on one line with nothing hidden: line breaks and tabs become spaces, invisible characters go."""
    out = []
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(" ")
        elif not is_hidden(ch):
            out.append(ch)
    return "".join(out)


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "[": "{[}",  # a cell starting with "[" after "\\" would be read as the line break's optional argument
    "]": "{]}",
}


def latex_escape(text: str) -> str:
    """Text that LaTeX prints as it reads, never runs: every special character escaped, on one line."""
    plain = _plain(text)
    return "".join(
        "-{}" if ch == "-" and plain[i + 1 : i + 2] == "-" else _LATEX_SPECIALS.get(ch, ch)  # no "--" ligature
        for i, ch in enumerate(plain)
    )


def _latex_cell(cell: Cell, decimals: int) -> str:
    text = cell_text(cell, decimals)
    if text is None:
        shown = "--"
    elif isinstance(cell.value, str):
        shown = latex_escape(text)
    else:
        shown = text.replace("-", "$-$")  # a number's minus sign, not a hyphen
    if cell.mark == "best":
        return r"\textbf{" + shown + "}"
    if cell.mark == "tied":
        return r"\underline{" + shown + "}"
    return shown


def _latex(table: Table) -> bytes:
    numeric = _numeric_keys(table)
    spec = "".join("r" if key in numeric else "l" for key, _ in table.columns)
    lines = [
        r"% Needs \usepackage{booktabs} in the preamble.",
        r"\begin{table}[htbp]",
        r"\centering",
        r"\caption{" + latex_escape(table.title) + "}",
        r"\begin{tabular}{" + spec + "}",
        r"\toprule",
        " & ".join(latex_escape(header) for _, header in table.columns) + r" \\",
        r"\midrule",
    ]
    for row in table.rows:
        lines.append(
            " & ".join(_latex_cell(row.get(key, Cell(None)), table.decimals) for key, _ in table.columns) + r" \\"
        )
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = [latex_escape(note) for note in table.notes]
    if _legend_needed(table):
        notes.insert(
            0, r"\textbf{Bold}: the best in its column; \underline{underlined}: not significantly worse than the best."
        )
    if notes:
        lines += ["", r"\smallskip", r"{\footnotesize " + " ".join(notes) + r"\par}"]
    lines.append(r"\end{table}")
    return ("\n".join(lines) + "\n").encode()


_MARKDOWN_SPECIALS = set("\\`*_[]<>|~&$^")
"""Backslash-escaped: emphasis, code, links (a "(" is harmless without "["), HTML tags, entities, a cell's end,
strike-through, and the maths and superscripts some renderers add."""


def markdown_escape(text: str) -> str:
    """Text that Markdown shows as it reads, on one line: no emphasis, link, HTML tag, entity or new cell."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in _plain(text))


def _markdown_cell(cell: Cell, decimals: int) -> str:
    text = cell_text(cell, decimals)
    if text is None:
        return "–"
    shown = markdown_escape(text) if isinstance(cell.value, str) else text
    if cell.mark == "best":
        return f"**{shown}**"
    if cell.mark == "tied":
        return f"_{shown}_"
    return shown


def _markdown(table: Table) -> bytes:
    numeric = _numeric_keys(table)
    lines = [f"**{markdown_escape(table.title)}**", ""] if table.title.strip() else []
    lines += [
        "| " + " | ".join(markdown_escape(header) for _, header in table.columns) + " |",
        "| " + " | ".join("---:" if key in numeric else ":---" for key, _ in table.columns) + " |",
    ]
    for row in table.rows:
        cells = [_markdown_cell(row.get(key, Cell(None)), table.decimals) for key, _ in table.columns]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [markdown_escape(note) for note in table.notes]
    if _legend_needed(table):
        notes.insert(0, "**Bold**: the best in its column; _italic_: not significantly worse than the best.")
    for note in notes:
        lines += ["", note]
    return ("\n".join(lines) + "\n").encode()


# --- the tables Arena exports ----------------------------------------------------------------------------------

BOARD_COLUMNS = (("rank", "Rank"), ("model", "Model"), ("owner", "Owner"), ("aggregate", "Aggregate"))
"""A board's first columns (a "Tier" column goes before the aggregate where the board gives each model's tier)."""


def _pair(value: object) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(end) for end in value):
        return value[0], value[1]
    return None


def _task_keys(tasks: list[Mapping]) -> dict[str, str]:
    """Each task's column key: its own, or prefixed with "task_" where it would share a column's name with
    another column (a task called "rank" or "model")."""
    used = {name for key, _ in (*BOARD_COLUMNS, ("tier", "")) for name in flat_names(key, True)}
    keys = {}
    for task in tasks:
        key = str(task["key"])
        while used & set(flat_names(key, True)):
            key = "task_" + key
        used |= set(flat_names(key, True))
        keys[str(task["key"])] = key
    return keys


def board_table(board: Mapping, marks: Mapping[str, Mapping[str, str]] | None = None, *, decimals: int = 3) -> Table:
    """A suite board (as :meth:`arena.server.suite_boards.SuiteBoard.to_dict` gives it, or its JSON) as a table:
    rank with its interval, model, owner, the aggregate and each task's score with their 95% intervals.

    ``marks`` maps a column ("aggregate" or a task's key) to {model: "best" | "tied"}.
    """
    marks = marks or {}
    tasks = list(board.get("tasks") or [])
    keys = _task_keys(tasks)
    tiers = any("tier" in row for row in board.get("rows") or [])  # the verification tier, where the board has it
    fixed = [*BOARD_COLUMNS[:3], *([("tier", "Tier")] if tiers else []), *BOARD_COLUMNS[3:]]
    columns = [*fixed, *((keys[str(t["key"])], str(t.get("title") or t["key"])) for t in tasks)]
    rows = []
    for row in board.get("rows") or []:
        model = str(row["model"])
        rank = row.get("rank") if row.get("ranked", row.get("rank") is not None) else None
        cells = {
            "rank": Cell(rank, _pair(row.get("rank_interval")) if rank is not None else None),
            "model": Cell(model),
            "owner": Cell(str(row.get("owner", ""))),
            **({"tier": Cell(str(row.get("tier") or "reported"))} if tiers else {}),
            "aggregate": Cell(
                row.get("aggregate"), _pair(row.get("aggregate_ci")), marks.get("aggregate", {}).get(model)
            ),
        }
        for task in tasks:
            score = (row.get("scores") or {}).get(task["key"]) or {"status": "missing"}
            mark = marks.get(str(task["key"]), {}).get(model)
            if score.get("status") == "scored" and score.get("score") is not None:
                cells[keys[str(task["key"])]] = Cell(score["score"], _pair((score["ci_low"], score["ci_high"])), mark)
            else:
                cells[keys[str(task["key"])]] = Cell(str(score.get("status") or "missing"))
        rows.append(cells)
    return Table(
        title=f"{board.get('title') or board['name']} (suite {board['name']}, version {board.get('version')})",
        columns=columns,
        rows=rows,
        notes=_board_notes(board, tasks),
        decimals=decimals,
        numbers=("rank", "aggregate", *keys.values()),
    )


def _board_notes(board: Mapping, tasks: list[Mapping]) -> list[str]:
    direction = "higher" if board.get("higher_is_better", True) else "lower"
    notes = [
        f"Aggregate: {board.get('method')} over {len(tasks)} tasks ({direction} is better).",
        "Each value is followed by its 95% interval: a task's from a bootstrap of its test rows; the aggregate's "
        f"and the rank's from one joint bootstrap of every task's rows ({board.get('resamples')} resamples).",
    ]
    if tasks:
        notes.append(
            "Tasks: "
            + "; ".join(
                f"{t.get('title') or t['key']}: {t.get('metric')}, "
                f"{'higher' if t.get('higher_is_better', True) else 'lower'} is better"
                + ("" if t.get("board", "private") == "private" else ", public rows until its reveal")
                for t in tasks
            )
            + "."
        )
    if board.get("pending"):
        notes.append("The aggregates, intervals and ranks are still being computed: export again shortly.")
    elif any(row.get("rank") is None for row in board.get("rows") or []):
        notes.append("A model without a rank lacks a scored submission for some task.")
    flagged = [row for row in board.get("rows") or [] if row.get("flag_reason")]
    if flagged:
        notes.append(
            "Flagged by the organisers, and not ranked: "
            + "; ".join(f"{row['model']} ({row['flag_reason']})" for row in flagged)
            + "."
        )
    if board.get("tier") not in (None, "reported"):
        notes.append(f"Only models verified at tier '{board['tier']}' or above are shown.")
    if board.get("hide_extra_data"):
        notes.append("Models that declare extra training data are left out.")
    if board.get("hide_trained_on_test"):
        notes.append("Models that declare training on test inputs are left out.")
    return notes


COMPARISON_COLUMNS = (
    ("task", "Task"),
    ("metric", "Metric"),
    ("a", "A"),
    ("b", "B"),
    ("difference", "A - B"),
    ("p_a_better", "P(A better)"),
    ("outcome", "Outcome for A"),
)


def _pair_marks(a: object, b: object, higher: bool, outcome: object) -> tuple[str | None, str | None]:
    """The marks of A's and B's cells: the better one is best; the other is tied when the difference's interval
    holds 0, unmarked when it does not."""
    if not (_is_number(a) and _is_number(b)) or outcome not in ("win", "tie", "loss"):
        return None, None
    if outcome == "win":
        return "best", None
    if outcome == "loss":
        return None, "best"
    if a == b:
        return "best", "best"
    a_better = (a > b) == higher
    return ("best", "tied") if a_better else ("tied", "best")


def _outcome(difference: object, ci: tuple[float, float] | None, higher: bool) -> str | None:
    """A's outcome from the difference A - B and its interval: a tie when the interval holds 0."""
    if ci is None or not _is_number(difference):
        return None
    if ci[0] <= 0 <= ci[1]:
        return "tie"
    return "win" if (difference > 0) == higher else "loss"


def comparison_table(comparison: Mapping, *, decimals: int = 3) -> Table:
    """A two-model comparison (the compare API's JSON) as a table: one row per task and one for the aggregate,
    with A's and B's scores, the difference and its 95% interval, the chance A is better, and the outcome."""
    from arena.suites.aggregate import HIGHER_IS_BETTER

    a, b = str(comparison["a"]), str(comparison["b"])
    headers = {"a": f"A: {a}", "b": f"B: {b}"}
    columns = [(key, headers.get(key, header)) for key, header in COMPARISON_COLUMNS]
    rows = []
    for task in comparison.get("tasks") or []:
        higher = bool(task.get("higher_is_better", True))
        rows.append(_comparison_row(str(task.get("title") or task["key"]), str(task.get("metric", "")), task, higher))
    total = comparison.get("aggregate")
    if total:
        method = str(comparison.get("method", ""))
        higher = HIGHER_IS_BETTER.get(method, True)
        if not total.get("outcome"):
            total = {**total, "outcome": _outcome(total.get("difference"), _pair(total.get("ci")), higher)}
        rows.append(_comparison_row("Aggregate", method, total, higher))
    return Table(
        title=f"{a} against {b} on suite {comparison.get('suite')}, version {comparison.get('version')}",
        columns=columns,
        rows=rows,
        notes=_comparison_notes(comparison),
        decimals=decimals,
        numbers=("a", "b", "difference", "p_a_better"),
    )


def _comparison_row(title: str, metric: str, found: Mapping, higher: bool) -> dict[str, Cell]:
    mark_a, mark_b = _pair_marks(found.get("a"), found.get("b"), higher, found.get("outcome"))
    outcome = found.get("outcome")
    return {
        "task": Cell(title),
        "metric": Cell(f"{metric} ({'higher' if higher else 'lower'} is better)" if metric else ""),
        "a": Cell(found.get("a"), mark=mark_a),
        "b": Cell(found.get("b"), mark=mark_b),
        "difference": Cell(found.get("difference"), _pair(found.get("ci"))),
        "p_a_better": Cell(found.get("p_a_better")),
        "outcome": Cell(str(outcome) if outcome else None),
    }


def _comparison_notes(comparison: Mapping) -> list[str]:
    a, b = comparison["a"], comparison["b"]
    notes = [f"A = {a}, B = {b}."]
    if comparison.get("wins") is not None:
        notes.append(
            f"Per task: {comparison.get('wins')} wins, {comparison.get('ties')} ties and {comparison.get('losses')} "
            "losses for A; a tie is a difference whose 95% interval holds 0."
        )
    notes.append(
        f"Differences are A - B with 95% paired bootstrap intervals ({comparison.get('resamples')} resamples); "
        "P(A better) is the share of resamples in which A is better."
    )
    test = comparison.get("wilcoxon") or {}
    if _is_number(test.get("p_value")):
        statistic = test.get("statistic")
        shown = _number_text(statistic, 3) if _is_number(statistic) else "n/a"
        notes.append(
            f"Wilcoxon signed-rank test over {test.get('tasks')} tasks: statistic {shown}, "
            f"p = {_number_text(test['p_value'], 3)}."
        )
    elif not comparison.get("pending"):
        notes.append("Wilcoxon signed-rank test: too few tasks with a difference to test.")
    if comparison.get("pending"):
        notes.append("The differences and their intervals are still being computed: export again shortly.")
    return notes
