"""The worker's side of honest ranks: compute the rank statistics boards are waiting for.

A board whose rank statistics are not stored shows them as pending. After each
round of scoring, every worker looks at the competitions whose board generation
moved since it last looked, works out each board's key (:func:`ranks.board_key`)
and computes what is missing. A claim in the database (:mod:`arena.server.claims`),
taken as a scoring job's is, keeps two workers from computing the same board; raising
the board's generation afterwards makes every web process show the result on its next request.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

from sqlalchemy import func, select

from arena.db.database import Database
from arena.db.generations import touch
from arena.db.models import BoardGeneration, Competition
from arena.server import ranks
from arena.server.claims import claim_board, release_board, worker_name
from arena.server.standings import board_order
from arena.server.suite_worker import refresh_suites

log = logging.getLogger("arena.ranks")
RETRY_SECONDS = 30.0  # a board left undone (another worker's claim, a failure) is looked at again after this

_seen: weakref.WeakKeyDictionary[Database, dict[int, tuple[int, bool, float]]] = weakref.WeakKeyDictionary()
"""Per database and competition: the board generation last looked at, whether its boards were all done
then, and when to look again if not."""
_seen_lock = threading.Lock()


def refresh_ranks(db: Database) -> int:
    """Compute and store the rank statistics of every board that changed and lacks them, suite boards included
    (:mod:`arena.server.suite_worker`); returns how many.

    A competition is looked at again when its board generation moves, or, while one of
    its boards is still undone (another worker holds its claim, or computing it failed),
    every ``RETRY_SECONDS``. A competition no change has touched yet counts as generation 0.
    """
    with db.read_session() as session, session.begin():
        generations = session.execute(
            select(Competition.id, func.coalesce(BoardGeneration.generation, 0)).outerjoin(
                BoardGeneration, BoardGeneration.competition_id == Competition.id
            )
        ).all()
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
    return computed + refresh_suites(db)  # suite boards rank the same submissions: theirs come after


def _refresh_competition(db: Database, competition_id: int, *, retrying: bool = False) -> tuple[int, bool]:
    """Compute the competition's missing board statistics; returns how many were computed and whether every
    board it shows now has its statistics. Whatever was computed (here, or by another worker whose claim held
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
        token = _claim(db, key)
        if token is None:  # another worker is computing it
            done = False
            continue
        try:
            if not ranks.ranks_path(key).exists():  # it may have finished just before the claim was ours
                started = time.monotonic()
                ranks.store(key, ranks.compute(competition, submissions, private=private))
                log.info(
                    "rank statistics of competition %s (%s board) in %.1f s",
                    competition_id,
                    "private" if private else "public",
                    time.monotonic() - started,
                )
                computed += 1
        finally:
            _release(db, key, token)
    if computed or retrying:
        with db.session() as session, session.begin():
            touch(session, competition_id)  # every web process drops its kept board and shows the ranks
    return computed, done


def _claim(db: Database, key: str) -> str | None:
    """Claim the board's rank statistics for this worker (its token, host:pid:nonce as a scoring claim's);
    None while another worker's claim holds it. A claim left by a worker that died is taken over once stale."""
    token = worker_name()
    with db.session() as session, session.begin():
        return token if claim_board(session, key, token) else None


def _release(db: Database, key: str, token: str) -> None:
    with db.session() as session, session.begin():
        release_board(session, key, token)
