"""Teams: create, join by invite code, and the team of one that a first upload makes."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Competition, Membership, Team, User
from arena.server.competitions import CompetitionError


def team_of(session: Session, competition: Competition, user: User) -> Team | None:
    membership = session.scalar(select(Membership).where(Membership.competition_id == competition.id,
                                                         Membership.user_id == user.id))
    return membership.team if membership else None


def create_team(session: Session, competition: Competition, user: User, name: str) -> Team:
    name = (name or "").strip()
    if not 2 <= len(name) <= 64:
        raise CompetitionError("a team name needs 2 to 64 characters.")
    if team_of(session, competition, user) is not None:
        raise CompetitionError("you are already in a team for this competition.")
    if session.scalar(select(Team).where(Team.competition_id == competition.id, Team.name == name)):
        raise CompetitionError(f"the team name '{name}' is taken in this competition.")
    team = Team(competition_id=competition.id, name=name, invite_code=secrets.token_urlsafe(9))
    session.add(team)
    session.flush()
    session.add(Membership(competition_id=competition.id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


def join_team(session: Session, competition: Competition, user: User, invite_code: str) -> Team:
    team = session.scalar(select(Team).where(Team.competition_id == competition.id,
                                             Team.invite_code == (invite_code or "").strip()))
    if team is None:
        raise CompetitionError("that invite code matches no team in this competition; ask your team for it again.")
    if team_of(session, competition, user) is not None:
        raise CompetitionError("you are already in a team for this competition.")
    if len(team.members) >= competition.team_size:
        raise CompetitionError(f"team '{team.name}' is full ({competition.team_size} members at most).")
    session.add(Membership(competition_id=competition.id, team_id=team.id, user_id=user.id))
    session.flush()
    return team


def team_for_upload(session: Session, competition: Competition, user: User) -> Team:
    """The uploader's team; a first upload without one creates a team of one, as on Kaggle."""
    team = team_of(session, competition, user)
    if team is not None:
        return team
    name = user.username
    while session.scalar(select(Team).where(Team.competition_id == competition.id, Team.name == name)):
        name = f"{user.username}-{secrets.token_hex(2)}"
    return create_team(session, competition, user, name)
