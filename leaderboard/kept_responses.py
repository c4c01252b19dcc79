"""Whole answers of the board pages, kept for visitors who send no cookie and no token: never stale.

Without a cookie or an ``Authorization`` header a visitor is anonymous, so the competition page,
its leaderboard CSV, the API leaderboard, the home page and the competition list are the same bytes
for every such visitor. A view marks its answer as one to keep (:func:`keep_competition`,
:func:`keep_every`) with the version of the data it read (a competition's board generation, or a
sum over every competition, see :mod:`arena.db.generations`), read before the answer was made, and
with the next moment its competitions open or close, which changes the page without changing the
data. :class:`KeptResponses` wraps the WSGI application: the next anonymous GET of the same URL costs
one small query, and the kept bytes, headers included, are sent as long as the version read now is
the one they were made under and that moment has not come. Every change to a board raises its
generation in the transaction that makes it, so a new score shows on the very next request, in every
process, as with the boards kept in :mod:`arena.server.board_cache`; this only skips the framework,
the login check, the ORM and the template for the visitors who would all get the same answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from cachetools import LRUCache
from flask import request

from arena.db import generations
from arena.db.database import Database, Session
from arena.db.models import Competition, utcnow

MARK = "arena.keep"
"""The WSGI environ key a view sets to have its answer kept: (scope, version, until)."""
MAX_KEPT = 64
"""Answers kept per process; the least recently used goes first."""
MAX_KEPT_BYTES = 64 * 2**20
"""Bytes of answers kept per process, all together; an answer larger than this is not kept."""
KNOWN_ARGUMENTS = {
    "board": {"public", "private"},
    "teams": {"all"},
    "format": {"csv"},
    "view": {"baselines-ranked", "late"},
}
"""The query arguments, and their values, that an answer may be kept for: an answer to made-up ones is made
afresh every time, so they can neither fill memory nor push out the answers every visitor asks for."""


@dataclass(frozen=True)
class Kept:
    scope: tuple  # ("competition", slug) or ("every",)
    version: tuple
    until: datetime | None  # when a competition shown opens or closes: the answer changes then
    status: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def keep_competition(session: Session, competition: Competition, now: datetime) -> None:
    """Keep this request's answer for anonymous visitors while the competition's board generation holds.

    ``now`` is the moment the view worked out the competition's state (open, closed) from. A broken
    competition's answer is not kept: it depends on its bundle on disk, which can be mended without any
    row changing.
    """
    if _known_arguments() and not competition.broken:
        request.environ[MARK] = (
            ("competition", competition.slug),
            generations.version_of(session, competition),
            next_change([competition], now),
        )


def keep_every(version: tuple, shown: Iterable[Competition], now: datetime) -> None:
    """Keep this request's answer for anonymous visitors while no competition changes; ``version`` is
    :func:`arena.db.generations.every_version`, read before the competitions were, and ``now`` the moment their
    states are worked out from."""
    if _known_arguments():
        request.environ[MARK] = (("every",), version, next_change(shown, now))


def _known_arguments() -> bool:
    return all(
        name in KNOWN_ARGUMENTS and len(request.args.getlist(name)) == 1 and request.args[name] in KNOWN_ARGUMENTS[name]
        for name in request.args
    )


def next_change(competitions: Iterable[Competition], now: datetime) -> datetime | None:
    """The next start or end of these competitions after ``now``: their state (open, closed) changes then."""
    coming = [
        moment for c in competitions for moment in (c.starts_at, c.ends_at) if moment is not None and moment > now
    ]
    return min(coming, default=None)


def _anonymous_get(environ: dict) -> bool:
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and not environ.get("HTTP_COOKIE")
        and not environ.get("HTTP_AUTHORIZATION")
    )


def _key(environ: dict) -> tuple:
    """The URL an answer is kept under, its query arguments parsed (``?board=public&&`` is ``?board=public``)."""
    arguments = tuple(sorted(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)))
    return environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), arguments


class KeptResponses:
    """WSGI middleware: sends a kept answer to an anonymous GET while it still holds, keeps marked ones."""

    def __init__(self, wsgi_app: Callable, database: Database) -> None:
        self.wsgi_app = wsgi_app
        self.database = database
        # Weighed by their bytes, and at most MAX_KEPT of them: the least recently used goes first.
        self.kept: LRUCache[tuple, Kept] = LRUCache(maxsize=MAX_KEPT_BYTES, getsizeof=_size)
        self.lock = threading.Lock()  # the server's threads share the cache; cachetools' caches are not thread-safe

    @property
    def kept_bytes(self) -> int:
        """Bytes of the answers kept now, all together."""
        return self.kept.currsize

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not _anonymous_get(environ):
            return self.wsgi_app(environ, start_response)
        key = _key(environ)
        with self.lock:
            kept = self.kept.get(key)  # and it becomes the most recently used
        if kept is not None and self._holds(kept):
            start_response(kept.status, list(kept.headers))
            return [kept.body]
        return self._answer(key, environ, start_response)

    def _holds(self, kept: Kept) -> bool:
        if kept.until is not None and utcnow() >= kept.until:
            return False
        return generations.version_now(self.database.read_session, kept.scope) == kept.version

    def _answer(self, key: tuple, environ: dict, start_response: Callable) -> Iterable[bytes]:
        sent: dict[str, Any] = {}

        def noting_start_response(status: str, headers: list, exc_info=None):
            sent.update(status=status, headers=headers)
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, noting_start_response)
        mark = environ.get(MARK)
        if (
            mark is None
            or not sent.get("status", "").startswith("200 ")
            or any(name.lower() == "set-cookie" for name, _ in sent["headers"])
        ):
            return body
        try:
            whole = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        if len(whole) <= self.kept.maxsize:
            self._keep(key, Kept(*mark, sent["status"], tuple(sent["headers"]), whole))
        return [whole]

    def _keep(self, key: tuple, kept: Kept) -> None:
        with self.lock:
            self.kept[key] = kept  # answers past the byte cap go first
            while len(self.kept) > MAX_KEPT:
                self.kept.popitem()


def _size(kept: Kept) -> int:
    return len(kept.body)
