"""``suite.toml``: a benchmark suite's tasks, their weights, floors and ceilings, and its aggregate method.

A suite names tasks the way ``arena score`` does (a built-in task, or a task.toml
bundle folder, relative to the suite's file) and says how their scores combine.
Every problem of the file is reported at once, each unknown key with the key it
was probably meant to be, as for ``task.toml``. Loading a suite reads each
task's ``task.toml`` only: no dataset is materialised.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from arena.bundles.loading import builtin_task_names, find_bundle
from arena.bundles.spec import load_spec
from arena.codabench.programs import is_program_ref
from arena.errors import ArenaError, Problem
from arena.metrics import text as text_metrics
from arena.metrics.registry import METRICS

SUITE_FILE = "suite.toml"
METHODS = ("normalised_mean", "mean_rank", "mean_win_rate", "iqm")
IQM_MIN_TASKS = 8  # the interquartile mean of fewer tasks keeps too few of them to mean anything
TOP_KEYS = ("name", "title", "version", "description", "tasks", "aggregate")
TASK_KEYS = ("task", "weight", "floor", "ceiling")
AGGREGATE_KEYS = ("method",)
TEXT_BEST = {"bleu": 100.0, "chrf": 100.0, "wer": 0.0, "cer": 0.0}
"""The best values of the text metrics that are not on a 0 to 1 scale of higher is better."""
RESERVED_KEYS = {"card": "model card part"}
"""Part names an entry gives to something other than a task's file."""


class SuiteError(ArenaError):
    """A suite.toml is broken: its maintainer must fix the file or the bundles it names."""

    headline = "The suite is not valid"


@dataclass(frozen=True)
class SuiteTask:
    """One task of a suite.

    ``key`` is the task's name: the predictions file ``KEY.csv`` and the board's column.
    ``ref`` is what :func:`arena.tasks.load_task` opens (a built-in name, or a bundle folder).
    ``floor`` None means "measure it" (the trivial submission's score); ``ceiling`` None
    means the metric's best value, which only an organiser's plugin metric lacks.
    """

    key: str
    ref: str
    weight: float
    floor: float | None
    ceiling: float | None
    metric: str
    higher_is_better: bool


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    version: int
    description: str
    tasks: tuple[SuiteTask, ...]
    method: str
    folder: Path
    sha256: str  # of the suite.toml bytes: what a hosted suite was made from

    @property
    def weights(self) -> list[float]:
        return [task.weight for task in self.tasks]

    @property
    def keys(self) -> list[str]:
        return [task.key for task in self.tasks]

    def describe(self, measured: dict[str, float] | None = None) -> list[str]:
        """What ``arena suite show`` prints: the suite, then one line per task (with the ``measured`` floors)."""
        measured = measured or {}
        lines = [f"{self.name} (version {self.version}): {self.title}", f"aggregate: {self.method}", ""]
        lines.append(f"{'task':<14} {'metric':<12} {'weight':>7} {'floor':>10} {'ceiling':>10}")
        for task in self.tasks:
            floor = (
                f"{task.floor:g}"
                if task.floor is not None
                else f"{measured[task.key]:g}*"
                if task.key in measured
                else "measured"
            )
            ceiling = "best" if task.ceiling is None else f"{task.ceiling:g}"
            lines.append(f"{task.key:<14} {task.metric:<12} {task.weight:>7g} {floor:>10} {ceiling:>10}")
        if any(task.floor is None for task in self.tasks):
            lines.append("* measured: the trivial submission's score on all test rows")
        return lines


def builtin_suites_dir() -> Path:
    """The built-in suites: ``tasks/suites/`` in the repository, installed with the built-in tasks."""
    return Path(str(resources.files("arena.builtin_tasks"))) / "suites"


def builtin_suite_names() -> list[str]:
    return sorted(path.parent.name for path in builtin_suites_dir().glob(f"*/{SUITE_FILE}"))


