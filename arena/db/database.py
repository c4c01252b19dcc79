"""The database: SQLite under ARENA_HOME by default (WAL mode), any SQLAlchemy URL otherwise."""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from arena.config import arena_home, private_file
from arena.db.generations import watch

WRITE_OPTION = "arena_write"
"""The execution option that tells SQLite's BEGIN which kind of transaction starts (a writer unless False)."""


def database_url() -> str:
    return os.environ.get("ARENA_DATABASE_URL") or f"sqlite:///{arena_home() / 'arena.db'}"


def make_engine(url: str | None = None) -> Engine:
    """Create the engine (the schema is made and upgraded by :mod:`arena.db.migrate`, never here).

    For SQLite, WAL lets readers work while a submission is written. A write
    transaction starts with ``BEGIN IMMEDIATE`` so that two uploads checking the
    daily limit at once are serialised instead of both passing the check; a read
    session's transactions (:meth:`Database.read_session`) start with a plain
    ``BEGIN`` and never wait for, or hold up, a writer.
    """
    url = url or database_url()
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:") and Path(path).parent.is_dir():
            private_file(Path(path))  # owner only (0600); SQLite gives its -wal and -shm files the same mode
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_setup(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # let SQLAlchemy's begin event issue BEGIN
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection):
            write = connection.get_execution_options().get(WRITE_OPTION, True)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
    else:
        engine = create_engine(url)
        _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 10.0
"""A pooled connection unused for longer than this is checked (one round trip) before a request gets it."""


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle, not on every checkout.

    Checking every checkout (``pool_pre_ping``) costs every request a round trip to
    the server, a fifth of a board request's time on PostgreSQL. A connection that
    idled may have been closed by the server (a restart, an idle timeout): it is
    pinged, and a dead one is replaced before the request sees it. A connection that
    dies while in steady use fails its request; SQLAlchemy then notices the disconnect
    and replaces every connection of the pool, as it does without any ping.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:
        record.info["arena_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
        since = record.info.get("arena_idle_since")  # none yet: the connection was just opened
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("a pooled connection was closed while idle") from exc


class Database:
    """An engine and its session factories; one per application or worker process."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        if self.engine.dialect.name == "sqlite":
            self.read_sessions = sessionmaker(
                self.engine, expire_on_commit=False, execution_options={WRITE_OPTION: False}
            )
        else:
            self.read_sessions = sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False, autoflush=False
            )
        watch(self.sessions)
        watch(self.read_sessions)

    def session(self) -> Session:
        """A session whose transactions write (on SQLite they take the write lock when they begin)."""
        return self.sessions()

    def read_session(self) -> Session:
        """A session that reads; :func:`begin_write` makes its next transaction a writer.

        On SQLite its transactions begin with a plain ``BEGIN``: one snapshot, no write lock.
        On PostgreSQL it reads in autocommit: under READ COMMITTED every statement sees the
        latest commits anyway, so a read transaction only added its ``BEGIN`` and ``ROLLBACK``,
        two of a board request's three round trips. It never flushes on its own (autoflush
        off), so a change made while reading is never written unless a write transaction
        commits it, as when a rolled-back read transaction discarded it.
        """
        return self.read_sessions()


def begin_write(session: Session) -> None:
    """Begin the session's transaction as a writer: call it first inside ``session.begin()``.

    On SQLite this is ``BEGIN IMMEDIATE``: the write lock is taken before anything is
    read, so a check made in the transaction (a daily limit) still holds at its commit.
    Elsewhere it is a real transaction at the server's isolation level, also in a read
    session (which reads in autocommit), and the session flushes before each query again.
    """
    options: dict = {WRITE_OPTION: True}
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        if not hasattr(bind.dialect, "default_isolation_level"):  # learnt from the server on the first connection
            bind.engine.connect().close()  # a new process's first request may write before anything read (a login form)
        options["isolation_level"] = bind.dialect.default_isolation_level
    session.connection(execution_options=options)
    session.autoflush = True
