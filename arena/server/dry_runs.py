"""Dry runs: a team runs its program on the public sample to see that it works, before spending a slot.

A dry run checks the predictions as an upload is checked (against the sample's ids) and shows the team the
program's output (its last :data:`~arena.server.code_runs.SHOWN_LOG_CHARS` characters): the sample is training rows,
public anyway, so nothing hidden can be in it. It is never scored or ranked and uses no submission slot; a team has
its own daily allowance of dry runs, as many as its daily limit of submissions, so that the sandbox cannot be used
for free computing. States: ``queued`` -> ``running`` -> ``done`` | ``failed``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import BinaryIO, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from arena.code.failures import OURS_MESSAGE
from arena.db.database import Database
from arena.db.models import Competition, DryRun, Team, User, utcnow
from arena.scoring.validation import DEFAULT_MAX_BYTES
from arena.server import code_runs, files, slots
from arena.server.claims import worker_name
from arena.server.competitions import CompetitionError, accepting_submissions, is_code
from arena.server.files import path_for
from arena.server.rules_acceptance import require_accepted
from arena.server.submissions import MAX_ATTEMPTS, LimitError, daily_limit
from arena.server.teams import locked, team_for_upload
from arena.server.uploads import check_program

GRACE = timedelta(seconds=60)
"""How long past its own limit a running dry run may stay silent before it goes back in the queue."""


def daily_dry_runs(competition: Competition, team: Team | None) -> int:
    """A team's dry runs per UTC day: as many as its daily limit of submissions."""
    return daily_limit(competition, team)


def request(
    session: Session,
    competition: Competition,
    user: User,
    stream: BinaryIO,
    file_name: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    now: datetime | None = None,
) -> DryRun:
    """Receive a program and queue its dry run under the team's daily allowance of dry runs.

    As with a submission (:func:`arena.server.uploads.submit_stream`), the bytes are received first with no
    transaction open, and a refused program leaves nothing behind.
    """
    received = files.receive(stream, max_bytes)
    try:
        require_accepted(session, competition, user, doing="a dry run")
        if not is_code(competition):
            raise CompetitionError(
                "dry runs are for code competitions: this competition takes predictions files, which are checked "
                "when you submit them."
            )
        is_open, why = accepting_submissions(competition, now)
        if not is_open:
            raise CompetitionError(why)
        check_program(competition, received.path, file_name)
        team = locked(session, Team, team_for_upload(session, competition, user).id)  # its allowance, now
        if team.disqualified:
            raise CompetitionError(f"team '{team.name}' was disqualified by the organisers and cannot run code.")
        now = now or utcnow()
        day = now.strftime("%Y-%m-%d")
        used = session.scalar(
            select(func.count())
            .select_from(DryRun)
            .where(DryRun.team_id == team.id, DryRun.utc_day == day, DryRun.code_failure.is_distinct_from("ours"))
        )
        allowed = daily_dry_runs(competition, team)
        if (used or 0) >= allowed:
            tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
            raise LimitError(
                f"team '{team.name}' has used all {allowed} dry runs for {day} (UTC); more open at {tomorrow} "
                "00:00 UTC. Dry runs never use a submission slot."
            )
        dry_run = DryRun(
            competition_id=competition.id,
            team_id=team.id,
            user_id=user.id,
            file_sha256=received.sha256,
            file_name=files.kept_file_name(file_name),
            status="queued",
            utc_day=day,
            created_at=now,
        )
        session.add(dry_run)
        session.flush()
        files.keep(received)
        return dry_run
    finally:
        files.discard(received)


def get(session: Session, dry_run_id: int) -> DryRun:
    found = session.get(DryRun, dry_run_id)
    if found is None:
        raise CompetitionError(f"there is no dry run #{dry_run_id}.")
    return found


def for_team(session: Session, team: Team, limit: int = 20) -> list[DryRun]:
    """The team's latest dry runs, newest first."""
    return list(
        session.scalars(select(DryRun).where(DryRun.team_id == team.id).order_by(DryRun.id.desc()).limit(limit))
    )


def summary(dry_run: DryRun) -> dict:
    """What its team sees of a dry run: status, problems, what it measured, and its output on the public sample."""
    return {
        "id": dry_run.id,
        "file_name": dry_run.file_name,
        "status": dry_run.status,
        "requested_at": dry_run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "failure": dry_run.code_failure,
        "problems": dry_run.problems or [],
        "wall_seconds": dry_run.wall_seconds,
        "cpu_seconds": dry_run.cpu_seconds,
        "peak_memory_mb": dry_run.peak_memory_mb,
        "log": code_runs.shown_log(dry_run.log),
    }


