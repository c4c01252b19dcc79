"""Submissions: accepting an upload under the limits, the job states, final selections.

States: ``queued`` -> ``scoring`` -> ``scored`` | ``failed``. Only ``failed`` frees
a slot, and only a participant's invalid file ends there; a failure of ours is
retried, and after the last retry it fails without having cost anything. A code
submission's run shows its own states (:func:`run_state`): ``queued`` -> ``running``
(the program) -> ``scoring`` (its predictions) -> ``scored`` | ``failed``; a run that
fails because of the program (time, memory, an error, no valid predictions) keeps its
slot, as on other platforms, while a failure of the sandbox is ours and costs nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, case, func, or_, select, update
from sqlalchemy.orm import Session

from arena.db import generations
from arena.db.models import AuditEntry, Competition, DryRun, Membership, ScoreRecord, Submission, Team, User, utcnow
from arena.scoring.score import Score
from arena.server import audit
from arena.server.competitions import CompetitionError, accepting_submissions
from arena.server.teams import lock, locked, team_for_upload

COUNTED = ("queued", "scoring", "scored")
CODE_FAILURES = ("time", "memory", "error", "output")
"""Why a participant's program failed on the test inputs: each costs the slot (the program, not Arena, failed)."""
MAX_ATTEMPTS = 3
OUR_FAILURE = (
    "Arena could not score this file because of a problem on our side. "
    "It did not use a submission slot; please upload it again later."
)
TIME_LIMIT = (
    "Scoring this file took longer than the competition's time limit, so Arena stopped it. It did not use "
    "a submission slot. Check that it is an ordinary predictions file like sample_submission.csv."
)
UNCHARGED_KINDS = ("ours", "timeout", "program")
"""Failures that cost no slot although the file reached scoring: a failure of ours, a kill for time, a scoring
program's refusal. Each is a free look at the scorer, so a team gets a bounded number a day (FAILURE_LIMIT)."""
CRASHED = (
    "Scoring this file stopped {attempts} times before it finished, so Arena gave up on it. It did not use "
    "a submission slot. Check that it is an ordinary predictions file like sample_submission.csv, "
    "then upload it again."
)


class LimitError(CompetitionError):
    headline = "Submission limit reached"


@dataclass(frozen=True)
class Accepted:
    submission: Submission
    duplicate: bool  # an identical file from this team: the earlier submission is returned, nothing counted


def _charged():
    """The submissions that use a slot: those queued, scoring or scored, and code runs that failed for the program."""
    return or_(Submission.status.in_(COUNTED), Submission.code_failure.is_not(None))


def _used(session: Session, team: Team, competition: Competition, day: str | None) -> int:
    query = (
        select(func.count())
        .select_from(Submission)
        .where(Submission.team_id == team.id, Submission.competition_id == competition.id, _charged())
    )
    if day is not None:
        query = query.where(Submission.utc_day == day)
    return session.scalar(query) or 0


def _slots_and_duplicate(
    session: Session, team: Team, competition: Competition, day: str, file_sha256: str
) -> tuple[int, int, int | None]:
    """The team's counted submissions today and in all, and its earliest counted one of this very file
    (None if none): what an upload is checked against, read in one query under the team's lock."""
    return tuple(
        session.execute(
            select(
                func.count(case((Submission.utc_day == day, 1))),
                func.count(),
                func.min(
                    case(((Submission.file_sha256 == file_sha256) & Submission.status.in_(COUNTED), Submission.id))
                ),
            ).where(Submission.team_id == team.id, Submission.competition_id == competition.id, _charged())
        ).one()
    )


