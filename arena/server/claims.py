"""Workers' claims in the database: the token a worker claims with, and its claim on one board's rank statistics.

A scoring job is claimed by an atomic ``UPDATE`` of its submission's row
(:func:`arena.server.submissions.claim`); a board's rank statistics have no row of
their own, so their claim is a row of ``rank_claims`` inserted atomically under the
board's key. Either way the one statement's result says who won, on SQLite and
PostgreSQL alike, and the database is the only arbiter: no lock files, no Redis.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import CursorResult, delete, insert, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.db.models import RankClaim, utcnow

STALE_CLAIM = timedelta(seconds=300)
"""A rank claim older than this was left by a worker that died while computing, and is taken over."""


def worker_name() -> str:
    """A fresh claim token: ``host:pid:nonce``, so a job's holder can be told dead or alive on its own host."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def claim_board(session: Session, key: str, worker: str, now: datetime | None = None) -> bool:
    """Claim the board ``key``'s rank statistics for ``worker``; False while another worker's fresh claim holds it.

    One statement: insert the claim, or take over a stale one in its place.
    """
    now = now or utcnow()
    stale_before = now - STALE_CLAIM
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        upsert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(RankClaim).values(
            board_key=key, worker=worker, claimed_at=now
        )
        return (
            session.execute(
                upsert.on_conflict_do_update(
                    index_elements=[RankClaim.board_key],
                    set_={"worker": worker, "claimed_at": now},
                    where=RankClaim.claimed_at < stale_before,
                ).returning(RankClaim.board_key)
            ).first()
            is not None
        )
    if (
        cast(
            CursorResult,
            session.execute(
                update(RankClaim)
                .where(RankClaim.board_key == key, RankClaim.claimed_at < stale_before)
                .values(worker=worker, claimed_at=now)
            ),
        ).rowcount
        == 1
    ):
        return True
    try:
        with session.begin_nested():
            session.execute(insert(RankClaim).values(board_key=key, worker=worker, claimed_at=now))
    except IntegrityError:
        return False
    return True


def release_board(session: Session, key: str, worker: str) -> bool:
    """Release the claim if ``worker`` still holds it (a claim taken over is someone else's now)."""
    return (
        cast(
            CursorResult,
            session.execute(delete(RankClaim).where(RankClaim.board_key == key, RankClaim.worker == worker)),
        ).rowcount
        == 1
    )
