"""A competition's lifecycle: draft, scheduled, open, closed, revealed, archived; who sees it; deleting a draft.

Only draft and archived are stored (``Competition.lifecycle``); the others follow
from the dates, ``is_open`` and ``revealed``, so the rules that already guard
them (a reveal is final, a closed competition takes no uploads) stay the only ones.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from arena.db.models import (
    Announcement,
    Competition,
    JoinRequest,
    Membership,
    ScoreRecord,
    Submission,
    Team,
    User,
    utcnow,
)
from arena.server.competitions import CompetitionError, list_all

STATES = ("draft", "scheduled", "open", "closed", "revealed", "archived")


def state_of(competition: Competition, now: datetime | None = None) -> str:
    """The competition's state now: one of :data:`STATES`."""
    now = now or utcnow()
    if competition.lifecycle in ("draft", "archived"):
        return competition.lifecycle
    if competition.revealed:
        return "revealed"
    if not competition.is_open or (competition.ends_at and now >= competition.ends_at):
        return "closed"
    if competition.starts_at and now < competition.starts_at:
        return "scheduled"
    return "open"


def uploads_state(competition: Competition, now: datetime | None = None) -> str:
    """Whether uploads are taken now, in a few words beside the state (a draft is never called open)."""
    from arena.server.submissions import takes_late

    now = now or utcnow()
    state = state_of(competition, now)
    if state == "draft":
        return "not open yet: participants cannot see it"
    if state == "archived":
        return "kept for reference: no uploads"
    if state == "scheduled":
        return f"opens {competition.starts_at:%Y-%m-%d %H:%M} UTC"
    if state == "open":
        return "taking submissions"
    if takes_late(competition, now):
        return "taking late submissions (never ranked)"
    return "closed by the organisers" if not competition.is_open else "no uploads"


def visible(competition: Competition, user: User | None) -> bool:
    """Drafts are for organisers only."""
    return competition.lifecycle != "draft" or bool(user is not None and user.is_organiser)


def listed(session: Session, user: User | None) -> list[Competition]:
    """The competitions this person may see listed: organisers see every one, participants no draft and no broken one."""
    organiser = user is not None and user.is_organiser
    return [c for c in list_all(session) if organiser or (c.lifecycle != "draft" and not c.broken)]


def archive(competition: Competition) -> None:
    """Keep a finished competition for reference: read-only, no uploads; only a closed or revealed one."""
    if state_of(competition) not in ("closed", "revealed", "archived"):
        raise CompetitionError(
            f"only a closed or revealed competition can be archived; this one is "
            f"{state_of(competition)}. Close it first."
        )
    competition.lifecycle = "archived"
    competition.is_open = False


def delete_draft(session: Session, competition: Competition) -> None:
    """Delete a draft and everything made in it; a competition that was ever opened is kept (archive it instead)."""
    if competition.lifecycle != "draft":
        raise CompetitionError(
            f"only a draft can be deleted; '{competition.slug}' is {state_of(competition)}. "
            "Close and archive it instead: its participants' scores stay on record."
        )
    ids = select(Submission.id).where(Submission.competition_id == competition.id)
    session.execute(delete(ScoreRecord).where(ScoreRecord.submission_id.in_(ids)))
    for model in (Submission, Membership, JoinRequest, Announcement):
        session.execute(delete(model).where(model.competition_id == competition.id))
    session.execute(delete(Team).where(Team.competition_id == competition.id))
    for model in _per_competition_records():
        session.execute(delete(model).where(model.competition_id == competition.id))
    # A bulk DELETE: the competition is gone, so no flush hook may mark it as changed afterwards.
    session.execute(delete(Competition).where(Competition.id == competition.id))
    session.expunge(competition)


def _per_competition_records() -> list:
    """Other tables keyed by a competition that a draft may have rows in (the board cache's counters)."""
    from arena.db import models

    return [model for model in (getattr(models, "BoardGeneration", None),) if model is not None]


def confirmed(value: object) -> bool:
    """True only for an explicit yes: JSON ``true``, or a form's ``1``/``true``/``yes``."""
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes"))
