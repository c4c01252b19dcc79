"""Boards kept in each process, keyed by competition and board generation: served fast, never stale.

Every transaction that changes a board raises its competition's generation
(:mod:`arena.db.generations`), so a kept board is only served while the generation
read in the current transaction is the one it was computed under. The generation is
read before the board is computed, so a board is never filed under a newer
generation than the data it was made from. What is derived from a board (its JSON,
its CSV, its rendered table) is kept the same way, under its own name.

When a generation moves while many visitors look (a crowd at a deadline, scores arriving),
the threads of a process that all miss the same board compute it once: one computes, the
others wait for its value instead of running the same queries beside it.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from arena.db.generations import generation
from arena.db.models import Competition

T = TypeVar("T")
MAX_ENTRIES = 512
"""Boards and derived views kept per database; the oldest go first."""

_kept: weakref.WeakKeyDictionary[object, dict] = weakref.WeakKeyDictionary()  # engine -> {key: (generation, value)}
_computing: weakref.WeakKeyDictionary[object, dict] = weakref.WeakKeyDictionary()  # engine -> {key: lock}
_lock = threading.Lock()


def cached(session: Session, competition: Competition, name: tuple, compute: Callable[[], T]) -> T:
    """The value ``compute()`` gives for this competition now, computed at most once per board generation
    (and by one thread at a time: the others wait for it, then take its value if it is for their generation)."""
    current = generation(session, competition.id)
    engine = session.get_bind()
    key = (competition.id, competition.created_at, *name)
    with _lock:
        kept = _kept.setdefault(engine, {})
        computing = _computing.setdefault(engine, {}).setdefault(key, threading.Lock())
    hit = kept.get(key)
    if hit is not None and hit[0] == current:
        return hit[1]
    with computing:  # a derived value's lock is taken before its board's, never the other way: no deadlock
        hit = kept.get(key)
        if hit is not None and hit[0] == current:
            return hit[1]
        value = compute()
        with _lock:
            if key not in kept or kept[key][0] <= current:
                kept.pop(key, None)
                kept[key] = (current, value)
                while len(kept) > MAX_ENTRIES:
                    kept.pop(next(iter(kept)))
    return value


def forget() -> None:
    """Drop every kept board of this process (they would be recomputed anyway once a generation moves)."""
    with _lock:
        _kept.clear()
        _computing.clear()