def accept(
    session: Session,
    competition: Competition,
    user: User,
    *,
    file_sha256: str,
    file_name: str,
    file_size: int,
    note: str = "",
    is_baseline: bool = False,
    now: datetime | None = None,
    program: bool | None = None,
    baseline_model: str = "",
) -> Accepted:
    """Record an upload as ``queued``, enforcing the daily and total limits of the uploader's team.

    ``program`` says whether the upload is a program to run (a code run, whose job runs it before scoring its
    predictions) or a predictions file; by default, what the competition takes. A suite's model may give a program
    for a task that declares code while its competition takes files from everyone else.

    Call inside a transaction: the team row is locked (``FOR UPDATE`` on PostgreSQL,
    ``BEGIN IMMEDIATE`` on SQLite), so N parallel uploads against a limit of N
    cannot all pass the check.

    After the end, where the organisers allow late submissions, the upload is taken as a late one (its own
    board, never ranked), under the same limits. A reference model's upload (``is_baseline``, organisers only)
    names its model (``baseline_model``): each model is a row of its own on the board.
    """
    from arena.server.rules_acceptance import require_accepted

    now = now or utcnow()
    program = competition.submission_kind == "code" if program is None else program
    if (is_baseline or baseline_model) and not user.is_organiser:
        raise CompetitionError("only organisers may mark an upload as a baseline; upload it without the baseline flag.")
    baseline_model = reference_model_name(baseline_model)
    is_baseline = is_baseline or bool(baseline_model)
    is_open, why = accepting_submissions(competition, now)
    late = not is_open and takes_late(competition, now)
    if not is_open and not late:
        raise CompetitionError(why)
    require_accepted(session, competition, user, doing="submitting")
    team = locked(session, Team, team_for_upload(session, competition, user).id)  # its limit and state, now
    if team.disqualified:
        raise CompetitionError(
            f"team '{team.name}' was disqualified by the organisers of this competition "
            + (f"({team.disqualified_reason}) " if team.disqualified_reason else "")
            + "and cannot submit; ask them if you think this is a mistake."
        )
    day = now.strftime("%Y-%m-%d")
    failures = uncharged_failures(session, team, competition, day)
    if failures >= failure_limit():
        tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
        raise LimitError(
            f"team '{team.name}' has had {failures} uploads on {day} (UTC) that could not be scored. They "
            f"cost no submission slot, but Arena takes no more uploads from the team today: uploads open "
            f"again at {tomorrow} 00:00 UTC, or sooner if the organisers clear the count. Check that your "
            "file is an ordinary predictions file like sample_submission.csv."
        )
    used_today, used_in_all, duplicate_id = _slots_and_duplicate(session, team, competition, day, file_sha256)
    if duplicate_id is not None:
        return Accepted(session.get_one(Submission, duplicate_id), duplicate=True)
    if used_today >= daily_limit(competition, team):
        tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
        raise LimitError(
            f"team '{team.name}' has used all {daily_limit(competition, team)} submissions for {day} (UTC). "
            f"New slots open at {tomorrow} 00:00 UTC. "
            + (
                "A program that fails on the test inputs counts; a dry run on the public sample does not."
                if program
                else "Invalid files do not count."
            )
        )
    if competition.total_limit is not None and used_in_all >= competition.total_limit:
        raise LimitError(
            f"team '{team.name}' has used all {competition.total_limit} submissions allowed in this competition."
        )
    submission = Submission(
        competition_id=competition.id,
        team_id=team.id,
        user_id=user.id,
        file_sha256=file_sha256,
        file_name=file_name[:255],
        file_size=file_size,
        note=note[:500],
        status="queued",
        utc_day=day,
        created_at=now,
        is_baseline=is_baseline,
        baseline_model=baseline_model,
        late=late,
        run_status="queued" if program else None,
    )
    session.add(submission)
    session.flush()
    return Accepted(submission, duplicate=False)


MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
"""A reference model's name as its board row shows it (``baseline: cnn``): a short word, no spaces."""


def reference_model_name(name: str) -> str:
    """The reference model's name, checked ("" for a baseline uploaded without one)."""
    name = (name or "").strip()
    if name and not MODEL_NAME.fullmatch(name):
        raise CompetitionError(
            "a baseline's model name must be 1 to 64 letters, digits or . _ + - (starting with a letter or digit), "
            f"such as cnn or resnet-18; got {name[:80]!r}."
        )
    return name


def takes_late(competition: Competition, now: datetime) -> bool:
    """Whether an upload now is a late submission: the competition has ended, is published (not a draft nor
    archived, not closed by hand) and its organisers allow late submissions."""
    return bool(
        competition.late_submissions
        and competition.lifecycle == "published"
        and competition.is_open
        and competition.ends_at is not None
        and now >= competition.ends_at
    )


