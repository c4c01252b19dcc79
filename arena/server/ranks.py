"""Honest ranks: ranks shared on equal shown scores, the 95% range of each team's rank across joint
resamples of the rows, and which neighbours a paired bootstrap cannot tell apart.

Rank intervals are work for the scoring worker, never for a web request: a board
names its top teams' per-row results by a key (:func:`board_key`), and shows the
statistics stored under that key in the file store, or marks them pending. The
worker (:mod:`arena.server.rank_worker`) computes what is pending, stores it, and
raises the board's generation so every web process shows it on its next request.

Every team's submission is evaluated on the same Bayesian-bootstrap row weights
(joint resampling), from the per-row results kept at scoring time. Each team's
values are kept in memory by the digest of its per-row results, so a new entrant
costs one submission's evaluation, not the whole board's.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cachetools import LRUCache

from arena.db.models import Competition, Submission
from arena.errors import ArenaError
from arena.intervals.ranks import joint_ranks, joint_values
from arena.metrics.registry import Metric, get_metric
from arena.scoring.score import private_rows, public_rows
from arena.server.files import files_dir, write_whole
from arena.tasks import load_task

RESAMPLES = 1000
TOP = 100  # rank intervals are computed for the first TOP teams of a board
SEED = 20240602
FORMAT = 1  # raised when what is stored under a key changes meaning
KEPT_VALUES = 4096  # teams' resampled values kept per process (8 KB each)
MAX_ROWS = 200_000  # a board over more scored rows shows no rank intervals: each team would cost seconds


@dataclass(frozen=True)
class RankStatistics:
    """For a board's rows in order: 95% rank intervals, "cannot be told from the next", and whether the
    worker has yet to compute them."""

    intervals: list[tuple[int, int] | None]
    close: list[bool]
    pending: bool = False

    @classmethod
    def none(cls, count: int, *, pending: bool = False) -> RankStatistics:
        return cls([None] * count, [False] * count, pending)


def shared_ranks(scores: list[float | None]) -> list[int]:
    """Competition ranks ("1224") of scores already in board order: equal shown scores share a rank."""
    ranks: list[int] = []
    for place, value in enumerate(scores, start=1):
        ranks.append(ranks[-1] if ranks and value is not None and value == scores[place - 2] else place)
    return ranks


def wanted(competition: Competition, *, private: bool, ladder: bool) -> bool:
    """Whether a board carries rank intervals: not a Ladder's public board (its point is to release nothing
    finer than the released score), and a private board only once revealed."""
    return not ladder and (competition.revealed or not private)


def board_key(competition: Competition, submissions: list[Submission], *, private: bool) -> str | None:
    """What a board's rank statistics depend on, hashed: the competition's rows and split, the board, and the
    per-row results of its top teams in order. None when no top team has per-row results."""
    top = submissions[:TOP]
    if not any(submission.rows_sha256 for submission in top):
        return None
    parts = [
        FORMAT,
        RESAMPLES,
        SEED,
        competition.id,
        str(competition.created_at),
        competition.task_ref,
        competition.task_version,
        competition.answer_sha256,
        competition.split_key,
        competition.public_fraction,
        private,
        [submission.rows_sha256 or "" for submission in top],
    ]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def ranks_path(key: str) -> Path:
    return files_dir() / "ranks" / key[:2] / f"{key}.json"


def stored(competition: Competition, submissions: list[Submission], *, private: bool) -> RankStatistics:
    """What the board shows: the stored statistics for its top teams, or none yet (pending)."""
    count = len(submissions)
    key = board_key(competition, submissions, private=private)
    if key is None:
        return RankStatistics.none(count)
    try:
        kept = json.loads(ranks_path(key).read_text())
    except (OSError, ValueError):
        return RankStatistics.none(count, pending=True)
    intervals = [tuple(span) if span else None for span in kept["intervals"]]
    close = list(kept["close"])
    return RankStatistics(intervals + [None] * (count - len(intervals)), close + [False] * (count - len(close)))


@dataclass(frozen=True)
class BoardRows:
    """What a board ranks on: its task's primary metric, its rows (a mask over the answer key) and their truth."""

    metric: Metric
    part: np.ndarray
    truth: np.ndarray


def board_rows(competition: Competition, *, private: bool) -> BoardRows | None:
    """The public or private rows of a competition's board, for statistics over per-row results; None when its
    task keeps none (a scoring program's columns, a Codabench phase) or cannot be loaded."""
    try:
        task = load_task(competition.task_ref)
        if not task.per_row_results:
            return None
        metric = get_metric(
            task.spec.primary_metric,
            task.answer_key.classes,
            kind=task.spec.kind,
            text=getattr(task.spec, "text", None),
        )
    except ArenaError:
        return None
    rows = private_rows if private else public_rows
    part = rows(task, competition.public_fraction, split_key=competition.split_key)
    return BoardRows(metric, part, task.answer_key.truth[part])


def compute(competition: Competition, submissions: list[Submission], *, private: bool) -> RankStatistics:
    """Rank statistics of a board's top teams from their per-row results (the worker's job).

    Teams without per-row results, and boards whose metric keeps none (an organiser's
    plugin, a scoring program's column), get none.
    """
    count = len(submissions)
    top = submissions[:TOP]
    board = board_rows(competition, private=private)
    if board is None or int(board.part.sum()) > MAX_ROWS:
        return RankStatistics.none(count)
    metric, part, truth = board.metric, board.part, board.truth
    scope = (
        competition.id,
        str(competition.created_at),
        competition.task_version,
        competition.answer_sha256,
        competition.split_key,
        private,
    )
    values = np.full((len(top), RESAMPLES), np.nan)
    missing: dict[int, np.ndarray] = {}  # teams whose values are not kept yet: their per-row results
    for i, submission in enumerate(top):
        kept = _values_kept(scope, submission.rows_sha256)
        if kept is not None:
            values[i] = kept
        elif submission.rows_sha256:
            rows = _load_rows(submission.rows_sha256)
            if rows is not None and len(rows) == len(part):
                missing[i] = rows[part]
    if missing:
        found = joint_values(metric, truth, list(missing.values()), resamples=RESAMPLES, seed=SEED)
        for i, team_values in zip(missing, found):
            values[i] = team_values
            _keep_values(scope, top[i].rows_sha256, team_values)
    intervals, close = joint_ranks(values, higher_is_better=metric.higher_is_better)
    return RankStatistics(intervals + [None] * (count - len(top)), close + [False] * (count - len(top)))


def store(key: str, statistics: RankStatistics) -> None:
    """Keep a board's statistics under its key (written whole, then renamed: a reader never sees half a file)."""
    data = json.dumps({"intervals": statistics.intervals[:TOP], "close": statistics.close[:TOP]})
    write_whole(ranks_path(key), data.encode())


def _load_rows(sha256: str) -> np.ndarray | None:
    from arena.server.feedback import load_rows

    return load_rows(sha256)


_values: LRUCache[tuple, np.ndarray] = LRUCache(maxsize=KEPT_VALUES)  # the least recently used goes first
_values_lock = threading.Lock()  # the worker's threads share it; cachetools' caches are not thread-safe


def _values_kept(scope: tuple, rows_sha256: str | None) -> np.ndarray | None:
    if not rows_sha256:
        return None
    with _values_lock:
        return _values.get((scope, rows_sha256))


def _keep_values(scope: tuple, rows_sha256: str, values: np.ndarray) -> None:
    with _values_lock:
        _values[(scope, rows_sha256)] = values
