"""Team changes after a team is formed, with Kaggle's rules: leave, merge (until the merger deadline), rename.

Every change runs in the caller's transaction, takes its locks in the one order of
:mod:`arena.server.teams` (user, competition, team) and re-reads what it checks under
them, so on SQLite and PostgreSQL alike two changes, or a change and an upload, never
pass their checks together. Each is written to the competition's audit log.

- **Leave**: a member leaves while the team has no submission (a submission is the
  whole team's work). A team left without members is deleted, with its dry runs and
  pending merge requests, so its name is free again.
- **Merge**: one team asks to merge into another; a member of the other team accepts.
  The asking team's members, submissions and dry runs move to the accepting team, which
  keeps its name and invite code; the asking team is deleted. Allowed until the merger
  deadline, when the two teams together have at most ``team_size`` members, and their
  counted submissions fit what one team could have made so far: the daily limit times
  the days the competition has run, and the total limit.
- **Rename**: any member, until the reveal; names are unique per competition without
  regard to case or look-alike forms.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from arena.db import generations
from arena.db.models import Competition, DryRun, Membership, Submission, Team, TeamMergeRequest, User, utcnow
from arena.server import audit
from arena.server.submissions import COUNTED, daily_limit
from arena.server.teams import (
    TeamChangeError,
    lock,
    locked,
    merger_deadline,
    name_key,
    normalise_team_name,
    require_teams_may_grow,
    team_of,
    teams_may_grow,
)

# --- what a merge must fit ------------------------------------------------------------------


def days_so_far(competition: Competition, now: datetime | None = None) -> int:
    """The UTC days the competition has taken submissions, today included (1 on its first day)."""
    now = now or utcnow()
    start = competition.starts_at or competition.created_at or now
    return max(1, (now.date() - start.date()).days + 1)


def merge_allowance(competition: Competition, team: Team, now: datetime | None = None) -> int:
    """The most counted submissions a merged team may hold now (Kaggle's rule): what one team could have made
    so far, the daily limit times the days so far, and never more than the total limit."""
    allowance = daily_limit(competition, team) * days_so_far(competition, now)
    if competition.total_limit is not None:
        allowance = min(allowance, competition.total_limit)
    return allowance


def counted_submissions(session: Session, team: Team) -> int:
    """The team's submissions that use a slot (queued, scoring, scored, and programs that failed on their own)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.team_id == team.id,
                or_(Submission.status.in_(COUNTED), Submission.code_failure.is_not(None)),
            )
        )
        or 0
    )


def has_submissions(session: Session, team: Team) -> bool:
    """True once the team has any submission, counted or not: from then on its members cannot leave it."""
    return session.scalar(select(Submission.id).where(Submission.team_id == team.id).limit(1)) is not None


def member_count(session: Session, team: Team) -> int:
    return session.scalar(select(func.count()).select_from(Membership).where(Membership.team_id == team.id)) or 0


# --- leave ---------------------------------------------------------------------------------


def leave_team(session: Session, competition: Competition, user: User) -> Team:
    """The user leaves their team, while it has no submission; a team left empty is deleted. Returns the team
    as it was (its name for the message)."""
    lock(session, User, user.id)
    lock(session, Competition, competition.id)  # a merge of this team waits, or is seen
    team = locked(session, Team, _own_team(session, competition, user).id)
    if has_submissions(session, team):
        raise TeamChangeError(
            f"you cannot leave team '{team.name}': it has submissions, and a submission is the whole team's. "
            "Stay in the team (you can rename it, or merge it with another team before the merger deadline)."
        )
    session.execute(
        delete(Membership).where(Membership.team_id == team.id, Membership.user_id == user.id),
        execution_options={"synchronize_session": False},
    )
    left_empty = member_count(session, team) == 0
    name = team.name
    if left_empty:
        _delete_team(session, team)
    else:
        session.expire(team, ["members"])
    audit.record(
        session,
        competition,
        user,
        "team-leave",
        f"{user.username} left team {name}" + ("; the team had no other member and was deleted" if left_empty else ""),
    )
    return team


def _delete_team(session: Session, team: Team) -> None:
    """Delete a team with no member and no submission, and what hangs on it (its dry runs, its merge requests)."""
    session.execute(delete(DryRun).where(DryRun.team_id == team.id))
    session.execute(
        delete(TeamMergeRequest).where(
            or_(TeamMergeRequest.from_team_id == team.id, TeamMergeRequest.to_team_id == team.id)
        )
    )
    session.execute(delete(Team).where(Team.id == team.id), execution_options={"synchronize_session": False})
    session.expunge(team)


# --- rename --------------------------------------------------------------------------------