def slots_left(session: Session, competition: Competition, team: Team | None, now: datetime | None = None) -> int:
    if team is None:
        return competition.daily_limit
    day = (now or utcnow()).strftime("%Y-%m-%d")
    return max(0, daily_limit(competition, team) - _used(session, team, competition, day))


def daily_limit(competition: Competition, team: Team | None) -> int:
    """The team's daily limit: the organisers' override for this team, or the competition's."""
    override = team.daily_limit_override if team is not None else None
    return override if override is not None else competition.daily_limit


def set_team_daily_limit(session: Session, team: Team, limit: int | None) -> None:
    """Override one team's daily limit (None: back to the competition's); the team row is locked first."""
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise CompetitionError(
            f"a team's daily limit must be a whole number of 1 or more, or empty for the "
            f"competition's own limit; got {limit!r}."
        )
    lock(session, Team, team.id)
    team.daily_limit_override = limit


def for_team(session: Session, team: Team) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.team_id == team.id)
            .order_by(Submission.created_at.desc(), Submission.id.desc())
        )
    )


def history(session: Session, submission: Submission) -> list[ScoreRecord]:
    return list(
        session.scalars(select(ScoreRecord).where(ScoreRecord.submission_id == submission.id).order_by(ScoreRecord.id))
    )


def get(session: Session, submission_id: int) -> Submission:
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise CompetitionError(f"there is no submission #{submission_id}.")
    return submission


def belongs_to(session: Session, made: Submission | DryRun, user: User) -> bool:
    """True when the user is in the team that made the submission (or asked for the dry run)."""
    membership = session.scalar(
        select(Membership).where(Membership.competition_id == made.competition_id, Membership.user_id == user.id)
    )
    return membership is not None and membership.team_id == made.team_id


def set_selected(session: Session, submission: Submission, selected: bool) -> None:
    """Choose (or un-choose) a final submission for the private leaderboard.

    The lock is the submission's own competition's, whatever page or route asked;
    the team row is locked, so concurrent choices cannot pass the limit together.
    """
    if not isinstance(selected, bool):
        raise CompetitionError(f"'selected' must be true or false, got {selected!r}.")
    # FOR SHARE: a reveal committing meanwhile waits for this choice, or this choice sees the reveal.
    competition = session.scalars(
        select(Competition)
        .where(Competition.id == submission.competition_id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    if competition.revealed:
        raise CompetitionError("the private leaderboard is revealed; final choices are locked.")
    lock(session, Team, submission.team_id)
    session.refresh(submission)
    if selected:
        if submission.late:
            raise CompetitionError(
                "a late submission is never ranked with the competition's, so it cannot be a final; choose one "
                "made before the end."
            )
        if submission.status != "scored" or submission.disqualified:
            raise CompetitionError("only scored, non-disqualified submissions can be chosen as finals.")
        chosen = session.scalars(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.team_id == submission.team_id, Submission.selected.is_(True), Submission.id != submission.id
            )
        ).one()
        if chosen >= competition.final_selections:
            raise CompetitionError(
                f"your team has already chosen {competition.final_selections} final submissions; un-choose one first."
            )
    submission.selected = selected


# --- the job's side ----------------------------------------------------------------


def claim(session: Session, submission_id: int, worker: str | None = None) -> bool:
    """Atomically move a queued submission to ``scoring`` for ``worker``; False if someone else has it."""
    now = utcnow()
    result = cast(
        CursorResult,
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "queued")
            .values(
                status="scoring",
                worker=worker,
                scoring_started_at=now,
                heartbeat_at=now,
                attempts=Submission.attempts + 1,
            )
        ),
    )
    return result.rowcount == 1


def beat(session: Session, submission_id: int, worker: str) -> bool:
    """The worker scoring a job says it is alive; False when the job is no longer its own."""
    result = cast(
        CursorResult,
        session.execute(
            update(Submission)
            .where(Submission.id == submission_id, Submission.status == "scoring", Submission.worker == worker)
            .values(heartbeat_at=utcnow())
        ),
    )
    return result.rowcount == 1


