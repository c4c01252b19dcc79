"""Announcements: messages from the organisers shown on the competition's page, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Announcement, Competition, User
from arena.server.board_cache import cached
from arena.server.competitions import CompetitionError

MAX_LENGTH = 5000


def post(session: Session, competition: Competition, author: User, body: str) -> Announcement:
    """Publish an announcement (Markdown, sanitised when shown)."""
    body = (body or "").strip()
    if not body:
        raise CompetitionError("write the announcement's text first.")
    if len(body) > MAX_LENGTH:
        raise CompetitionError(f"an announcement holds at most {MAX_LENGTH} characters; this one has {len(body)}.")
    announcement = Announcement(competition_id=competition.id, author_id=author.id, body=body)
    session.add(announcement)
    session.flush()
    return announcement


def remove(session: Session, competition: Competition, announcement_id: int) -> None:
    announcement = session.get(Announcement, announcement_id)
    if announcement is None or announcement.competition_id != competition.id:
        raise CompetitionError(f"there is no announcement #{announcement_id} in this competition.")
    session.delete(announcement)


@dataclass(frozen=True)
class Shown:
    """An announcement as the competition's page shows it: plain values, safe to keep and share between requests."""

    created_at: datetime
    body: str


def of(session: Session, competition: Competition) -> list[Announcement]:
    """The competition's announcements, newest first (the organisers' page, which can remove them)."""
    return list(
        session.scalars(
            select(Announcement)
            .where(Announcement.competition_id == competition.id)
            .order_by(Announcement.created_at.desc(), Announcement.id.desc())
        )
    )


def shown(session: Session, competition: Competition) -> tuple[Shown, ...]:
    """What the competition's page shows of its announcements, read once per board generation.

    Posting or removing an announcement raises the generation (:mod:`arena.db.generations`),
    so the page never shows a stale list, and a page view costs no query for them.
    """
    return cached(
        session,
        competition,
        ("announcements",),
        lambda: tuple(Shown(a.created_at, a.body) for a in of(session, competition)),
    )
