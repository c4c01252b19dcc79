"""Codabench and CodaLab bundles: parse ``competition.yaml`` (versions 1 and 2) into one validated spec.

Each task has ``reference_data`` and a ``scoring_program``; a task may also have an
``ingestion_program`` and its ``input_data``, which run participants' code before
the scoring program scores what it predicted (:mod:`arena.codabench.ingestion`).
Phase settings are read as Codabench reads them, its defaults included; the ones
Arena does not act on (:data:`IGNORED_PHASE_SETTINGS`) are accepted. Every problem
in the file is reported at once, each with its key and what is expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, overload

import yaml

from arena.errors import BundleError, Problem

SPEC_FILE = "competition.yaml"
DEFAULT_TIME_LIMIT = 600  # seconds: Codabench's default execution_time_limit
DEFAULT_DAILY_LIMIT = 5  # Codabench's max_submissions_per_day when a phase names none
DEFAULT_TOTAL_LIMIT = 100  # Codabench's max_submissions when a phase names none
MAX_YAML_BYTES = 1 << 20
IGNORED_PHASE_SETTINGS = (
    "starting_kit",
    "public_data",
    "auto_migrate_to_this_phase",
    "auto_migration",
    "hide_output",
    "hide_prediction_output",
    "hide_score_output",
    "is_scoring_only",
    "color",
    "phasenumber",
    "leaderboard_management_mode",
    "force_best_submission_to_leaderboard",
)
"""Phase settings Codabench or CodaLab know and Arena accepts without acting on them: Arena keeps no starting kit or
public data of its own (the organiser shares them), moves no submission between phases and shows participants no
program output."""


@dataclass(frozen=True)
class Column:
    """One leaderboard column: the key the scoring program writes, its title and its sorting."""

    key: str
    title: str
    higher_is_better: bool
    precision: int = 4


@dataclass(frozen=True)
class BundleTask:
    """A bundle task: the reference data (``input/ref``) and the program that scores against it."""

    index: int
    name: str
    reference_data: Path
    scoring_program: Path
    description: str = ""
    ingestion_program: Path | None = None  # runs participants' code in the prediction step
    input_data: Path | None = None  # what the ingestion program reads (``/app/input_data``)


@dataclass(frozen=True)
class Phase:
    """One phase: its dates, submission limits, time limit and the tasks it scores."""

    number: int  # 1-based position in the bundle, the ``#phase=N`` of a task reference
    name: str
    description: str
    starts_at: datetime | None
    ends_at: datetime | None
    daily_limit: int | None  # None: no daily limit (max_submissions_per_day 0 or null)
    total_limit: int | None  # None: no limit in all (max_submissions 0 or null)
    time_limit: int
    tasks: tuple[int, ...]


@dataclass(frozen=True)
class CompetitionBundle:
    """A validated ``competition.yaml``: paths are absolute and exist inside the bundle folder."""

    folder: Path
    yaml_version: int
    title: str
    description: str
    tasks: dict[int, BundleTask]
    phases: tuple[Phase, ...]
    columns: tuple[Column, ...]

    def phase(self, number: int) -> Phase:
        return self.phases[number - 1]

    @property
    def primary(self) -> Column:
        return self.columns[0]


def is_competition_bundle(folder: str | Path) -> bool:
    """True for a folder holding a ``competition.yaml``."""
    return (Path(folder) / SPEC_FILE).is_file()


class _Problems:
    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.items.append(Problem(f"{self.where} [{key}]", message))


@overload
def _number(raw: Any, key: str, problems: _Problems, *, default: int, positive: bool = True) -> int: ...


@overload
def _number(raw: Any, key: str, problems: _Problems, *, default: None, positive: bool = True) -> int | None: ...


def _number(raw: Any, key: str, problems: _Problems, *, default: int | None, positive: bool = True) -> int | None:
    """``raw`` as a whole number; ``default`` (a problem noted) when it is not one, or below 1 where ``positive``."""
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        problems.add(key, f"must be a whole number, got {raw!r}.")
        return default
    try:
        value = int(float(raw))
    except ValueError:
        problems.add(key, f"must be a whole number, got {raw!r}.")
        return default
    if positive and value < 1:
        problems.add(key, f"must be 1 or more, got {value}.")
        return default
    return value


def _limit(entry: dict, name: str, key: str, problems: _Problems, *, default: int) -> int | None:
    """A submission limit as Codabench reads it: ``default`` when the key is absent, no limit (None) for 0 or null."""
    if name not in entry:
        return default
    raw = entry[name]
    if raw is None or raw == "":
        return None
    value = _number(raw, key, problems, default=default, positive=False)
    if value < 0:
        problems.add(key, f"must be 0 (no limit) or more, got {value}.")
        return default
    return value or None


def _time_limit(raw: Any, key: str, problems: _Problems) -> int:
    """The execution time limit in seconds; Codabench's default of 600 when it is absent, null or 0."""
    value = _number(raw, key, problems, default=DEFAULT_TIME_LIMIT, positive=False)
    if value < 0:
        problems.add(key, f"must be a number of seconds (0 or absent: {DEFAULT_TIME_LIMIT}), got {value}.")
    return value if value > 0 else DEFAULT_TIME_LIMIT


