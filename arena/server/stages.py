"""Codabench/CodaLab bundles on the server: each phase is hosted as a stage, a competition linked to its siblings.

A bundle with phases Development and Final becomes two competitions, ``<slug>``
and ``<slug>-2``, each with the phase's dates, limits and reference data. They
are linked by the bundle folder their task references share, so each page can
list the others; no schema change is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Competition
from arena.scoring.codabench import slug_of
from arena.scoring.datasets import load_task
from arena.scoring.native import Detection, detect
from arena.scoring.programs import ProgramTask, bundle_folder, is_program_ref, load_program_task, parse_ref

PHASE_DATES = ("starts_at", "ends_at")


@dataclass(frozen=True)
class StagePreview:
    """What the host preview shows of one phase before anything is hosted."""

    number: int
    task: ProgramTask
    detection: Detection


__all__ = ["StagePreview", "host_stages", "is_program_ref", "is_stage", "preview", "siblings", "unpack_for_preview"]


def unpack_for_preview(session: Session, archive: Path, slug: str | None) -> Path:
    """An uploaded Codabench/CodaLab archive, unpacked into its own folder (the short name checked first)."""
    from arena.server.competitions import check_slug, unpack_uploaded_bundle

    if slug is not None:
        check_slug(session, slug)
    return unpack_uploaded_bundle(archive, slug or "upload")


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


def host_stages(session: Session, ref: str | Path, *, slug: str | None = None, native: bool = False,
                **settings) -> list[Competition]:
    """Host every phase of a bundle as linked competitions (``native``: score where Arena's metric matches).

    Dates come from the phases; other settings given here apply to every stage.
    """
    from arena.server.competitions import CompetitionError, check_slug, host

    settings = {key: value for key, value in settings.items() if not (key in PHASE_DATES and value is None)}
    stages = preview(ref, detect_native=native)
    base = slug or slug_of(stages[0].task.bundle.title)
    if len(stages) > 1 and any(settings.get(key) is not None for key in PHASE_DATES):
        raise CompetitionError("the bundle's phases set each stage's dates; change them on each stage's admin page "
                               "after hosting.")
    slugs = [base] + [f"{base}-{stage.number}" for stage in stages[1:]]
    for stage_slug in slugs:
        check_slug(session, stage_slug)
    hosted = []
    for stage, stage_slug in zip(stages, slugs):
        phase = stage.task.phase
        stage_ref = stage.task.spec.ref + (f"&native={stage.detection.metric}" if native and stage.detection.metric else "")
        dates = {"starts_at": phase.starts_at, "ends_at": phase.ends_at}
        hosted.append(host(session, stage_ref, slug=stage_slug, **{**dates, **settings}))
    return hosted


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
