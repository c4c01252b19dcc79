"""Snapshots: the immutable copy of a bundle that a competition hosts, one per task version, and what pages show of it."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

from arena.config import arena_home, private_dir
from arena.db.models import Competition
from arena.errors import ArenaError
from arena.scoring.interface import TaskInterface
from arena.tasks import load_task


def snapshot_root() -> Path:
    """Where snapshots live: owner-only, since a bundle's answer file is in each."""
    return private_dir(arena_home() / "snapshots")


def _files(folder: Path) -> list[Path]:
    """The bundle's regular files, in a fixed order (links are not followed: a snapshot holds only the bundle)."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(root) / d).is_symlink())
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and not name.startswith("."):
                found.append(path)
    return found


def bundle_digest(folder: Path) -> str:
    """SHA-256 of every file's relative path and bytes: the same bundle always gets the same snapshot."""
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def take(folder: str | Path) -> tuple[str, Path]:
    """Copy a bundle folder into ARENA_HOME/snapshots/<sha>/ (once: a snapshot never changes); returns (sha, folder)."""
    folder = Path(folder).resolve()
    sha = bundle_digest(folder)
    target = snapshot_root() / sha
    if (target / "task.toml").is_file():
        return sha, target
    staging = Path(tempfile.mkdtemp(dir=snapshot_root(), prefix=".staging-"))
    for path in _files(folder):
        copy = staging / path.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copy.chmod(0o444)  # read-only: a snapshot is never edited in place
    try:
        staging.rename(target)
    except OSError:  # another process took the same snapshot a moment ago
        shutil.rmtree(staging, ignore_errors=True)
    return sha, target


def is_snapshot(task_ref: str) -> bool:
    return Path(task_ref).parent == snapshot_root()


def facts(task: TaskInterface) -> dict:
    """What pages and the API show of a task, taken once at hosting so that no page materialises it."""
    spec = task.spec
    higher = spec.higher_is_better  # a plugin's direction comes from task.toml: its code is not imported here
    columns = [{"key": c.key, "title": c.title, "precision": c.precision} for c in task.leaderboard_columns]
    return {
        "name": task.name,
        "kind": spec.kind,
        "metric": spec.primary_metric,
        "higher_is_better": higher,
        "other_metrics": list(spec.other_metrics),
        "id_column": spec.id_column,
        "prediction_columns": [str(c) for c in task.prediction_columns],
        "prediction": spec.prediction,
        "submission_columns": [{"name": c.name, "type": c.type} for c in getattr(spec, "submission_columns", ())],
        "train_rows": len(task.train),
        "test_rows": len(task.test),
        "columns": columns,
        "native": getattr(spec, "native", None),
        "phase_name": getattr(spec, "phase_name", ""),
        "scoring_timeout": task.scoring_timeout,
        "code": _code_facts(spec),
        "usage": _usage(task),
    }


def _usage(task: TaskInterface) -> dict[str, int] | None:
    """The answer file's Usage column counted (public, private, ignored rows), or None where the split's fraction
    decides (no Usage column, or a task without an answer key of its own, such as a scoring program's)."""
    from arena.server.split_facts import usage_counts

    try:
        return usage_counts(task.answer_key)
    except (AttributeError, ArenaError, OSError):
        return None


def _code_facts(spec) -> dict | None:
    """A code task's entry, limits, runtime and log policy, as the pages and the jobs read them (None: a file task)."""
    code = getattr(spec, "code", None)
    if code is None:
        return None
    limits = code.limits
    return {
        "entry": code.entry,
        "runtime": code.runtime,
        "logs": code.logs,
        "limits": {
            key: getattr(limits, key) for key in ("wall_seconds", "memory_mb", "processes", "disk_mb", "output_mb")
        },
    }


def store_facts(competition: Competition, task: TaskInterface) -> None:
    """Remember the task's metric, direction, sizes and submission format on the competition; it is not broken."""
    found = facts(task)
    competition.metric, competition.higher_is_better = found["metric"], found["higher_is_better"]
    competition.train_rows, competition.test_rows = found["train_rows"], found["test_rows"]
    competition.task_facts = found
    competition.broken = ""


def facts_of(competition: Competition) -> dict:
    """The stored facts; a competition hosted before they were stored has them taken now (or is marked broken)."""
    if not competition.task_facts:
        try:
            store_facts(competition, load_task(competition.task_ref))
        except (ArenaError, OSError) as exc:
            mark_broken(competition, exc)
            return {}
    return competition.task_facts or {}  # store_facts has just stored them


def mark_broken(competition: Competition, exc: Exception) -> None:
    """Say why the bundle cannot be loaded, for organisers only (never shown to participants)."""
    problems = exc.messages() if isinstance(exc, ArenaError) else [type(exc).__name__]
    competition.broken = ("; ".join(str(p) for p in problems) or "the bundle cannot be loaded.")[:1000]


def task_view(competition: Competition) -> SimpleNamespace:
    """The stored facts shaped as pages use a task (``task.spec.kind``, ``task.test|length``), nothing loaded.

    The splits are ranges: their length is the stored size, and they hold no rows.
    """
    found = facts_of(competition)
    spec = SimpleNamespace(
        kind=found.get("kind", ""),
        primary_metric=competition.metric or found.get("metric", ""),
        higher_is_better=competition.higher_is_better,
        other_metrics=found.get("other_metrics", []),
        columns=[SimpleNamespace(**column) for column in found.get("columns", [])],
        native=found.get("native"),
        phase_name=found.get("phase_name", ""),
        id_column=found.get("id_column", ""),
        prediction=found.get("prediction", ""),
        submission_columns=[SimpleNamespace(**column) for column in found.get("submission_columns", [])],
    )
    return SimpleNamespace(
        name=found.get("name", ""),
        spec=spec,
        train=range(competition.train_rows or 0),
        test=range(competition.test_rows or 0),
        prediction_columns=found.get("prediction_columns", []),
    )