def rename_team(session: Session, competition: Competition, user: User, name: str) -> Team:
    """A member renames their team (until the reveal); the name is checked as a new team's is."""
    name = normalise_team_name(name)
    lock(session, Competition, competition.id)  # two renames racing for one name: the second sees the first
    team = locked(session, Team, _own_team(session, competition, user).id)
    if competition.revealed or competition.lifecycle == "archived":
        raise TeamChangeError("this competition is over: its teams' names are final.")
    if team.disqualified:
        raise TeamChangeError(f"team '{team.name}' was disqualified by the organisers and cannot be renamed.")
    if name == team.name:
        return team
    key = name_key(name)
    others = session.scalars(select(Team.name).where(Team.competition_id == competition.id, Team.id != team.id))
    if any(name_key(other) == key for other in others):
        raise TeamChangeError(
            f"the team name '{name}' is taken in this competition (names are compared without regard to case or "
            "look-alike forms); choose another."
        )
    old = team.name
    team.name = name
    session.flush()
    generations.touch(session, competition.id)  # the board shows the new name
    audit.record(session, competition, user, "team-rename", f"team {old} renamed to {name} by {user.username}")
    return team


# --- merge requests ----------------------------------------------------------------------


def request_merge(session: Session, competition: Competition, user: User, into: str) -> TeamMergeRequest:
    """The user's team asks to merge into the team named ``into``; a member of that team accepts or declines.
    Asking twice returns the first request. Checked now and again at the acceptance."""
    lock(session, Competition, competition.id)
    team = _own_team(session, competition, user)
    other = _team_named(session, competition, into)
    if other.id == team.id:
        raise TeamChangeError("that is your own team: name the team you want to merge into.")
    require_teams_may_grow(competition)
    _check_merge(session, competition, team, other)
    existing = session.scalar(
        select(TeamMergeRequest).where(
            TeamMergeRequest.from_team_id == team.id, TeamMergeRequest.to_team_id == other.id
        )
    )
    if existing is not None:
        return existing
    request = TeamMergeRequest(
        competition_id=competition.id, from_team_id=team.id, to_team_id=other.id, requested_by=user.id
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        competition,
        user,
        "team-merge-request",
        f"{user.username} asked to merge team {team.name} into {other.name}",
    )
    return request


def merge_requests(session: Session, team: Team) -> tuple[list[TeamMergeRequest], list[TeamMergeRequest]]:
    """The team's pending requests: those it sent, and those it received (oldest first)."""
    rows = list(
        session.scalars(
            select(TeamMergeRequest)
            .where(or_(TeamMergeRequest.from_team_id == team.id, TeamMergeRequest.to_team_id == team.id))
            .order_by(TeamMergeRequest.id)
        )
    )
    return [r for r in rows if r.from_team_id == team.id], [r for r in rows if r.to_team_id == team.id]


def decline_merge(session: Session, competition: Competition, user: User, request_id: int) -> TeamMergeRequest:
    """A member of either team ends a pending request: the asking team withdraws it, the other declines it."""
    lock(session, Competition, competition.id)
    team = _own_team(session, competition, user)
    request = _request_of(session, competition, team, request_id, either_side=True)
    withdrawn = request.from_team_id == team.id
    detail = (
        f"{user.username} {'withdrew' if withdrawn else 'declined'} the request to merge team "
        f"{request.from_team.name} into {request.to_team.name}"
    )
    session.execute(delete(TeamMergeRequest).where(TeamMergeRequest.id == request.id))
    audit.record(session, competition, user, "team-merge-decline", detail)
    return request


def accept_merge(
    session: Session, competition: Competition, user: User, request_id: int, now: datetime | None = None
) -> Team:
    """A member of the receiving team accepts a request: the asking team merges into the receiving one, if the
    merged team fits the rules now. Returns the merged team."""
    now = now or utcnow()
    lock(session, Competition, competition.id)  # merges of one competition go one at a time
    team = _own_team(session, competition, user)
    request = _request_of(session, competition, team, request_id, either_side=False)
    require_teams_may_grow(competition, now)
    first, second = sorted((request.from_team_id, request.to_team_id))
    lock(session, Team, first)  # an upload to either team waits, or is counted below
    lock(session, Team, second)
    source = session.scalars(
        select(Team).where(Team.id == request.from_team_id).execution_options(populate_existing=True)
    ).one()
    target = session.scalars(
        select(Team).where(Team.id == request.to_team_id).execution_options(populate_existing=True)
    ).one()
    counted = _check_merge(session, competition, source, target, now)
    moved_members, source_name = [m.user.username for m in source.members], source.name
    _drop_extra_finals(session, competition, source, target)
    for model in (Submission, DryRun, Membership):
        session.execute(
            update(model).where(model.team_id == source.id).values(team_id=target.id),
            execution_options={"synchronize_session": False},
        )
    session.execute(delete(TeamMergeRequest).where(TeamMergeRequest.id == request.id))
    session.expire_all()  # the moved rows, as the database now holds them
    _delete_team(session, source)
    generations.touch(session, competition.id)  # the two teams' rows are one now
    audit.record(
        session,
        competition,
        user,
        "team-merge",
        f"team {source_name} ({', '.join(moved_members)}) merged into {target.name}, accepted by {user.username}; "
        f"{counted} counted submissions of {merge_allowance(competition, target, now)} allowed so far",
    )
    return target


