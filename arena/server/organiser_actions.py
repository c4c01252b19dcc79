"""Organiser actions on a competition: each is one call that does the action and writes its line in the audit log.

The pages and the API parse the request, call one of these inside their
transaction, and show the result; the audit entry lands only if the action does.
Admitting a person is not logged; a change of settings is, by :func:`arena.server.competitions.change_settings`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from arena.db.models import Competition, Submission, Team, User
from arena.server import (
    announcements,
    audit,
    competitions,
    lifecycle,
    notifications,
    stages,
    submissions,
    suite_releases,
    suites,
)
from arena.server.suites import HostedSuite


def host(
    session: Session, user: User | None, task_ref: str, *, described: str | None = None, **settings
) -> Competition:
    """Host a task (see :func:`competitions.host`); the log names it as ``described``, or by its reference. A bundle
    of phases hosts a stage per phase, and each stage's log says so."""
    competition = competitions.host(session, task_ref, **settings)
    session.flush()
    hosted = [other for other, _ in stages.siblings(session, competition) if other.id >= competition.id]
    for each in hosted or [competition]:
        _hosted(session, each, user, described or task_ref)
    return competition


def host_uploaded_bundle(
    session: Session,
    user: User,
    archive: Path,
    slug: str | None,
    *,
    state: str | None = None,
    described: str = "an uploaded bundle",
    **settings,
) -> Competition:
    """Host an uploaded bundle archive (the short name checked first); ``state="draft"`` keeps it a draft."""
    competition = competitions.host_uploaded_bundle(session, archive, slug, **settings)
    if state == "draft":
        competition.lifecycle = "draft"
    _hosted(session, competition, user, described)
    return competition


def _hosted(session: Session, competition: Competition, user: User | None, described: str) -> None:
    audit.record(session, competition, user, "host", f"{described} as {lifecycle.state_of(competition)}")


def set_open(session: Session, competition: Competition, user: User, is_open: bool) -> None:
    """Open (publishing a draft) or close uploads."""
    competitions.set_open(competition, is_open)
    audit.record(session, competition, user, "open" if is_open else "close")


def reveal(session: Session, competition: Competition, user: User) -> None:
    """Publish the private leaderboard: final, never undone."""
    competitions.reveal(competition)
    audit.record(session, competition, user, "reveal")
    notifications.revealed(session, competition)


def archive(session: Session, competition: Competition, user: User) -> None:
    """Keep a closed or revealed competition for reference, read-only."""
    lifecycle.archive(competition)
    audit.record(session, competition, user, "archive")


def delete_draft(session: Session, competition: Competition, user: User) -> None:
    """Delete a draft and everything made in it (the log entry outlives it)."""
    audit.record(session, competition, user, "delete", "draft deleted")
    lifecycle.delete_draft(session, competition)


def rescore(session: Session, competition: Competition, user: User) -> int:
    """Queue every scored submission for scoring again; returns how many."""
    queued = competitions.queue_rescore(session, competition)
    audit.record(session, competition, user, "rescore", f"{queued} submissions queued")
    return queued


def replace_task(session: Session, competition: Competition, user: User, task_ref: str) -> int:
    """Switch to a new version of the task and queue every submission for rescoring; returns how many."""
    queued = competitions.replace_task(
        session, competition, task_ref, before_new_version=suite_releases.freeze_suites_of
    )
    audit.record(
        session,
        competition,
        user,
        "replace",
        f"task version {competition.task_version}; {queued} submissions queued for rescoring",
    )
    return queued


def replace_task_with_upload(session: Session, competition: Competition, user: User, archive: Path) -> int:
    """:func:`replace_task` with an uploaded bundle archive, unpacked into a folder of its own first."""
    folder = competitions.unpack_uploaded_bundle(archive, competition.slug)
    return replace_task(session, competition, user, str(folder))


def disqualify_submission(
    session: Session, submission: Submission, user: User, disqualified: bool = True, reason: str = ""
) -> None:
    """Take one submission off the board (``disqualified=False``: put it back); the team is shown the reason."""
    submissions.disqualify(submission, disqualified, reason)
    audit.record(
        session,
        session.get_one(Competition, submission.competition_id),
        user,
        "disqualify" if disqualified else "restore",
        f"submission #{submission.id}"
        + (f": {submission.disqualified_reason}" if submission.disqualified_reason else ""),
    )


def disqualify_team(
    session: Session, competition: Competition, user: User, team_id: int, disqualified: bool = True, reason: str = ""
) -> Team:
    """Take a whole team off the board and stop its uploads (``disqualified=False``: restore it); returns it. The
    team's members are shown the reason."""
    team = submissions.team_in(session, competition, team_id)
    submissions.disqualify_team(session, team, disqualified, reason)
    detail = f"team {team.name}" + (f": {team.disqualified_reason}" if team.disqualified_reason else "")
    audit.record(session, competition, user, "disqualify" if disqualified else "restore", detail)
    return team


def set_team_limit(
    session: Session, competition: Competition, user: User, team_id: int, daily_limit: int | None
) -> Team:
    """Give one team its own daily limit (None: the competition's again); returns the team."""
    team = submissions.team_in(session, competition, team_id)
    submissions.set_team_daily_limit(session, team, daily_limit)
    audit.record(
        session,
        competition,
        user,
        "team-limit",
        f"team #{team.id}: {daily_limit if daily_limit is not None else 'competition limit'}",
    )
    return team


def clear_failures(session: Session, competition: Competition, user: User, team_id: int) -> Team:
    """Let a team upload again today: its uncharged failures so far stop counting; returns the team."""
    team = submissions.team_in(session, competition, team_id)
    count = submissions.clear_failures(session, competition, team)
    audit.record(session, competition, user, "clear-failures", f"team {team.name}: {count} uncharged failures cleared")
    return team


def announce(session: Session, competition: Competition, user: User, body: str) -> None:
    """Publish an announcement on the competition's page."""
    announcements.post(session, competition, user, body)
    audit.record(session, competition, user, "announce", body[:80])
    notifications.announced(session, competition, body.strip())


def unannounce(session: Session, competition: Competition, user: User, announcement_id: int) -> None:
    """Remove an announcement."""
    announcements.remove(session, competition, announcement_id)
    audit.record(session, competition, user, "unannounce")


def host_suite(session: Session, user: User | None, ref: str, *, by: str = "(command line)") -> HostedSuite:
    """Host a suite (see :func:`suites.host_suite`): each competition hosted for it is logged as hosted, and each
    of its tasks' competitions logs the suite version that now ranks its submissions (nothing when unchanged)."""
    result = suites.host_suite(session, ref)
    suite = result.suite
    for competition in result.hosted:
        audit.record(session, competition, user, "host", f"task of suite '{suite.name}' as a standing benchmark", by=by)
    if result.changed:
        for task, competition in suites.suite_tasks(session, suite):
            audit.record(
                session,
                competition,
                user,
                "suite",
                f"task '{task.key}' of suite '{suite.name}' version {suite.version}",
                by=by,
            )
    return result