# --- the job's side ----------------------------------------------------------------


MAX_SECONDS = 86400 + code_runs.SETUP_SECONDS + 120
"""RQ's backstop for a dry run's job: past any task's time limit (the slot ends the run at its own)."""


def queued_jobs(session: Session) -> list[tuple[int, int]]:
    """(dry run id, competition id) of the queued dry runs, oldest first."""
    return [
        (dry_run_id, competition_id)
        for dry_run_id, competition_id in session.execute(
            select(DryRun.id, DryRun.competition_id).where(DryRun.status == "queued").order_by(DryRun.id)
        )
    ]


def queued_ids(session: Session) -> list[int]:
    return [dry_run_id for dry_run_id, _ in queued_jobs(session)]


def sweep(session: Session, now: datetime | None = None) -> list[int]:
    """Dry runs left ``running`` past their limit (their worker died) go back in the queue, or fail after the
    last attempt without costing anything; returns those put back."""
    now = now or utcnow()
    requeued = []
    running = session.execute(
        select(DryRun, Competition)
        .join(Competition, Competition.id == DryRun.competition_id)
        .where(DryRun.status == "running")
    ).all()
    for dry_run, competition in running:
        deadline = (dry_run.started_at or now) + timedelta(seconds=code_runs.run_limit(competition)) + GRACE
        if deadline >= now:
            continue
        if dry_run.attempts < MAX_ATTEMPTS:
            dry_run.status, dry_run.worker = "queued", None
            requeued.append(dry_run.id)
        else:
            _ours(dry_run, "the dry run's worker stopped before it finished, on every attempt.")
    return requeued


def _claim(session: Session, dry_run_id: int, worker: str) -> bool:
    result = cast(
        CursorResult,
        session.execute(
            update(DryRun)
            .where(DryRun.id == dry_run_id, DryRun.status == "queued")
            .values(status="running", worker=worker, started_at=utcnow(), attempts=DryRun.attempts + 1)
        ),
    )
    return result.rowcount == 1


def _ours(dry_run: DryRun, detail: str) -> None:
    dry_run.status, dry_run.code_failure, dry_run.problems = "failed", "ours", [OURS_MESSAGE]
    dry_run.log = ""  # the organisers' detail is in the server's log; the team sees the neutral words
    dry_run.worker = None
    code_runs.log.error("dry run %s failed on our side: %s", dry_run.id, detail)


def run_one(db: Database, dry_run_id: int, slot: slots.Slot) -> str | None:
    """Claim and run one dry run in ``slot``; returns its new status (None if another worker had it)."""
    worker = worker_name()
    with db.session() as session, session.begin():
        if not _claim(session, dry_run_id, worker):
            return None
        dry_run = session.get_one(DryRun, dry_run_id)
        competition = session.get_one(Competition, dry_run.competition_id)
        job = code_runs.RunJob(
            competition.task_ref,
            str(path_for(dry_run.file_sha256)),
            dry_run.file_name,
            str(code_runs.work_folder()),
            sample=True,
        )
        limit = code_runs.run_limit(competition)
    try:
        ran = code_runs.run_in_slot(slot, job, limit)
    finally:
        code_runs.remove(job.work)
    with db.session() as session, session.begin():
        dry_run = session.get_one(DryRun, dry_run_id, with_for_update=True)
        if dry_run.status != "running" or dry_run.worker != worker:
            return None
        dry_run.worker = None
        dry_run.wall_seconds, dry_run.cpu_seconds = ran.wall_seconds, ran.cpu_seconds
        dry_run.peak_memory_mb = ran.peak_memory_mb
        if ran.kind == "ours":
            if dry_run.attempts < MAX_ATTEMPTS:
                dry_run.status = "queued"
            else:
                _ours(dry_run, ran.detail)
            return dry_run.status
        dry_run.log = ran.log[-code_runs.KEPT_LOG_CHARS :]  # the public sample's: the team may read it
        if ran.kind == "ran":
            dry_run.status = "done"
        else:
            dry_run.status, dry_run.code_failure = "failed", ran.verdict or "error"
            dry_run.problems = list(ran.problems)
        return dry_run.status