def _check_merge(
    session: Session, competition: Competition, source: Team, target: Team, now: datetime | None = None
) -> int:
    """Refuse a merge that breaks a rule (every broken rule at once); returns the merged team's counted
    submissions."""
    problems = []
    for team in (source, target):
        if team.disqualified:
            problems.append(f"team '{team.name}' was disqualified by the organisers and cannot merge.")
    members = member_count(session, source) + member_count(session, target)
    if members > competition.team_size:
        problems.append(
            f"together the teams have {members} members, more than this competition's team size of "
            f"{competition.team_size}."
        )
    counted = counted_submissions(session, source) + counted_submissions(session, target)
    allowance = merge_allowance(competition, target, now)
    if counted > allowance:
        problems.append(
            f"together the teams have {counted} counted submissions, more than one team could have made so far "
            f"({allowance}: the daily limit of {daily_limit(competition, target)} times "
            f"{days_so_far(competition, now)} day(s)"
            + (f", at most the total limit of {competition.total_limit}" if competition.total_limit else "")
            + "). Teams with fewer submissions can merge; the allowance grows each day until the merger deadline."
        )
    if problems:
        raise TeamChangeError(problems)
    return counted


def _drop_extra_finals(session: Session, competition: Competition, source: Team, target: Team) -> None:
    """Keep the receiving team's final choices; the asking team's stay chosen only while the merged team's
    choices fit the limit."""
    chosen = session.scalar(
        select(func.count())
        .select_from(Submission)
        .where(Submission.team_id.in_([source.id, target.id]), Submission.selected.is_(True))
    )
    if chosen and chosen > competition.final_selections:
        session.execute(
            update(Submission)
            .where(Submission.team_id == source.id, Submission.selected.is_(True))
            .values(selected=False),
            execution_options={"synchronize_session": False},
        )


# --- lookups -------------------------------------------------------------------------------


def _own_team(session: Session, competition: Competition, user: User) -> Team:
    team = team_of(session, competition, user)
    if team is None:
        raise TeamChangeError("you are not in a team in this competition; create or join one first.")
    return team


def _team_named(session: Session, competition: Competition, name: str) -> Team:
    key = name_key(str(name or ""))
    for team in session.scalars(select(Team).where(Team.competition_id == competition.id)):
        if name_key(team.name) == key:
            return team
    raise TeamChangeError(f"there is no team named '{name}' in this competition; copy its name from the leaderboard.")


def _request_of(
    session: Session, competition: Competition, team: Team, request_id: int, *, either_side: bool
) -> TeamMergeRequest:
    request = session.get(TeamMergeRequest, request_id, populate_existing=True)
    sides = (
        () if request is None else (request.to_team_id, request.from_team_id) if either_side else (request.to_team_id,)
    )
    if request is None or request.competition_id != competition.id or team.id not in sides:
        raise TeamChangeError(
            f"there is no pending merge request #{request_id} for your team: it may have been answered, "
            "withdrawn, or made moot by another merge. Reload the team page."
        )
    return request


# --- what the team page and the API show ---------------------------------------------------


def team_state(session: Session, competition: Competition, team: Team, now: datetime | None = None) -> dict:
    """What a member sees of their team and what it may do now (the team page and ``GET .../team`` alike)."""
    sent, received = merge_requests(session, team)
    may_grow, why_not = teams_may_grow(competition, now)
    deadline = merger_deadline(competition)
    submitted = has_submissions(session, team)
    return {
        "name": team.name,
        "invite_code": team.invite_code,
        "members": [m.user.username for m in team.members],
        "counted_submissions": counted_submissions(session, team),
        "can_leave": not submitted,
        "merger_deadline": deadline.isoformat() if deadline else None,
        "can_merge": may_grow and not team.disqualified,
        "why_no_merge": why_not or ("the team is disqualified." if team.disqualified else None),
        "merge_allowance": merge_allowance(competition, team, now),
        "merge_requests_sent": [_request_json(r) for r in sent],
        "merge_requests_received": [_request_json(r) for r in received],
    }


def _request_json(request: TeamMergeRequest) -> dict:
    return {
        "id": request.id,
        "from_team": request.from_team.name,
        "to_team": request.to_team.name,
        "created_at": request.created_at.isoformat(),
    }
