"""Model cards: the facts a model declares when it enters a suite.

A card is a small TOML or JSON file. Eight fields are required, because a board
is only comparable when every row declares them: what the model is (name,
version, parameter count, framework, licence, code) and two declarations a
reader filters on (extra training data; training on a task's test inputs). The
optional fields say where it comes from and how it was run, and what it costs: three
numbers a suite's efficiency columns show as reported (training seconds summed over
the tasks, inference seconds per 1,000 test rows, peak memory in MB; the parameter
count is required). ``run`` holds a run record (seed, command, commit, hardware, the
same costs measured, each task's version and answer-key hash), which
``arena baseline --suite`` fills in.
"""

from __future__ import annotations

import difflib
import json
import math
import reprlib
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, Problem
from arena.hidden_text import is_hidden

MAX_CARD_BYTES = 64 * 1024
MAX_TEXT = 2000  # characters of any one text field
MAX_DEPTH = 6  # tables within tables in 'software' and 'run' (a run record's deepest is run.tasks.TASK.settings)
REQUIRED = (
    "name",
    "version",
    "parameters",
    "framework",
    "licence",
    "code_url",
    "extra_training_data",
    "trained_on_test_inputs",
)
COSTS = ("training_seconds", "inference_seconds_per_1000_rows", "peak_memory_mb")
"""Optional numbers a card reports about its cost (the same keys a reference run's record measures)."""
OPTIONAL = ("paper_url", "commit", "hardware", "training_time", *COSTS, "notes", "software", "run")
FIELD_TITLES = {
    "name": "Name",
    "version": "Version",
    "parameters": "Parameters",
    "framework": "Framework",
    "licence": "Licence",
    "code_url": "Code",
    "extra_training_data": "Extra training data",
    "trained_on_test_inputs": "Trained on test inputs",
    "paper_url": "Paper",
    "commit": "Commit",
    "hardware": "Hardware",
    "training_time": "Training time",
    "training_seconds": "Training seconds",
    "inference_seconds_per_1000_rows": "Inference seconds per 1,000 rows",
    "peak_memory_mb": "Peak memory (MB)",
    "notes": "Notes",
}
HINTS = {
    "name": 'the model\'s name, e.g. name = "resnet-small" (letters, digits, ".", "-" and "_")',
    "version": 'the model\'s version, e.g. version = "1"',
    "parameters": "its number of trainable parameters, e.g. parameters = 93962",
    "framework": 'what it is built with, e.g. framework = "PyTorch 2.5"',
    "licence": 'the licence of the model and its code, e.g. licence = "MIT" (or "proprietary")',
    "code_url": 'where its code is, e.g. code_url = "https://…", or code_url = "none"',
    "extra_training_data": "whether it trained on data beyond the tasks' training sets: true or false",
    "trained_on_test_inputs": "whether it ever trained on a task's test inputs (even unlabelled): true or false",
    "training_seconds": "the wall time of training in seconds, summed over the tasks, e.g. training_seconds = 59.5",
    "inference_seconds_per_1000_rows": (
        "the wall time of predicting test rows, in seconds per 1,000 rows, e.g. inference_seconds_per_1000_rows = 0.8"
    ),
    "peak_memory_mb": "the peak memory of the run, in MB, e.g. peak_memory_mb = 850",
}


class CardError(ArenaError):
    """A model card is missing a field or has a wrong one."""

    headline = "The model card is not valid"


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    parameters: int
    framework: str
    licence: str
    code_url: str
    extra_training_data: bool
    trained_on_test_inputs: bool
    paper_url: str | None = None
    commit: str | None = None
    hardware: str | None = None
    training_time: str | None = None
    training_seconds: float | None = None
    inference_seconds_per_1000_rows: float | None = None
    peak_memory_mb: float | None = None
    notes: str | None = None
    software: dict[str, str] | None = None
    run: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}

    def shown_fields(self) -> list[tuple[str, str]]:
        """(title, text) of every field a page shows, required first, optional ones when given."""
        shown = []
        for key, title in FIELD_TITLES.items():
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool):
                value = "yes" if value else "no"
            elif key == "parameters":
                value = f"{value:,}"
            shown.append((title, str(value)))
        return shown


FIELDS = tuple(field.name for field in fields(ModelCard))