def _optional_inside(folder: Path, entry: dict, name: str, key: str, problems: _Problems) -> Path | None:
    """A folder or .zip the bundle may name (ingestion program, input data): None when the key is absent or empty."""
    if not entry.get(name):
        return None
    return _inside(folder, entry[name], key, problems)


_DURING_SCORING = (
    "Arena runs the ingestion program in the prediction step only, before the scoring program; set it to false "
    "(or remove it) and let the scoring program read the ingestion program's output in input/res."
)


_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%m-%d-%Y", "%m-%d-%Y %H:%M", "%m/%d/%Y")


def _date(raw: Any, key: str, problems: _Problems) -> datetime | None:
    """A UTC date as Codabench writes it: YAML dates, ISO text or month-day-year (``1-31-2026``)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.replace(tzinfo=None)
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    text = str(raw).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    problems.add(key, f"'{text}' is not a date; write it like 2026-12-31 or 2026-12-31 23:59 (UTC).")
    return None


def _inside(folder: Path, raw: Any, key: str, problems: _Problems) -> Path | None:
    """A folder or .zip named by the bundle, which must exist inside the bundle."""
    if not isinstance(raw, str) or not raw.strip():
        problems.add(key, "is required: a folder or .zip inside the bundle.")
        return None
    path = (folder / raw.strip()).resolve()
    if folder.resolve() not in path.parents:
        problems.add(key, f"'{raw}' must lie inside the bundle folder.")
        return None
    if not path.exists():
        problems.add(key, f"'{raw}' does not exist in the bundle.")
        return None
    return path


def _text(raw: Any) -> str:
    return raw.strip() if isinstance(raw, str) else ""


def _pages(folder: Path, raw: Any) -> str:
    """The Markdown pages of a version 2 bundle, joined under their titles (HTML pages are left out)."""
    parts = []
    for page in raw if isinstance(raw, list) else []:
        if not isinstance(page, dict) or not isinstance(page.get("file"), str):
            continue
        path = (folder / page["file"]).resolve()
        if folder.resolve() in path.parents and path.is_file() and path.suffix.lower() == ".md":
            parts.append(f"## {page.get('title') or path.stem}\n\n{path.read_text(encoding='utf-8', errors='replace')}")
    return "\n\n".join(parts)


def _columns_v2(raw: Any, problems: _Problems) -> list[Column]:
    columns: list[tuple[int, Column]] = []
    boards = raw if isinstance(raw, list) else []
    if not boards:
        problems.add("leaderboards", "is required: a list of leaderboards, each with columns (key, title, sorting).")
    for b, board in enumerate(boards):
        entries = board.get("columns") if isinstance(board, dict) else None
        if not isinstance(entries, list) or not entries:
            problems.add(f"leaderboards[{b}].columns", "is required: a list of columns with key, title and sorting.")
            continue
        for c, column in enumerate(entries):
            key = f"leaderboards[{b}].columns[{c}]"
            if not isinstance(column, dict) or not isinstance(column.get("key"), str) or not column["key"]:
                problems.add(key, "needs a key: the name the scoring program writes the score under.")
                continue
            sorting = str(column.get("sorting", "desc")).lower()
            if sorting not in ("asc", "desc"):
                problems.add(
                    f"{key}.sorting", f"must be 'asc' (lower is better) or 'desc' (higher is better), got {sorting!r}."
                )
            position = _number(column.get("index"), f"{key}.index", problems, default=len(columns), positive=False)
            precision = _number(column.get("precision"), f"{key}.precision", problems, default=4, positive=False)
            columns.append(
                (
                    position,
                    Column(column["key"], str(column.get("title") or column["key"]), sorting != "asc", precision),
                )
            )
    return [column for _, column in sorted(columns, key=lambda pair: pair[0])]


def _columns_v1(raw: Any, problems: _Problems) -> list[Column]:
    entries = raw.get("columns") if isinstance(raw, dict) else None
    if not isinstance(entries, dict) or not entries:
        problems.add(
            "leaderboard.columns", "is required: the score keys the scoring program writes, with label and sort."
        )
        return []
    columns: list[tuple[int, Column]] = []
    for name, column in entries.items():
        column = column if isinstance(column, dict) else {}
        sort = str(column.get("sort", "desc")).lower()
        if sort not in ("asc", "desc"):
            problems.add(f"leaderboard.columns.{name}.sort", f"must be 'asc' or 'desc', got {sort!r}.")
        rank = _number(
            column.get("rank"), f"leaderboard.columns.{name}.rank", problems, default=len(columns), positive=False
        )
        precision = _number(
            column.get("numeric_format"),
            f"leaderboard.columns.{name}.numeric_format",
            problems,
            default=4,
            positive=False,
        )
        columns.append((rank, Column(str(name), str(column.get("label") or name), sort != "asc", precision)))
    return [column for _, column in sorted(columns, key=lambda pair: pair[0])]


def _phases(
    folder: Path, raw: Any, version: int, tasks: dict[int, BundleTask], problems: _Problems
) -> tuple[list[dict], dict[int, BundleTask]]:
    """Phases as plain dicts (ends filled in later); version 1 phases carry their own task."""
    if version == 1:
        entries = (
            [raw[k] for k in sorted(raw, key=lambda k: int(k) if str(k).isdigit() else 0)]
            if isinstance(raw, dict)
            else []
        )
    else:  # in the order of their index, as Codabench orders them
        entries = sorted(raw if isinstance(raw, list) else [], key=_phase_index)
    if not entries:
        problems.add("phases", "is required: at least one phase with its dates and limits.")
    found = []
    for n, entry in enumerate(entries, start=1):
        key = f"phases[{n - 1}]" if version == 2 else f"phases.{n}"
        if not isinstance(entry, dict):
            problems.add(key, "must be a table of the phase's settings.")
            continue
        if version == 1:
            index = len(tasks)
            reference = _inside(folder, entry.get("reference_data"), f"{key}.reference_data", problems)
            program = _inside(folder, entry.get("scoring_program"), f"{key}.scoring_program", problems)
            ingestion = _optional_inside(folder, entry, "ingestion_program", f"{key}.ingestion_program", problems)
            input_data = _optional_inside(folder, entry, "input_data", f"{key}.input_data", problems)
            if entry.get("ingestion_program_only_during_scoring"):
                problems.add(f"{key}.ingestion_program_only_during_scoring", _DURING_SCORING)
            if reference and program:
                tasks[index] = BundleTask(
                    index,
                    str(entry.get("label") or f"Phase {n}"),
                    reference,
                    program,
                    ingestion_program=ingestion,
                    input_data=input_data,
                )
            task_indexes: tuple[int, ...] = (index,)
        else:
            listed = entry.get("tasks")
            if not isinstance(listed, list) or not listed:
                problems.add(f"{key}.tasks", "is required: the indexes of the tasks this phase scores, e.g. [0].")
                listed = []
            unknown = [t for t in listed if t not in tasks]
            if unknown:
                problems.add(f"{key}.tasks", f"names tasks that are not in the bundle's tasks list: {unknown}.")
            elif len(listed) > 1:
                problems.add(f"{key}.tasks", "Arena scores one task per phase; split the tasks into phases.")
            task_indexes = tuple(t for t in listed if t in tasks)
        found.append(
            {
                "number": n,
                "name": _text(entry.get("name") or entry.get("label")) or f"Phase {n}",
                "description": _text(entry.get("description")),
                "starts_at": _date(
                    entry.get("start") if version == 2 else entry.get("start_date"), f"{key}.start", problems
                ),
                "ends_at": _date(entry.get("end") if version == 2 else entry.get("end_date"), f"{key}.end", problems),
                "daily_limit": _limit(
                    entry,
                    "max_submissions_per_day",
                    f"{key}.max_submissions_per_day",
                    problems,
                    default=DEFAULT_DAILY_LIMIT,
                ),
                "total_limit": _limit(
                    entry, "max_submissions", f"{key}.max_submissions", problems, default=DEFAULT_TOTAL_LIMIT
                ),
                "time_limit": _time_limit(entry.get("execution_time_limit"), f"{key}.execution_time_limit", problems),
                "tasks": task_indexes,
            }
        )
    return found, tasks


def _phase_index(entry: Any) -> float:
    index = entry.get("index", 0) if isinstance(entry, dict) else 0
    return index if isinstance(index, (int, float)) and not isinstance(index, bool) else 0


def _tasks_v2(folder: Path, raw: Any, problems: _Problems) -> dict[int, BundleTask]:
    tasks: dict[int, BundleTask] = {}
    if not isinstance(raw, list) or not raw:
        problems.add("tasks", "is required: a list of tasks, each with reference_data and scoring_program.")
        return tasks
    for position, entry in enumerate(raw):
        key = f"tasks[{position}]"
        if not isinstance(entry, dict):
            problems.add(key, "must be a table with index, reference_data and scoring_program.")
            continue
        index = _number(entry.get("index"), f"{key}.index", problems, default=position, positive=False)
        reference = _inside(folder, entry.get("reference_data"), f"{key}.reference_data", problems)
        program = _inside(folder, entry.get("scoring_program"), f"{key}.scoring_program", problems)
        ingestion = _optional_inside(folder, entry, "ingestion_program", f"{key}.ingestion_program", problems)
        input_data = _optional_inside(folder, entry, "input_data", f"{key}.input_data", problems)
        if entry.get("ingestion_only_during_scoring"):
            problems.add(f"{key}.ingestion_only_during_scoring", _DURING_SCORING)
        if reference and program:
            tasks[index] = BundleTask(
                index,
                _text(entry.get("name")) or f"Task {index}",
                reference,
                program,
                _text(entry.get("description")),
                ingestion_program=ingestion,
                input_data=input_data,
            )
    return tasks


def load_competition(folder: str | Path) -> CompetitionBundle:
    """Read and validate ``folder/competition.yaml`` (version 1 or 2); raises BundleError listing every problem."""
    folder = Path(folder).resolve()
    path = folder / SPEC_FILE
    where = str(path)
    if not path.is_file():
        raise BundleError([Problem(str(folder), f"has no {SPEC_FILE}.")])
    if path.stat().st_size > MAX_YAML_BYTES:
        raise BundleError([Problem(where, "is larger than 1 MB; it should hold settings, not data.")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError([Problem(where, f"is not valid YAML: {exc}")]) from None
    if not isinstance(raw, dict):
        raise BundleError([Problem(where, "must be a YAML mapping with title, phases and leaderboards.")])
    problems = _Problems(where)
    version = _number(raw.get("version"), "version", problems, default=1)
    if version not in (1, 2):
        problems.add("version", f"must be 1 (CodaLab) or 2 (Codabench), got {version}.")
        version = 2
    title = _text(raw.get("title"))
    if not title:
        problems.add("title", "is required.")
    description = _text(raw.get("description"))
    if version == 2:
        description = "\n\n".join(filter(None, [description, _pages(folder, raw.get("pages"))]))
        tasks = _tasks_v2(folder, raw.get("tasks"), problems)
        columns = _columns_v2(raw.get("leaderboards"), problems)
    else:
        tasks = {}
        columns = _columns_v1(raw.get("leaderboard"), problems)
    found, tasks = _phases(folder, raw.get("phases"), version, tasks, problems)
    keys = [c.key for c in columns]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        problems.add("leaderboards", f"column keys must be unique; repeated: {', '.join(duplicated)}.")
    if problems.items:
        raise BundleError(problems.items)
    phases = []
    for i, phase in enumerate(found):
        if phase["ends_at"] is None and i + 1 < len(found):  # a phase without an end runs until the next begins
            phase["ends_at"] = found[i + 1]["starts_at"]
        if phase["starts_at"] and phase["ends_at"] and phase["ends_at"] <= phase["starts_at"]:
            problems.add(f"phases[{i}]", "its end must come after its start.")
        phases.append(Phase(**phase))
    if problems.items:
        raise BundleError(problems.items)
    return CompetitionBundle(
        folder=folder,
        yaml_version=version,
        title=title,
        description=description,
        tasks=tasks,
        phases=tuple(phases),
        columns=tuple(columns),
    )


def slug_of(title: str) -> str:
    """A short name for URLs made from a title: lowercase letters, digits and '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].strip("-")
    return slug if len(slug) >= 2 else "competition"
