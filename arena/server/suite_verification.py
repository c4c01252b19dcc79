"""How far each model version of a suite is vouched for: its verification tier, and an organiser's flag.

Every entry (one version of a model) has a tier: ``reported`` (predictions the
participant uploaded: what every entry starts as), ``reproduced`` (an organiser re-ran
the submitted code and got scores within the board's intervals, and says so in a note)
or ``reference`` (run by ``arena baseline``, with its run record: a baseline's entry
whose card holds one is entered as such). An organiser may flag an entry with a reason
("trained on test inputs", "card incomplete") and take the flag away again. Only
organisers change either, and every change is a line in the suite's audit log, in the
caller's transaction. The board decides what a tier or a flag changes in its ranks; this
module only keeps them.
"""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from arena.db.models import Suite as SuiteRecord
from arena.db.models import SuiteEntry, SuiteModel, User, utcnow
from arena.errors import ArenaError
from arena.hidden_text import is_hidden
from arena.server import audit
from arena.server.suites import TIERS, SuiteNotFound, get_suite, initial_tier, model_named

MAX_TEXT = 1000
"""Characters of a tier's note or a flag's reason."""


class VerificationError(ArenaError):
    """A tier or a flag that cannot be set as asked."""

    headline = "The change cannot be made"


class NotAllowed(VerificationError):
    """Someone who is not an organiser tried to change a tier, a flag or a release (a 403 to the faces)."""

    headline = "Not allowed"


@dataclass(frozen=True)
class EntryStatus:
    """One model version's verification as an organiser manages it and a board shows it."""

    model: str
    owner: str
    version: int
    is_baseline: bool
    tier: str
    tier_note: str
    flagged: bool
    flag_reason: str
    flagged_at: str | None  # ISO 8601, UTC
    flagged_by: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def require_organiser(user: User | None) -> None:
    """Refuse anyone but an organiser; ``None`` is the server's command line, run by whoever runs the server."""
    if user is not None and not user.is_organiser:
        raise NotAllowed("only organisers may verify, flag or release a suite's models.")


def set_tier(
    session: Session,
    suite_name: str,
    model_name: str,
    tier: object,
    note: object = "",
    user: User | None = None,
    *,
    version: int | None = None,
    by: str = "(command line)",
) -> EntryStatus:
    """Set the tier of a model's version (by default its latest, the one on the board), with a note saying why.

    ``reproduced`` needs a note: what was re-run, and how the scores compared. An unknown tier is refused with
    the tiers there are."""
    require_organiser(user)
    if not isinstance(tier, str) or tier not in TIERS:
        raise VerificationError(
            f"there is no tier {reprlib.repr(tier)}: the tiers are "
            + "; ".join(f"'{name}' ({meaning})" for name, meaning in TIERS.items())
            + "."
        )
    note = kept_text(note, "note")
    if tier == "reproduced" and not note:
        raise VerificationError(
            "say in the note what you re-ran and how its scores compared (e.g. 're-ran commit abc123 on 1 GPU: "
            "every task within its interval'); a reproduction without one cannot be checked."
        )
    suite, model, entry = _entry(session, suite_name, model_name, version)
    if tier == "reference" and initial_tier(model.is_baseline, entry.card) != "reference":
        raise VerificationError(
            f"model '{model.name}' version {entry.number} cannot be 'reference': that tier is for a baseline run by "
            "arena baseline, whose card holds its run record. If you re-ran it yourself, make it 'reproduced' with "
            "a note."
        )
    before = entry.tier
    entry.tier, entry.tier_note = tier, note
    suite.updated_at = utcnow()  # the board changes with it, in every process that keeps one
    audit.record_suite(
        session,
        suite,
        user,
        "tier",
        f"model '{model.name}' version {entry.number}: {before} -> {tier}" + (f"; {note}" if note else ""),
        by=by,
    )
    session.flush()
    return _status(session, model, entry)


def flag_entry(
    session: Session,
    suite_name: str,
    model_name: str,
    reason: object,
    user: User | None = None,
    *,
    version: int | None = None,
    by: str = "(command line)",
) -> EntryStatus:
    """Flag a model's version (by default its latest) with the reason readers will see; flagging again replaces
    the reason."""
    require_organiser(user)
    reason = kept_text(reason, "reason")
    if not reason:
        raise VerificationError(
            "give the reason for the flag, which readers of the board will see (e.g. 'trained on test inputs', "
            "'card incomplete')."
        )
    suite, model, entry = _entry(session, suite_name, model_name, version)
    entry.flag_reason, entry.flagged_at, entry.flagged_by = reason, utcnow(), user.id if user else None
    suite.updated_at = utcnow()  # the board changes with it, in every process that keeps one
    audit.record_suite(session, suite, user, "flag", f"model '{model.name}' version {entry.number}: {reason}", by=by)
    session.flush()
    return _status(session, model, entry)


