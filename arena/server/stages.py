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

from arena.codabench.bundle import Phase, load_competition
from arena.codabench.native import Detection, detect
from arena.codabench.programs import bundle_folder, parse_ref
from arena.db.models import Competition
from arena.scoring.interface import TaskInterface
from arena.tasks import load_phase, phase_refs


@dataclass(frozen=True)
class StagePreview:
    """What the host preview shows of one phase before anything is hosted."""

    number: int
    task: TaskInterface
    detection: Detection
    phase: Phase
    title: str  # the bundle's


__all__ = ["StagePreview", "is_stage", "names_stages", "preview", "siblings"]


def names_stages(ref: str | Path) -> bool:
    """True when a reference (or an uploaded archive) names a bundle of phases, each hosted as a stage."""
    return bool(phase_refs(ref))


def is_stage(competition: Competition) -> bool:
    return "#phase=" in competition.task_ref


def preview(ref: str | Path, *, detect_native: bool = True) -> list[StagePreview]:
    """Every phase of a bundle, loaded and checked, with what the native-metric detection found."""
    refs = phase_refs(ref)
    if not refs:
        return []
    bundle = load_competition(bundle_folder(parse_ref(refs[0])[0]))
    stages = []
    for number, stage in enumerate(refs, start=1):
        task = load_phase(stage)
        found = detect(task) if detect_native else Detection(task.spec.columns[0].key, None, "", "", 0, "not checked.")
        stages.append(StagePreview(number, task, found, bundle.phase(number), bundle.title))
    return stages


def siblings(session: Session, competition: Competition) -> list[tuple[Competition, str]]:
    """The stages hosted from the same bundle, in phase order, each with its phase name (empty if not a stage)."""
    if not is_stage(competition):
        return []
    folder = competition.task_ref.partition("#")[0]
    found = session.scalars(
        select(Competition).where(Competition.task_ref.startswith(f"{folder}#phase=", autoescape=True))
    )
    stages = []
    for other in found:
        task = load_phase(other.task_ref)
        stages.append((parse_ref(other.task_ref)[1], other, task.spec.phase_name))
    return [(other, name) for _, other, name in sorted(stages, key=lambda item: (item[0], item[1].id))]