def holds_claim(submission: Submission, worker: str | None) -> bool:
    """True while ``worker`` still holds the job: its result may be recorded."""
    return submission.status == "scoring" and submission.worker == worker


def queued_jobs(session: Session, limit: int | None = 500) -> list[tuple[int, int]]:
    """(submission id, competition id) of the queued jobs, oldest first."""
    return [
        (submission_id, competition_id)
        for submission_id, competition_id in session.execute(
            select(Submission.id, Submission.competition_id)
            .where(Submission.status == "queued")
            .order_by(Submission.id)
            .limit(limit)
        )
    ]


def competitions_of(session: Session, ids: list[int]) -> list[tuple[int, Competition]]:
    """Each submission id with its competition."""
    return [
        (submission_id, competition)
        for submission_id, competition in session.execute(
            select(Submission.id, Competition)
            .join(Competition, Competition.id == Submission.competition_id)
            .where(Submission.id.in_(ids))
        )
    ]


def waits_for_free_competitions(session: Session, submission_id: int) -> bool:
    """True when the queued submission's competition has a job scoring now and some other competition
    with no job scoring has one queued (the Redis workers' rule: free competitions go first)."""
    competition_id = session.scalar(
        select(Submission.competition_id).where(Submission.id == submission_id, Submission.status == "queued")
    )
    if competition_id is None:
        return False
    busy = set(session.scalars(select(Submission.competition_id).where(Submission.status == "scoring")))
    if competition_id not in busy:
        return False
    return (
        session.scalar(
            select(Submission.id).where(Submission.status == "queued", Submission.competition_id.not_in(busy)).limit(1)
        )
        is not None
    )


def queued_ids(session: Session, limit: int | None = 100) -> list[int]:
    return [submission_id for submission_id, _ in queued_jobs(session, limit)]


def scoring_workers(session: Session) -> list[tuple[int, str | None]]:
    """(submission id, worker) of every job being scored now."""
    return [
        (submission_id, worker)
        for submission_id, worker in session.execute(
            select(Submission.id, Submission.worker).where(Submission.status == "scoring")
        )
    ]


def requeue_stuck(session: Session, stale_before: datetime, dead: list[int] | tuple[int, ...] = ()) -> list[int]:
    """Jobs whose worker stopped beating before ``stale_before``, or is known to be ``dead``, go back in the queue.

    A live job is never taken: only a silent or dead worker loses its claim. A job
    that has already had ``MAX_ATTEMPTS`` claims fails instead, with a message (the
    file may be what stops the worker), so it cannot crash workers forever, across
    restarts too. Returns the ids put back in the queue.
    """
    last_sign = func.coalesce(Submission.heartbeat_at, Submission.scoring_started_at)
    gone = last_sign < stale_before
    if dead:
        gone = gone | Submission.id.in_(list(dead))
    requeued = []
    for submission_id, worker, attempts, competition_id in session.execute(
        select(Submission.id, Submission.worker, Submission.attempts, Submission.competition_id).where(
            Submission.status == "scoring", gone
        )
    ):
        values = (
            {"status": "queued"}
            if attempts < MAX_ATTEMPTS
            else {
                "status": "failed",
                "problems": [CRASHED.format(attempts=attempts)],
                "score": None,
                "failure_kind": "ours",
                "public_primary": None,
                "private_primary": None,
                "selected": False,
            }
        )
        mine = Submission.worker.is_(None) if worker is None else Submission.worker == worker
        changed = cast(
            CursorResult,
            session.execute(
                update(Submission)
                .where(Submission.id == submission_id, Submission.status == "scoring", mine)
                .values(worker=None, **values)
            ),
        ).rowcount
        if changed and values["status"] == "queued":
            requeued.append(submission_id)
        elif changed:  # a failed job leaves the board it was on
            generations.touch(session, competition_id)
    return requeued