def find_suite(ref: str | Path) -> Path:
    """The suite.toml a reference names: a built-in suite's name, a folder holding suite.toml, or the file."""
    path = Path(ref)
    if path.is_file():
        return path
    if (path / SUITE_FILE).is_file():
        return path / SUITE_FILE
    builtin = builtin_suites_dir() / str(ref) / SUITE_FILE
    if str(ref).replace("-", "").replace("_", "").isalnum() and builtin.is_file():
        return builtin
    names = ", ".join(builtin_suite_names()) or "none"
    raise SuiteError(f"'{ref}' is neither a built-in suite ({names}) nor a folder or file with a {SUITE_FILE}.")


def load_suite(ref: str | Path) -> Suite:
    """Read and check a suite; raises :class:`SuiteError` with every problem of the file and its tasks."""
    path = find_suite(ref)
    data = path.read_bytes()
    where = path.name
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SuiteError([Problem(where, f"is not valid TOML: {exc}. Check quotes and brackets.")]) from None
    problems: list[Problem] = []

    def problem(key: str, message: str) -> None:
        problems.append(Problem(f"{where} [{key}]", message))

    problems += [Problem(f"{where} [{key}]", message) for key, message in _unknown_keys(raw, TOP_KEYS, "")]
    name = _typed(raw, "name", str, problem, required=True)
    if name is not None and not (name.replace("-", "").replace("_", "").isalnum() and name.isascii()):
        problem("name", f"must be letters, digits, '-' and '_' (it names the suite in URLs), got {name!r}.")
    title = _typed(raw, "title", str, problem) or name or ""
    version = _typed(raw, "version", int, problem, required=True)
    if isinstance(version, int) and version < 1:
        problem("version", f"must be 1 or more, got {version}.")
    description = _typed(raw, "description", str, problem) or ""
    aggregate = raw.get("aggregate", {})
    method = "normalised_mean"
    if not isinstance(aggregate, dict):
        problem("aggregate", "must be a table: write [aggregate] on a line of its own, its keys below it.")
    else:
        for key, message in _unknown_keys(aggregate, AGGREGATE_KEYS, "aggregate"):
            problem(f"aggregate.{key}", message)
        given = _typed(aggregate, "method", str, lambda _k, m: problem("aggregate.method", m))
        if given is not None and given not in METHODS:
            close = difflib.get_close_matches(given, METHODS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            problem("aggregate.method", f"unknown method {given!r}.{hint} Methods: {', '.join(METHODS)}.")
        elif given is not None:
            method = given
    entries = raw.get("tasks")
    numbered: list[tuple[int, SuiteTask]] = []
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        problem(
            "tasks", "is required: one [[tasks]] table per task, each with task = a built-in name or a bundle path."
        )
        entries = []
    for number, entry in enumerate(entries, start=1):
        task = _suite_task(entry, path.parent, lambda key, message, n=number: problem(f"tasks.{n}.{key}", message))
        if task is not None:
            numbered.append((number, task))
    seen: set[str] = set()
    for number, task in numbered:
        if task.key in RESERVED_KEYS:
            problem(
                f"tasks.{number}.task",
                f"names a task '{task.key}', which is also the name of an entry's {RESERVED_KEYS[task.key]}: "
                "no model could be entered. Rename the bundle.",
            )
        if task.key in seen:
            problem(f"tasks.{number}.task", f"names task '{task.key}' a second time: each task appears once.")
        seen.add(task.key)
    if method == "iqm" and len(entries) < IQM_MIN_TASKS:
        problem(
            "aggregate.method",
            f"'iqm' needs {IQM_MIN_TASKS} tasks or more (this suite has {len(entries)}): with fewer, the middle half "
            "is one or two tasks. Use 'normalised_mean'.",
        )
    if problems:
        raise SuiteError(problems)
    return Suite(
        name=name,
        title=title,
        version=version,
        description=description,
        tasks=tuple(task for _, task in numbered),
        method=method,
        folder=path.parent,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _suite_task(entry: dict[str, Any], folder: Path, problem) -> SuiteTask | None:
    for key, message in _unknown_keys(entry, TASK_KEYS, "tasks"):
        problem(key, message)
    given = _typed(entry, "task", str, problem, required=True)
    weight = _typed(entry, "weight", (int, float), problem)
    floor = _typed(entry, "floor", (int, float), problem)
    ceiling = _typed(entry, "ceiling", (int, float), problem)
    if weight is not None and not (math.isfinite(weight) and weight > 0):
        problem("weight", f"must be a positive number, got {weight!r}.")
        weight = None
    for key, value in (("floor", floor), ("ceiling", ceiling)):
        if value is not None and not math.isfinite(value):
            problem(key, f"must be a finite number, got {value!r}.")
    if given is None:
        return None
    ref = _task_ref(given, folder)
    if ref is None:
        names = ", ".join(builtin_task_names())
        problem("task", f"'{given}' is neither a built-in task ({names}) nor a bundle folder next to the suite file.")
        return None
    if is_program_ref(ref):
        problem(
            "task",
            f"'{given}' is a Codabench or CodaLab bundle: its scoring program gives no per-row results, so the "
            "suite could not resample it. Use a task.toml bundle.",
        )
        return None
    try:
        spec = load_spec(find_bundle(ref))
    except ArenaError as exc:
        for inner in exc.problems:
            problem("task", f"'{given}': {inner}")
        return None
    best = _best_value(spec.primary_metric)
    if ceiling is None and best is None:
        problem(
            "ceiling", f"is required: the primary metric '{spec.primary_metric}' is a plugin with no known best value."
        )
    top = ceiling if ceiling is not None else best
    if floor is not None and top == floor:
        problem("floor", "equals the ceiling: the task would have no scale. Set them apart.")
    elif floor is not None and top is not None and (floor > top if spec.higher_is_better else floor < top):
        better = "higher" if spec.higher_is_better else "lower"
        problem(
            "floor",
            f"is {'above' if spec.higher_is_better else 'below'} the ceiling ({top:g}), but {better} is better for "
            f"'{spec.primary_metric}': the floor is the score mapped to 0 (a poor one), the ceiling the score mapped "
            "to 1 (the best). Swap them.",
        )
    return SuiteTask(
        key=spec.name,
        ref=ref,
        weight=float(weight) if weight is not None else 1.0,
        floor=float(floor) if floor is not None else None,
        ceiling=float(ceiling) if ceiling is not None else best,
        metric=spec.primary_metric,
        higher_is_better=spec.higher_is_better,
    )


def _task_ref(given: str, folder: Path) -> str | None:
    """A built-in task's name as written, or the bundle's folder resolved against the suite's folder."""
    if given in builtin_task_names():
        return given
    candidate = (folder / given).resolve()
    return str(candidate) if candidate.exists() else None


def _best_value(metric: str) -> float | None:
    """A built-in metric's best value: 1 for every score, 0 for every loss (ranking metrics included); for text
    answers, 100 for BLEU and chrF (sacrebleu's scale), 0 for the error rates, 1 for the means (exact match, token
    F1, ROUGE)."""
    if metric in text_metrics.NAMES and metric not in METRICS:
        return TEXT_BEST.get(metric, 1.0)
    base = metric.partition("@")[0]
    known = METRICS.get(metric) or next((m for name, m in METRICS.items() if name.partition("@")[0] == base), None)
    if known is None and base in ("map", "ndcg"):
        return 1.0
    if known is None:
        return None
    return 1.0 if known.higher_is_better else 0.0


def _typed(table: dict[str, Any], key: str, kind, problem, *, required: bool = False) -> Any:
    if key not in table:
        if required:
            problem(key, "is required.")
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        expected = {str: "text", int: "a whole number"}.get(kind, "a number")
        problem(key, f"must be {expected}, got {value!r}.")
        return None
    return value


def _unknown_keys(table: dict[str, Any], allowed: tuple[str, ...], section: str) -> list[tuple[str, str]]:
    """(key, message) for every key the table may not hold, with the allowed key it was likely meant to be."""
    found = []
    for key in table:
        if key in allowed:
            continue
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"Did you mean '{close[0]}'?" if close else f"Keys allowed: {', '.join(allowed)}."
        found.append((key, f"unknown key{' in [' + section + ']' if section else ''}. {hint}"))
    return found
