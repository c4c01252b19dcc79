"""Codabench/CodaLab bundles on the server: each phase's preview, and the stages hosted from one bundle.

A bundle with phases Development and Final becomes two competitions, ``<slug>``
and ``<slug>-2`` (:func:`arena.server.competitions.host_stages`), each with the
phase's dates, limits and reference data. They are linked by the bundle folder
their task references share, so each page can list the others; no schema change is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Competition
from arena.scoring.datasets import load_task
from arena.scoring.native import Detection, detect
from arena.scoring.programs import ProgramTask, bundle_folder, is_program_ref, load_program_task, parse_ref


@dataclass(frozen=True)
class StagePreview:
    """What the host preview shows of one phase before anything is hosted."""

    number: int
    task: ProgramTask
    detection: Detection


__all__ = ["StagePreview", "is_program_ref", "is_stage", "preview", "siblings"]


def is_stage(competition: Competition) -> bool:
    return "#phase=" in competition.task_ref


def preview(ref: str | Path, *, detect_native: bool = True) -> list[StagePreview]:
    """Every phase of a bundle, loaded and checked, with what the native-metric detection found."""
    folder = bundle_folder(parse_ref(ref)[0])
    first = load_program_task(f"{folder}#phase=1")
    stages = []
    for number in range(1, len(first.bundle.phases) + 1):
        task = load_program_task(f"{folder}#phase={number}")
        found = detect(task) if detect_native else Detection(task.spec.columns[0].key, None, "", "", 0, "not checked.")
        stages.append(StagePreview(number, task, found))
    return stages


def siblings(session: Session, competition: Competition) -> list[tuple[Competition, str]]:
    """The stages hosted from the same bundle, in phase order, each with its phase name (empty if not a stage)."""
    if not is_stage(competition):
        return []
    folder = competition.task_ref.partition("#")[0]
    found = session.scalars(select(Competition).where(Competition.task_ref.startswith(f"{folder}#phase=", autoescape=True)))
    stages = []
    for other in found:
        task = load_task(other.task_ref)
        stages.append((task.phase.number, other, task.spec.phase_name))
    return [(other, name) for _, other, name in sorted(stages, key=lambda item: (item[0], item[1].id))]
