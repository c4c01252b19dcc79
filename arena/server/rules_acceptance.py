"""Accepting a competition's rules: where the organisers ask for it, nobody downloads its data or submits before.

Kaggle asks every participant to accept a competition's rules before its data or its
submissions open to them. A competition asks the same when its ``rules_acceptance``
setting is on (off by default); each acceptance is kept with its moment, once per
person. Every way in checks it through :func:`require_accepted`: the data files (web
and API), uploads (web form, API, CLI) and code dry runs. Organisers never need to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.db.models import Competition, RulesAcceptance, User, utcnow
from arena.server.competitions import CompetitionError


class RulesNotAccepted(CompetitionError):
    headline = "Accept the rules first"
    status = 403


def required(competition: Competition, user: User | None) -> bool:
    """Whether this person must accept the rules before downloading or submitting (never an organiser)."""
    return bool(competition.rules_acceptance) and not (user is not None and user.is_organiser)


def accepted_at(session: Session, competition: Competition, user: User | None) -> datetime | None:
    """When this person accepted the competition's rules (None: not yet, or nobody logged in)."""
    if user is None:
        return None
    return session.scalar(
        select(RulesAcceptance.accepted_at).where(
            RulesAcceptance.competition_id == competition.id, RulesAcceptance.user_id == user.id
        )
    )


def require_accepted(session: Session, competition: Competition, user: User | None, *, doing: str) -> None:
    """Refuse ``doing`` (e.g. "downloading the data") to someone who has not accepted the rules it requires."""
    if not required(competition, user) or accepted_at(session, competition, user) is not None:
        return
    where = f"/c/{competition.slug}#rules"
    if user is None:
        raise RulesNotAccepted(
            f"{doing} needs an account that has accepted the rules of '{competition.slug}': log in, then accept "
            f"them on the competition's page ({where})."
        )
    raise RulesNotAccepted(
        f"{doing} needs you to accept the rules of '{competition.slug}' first: read them and press \"I accept the "
        f"rules\" on the competition's page ({where}), or POST /api/v1/competitions/{competition.slug}/rules/accept."
    )


def accept(session: Session, competition: Competition, user: User, now: datetime | None = None) -> datetime:
    """Record that this person accepts the rules now, and return when they accepted (the first time counts: a
    second acceptance, or two at once, keeps the first moment)."""
    if competition.lifecycle == "draft" and not user.is_organiser:
        raise CompetitionError("this competition is a draft: its rules cannot be accepted before it opens.")
    kept = accepted_at(session, competition, user)
    if kept is not None:
        return kept
    moment = now or utcnow()
    try:
        with session.begin_nested():  # a concurrent acceptance by the same person wins the unique constraint
            session.add(RulesAcceptance(competition_id=competition.id, user_id=user.id, accepted_at=moment))
    except IntegrityError:
        kept = accepted_at(session, competition, user)
        if kept is None:
            raise
        return kept
    return moment
