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
from pathlib import Path

from sqlalchemy import func, select

from arena.db.database import Database
from arena.db.generations import touch
from arena.db.models import BoardGeneration, Competition
from arena.server import ranks
from arena.server.standings import board_order

log = logging.getLogger("arena.ranks")
STALE_LOCK_SECONDS = 300  # a lock older than this was left by a worker that died while computing

RETRY_SECONDS = 30.0  # a board left undone (another worker's lock, a failure) is looked at again after this

_seen: "weakref.WeakKeyDictionary[Database, dict[int, tuple[int, bool, float]]]" = weakref.WeakKeyDictionary()
"""Per database and competition: the board generation last looked at, whether its boards were all done
then, and when to look again if not."""
_seen_lock = threading.Lock()


def refresh_ranks(db: Database) -> int:
    """Compute and store the rank statistics of every board that changed and lacks them; returns how many.

    A competition is looked at again when its board generation moves, or, while one of
    its boards is still undone (another worker holds its lock, or computing it failed),
    every ``RETRY_SECONDS``. A competition no change has touched yet counts as generation 0.
    """
    with db.read_session() as session, session.begin():
        generations = session.execute(
            select(Competition.id, func.coalesce(BoardGeneration.generation, 0))
            .outerjoin(BoardGeneration, BoardGeneration.competition_id == Competition.id)).all()
    computed = 0
    with _seen_lock:
        seen = _seen.setdefault(db, {})
    for competition_id, current in generations:
        with _seen_lock:
            last = seen.get(competition_id)
        if last is not None and last[0] == current and (last[1] or time.monotonic() < last[2]):
            continue
        try:
            count, done = _refresh_competition(db, competition_id, retrying=last is not None and not last[1])
        except Exception:  # one broken board must not stop the others; it is tried again after RETRY_SECONDS
            log.exception("rank statistics of competition %s failed", competition_id)
            count, done = 0, False
        computed += count
        with _seen_lock:
            seen[competition_id] = (current, done, time.monotonic() + RETRY_SECONDS)
    return computed


def _refresh_competition(db: Database, competition_id: int, *, retrying: bool = False) -> tuple[int, bool]:
    """Compute the competition's missing board statistics; returns how many were computed and whether every
    board it shows now has its statistics. Whatever was computed (here, or by another worker whose lock held
    this one back, or before a failure) is announced by raising the board's generation."""
    computed, done = 0, True
    for private in (False, True):
        with db.read_session() as session, session.begin():
            competition = session.get(Competition, competition_id)
            if competition is None:
                return computed, True
            chosen, field = board_order(session, competition, private=private)
            if not ranks.wanted(competition, private=private, ladder=field == "ladder_public"):
                continue
            submissions = [submission for submission, _ in chosen]
            key = ranks.board_key(competition, submissions, private=private)
            if key is None or ranks.ranks_path(key).exists():
                continue
            session.expunge_all()  # the rows are read outside the transaction: nothing is held while computing
        token = _lock(key)
        if token is None:  # another worker is computing it
            done = False
            continue
        try:
            if not ranks.ranks_path(key).exists():  # it may have finished just before the lock was ours
                started = time.monotonic()
                ranks.store(key, ranks.compute(competition, submissions, private=private))
                log.info("rank statistics of competition %s (%s board) in %.1f s", competition_id,
                         "private" if private else "public", time.monotonic() - started)
                computed += 1
        finally:
            _unlock(key, token)
    if computed or retrying:
        with db.session() as session, session.begin():
            touch(session, competition_id)  # every web process drops its kept board and shows the ranks
    return computed, done


def _lock_path(key: str) -> Path:
    return ranks.ranks_path(key).with_suffix(".lock")


def _lock(key: str) -> str | None:
    """Take the board's lock file (holding this worker's token); None when another live worker holds it.
    A lock older than ``STALE_LOCK_SECONDS`` was left by a worker that died, and is taken over."""
    path = _lock_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    from arena.server.jobs import worker_name  # jobs starts this module's loop: imported when first needed

    token = worker_name()  # host:pid:nonce, as a scoring claim
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        try:
            if time.time() - path.stat().st_mtime <= STALE_LOCK_SECONDS:
                return None
        except FileNotFoundError:
            return None  # released meanwhile: the next look will find its result
        claim = path.with_name(f".{path.name}.{token}")
        claim.write_text(token)
        os.replace(claim, path)  # atomic: of several takers, the last rename holds the lock
        return token if _holder(path) == token else None
    with os.fdopen(fd, "w") as out:
        out.write(token)
    return token


def _holder(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _unlock(key: str, token: str) -> None:
    """Release the lock if this worker still holds it (a taken-over lock is someone else's now)."""
    path = _lock_path(key)
    if _holder(path) == token:
        path.unlink(missing_ok=True)