def parse_card(data: dict[str, Any], *, where: str = "card") -> ModelCard:
    """A card from parsed TOML or JSON; :class:`CardError` names every missing or wrong field at once."""
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(f"{where} [{key}]", message))

    if not isinstance(data, dict):
        raise CardError([Problem(where, "must be a table of fields (TOML) or an object (JSON).")])
    for key in data:
        if key not in FIELDS:
            close = difflib.get_close_matches(key, FIELDS, n=1)
            problem(
                key,
                f"unknown field. Did you mean '{close[0]}'?"
                if close
                else f"unknown field. Fields: {', '.join(FIELDS)}.",
            )
    values: dict[str, Any] = {}
    for key in REQUIRED:
        if key not in data:
            problem(key, f"is required: {HINTS[key]}.")
    for key in FIELDS:
        if key not in data:
            continue
        value = data[key]
        if key in ("extra_training_data", "trained_on_test_inputs"):
            if not isinstance(value, bool):
                problem(key, f"must be true or false, got {_shown(value)}.")
                continue
        elif key == "parameters":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problem(key, f"must be a whole number of parameters (0 or more), got {_shown(value)}.")
                continue
        elif key in COSTS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                problem(key, f"must be a number, 0 or more, got {_shown(value)}: {HINTS[key]}.")
                continue
        elif key == "version" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        elif key in ("software", "run"):
            if not isinstance(value, dict):
                problem(key, f"must be a table, got {_shown(value)}.")
                continue
            if key == "software" and not all(isinstance(v, str) for v in value.values()):
                problem(key, "must map each package to its version as text.")
                continue
            if _depth(value) > MAX_DEPTH:
                problem(key, f"nests tables more than {MAX_DEPTH} deep: keep a card's tables shallow.")
                continue
            if not _finite(value):
                problem(key, "holds a number that is not finite (nan or inf): write it as text or leave it out.")
                continue
            if (
                key == "run"
                and "tasks" in value
                and not (
                    isinstance(value["tasks"], dict)
                    and all(isinstance(facts, dict) for facts in value["tasks"].values())
                )
            ):
                problem(key, "'tasks' must be a table of one table per task, e.g. [run.tasks.digits].")
                continue
        elif not isinstance(value, str):
            problem(key, f"must be text, got {_shown(value)}.")
            continue
        hidden = _hidden_characters(value)
        if hidden:
            problem(
                key,
                f"holds control or invisible characters ({', '.join(hidden)}); write it with visible characters only.",
            )
            continue
        if isinstance(value, str):
            value = value.strip()
            if len(value) > MAX_TEXT:
                problem(key, f"is {len(value)} characters long; keep it under {MAX_TEXT}.")
                continue
            if not value and key in REQUIRED:
                problem(key, f"is empty: {HINTS[key]}.")
                continue
        values[key] = value
    name = values.get("name")
    if isinstance(name, str) and not is_model_name(name):
        problem(
            "name",
            f"must be 1 to 64 letters, digits, '.', '-' and '_' (it names the model in URLs), got {_shown(name)}.",
        )
    if problems:
        raise CardError(problems)
    return ModelCard(**values)


def read_card(data: bytes, name: str = "card.toml") -> ModelCard:
    """A card from a file's bytes: JSON when the name ends in .json, TOML otherwise."""
    if len(data) > MAX_CARD_BYTES:
        raise CardError([Problem(name, f"is {len(data):,} bytes; a model card must be under {MAX_CARD_BYTES:,}.")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CardError([Problem(name, "is not UTF-8 text. Save the card as UTF-8 TOML or JSON.")]) from None
    try:
        parsed = json.loads(text) if name.lower().endswith(".json") else tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        kind = "JSON" if name.lower().endswith(".json") else "TOML"
        raise CardError([Problem(name, f"is not valid {kind}: {exc}.")]) from None
    return parse_card(parsed, where=name)


def load_card(path: str | Path) -> ModelCard:
    path = Path(path)
    return read_card(path.read_bytes(), path.name)


def is_model_name(name: str) -> bool:
    """1 to 64 ASCII letters, digits, '.', '-' and '_', not starting with '.': a name that is safe in a URL."""
    return 0 < len(name) <= 64 and name.isascii() and all(c.isalnum() or c in ".-_" for c in name) and name[0] != "."


def _shown(value: Any) -> str:
    """A wrong value as a message quotes it: its start only, however long or deep it is."""
    shown = reprlib.Repr()
    shown.maxstring = shown.maxother = shown.maxlong = 60
    shown.maxlevel = 2
    return shown.repr(value)


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deep tables and lists nest in ``value`` (1 for a flat table), counted no further than ``limit + 1``."""
    if not isinstance(value, (dict, list)):
        return 0
    if limit < 0:
        return 1
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(item, limit - 1) for item in items), default=0)


def _hidden_characters(value: Any) -> list[str]:
    """The control and invisible characters in a text, or anywhere in a table's keys and texts (as U+XXXX)."""
    if isinstance(value, dict):
        texts = [*value, *value.values()]
    elif isinstance(value, list):
        texts = value
    else:
        texts = [value]
    found: set[str] = set()
    for text in texts:
        if isinstance(text, str):
            found |= {f"U+{ord(ch):04X}" for ch in text if is_hidden(ch) and ch not in "\t\n"}
        elif isinstance(text, (dict, list)):
            found |= set(_hidden_characters(text))
    return sorted(found)


def _finite(value: Any) -> bool:
    """No nan or inf anywhere in a nested table (JSON could not store it)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True
