"""Announcements: messages from the organisers shown on the competition's page, newest first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Announcement, Competition, User
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


def of(session: Session, competition: Competition) -> list[Announcement]:
    return list(session.scalars(select(Announcement).where(Announcement.competition_id == competition.id)
                                .order_by(Announcement.created_at.desc(), Announcement.id.desc())))
