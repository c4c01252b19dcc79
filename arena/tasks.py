"""The one place that opens a task reference: a built-in's name, a task.toml bundle folder, or a Codabench or
CodaLab bundle (a folder or .zip with ``competition.yaml``, optionally ``#phase=N&native=metric``).

Every task it gives implements :class:`arena.scoring.interface.TaskInterface`, so nothing
else asks which kind of task it holds; this module asks which kind a reference names, once
(:func:`arena.codabench.programs.is_program_ref`).
"""

from __future__ import annotations

from pathlib import Path

from arena.bundles.loading import load_bundle
from arena.codabench.programs import (
    ProgramTask,
    bundle_folder,
    is_code_only,
    is_program_ref,
    load_program_task,
    parse_ref,
    phase_count,
)
from arena.scoring.interface import TaskInterface
from arena.scoring.metric_task import MetricTask
from arena.scoring.score import Score


def load_task(ref: str | Path) -> MetricTask | ProgramTask:
    """Load and validate the task a reference names, using the on-disk caches.

    Both kinds implement :class:`arena.scoring.interface.TaskInterface`, which is all most callers need; the
    return type names the two, for a caller that needs one of them (see :func:`load_bundle_task` and
    :func:`load_phase`).

    Raises :class:`arena.errors.BundleError` (every problem at once) or :class:`arena.errors.UnknownTaskError`.
    A Codabench or CodaLab bundle loads as one of its phases (the first without ``#phase=``).
    """
    if is_program_ref(ref):
        return load_program_task(ref)
    return load_bundle(ref, MetricTask)


def load_bundle_task(ref: str | Path) -> MetricTask:
    """Load the task.toml bundle (or built-in) a reference names, as :func:`load_task` does; an error for a
    reference to a Codabench or CodaLab bundle, for callers that need a bundle's rows, classes or columns."""
    if is_program_ref(ref):
        raise ValueError(f"{str(ref)!r} names a Codabench or CodaLab bundle, not a task.toml bundle")
    return load_bundle(ref, MetricTask)


def load_phase(ref: str | Path) -> ProgramTask:
    """Load the phase a stage's reference names, as :func:`load_task` does; an error for a reference to anything
    else, which no stage has."""
    if not is_program_ref(ref):
        raise ValueError(f"{str(ref)!r} does not name a phase of a Codabench or CodaLab bundle")
    return load_program_task(ref)


def phase_refs(ref: str | Path) -> list[str]:
    """One reference per phase of the Codabench/CodaLab bundle a reference names (with or without ``#phase=``), each
    hosted as a stage; none for a reference to anything else (one task)."""
    if not is_program_ref(ref):
        return []
    folder = bundle_folder(parse_ref(ref)[0])
    option = "&code_only=1" if is_code_only(ref) else ""  # a hosting option holds for every phase
    return [f"{folder}#phase={number}{option}" for number in range(1, phase_count(folder) + 1)]


def score(task: TaskInterface | str | Path, file: str | Path, *, public_fraction: float | None = None) -> Score:
    """``score(task, file)``: a task (or its name or bundle folder) and a predictions file -> Score."""
    opened = load_task(task) if isinstance(task, (str, Path)) else task
    return opened.score_file(file, public_fraction=public_fraction)
