"""A user's public profile: their teams, competitions, ranks and submission counts, as anyone may see them.

A profile shows only what the competitions' own pages already show the viewer: a rank and a count of
entries read from the board the viewer is shown (the public board until the reveal, the final private
board after it), never a private score or a private rank before the reveal, nothing of a draft or a
broken competition to anyone but an organiser, and no account that waits for approval.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Competition, Membership, Team, User
from arena.server import lifecycle, standings


@dataclass(frozen=True)
class ProfileEntry:
    """One competition of the user's: their team, and where it stands on the board the viewer may see."""

    slug: str
    title: str
    state: str
    team: str
    teammates: list[str]
    board: str  # "final" after the reveal, else "public"
    rank: int | None  # None: the team is not on that board (no scored submission yet)
    teams_on_board: int
    entries: int  # the team's submissions on that board


@dataclass(frozen=True)
class Profile:
    username: str
    joined: str
    competitions: list[ProfileEntry]

    def to_dict(self) -> dict:
        return asdict(self)


def profile(session: Session, username: str, viewer: User | None) -> Profile | None:
    """The profile of ``username`` as ``viewer`` may see it; None when there is no such account to show."""
    user = session.scalar(select(User).where(User.username == username))
    organiser = viewer is not None and viewer.is_organiser
    if user is None or (not user.approved and not organiser):
        return None
    rows = session.execute(
        select(Competition, Team)
        .join(Team, Team.competition_id == Competition.id)
        .join(Membership, Membership.team_id == Team.id)
        .where(Membership.user_id == user.id)
        .order_by(Competition.created_at.desc(), Competition.id.desc())
    ).all()
    entries = [_entry(session, competition, team, user) for competition, team in rows if _shown(competition, viewer)]
    return Profile(username=user.username, joined=f"{user.created_at:%Y-%m-%d}", competitions=entries)


def _shown(competition: Competition, viewer: User | None) -> bool:
    """Whether the viewer may see anything of the competition (as it is listed for them on the home page)."""
    if viewer is not None and viewer.is_organiser:
        return True
    return lifecycle.visible(competition, viewer) and not competition.broken


def _entry(session: Session, competition: Competition, team: Team, user: User) -> ProfileEntry:
    final = competition.revealed  # the private board is everyone's only after the reveal
    board = standings.board_for(session, competition, final)
    mine = next((standing for standing in board if standing.team == team.name), None)
    return ProfileEntry(
        slug=competition.slug,
        title=competition.title,
        state=lifecycle.state_of(competition),
        team=team.name,
        teammates=sorted(m.user.username for m in team.members if m.user_id != user.id),
        board="final" if final else "public",
        rank=mine.rank if mine else None,
        teams_on_board=len(board),
        entries=mine.entries if mine else 0,
    )
