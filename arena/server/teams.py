"""Teams: create, join by invite code (until the merger deadline), and the team of one that a first upload makes.

Leaving, merging and renaming are in :mod:`arena.server.team_changes`."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.db.models import Competition, JoinRequest, Membership, Team, User, utcnow
from arena.hidden_text import is_hidden
from arena.server.competitions import CompetitionError

DEFAULT_MERGER_NOTICE = timedelta(days=7)
"""How long before the end teams are fixed, unless the organisers set a merger deadline."""


class TeamChangeError(CompetitionError):
    headline = "The team cannot change"


# The rows that are locked, in the order they are locked.
T = TypeVar("T", User, Competition, Team)


def lock(session: Session, model: type[T], row_id: int) -> None:
    """Hold a row until the transaction ends (``FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
    already serialises writers). Locks are taken in one order: user, competition, team.

    ``FOR NO KEY UPDATE``, not ``FOR UPDATE``: a row inserted elsewhere that refers to this one (a submission
    naming its user, team and competition) takes a key-share lock on it, which ``FOR UPDATE`` would block,
    so two uploads of one account could deadlock (one holding the user, the other the team)."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update(key_share=True))


def locked(session: Session, model: type[T], row_id: int) -> T:
    """The row, read afresh under the lock that :func:`lock` takes, in one round trip: what the transaction
    goes on to check (a team's disqualification, its limit) is what no other transaction can change meanwhile."""
    return session.scalars(
        select(model)
        .where(model.id == row_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one()


# Hidden characters (arena.hidden_text) and the letters that draw nothing: a name holding one could look
# identical to another.
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def normalise_team_name(name: str) -> str:
    """A team name as stored: NFKC-normalised, spaces collapsed; refuses invisible and control characters."""
    name = unicodedata.normalize("NFKC", name or "")
    hidden = sorted({f"U+{ord(ch):04X}" for ch in name if is_hidden(ch) or ch in _BLANK_LETTERS})
    if hidden:
        raise CompetitionError(
            f"a team name cannot hold control or invisible characters (found {', '.join(hidden)}); "
            "type the name again with visible characters only."
        )
    name = " ".join(name.split())
    if not 2 <= len(name) <= 64:
        raise CompetitionError("a team name needs 2 to 64 characters.")
    return name


def name_key(name: str) -> str:
    """What two team names are compared by: NFKC, then case-folded ('Ada', 'ADA' and 'ａｄａ' are one name)."""
    return unicodedata.normalize("NFKC", " ".join(unicodedata.normalize("NFKC", name).split()).casefold())


def name_taken(session: Session, competition: Competition, name: str) -> bool:
    key = name_key(name)
    return any(
        name_key(other) == key
        for other in session.scalars(select(Team.name).where(Team.competition_id == competition.id))
    )


def team_of(session: Session, competition: Competition, user: User) -> Team | None:
    """The user's team in this competition, or None (read with its membership in one query)."""
    return session.scalar(
        select(Team)
        .join(Membership, Membership.team_id == Team.id)
        .where(Membership.competition_id == competition.id, Membership.user_id == user.id)
    )


def create_team(session: Session, competition: Competition, user: User, name: str) -> Team:
    name = normalise_team_name(name)
    require_admitted(session, competition, user)
    lock(session, User, user.id)
    lock(session, Competition, competition.id)  # two teams racing for one name: the second sees the first
    if team_of(session, competition, user) is not None:
        raise CompetitionError("you are already in a team for this competition.")
    if name_taken(session, competition, name):
        raise CompetitionError(
            f"the team name '{name}' is taken in this competition (names are compared "
            "without regard to case or look-alike forms)."
        )
    team = Team(competition_id=competition.id, name=name, invite_code=secrets.token_urlsafe(9))
    session.add(team)
    session.flush()
    session.add(Membership(competition_id=competition.id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


def join_team(session: Session, competition: Competition, user: User, invite_code: str) -> Team:
    team = session.scalar(
        select(Team).where(Team.competition_id == competition.id, Team.invite_code == (invite_code or "").strip())
    )
    if team is None:
        raise CompetitionError("that invite code matches no team in this competition; ask your team for it again.")
    require_admitted(session, competition, user)
    lock(session, User, user.id)
    if team_of(session, competition, user) is not None:
        raise CompetitionError(
            "you are already in a team for this competition. Leave it first (while it has no submissions), or "
            "ask your team to merge into the other one on the team page."
        )
    require_teams_may_grow(competition)  # a new member is a merge of a team of one, as on Kaggle
    lock(session, Team, team.id)  # concurrent joins count the members one after another
    members = session.scalars(select(func.count()).select_from(Membership).where(Membership.team_id == team.id)).one()
    if members >= competition.team_size:
        raise CompetitionError(f"team '{team.name}' is full ({competition.team_size} members at most).")
    session.add(Membership(competition_id=competition.id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


def team_for_upload(session: Session, competition: Competition, user: User) -> Team:
    """The uploader's team, locked (:func:`lock`); a first upload without one creates a team of one, as on Kaggle.

    The team is read again once locked: a merge that committed meanwhile moved the uploader to another team,
    whose limit is the one that counts."""
    team = team_of(session, competition, user)
    while team is not None:
        lock(session, Team, team.id)
        again = team_of(session, competition, user)
        if again is not None and again.id == team.id:
            return team
        team = again
    lock(session, User, user.id)  # concurrent first uploads: one makes the team, the others find it
    team = team_of(session, competition, user)
    if team is not None:
        return team
    lock(session, Competition, competition.id)  # the free name below stays free until this team has it
    name = user.username
    while name_taken(session, competition, name):
        name = f"{user.username}-{secrets.token_hex(2)}"
    return create_team(session, competition, user, name)


# --- joining a competition that needs an organiser's approval ----------------------------


def is_admitted(session: Session, competition: Competition, user: User) -> bool:
    """Whether the user may form or join a team here: always, unless the competition needs approval."""
    if not competition.join_needs_approval or user.is_organiser:
        return True
    return bool(
        session.scalar(
            select(JoinRequest.approved).where(
                JoinRequest.competition_id == competition.id, JoinRequest.user_id == user.id
            )
        )
    )


def require_admitted(session: Session, competition: Competition, user: User) -> None:
    if is_admitted(session, competition, user) or team_of(session, competition, user) is not None:
        return
    asked = session.scalar(
        select(JoinRequest).where(JoinRequest.competition_id == competition.id, JoinRequest.user_id == user.id)
    )
    raise CompetitionError(
        "your request to join this competition waits for an organiser's approval."
        if asked
        else "this competition admits participants after an organiser's approval: ask to join on the competition "
        f"page (or POST /api/v1/competitions/{competition.slug}/join-request), then wait for the approval."
    )


def request_to_join(session: Session, competition: Competition, user: User) -> JoinRequest:
    """Ask to join a competition that needs approval; asking twice changes nothing."""
    if not competition.join_needs_approval:
        raise CompetitionError("this competition is open to everyone: create or join a team, or just upload.")
    existing = session.scalar(
        select(JoinRequest).where(JoinRequest.competition_id == competition.id, JoinRequest.user_id == user.id)
    )
    if existing is not None:
        return existing
    request = JoinRequest(competition_id=competition.id, user_id=user.id, approved=False)
    session.add(request)
    session.flush()
    return request


def join_requests(session: Session, competition: Competition) -> list[JoinRequest]:
    """Every request to join, waiting ones first."""
    return list(
        session.scalars(
            select(JoinRequest)
            .where(JoinRequest.competition_id == competition.id)
            .order_by(JoinRequest.approved, JoinRequest.id)
        )
    )


def admit(session: Session, competition: Competition, username: str) -> JoinRequest:
    """An organiser approves a participant's request to join (only where joining needs approval)."""
    if not competition.join_needs_approval:
        raise CompetitionError("this competition is open to everyone; there is nothing to approve.")
    request = session.scalar(
        select(JoinRequest)
        .join(User, JoinRequest.user_id == User.id)
        .where(JoinRequest.competition_id == competition.id, User.username == username)
    )
    if request is None:
        raise CompetitionError(f"'{username}' has not asked to join this competition.")
    request.approved = True
    session.flush()
    return request


# --- the merger deadline ------------------------------------------------------------------


def merger_deadline(competition: Competition) -> datetime | None:
    """The last moment teams may merge or take a new member: the organisers' setting, else one week before the
    end (halfway through a competition shorter than two weeks, so it never falls before the start); None for a
    benchmark without an end, whose teams may merge as long as it takes submissions."""
    if competition.merger_deadline is not None:
        return competition.merger_deadline
    if competition.ends_at is None:
        return None
    start = competition.starts_at or competition.created_at
    deadline = competition.ends_at - DEFAULT_MERGER_NOTICE
    if start is not None and start < competition.ends_at:
        deadline = max(deadline, start + (competition.ends_at - start) / 2)
    return deadline


def teams_may_grow(competition: Competition, now: datetime | None = None) -> tuple[bool, str]:
    """Whether teams may merge or take a new member now, and if not, why (for the person who tried)."""
    now = now or utcnow()
    if competition.revealed or competition.lifecycle == "archived":
        return False, "this competition is over: its teams are final."
    if competition.ends_at is not None and now >= competition.ends_at:
        return False, f"the competition ended at {competition.ends_at:%Y-%m-%d %H:%M} UTC: its teams are final."
    deadline = merger_deadline(competition)
    if deadline is not None and now >= deadline:
        return False, (
            f"the merger deadline passed at {deadline:%Y-%m-%d %H:%M} UTC: teams can no longer merge or take new "
            "members. You can still rename your team."
        )
    return True, ""


def require_teams_may_grow(competition: Competition, now: datetime | None = None) -> None:
    allowed, why = teams_may_grow(competition, now)
    if not allowed:
        raise TeamChangeError(why)