def unflag_entry(
    session: Session,
    suite_name: str,
    model_name: str,
    user: User | None = None,
    *,
    version: int | None = None,
    by: str = "(command line)",
) -> EntryStatus:
    """Take the flag off a model's version (by default its latest); one that is not flagged is refused."""
    require_organiser(user)
    suite, model, entry = _entry(session, suite_name, model_name, version)
    if not entry.flag_reason:
        raise VerificationError(f"model '{model.name}' version {entry.number} is not flagged; nothing to take off.")
    reason = entry.flag_reason
    entry.flag_reason, entry.flagged_at, entry.flagged_by = "", None, None
    suite.updated_at = utcnow()  # the board changes with it, in every process that keeps one
    audit.record_suite(
        session, suite, user, "unflag", f"model '{model.name}' version {entry.number} (was: {reason})", by=by
    )
    session.flush()
    return _status(session, model, entry)


def entry_statuses(session: Session, suite_name: str) -> list[EntryStatus]:
    """Every model of the suite with its latest version's tier and flag, by name (the organisers' page)."""
    suite = get_suite(session, suite_name)
    flagger = aliased(User)
    newest = _newest(suite)
    found = session.execute(
        select(SuiteModel, SuiteEntry, User.username, flagger.username)
        .join(SuiteEntry, SuiteEntry.model_id == SuiteModel.id)
        .join(newest, (newest.c.model_id == SuiteEntry.model_id) & (newest.c.number == SuiteEntry.number))
        .join(User, User.id == SuiteModel.user_id)
        .outerjoin(flagger, flagger.id == SuiteEntry.flagged_by)
        .order_by(SuiteModel.name_key, SuiteModel.id)
    ).all()
    return [_status_of(model, entry, owner, flagged_by) for model, entry, owner, flagged_by in found]


def _newest(suite: SuiteRecord):
    """Each of the suite's models with the number of its latest version."""
    return (
        select(SuiteEntry.model_id, func.max(SuiteEntry.number).label("number"))
        .join(SuiteModel, SuiteModel.id == SuiteEntry.model_id)
        .where(SuiteModel.suite_id == suite.id)
        .group_by(SuiteEntry.model_id)
        .subquery()
    )


def _entry(
    session: Session, suite_name: str, model_name: str, version: int | None
) -> tuple[SuiteRecord, SuiteModel, SuiteEntry]:
    """The suite, the model and its version ``version`` (its latest when None), or a :class:`SuiteNotFound`."""
    suite = get_suite(session, suite_name)
    model = model_named(session, suite, model_name)
    query = select(SuiteEntry).where(SuiteEntry.model_id == model.id)
    if version is None:
        query = query.order_by(SuiteEntry.number.desc()).limit(1)
    elif isinstance(version, bool) or not isinstance(version, int) or not 0 < version < 2**31:
        raise VerificationError(f"'version' must be a whole number, the model's version; got {version!r}.")
    else:
        query = query.where(SuiteEntry.number == version)
    entry = session.scalar(query.with_for_update())
    if entry is None:
        raise SuiteNotFound(f"model '{model.name}' in suite '{suite.name}' has no version {version}.")
    return suite, model, entry


def kept_text(value: object, name: str) -> str:
    """A note or reason as kept: text, stripped, without hidden characters, at most MAX_TEXT characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise VerificationError(f"the {name} must be text; got {type(value).__name__}.")
    kept = "".join(ch for ch in value if ch in "\n\t" or not is_hidden(ch)).strip()
    if len(kept) > MAX_TEXT:
        raise VerificationError(f"the {name} is {len(kept)} characters long; keep it to {MAX_TEXT}.")
    return kept


def _status(session: Session, model: SuiteModel, entry: SuiteEntry) -> EntryStatus:
    owner = session.get(User, model.user_id)
    flagger = session.get(User, entry.flagged_by) if entry.flagged_by is not None else None
    return _status_of(model, entry, owner.username if owner else "", flagger.username if flagger else None)


def _status_of(model: SuiteModel, entry: SuiteEntry, owner: str, flagged_by: str | None) -> EntryStatus:
    return EntryStatus(
        model=model.name,
        owner=owner,
        version=entry.number,
        is_baseline=model.is_baseline,
        tier=entry.tier,
        tier_note=entry.tier_note,
        flagged=bool(entry.flag_reason),
        flag_reason=entry.flag_reason,
        flagged_at=entry.flagged_at.isoformat() + "Z" if entry.flagged_at else None,
        flagged_by=flagged_by,
    )