def record_score(session: Session, submission: Submission, competition: Competition, score: Score) -> None:
    submission.status = "scored"
    submission.problems = submission.failure_detail = submission.failure_kind = submission.code_failure = None
    if submission.run_status is not None:
        submission.run_status = "scored"
    submission.score = score.to_dict()
    submission.public_primary = _finite(score.public[score.primary])
    submission.private_primary = _finite(score.private[score.primary])
    submission.scored_version = competition.task_version
    session.add(
        ScoreRecord(
            submission_id=submission.id,
            task_version=competition.task_version,
            answer_sha256=competition.answer_sha256,
            score=score.to_dict(),
        )
    )


def run_state(submission: Submission) -> str | None:
    """A code submission's run status: queued, running (the program), scoring (its predictions), scored or failed;
    None for a predictions file."""
    if submission.run_status is None:
        return None
    return submission.run_status if submission.status == "scoring" else submission.status


def record_run(submission: Submission, *, wall_seconds, cpu_seconds, peak_memory_mb, log: str) -> None:
    """The program ran and left predictions: what it measured, its output kept for organisers; scoring is next."""
    submission.run_status = "scoring"
    submission.wall_seconds, submission.cpu_seconds = wall_seconds, cpu_seconds
    submission.peak_memory_mb = peak_memory_mb
    submission.run_log = log


def record_code_failure(
    submission: Submission, verdict: str, problems: list[str], *, detail: str = "", log: str = ""
) -> None:
    """The participant's program failed on the test inputs (``verdict``: time, memory, error or output): the
    submission fails and keeps its slot. ``problems`` are fixed neutral words; ``detail`` and ``log`` (which may
    carry the test inputs) are for the organisers only."""
    if verdict not in CODE_FAILURES:
        raise ValueError(f"unknown code failure {verdict!r}")
    record_invalid(submission, problems, detail=detail)
    submission.code_failure = verdict
    submission.failure_kind = None
    submission.run_status = "failed"
    submission.run_log = log or submission.run_log


def record_invalid(
    submission: Submission, problems: list[str], *, detail: str = "", failure_kind: str | None = None
) -> None:
    """The participant's file is invalid: it fails, with the report, and frees its slot.

    ``detail`` (a scoring program's output) is for the organisers only; ``failure_kind`` says
    whether the failure counts against the team's daily allowance of uncharged failures.
    """
    submission.status = "failed"
    submission.failure_detail = detail or submission.failure_detail
    if failure_kind is not None:
        submission.failure_kind = failure_kind
    submission.problems = problems
    submission.score = None
    submission.public_primary = submission.private_primary = None
    submission.selected = False


def record_our_failure(submission: Submission, detail: str | None = None, *, failure_kind: str = "ours") -> None:
    """Our fault, or a kill for time: retry, or after the last attempt fail without charging the team.

    ``detail`` (a traceback, the time limit) is kept for the organisers' admin page; participants only
    ever see OUR_FAILURE or TIME_LIMIT. A job killed for time is tried again at most ``timeout_retries()``
    times: the count is stored, so no restart runs it again.
    """
    submission.failure_detail = detail
    submission.failure_kind = failure_kind
    if failure_kind == "timeout":
        submission.timeouts += 1
        if submission.timeouts > timeout_retries():
            record_invalid(submission, [TIME_LIMIT])
            return
    if submission.attempts < MAX_ATTEMPTS:
        submission.status = "queued"
    else:
        record_invalid(submission, [OUR_FAILURE])


def timeout_retries() -> int:
    """``ARENA_TIMEOUT_RETRIES`` (default 1): how often a job killed for time is tried again before it fails."""
    return max(0, int(os.environ.get("ARENA_TIMEOUT_RETRIES", "1")))


def failure_limit() -> int:
    """``ARENA_FAILURE_LIMIT`` (default 5): uncharged failures a team may have per UTC day before uploads stop."""
    return max(1, int(os.environ.get("ARENA_FAILURE_LIMIT", "5")))


