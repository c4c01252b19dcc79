"""Suite boards kept in each process, under the version of what they are made from: served fast, never stale.

A suite's board is made from the suite as hosted, its tasks' competitions, its models'
versions and those versions' submissions, and from the statistics the worker stores
under the board's key. :func:`suite_version` reads the first four as one value in two
small queries: the suite's record, each task's board generation (every transaction that
changes a submission, a team or a competition raises it, see :mod:`arena.db.generations`)
and the count and newest id of the suite's models and versions. A board, and what is
derived from it (its JSON, its CSV, its page), is kept under the version read before it
was made, and served only while the version read now is the same; one made while its
statistics were still to come is served only while they are still missing (one look in
the file store). So a new version's row, a new score and newly stored statistics all show
on the next request, in every process, and no writer has anything to clear.

As in :mod:`arena.server.board_cache`, the threads of a process that all miss the same
value compute it once: one computes, the others wait for its value.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from arena.db.models import BoardGeneration, SuiteEntry, SuiteModel, SuiteTask
from arena.db.models import Suite as SuiteRecord
from arena.server.files import files_dir
from arena.server.suites import is_suite_name

T = TypeVar("T")
MAX_SUITES = 64
"""Suites kept per database; the least recently asked for goes first."""
MAX_VALUES = 256
"""Values kept per suite (boards, their JSON, CSV and pages, models' views); the oldest go first."""
MAX_QUERIES = 256
"""Answers to a query of the visitor's choosing kept per suite (a comparison of two models, a utility view's
weights), apart from the values above: however many a visitor asks for, they never push a board out."""

_VERSIONS_READ = "arena_suite_versions_read"
_TASKS = (
    select(
        SuiteRecord.id,
        SuiteRecord.sha256,
        SuiteRecord.updated_at,
        SuiteTask.competition_id,
        func.coalesce(BoardGeneration.generation, 0),
    )
    .outerjoin(SuiteTask, SuiteTask.suite_id == SuiteRecord.id)
    .outerjoin(BoardGeneration, BoardGeneration.competition_id == SuiteTask.competition_id)
    .where(SuiteRecord.name == bindparam("name"))
    .order_by(SuiteTask.position)
)
_MODELS = (
    select(func.count(func.distinct(SuiteModel.id)), func.max(SuiteEntry.id), func.count(SuiteEntry.id))
    .select_from(SuiteModel)
    .outerjoin(SuiteEntry, SuiteEntry.model_id == SuiteModel.id)
    .where(SuiteModel.suite_id == bindparam("suite_id"))
)
"""Built once: a board request reads the version every time, and building a statement costs more than running it."""


class _Kept:
    """One suite's kept values, all under one version: ``value`` by name, and the key of the statistics each
    was made without (None when it waited for none)."""

    def __init__(self, version: tuple) -> None:
        self.version = version
        self.values: dict[tuple, tuple[object, str | None]] = {}
        self.queries: dict[tuple, tuple[object, str | None]] = {}

    def store(self, what: tuple, query: bool) -> dict[tuple, tuple[object, str | None]]:
        return self.queries if query else self.values


_kept: weakref.WeakKeyDictionary[object, dict[str, _Kept]] = weakref.WeakKeyDictionary()  # engine -> name -> kept
_computing: weakref.WeakKeyDictionary[object, dict[tuple, threading.Lock]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def suite_version(session: Session, name: str) -> tuple | None:
    """What the suite's board is made from, bar the worker's statistics, as one value (None: no such suite).

    Read once per transaction: a request that consults several kept values checks them all against one version.
    """
    transaction = session.get_transaction()
    read = session.info.get(_VERSIONS_READ)
    if transaction is not None and read is not None and read[0] is transaction and name in read[1]:
        return read[1][name]
    if not is_suite_name(name):  # looked up nowhere: PostgreSQL refuses a NUL in a query's text
        return None
    tasks = session.execute(_TASKS, {"name": name}).all()
    version = None
    if tasks:
        suite_id, sha256, updated_at = tasks[0][:3]
        models = tuple(session.execute(_MODELS, {"suite_id": suite_id}).one())
        version = (suite_id, sha256, str(updated_at), tuple((row[3], row[4]) for row in tasks), models)
    if transaction is not None:
        if read is None or read[0] is not transaction:
            read = session.info[_VERSIONS_READ] = (transaction, {})
        versions: dict[str, tuple | None] = read[1]
        versions[name] = version
    return version


def cached(
    session: Session, name: str, what: tuple, compute: Callable[[], tuple[T, str | None]], *, query: bool = False
) -> T:
    """The value ``compute()`` gives for suite ``name`` now, computed at most once per version of the suite.

    ``compute`` returns the value and the key of the statistics it was made without (None when it waited for
    none): such a value is made again as soon as they are stored. A suite that does not exist is not kept:
    ``compute`` runs (and raises what it raises). ``query``: ``what`` holds what a visitor chose (two models,
    some weights), and is kept among at most MAX_QUERIES such answers.
    """
    version = suite_version(session, name)
    if version is None:
        return compute()[0]
    engine = session.get_bind()
    with _lock:
        suites = _kept.setdefault(engine, {})
    hit = _fresh(suites, name, version, what, query)
    if hit is not None:
        return hit
    with _lock:  # a lock only for what is missing: a kept value's reader leaves nothing behind
        computing = _computing.setdefault(engine, {}).setdefault((name, what), threading.Lock())
    with computing:  # a derived value's lock is taken before its board's, never the other way: no deadlock
        hit = _fresh(suites, name, version, what, query)
        if hit is not None:
            return hit
        try:
            value, waiting = compute()
        except BaseException:  # nothing kept (no such model, say): nor is its lock, or made-up names would pile up
            with _lock:
                _computing.get(engine, {}).pop((name, what), None)
            raise
        with _lock:
            kept = suites.get(name)
            if kept is None or kept.version != version:
                kept = _Kept(version)  # values under another version are never served again
            suites.pop(name, None)
            suites[name] = kept  # now the most recently asked for
            values = kept.store(what, query)
            values.pop(what, None)
            values[what] = (value, waiting)
            while len(values) > (MAX_QUERIES if query else MAX_VALUES):
                values.pop(next(iter(values)))
            while len(suites) > MAX_SUITES:
                suites.pop(next(iter(suites)))
            if query:  # a query's lock goes with it: a visitor's choices never pile up locks
                _computing.get(engine, {}).pop((name, what), None)
    return value


def _fresh(suites: dict[str, _Kept], name: str, version: tuple, what: tuple, query: bool = False):
    """The kept value if it was made under ``version`` and any statistics it was made without are still missing."""
    with _lock:
        kept = suites.get(name)
        found = kept.store(what, query).get(what) if kept is not None and kept.version == version else None
    if found is None:
        return None
    value, waiting = found
    if waiting is not None and statistics_path(waiting).exists():
        return None
    return value


def statistics_path(key: str):
    """Where the worker stores the statistics of the board whose key is ``key``."""
    return files_dir() / "suites" / key[:2] / f"{key}.json"


def forget() -> None:
    """Drop every kept suite value of this process (they would be made again anyway once a version moves)."""
    with _lock:
        _kept.clear()
        _computing.clear()
