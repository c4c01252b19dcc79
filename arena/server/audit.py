"""The log of organiser actions: on a competition (who hosted, revealed, disqualified or rescored) and on a suite
(who released its board, changed a model's tier, flagged or unflagged it), and when."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import AuditEntry, Competition, Suite, User


def record(
    session: Session,
    competition: Competition,
    user: User | None,
    action: str,
    detail: str = "",
    *,
    by: str = "(command line)",
) -> AuditEntry:
    """Write one entry (in the caller's transaction, so it lands only if the action does); ``by`` names
    who acted when no user did (the command line, or Arena itself)."""
    session.flush()  # a competition hosted in this transaction needs its id
    return _add(session, user, action, detail, by, competition_id=competition.id, competition_slug=competition.slug)


def record_suite(
    session: Session,
    suite: Suite,
    user: User | None,
    action: str,
    detail: str = "",
    *,
    by: str = "(command line)",
) -> AuditEntry:
    """:func:`record` for an action on a suite: the entry names the suite, and no competition."""
    return _add(session, user, action, detail, by, competition_id=None, competition_slug="", suite_id=suite.id)


def _add(session: Session, user: User | None, action: str, detail: str, by: str, **where: object) -> AuditEntry:
    """One entry of what was done (``where``: the competition's or the suite's columns), by whom."""
    entry = AuditEntry(
        **where,
        user_id=user.id if user else None,
        username=user.username if user else by,
        action=action,
        detail=detail[:500],
    )
    session.add(entry)
    return entry


def entries(session: Session, competition: Competition) -> list[AuditEntry]:
    """Newest first."""
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.competition_id == competition.id).order_by(AuditEntry.id.desc())
        )
    )


def suite_entries(session: Session, suite: Suite) -> list[AuditEntry]:
    """A suite's entries, newest first."""
    return list(
        session.scalars(select(AuditEntry).where(AuditEntry.suite_id == suite.id).order_by(AuditEntry.id.desc()))
    )
