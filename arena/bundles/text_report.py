"""What ``arena validate`` and ``arena data`` tell about a text task (``kind = "text"``).

A participant validating a file sees how Arena read their answers: the column, the rows, the empty answers, the
longest answer against its cap, and how answers are compared with the references. Nothing here reads the answer
key for that: a participant may run it against a hosted task, so no reference, and no count of rows with several
references, ever reaches those lines. An organiser validating a bundle owns the answer key, so
:func:`reference_lines` shows how its cells were read (one reference or several, one example row parsed, cells
that look like a mis-written JSON list), which catches a list that is read as one reference by mistake.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from arena.bundles.spec import NORMALISATIONS, TaskSpec
from arena.bundles.texts import max_answer_chars, max_text_bytes, parse_references

BEST = ("exact_match", "token_f1", "chrf", "rouge1", "rouge2", "rougeL")
"""Metrics that take, for each row, the reference the answer matches best."""
FIRST = ("wer", "cer")
"""Metrics that read only the first reference of each row (jiwer takes one transcript)."""
ALL = ("bleu",)
"""Metrics that read every reference of a row at once (sacrebleu's BLEU: n-grams clipped by any reference)."""
NORMALISED = ("exact_match", "token_f1")
"""Metrics that apply ``[metrics] normalise``."""
STEMMED = ("rouge1", "rouge2", "rougeL")
"""Metrics that stem words when ``[metrics] stemming = true``."""
LABEL = "  {:<16}"


def _line(label: str, text: str) -> str:
    return LABEL.format(label + ":") + text


def _shown(text: str, limit: int = 60) -> str:
    """A cell or answer to print: as written when that is unambiguous (one line, no spaces at either end), else as
    a JSON string, so quotes, line breaks and edge spaces show; cut at ``limit`` characters."""
    cut = text[:limit]
    if cut == cut.strip() and cut.isprintable() and cut:
        return cut + ("..." if len(text) > limit else "")
    quoted = json.dumps(cut, ensure_ascii=False)
    return quoted[:-1] + '..."' if len(text) > limit else quoted


def _size(n: int) -> str:
    """Bytes, KiB or MiB, whichever reads best."""
    if n < 2**10:
        return f"{n} bytes"
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"


def _count(n: int, word: str) -> str:
    """``1 row``, ``3 rows``: a count and its noun."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _names(names: list[str]) -> str:
    return ", ".join(names)


def comparison_lines(spec: TaskSpec) -> list[str]:
    """How the task's metrics compare an answer with its row's references, and the normalisation declared."""
    metrics = list(spec.metric_names)
    lines = []
    best = [m for m in metrics if m in BEST]
    if best:
        lines.append(
            _line(
                "compared",
                f"each answer against every accepted reference of its row, the best counting ({_names(best)})",
            )
        )
    every = [m for m in metrics if m in ALL]
    if every:
        lines.append(_line("compared", f"each answer against all references of its row at once ({_names(every)})"))
    first = [m for m in metrics if m in FIRST]
    if first:
        lines.append(_line("compared", f"each answer against the first reference of its row only ({_names(first)})"))
    own = [m for m in metrics if m not in (*BEST, *ALL, *FIRST)]
    if own:
        lines.append(_line("compared", f"as the task's own metric decides ({_names(own)})"))
    options = spec.text
    normalised = [m for m in metrics if m in NORMALISED]
    if normalised:
        how = NORMALISATIONS.get(options.normalise, options.normalise)
        if options.normalise == "numeric":
            how += f" (tolerance {options.tolerance:g}; other texts as squad)"
        lines.append(_line("normalise", f"{options.normalise} ({_names(normalised)}): {how}"))
    stemmed = [m for m in metrics if m in STEMMED]
    if stemmed:
        lines.append(_line("stemming", f"{'on' if options.stemming else 'off'} ({_names(stemmed)})"))
    return lines


def answer_lines(spec: TaskSpec, ids: np.ndarray, column: pa.Array, text_cap_bytes: int) -> list[str]:
    """What a valid submission's answers look like: its column, rows, empty answers, longest answer against the cap,
    and how they are compared. ``column`` holds the submission's texts, as read (an Arrow string array); the answer
    key is never read."""
    answers = column.to_pylist()
    rows = len(answers)
    lengths = np.fromiter((len(a) for a in answers), dtype=np.int64, count=rows)
    empty = int((lengths == 0).sum())
    blank = sum(1 for a in answers if a and not a.strip())
    total = sum(len(a.encode("utf-8")) for a in answers)
    lines = [
        _line("answer column", f"{spec.target}, one text per row, kept exactly as written"),
        _line("rows", f"{rows:,}"),
    ]
    spaces = f"; {_count(blank, 'more answer')} of spaces only" if blank else ""
    lines.append(
        _line(
            "empty answers",
            f"{empty:,}{spaces} (an empty answer is kept and scored; it counts as wrong unless the row accepts an "
            "empty reference)",
        )
    )
    if rows:
        longest = int(lengths.argmax())
        lines.append(
            _line(
                "longest answer",
                f"{int(lengths[longest]):,} characters (id {ids[longest]}); an answer may hold up to "
                f"{max_answer_chars():,} (ARENA_MAX_ANSWER_CHARS)",
            )
        )
    bound = (
        "ARENA_MAX_ANSWER_TEXT_MB"
        if text_cap_bytes >= max_text_bytes()
        else "enough for every row's answer at the longest allowed"
    )
    lines.append(
        _line(
            "text in all",
            f"{_size(total)}; a file may hold {_size(text_cap_bytes)} of text once decompressed ({bound})",
        )
    )
    return lines + comparison_lines(spec)


def _looks_like_list(cell: object) -> bool:
    """A text cell written like a JSON list that does not read as one: Arena takes it as one reference."""
    if not isinstance(cell, str):
        return False
    stripped = cell.strip()
    return stripped.startswith("[") and stripped.endswith("]") and parse_references(cell) == (cell,)


def reference_lines(spec: TaskSpec, answers: pd.DataFrame, where: str = "") -> list[str]:
    """For the organiser: how the answer key's cells were read. Rows with one reference and with several, one row's
    references as parsed, and warnings for cells likely mis-written (a list that is not valid JSON, references with
    spaces at either end under ``normalise = none``). Never shown to participants."""
    ids = answers[spec.id_column].to_numpy()
    cells = answers[spec.target].to_numpy()
    parsed = [parse_references(cell) for cell in cells]
    counts = np.fromiter((len(refs) for refs in parsed), dtype=np.int64, count=len(parsed))
    several = int((counts > 1).sum())
    lines = [
        _line(
            "references",
            f"{where}{_count(len(parsed), 'row')}: {len(parsed) - several:,} with one reference, {several:,} with several"
            + (f" (up to {int(counts.max())})" if several else ""),
        )
    ]
    empty = sum(1 for refs in parsed if "" in refs)
    if empty:
        lines.append(_line("empty", f"{_count(empty, 'row')} with an empty reference (an empty answer matches it)"))
    if len(parsed):
        row = int(np.argmax(counts > 1)) if several else 0
        lines.append(
            _line(
                "e.g. id " + str(ids[row]),
                f"cell {_shown(str(cells[row]))} read as {len(parsed[row])} reference"
                f"{'s' if len(parsed[row]) > 1 else ''}: " + json.dumps(list(parsed[row]), ensure_ascii=False)[:200],
            )
        )
    odd = [i for i, cell in enumerate(cells) if _looks_like_list(cell)]
    if odd:
        lines.append(
            _line(
                "check",
                f"{_count(len(odd), 'cell')} written like a list but not a JSON list of texts, so each is one reference as "
                f"written (e.g. id {ids[odd[0]]}: {_shown(str(cells[odd[0]]))}). If you meant several references, "
                'write them in double quotes: ["Paris", "paris, France"].',
            )
        )
    if spec.text.normalise == "none" and "exact_match" in spec.metric_names:
        padded = [i for i, refs in enumerate(parsed) if any(ref != ref.strip() for ref in refs)]
        if padded:
            lines.append(
                _line(
                    "check",
                    f"{_count(len(padded), 'row')} with a reference with spaces at either end (e.g. id {ids[padded[0]]}: "
                    f"{json.dumps(list(parsed[padded[0]]), ensure_ascii=False)[:100]}); with normalise = none an "
                    "answer must match them spaces and all.",
                )
            )
    return lines


def sample_lines(spec: TaskSpec, sample: pd.DataFrame, file_name: str = "sample_submission.csv") -> list[str]:
    """What ``arena data`` says of a text task's sample submission: the format it shows, and that JSON Lines is
    accepted too, with the sample's first row written as one."""
    lines = [
        f"{file_name} gives every test id one answer in column '{spec.target}' (text, kept exactly as written; "
        'quote answers that hold commas, quotes or line breaks; "" is an empty answer).'
    ]
    if len(sample):
        first = {spec.id_column: _plain(sample[spec.id_column].iloc[0]), spec.target: str(sample[spec.target].iloc[0])}
        lines.append(
            "JSON Lines (.jsonl, .jsonl.gz) is accepted too, one object per line: "
            + json.dumps(first, ensure_ascii=False)
        )
    return lines


def _plain(value: object) -> object:
    """A numpy scalar as the Python value JSON writes."""
    return value.item() if isinstance(value, np.generic) else value
