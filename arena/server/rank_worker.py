"""The worker's side of honest ranks: compute the rank statistics boards are waiting for.

A board whose rank statistics are not stored shows them as pending. After each
round of scoring, every worker looks at the competitions whose board generation
moved since it last looked, works out each board's key (:func:`ranks.board_key`)
and computes what is missing. A lock file beside the result keeps two workers
from computing the same board; raising the board's generation afterwards makes
every web process show the result on its next request.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref

from sqlalchemy import select

from arena.db.database import Database
from arena.db.generations import touch
from arena.db.models import BoardGeneration, Competition
from arena.server import ranks
from arena.server.standings import board_order

log = logging.getLogger("arena.ranks")
STALE_LOCK_SECONDS = 600  # a lock older than this was left by a worker that died while computing

_seen: "weakref.WeakKeyDictionary[Database, dict[int, int]]" = weakref.WeakKeyDictionary()
"""Per database: each competition's board generation when this process last looked at it."""
_seen_lock = threading.Lock()


def refresh_ranks(db: Database) -> int:
    """Compute and store the rank statistics of every board that changed and lacks them; returns how many."""
    with db.read_session() as session, session.begin():
        generations = dict(session.execute(select(BoardGeneration.competition_id, BoardGeneration.generation)).all())
    computed = 0
    with _seen_lock:
        seen = _seen.setdefault(db, {})
    for competition_id, current in generations.items():
        with _seen_lock:
            if seen.get(competition_id) == current:
                continue
        try:
            computed += _refresh_competition(db, competition_id)
        except Exception:  # one broken board must not stop the others; it is tried again at its next change
            log.exception("rank statistics of competition %s failed", competition_id)
        with _seen_lock:
            seen[competition_id] = current
    return computed


def _refresh_competition(db: Database, competition_id: int) -> int:
    computed = 0
    for private in (False, True):
        with db.read_session() as session, session.begin():
            competition = session.get(Competition, competition_id)
            if competition is None:
                return computed
            chosen, field = board_order(session, competition, private=private)
            if not ranks.wanted(competition, private=private, ladder=field == "ladder_public"):
                continue
            submissions = [submission for submission, _ in chosen]
            key = ranks.board_key(competition, submissions, private=private)
            if key is None or ranks.ranks_path(key).exists() or not _lock(key):
                continue
            session.expunge_all()  # the rows are read outside the transaction: nothing is held while computing
        try:
            started = time.monotonic()
            ranks.store(key, ranks.compute(competition, submissions, private=private))
            log.info("rank statistics of competition %s (%s board) in %.1f s", competition_id,
                     "private" if private else "public", time.monotonic() - started)
        finally:
            _unlock(key)
        with db.session() as session, session.begin():
            touch(session, competition_id)  # every web process drops its kept board and shows the ranks
        computed += 1
    return computed


def _lock_path(key: str):
    return ranks.ranks_path(key).with_suffix(".lock")


def _lock(key: str) -> bool:
    path = _lock_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if time.time() - path.stat().st_mtime > STALE_LOCK_SECONDS:
            path.unlink(missing_ok=True)
    except FileNotFoundError:
        pass
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        return True
    except FileExistsError:
        return False


def _unlock(key: str) -> None:
    _lock_path(key).unlink(missing_ok=True)
