"""Board generations: every transaction that changes what a board shows raises its competition's counter.

A board depends on the competition (reveal, task, direction), its teams (disqualification, names) and
its submissions' scores, statuses, selections and disqualifications; the competition's page also shows
its announcements, which raise the counter too, so the page keeps them beside its board. :func:`watch` hooks a session
factory so that any flush changing one of those marks the competition, and just before the commit,
after the last flush, the marked counters go up in the same transaction: a board kept under the old
counter is never served again, in any process. Bulk ``UPDATE`` statements bypass the flush and call
:func:`touch` themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import CursorResult, bindparam, event, func, inspect, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from arena.db.models import Announcement, BoardGeneration, Competition, Submission, Team

_KEY = "arena_changed_boards"
_READ_KEY = "arena_generations_read"
SUBMISSION_FIELDS = (
    "wall_seconds",  # a code run's measurements show on its board
    "cpu_seconds",
    "peak_memory_mb",
    "status",
    "score",
    "public_primary",
    "private_primary",
    "selected",
    "disqualified",
    "is_baseline",
    "team_id",
    "created_at",
)
TEAM_FIELDS = ("name", "disqualified")


def touch(session: Session, competition_id: int) -> None:
    """Mark a competition's board as changed by this transaction (its counter goes up at commit)."""
    session.info.setdefault(_KEY, set()).add(competition_id)


_READ = select(BoardGeneration.generation).where(BoardGeneration.competition_id == bindparam("competition_id"))
"""Built once: a board request reads the counter on every request, and building the statement costs more than running it."""


def generation(session: Session, competition_id: int) -> int:
    """The competition's board generation as this transaction sees it (0 before the first change).

    It is read once per transaction: a page that consults several kept things (its board, its
    table, its team count) checks them all against the one value its transaction read.
    """
    seen = _read_in_this_transaction(session)
    if competition_id in seen:
        return seen[competition_id]
    value = session.scalar(_READ, {"competition_id": competition_id}) or 0
    remember(session, competition_id, value)
    return value


def remember(session: Session, competition_id: int, value: int | None) -> None:
    """Note the counter a query of the current transaction read (beside the competition's own row, say),
    so that :func:`generation` does not read it again in that transaction."""
    _read_in_this_transaction(session)[competition_id] = value or 0


def _read_in_this_transaction(session: Session) -> dict[int, int]:
    """The counters read in the session's current transaction; a new transaction starts with none.

    Keyed by the transaction object itself (held, so its identity cannot be reused): nothing
    read in an earlier transaction is ever taken for the current one's.
    """
    transaction = session.get_transaction()
    kept = session.info.get(_READ_KEY)
    if transaction is None:
        return {}
    if kept is None or kept[0] is not transaction:
        kept = session.info[_READ_KEY] = (transaction, {})
    return kept[1]


_COMPETITION_VERSION = (
    select(Competition.id, Competition.created_at, func.coalesce(BoardGeneration.generation, 0))
    .outerjoin(BoardGeneration, BoardGeneration.competition_id == Competition.id)
    .where(Competition.slug == bindparam("slug"))
)
_EVERY_VERSION = select(
    func.count(Competition.id),
    func.max(Competition.id),
    func.max(Competition.created_at),
    func.coalesce(func.sum(BoardGeneration.generation), 0),
).outerjoin(BoardGeneration, BoardGeneration.competition_id == Competition.id)


def competition_version(session: Session, slug: str) -> tuple | None:
    """What one competition's pages are made from, as one value: the competition (its id and creation, so a
    slug hosted anew is another competition) and its board generation; None when there is no such competition."""
    found = session.execute(_COMPETITION_VERSION, {"slug": slug}).first()
    return tuple(found) if found is not None else None


def version_of(session: Session, competition: Competition) -> tuple:
    """:func:`competition_version` of a competition already read, from the generation its transaction read."""
    return competition.id, competition.created_at, generation(session, competition.id)


def every_version(session: Session) -> tuple:
    """What the list of all competitions is made from, as one value: how many there are, the newest, and the sum
    of their board generations (every change to a competition raises its generation, so the sum moves too)."""
    return tuple(session.execute(_EVERY_VERSION).one())


def version_now(sessions: Callable[[], Session], scope: tuple) -> tuple | None:
    """The version of ``scope`` now, ``("competition", slug)`` or ``("every",)``, read in a session of its own;
    None when there is no such competition or the database cannot be read (whoever asked then makes its answer
    afresh, and that reports the failure as it does)."""
    try:
        with sessions() as session:
            return competition_version(session, scope[1]) if scope[0] == "competition" else every_version(session)
    except SQLAlchemyError:
        return None


def _changed(obj, fields) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields if name in state.attrs)


def _before_flush(session: Session, _context, _instances) -> None:
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Submission):
            if obj in session.new and obj.score is None:
                continue  # a new upload shows on no board until it is scored
            if obj in session.new or obj in session.deleted or _changed(obj, SUBMISSION_FIELDS):
                touch(session, obj.competition_id)
        elif isinstance(obj, Team) and obj not in session.new:
            if obj in session.deleted or _changed(obj, TEAM_FIELDS):
                touch(session, obj.competition_id)
        elif isinstance(obj, Announcement):
            touch(session, obj.competition_id)
        elif isinstance(obj, Competition) and obj not in session.new:
            if obj in session.deleted or session.is_modified(obj, include_collections=False):
                touch(session, obj.id)


def _before_commit(session: Session) -> None:
    session.flush()  # the last flush may mark more; its rows are written (and locked) before the counter's
    changed = sorted(session.info.pop(_KEY, set()))
    for competition_id in changed:
        _bump(session, competition_id)


def _bump(session: Session, competition_id: int) -> None:
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        statement = insert(BoardGeneration).values(competition_id=competition_id, generation=1)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[BoardGeneration.competition_id], set_={"generation": BoardGeneration.generation + 1}
            )
        )
        return
    # An UPDATE's result is a CursorResult, which counts the rows it changed.
    raised = cast(
        CursorResult,
        session.execute(
            update(BoardGeneration)
            .where(BoardGeneration.competition_id == competition_id)
            .values(generation=BoardGeneration.generation + 1)
        ),
    ).rowcount
    if not raised:
        session.add(BoardGeneration(competition_id=competition_id, generation=1))
        session.flush()


def _forget(session: Session, *_args) -> None:
    session.info.pop(_KEY, None)


def watch(sessions: sessionmaker) -> None:
    """Raise board generations for every session this factory makes."""
    event.listen(sessions, "before_flush", _before_flush)
    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_rollback", _forget)