def _uncharged(competition: Competition, day: str):
    """A query of the competition's uploads of ``day`` (UTC) that failed without costing a slot, each team's
    counted only since an organiser last cleared them, with the team joined."""
    return (
        select(func.count())
        .select_from(Submission)
        .join(Team, Team.id == Submission.team_id)
        .where(
            Submission.competition_id == competition.id,
            Submission.utc_day == day,
            Submission.failure_kind.in_(UNCHARGED_KINDS),
            Submission.status != "scored",
            or_(Team.failures_cleared_at.is_(None), Submission.created_at > Team.failures_cleared_at),
        )
    )


def uncharged_failures(session: Session, team: Team, competition: Competition, day: str) -> int:
    """The team's uploads of ``day`` (UTC) that failed without costing a slot, since an organiser last cleared them."""
    return session.scalar(_uncharged(competition, day).where(Submission.team_id == team.id)) or 0


def uncharged_failures_by_team(session: Session, competition: Competition, day: str | None = None) -> dict[int, int]:
    """Each team's uncharged failures of ``day`` (default today, UTC), teams without any left out: what the
    admin page shows, in one query."""
    query = _uncharged(competition, day or utcnow().strftime("%Y-%m-%d")).add_columns(Submission.team_id)
    return {team_id: count for count, team_id in session.execute(query.group_by(Submission.team_id))}


def note_uncharged_failure(session: Session, submission: Submission, competition: Competition) -> None:
    """Write to the audit log when this failure brings the team to its daily limit of uncharged failures."""
    team = session.get_one(Team, submission.team_id)
    count = uncharged_failures(session, team, competition, submission.utc_day)
    if count != failure_limit():
        return
    detail = f"team {team.name}: {count} uploads of {submission.utc_day} failed without costing a slot; uploads stop"
    already = session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.competition_id == competition.id,
            AuditEntry.action == "failure-limit",
            AuditEntry.detail == detail,
            AuditEntry.created_at > (team.failures_cleared_at or datetime.min),
        )
    )
    if not already:
        audit.record(session, competition, None, "failure-limit", detail, by="Arena")


def clear_failures(session: Session, competition: Competition, team: Team, now: datetime | None = None) -> int:
    """A team may upload again today: its uncharged failures so far stop counting; returns how many did
    (:func:`arena.server.organiser_actions.clear_failures` is the organiser's action, logged)."""
    now = now or utcnow()
    lock(session, Team, team.id)
    count = uncharged_failures(session, team, competition, now.strftime("%Y-%m-%d"))
    team.failures_cleared_at = now
    return count


MAX_REASON = 500
"""The most characters of the reason for a disqualification, which the team is shown."""


def disqualification_reason(reason: str | None, disqualified: bool) -> str:
    """The reason kept with a disqualification ("" on a restore), checked: the team reads it, so it says why."""
    reason = (reason or "").strip()
    if not disqualified:
        return ""
    if len(reason) > MAX_REASON:
        raise CompetitionError(
            f"the reason for a disqualification has {len(reason)} characters; at most {MAX_REASON} fit. Shorten it: "
            "the team reads it on its submissions page."
        )
    return reason


def disqualify(submission: Submission, disqualified: bool = True, reason: str = "") -> None:
    """Take one submission off the board (or put it back); the reason is shown to the submitting team only."""
    submission.disqualified_reason = disqualification_reason(reason, disqualified)
    submission.disqualified = disqualified
    if disqualified:
        submission.selected = False


def disqualify_team(session: Session, team: Team, disqualified: bool = True, reason: str = "") -> None:
    """Take a whole team off the board: nothing of it ranks, and it cannot upload again (until restored). The
    reason is shown to the team's members only."""
    reason = disqualification_reason(reason, disqualified)
    lock(session, Team, team.id)
    team.disqualified = disqualified
    team.disqualified_reason = reason


def team_in(session: Session, competition: Competition, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None or team.competition_id != competition.id:
        raise CompetitionError(f"there is no team #{team_id} in this competition.")
    return team


def teams_of(session: Session, competition: Competition) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.competition_id == competition.id).order_by(Team.name)))


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def for_competition(session: Session, competition: Competition) -> list[Submission]:
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.competition_id == competition.id)
            .order_by(Submission.created_at.desc(), Submission.id.desc())
        )
    )
