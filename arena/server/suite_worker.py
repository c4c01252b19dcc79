"""The worker's side of suite boards: compute the statistics a suite board is waiting for.

After each round of scoring (from :func:`arena.server.rank_worker.refresh_ranks`),
every suite whose inputs moved since the worker last looked (a board generation of
one of its tasks' competitions, a new version of a model, a new suite version) gets
its key worked out (:func:`arena.server.suite_boards.board_key`); when nothing is
stored under it, one joint bootstrap over every task's rows gives the statistics of
the four filter combinations, stored under the key. A claim in the database, as for a
competition board's ranks, keeps two workers from computing the same board.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref

import numpy as np
from sqlalchemy import func, select

from arena.db.database import Database
from arena.db.models import BoardGeneration, SuiteEntry, SuiteModel, SuiteTask
from arena.db.models import Suite as SuiteRecord
from arena.server.claims import claim_board, release_board, worker_name
from arena.server.feedback import load_rows
from arena.server.ranks import board_rows
from arena.server.suite_analysis import analyse, draws_path, store_arrays
from arena.server.suite_boards import (
    FILTERS,
    FORMAT,
    BoardInputs,
    board_inputs,
    board_key,
    board_state,
    counts,
    shown_by_filters,
    statistics_path,
    store,
)
from arena.suites.board import RESAMPLES, SEED, board_statistics, resampled_scores
from arena.suites.scales import TaskScale

log = logging.getLogger("arena.suites")
RETRY_SECONDS = 30.0  # a board left undone (another worker's claim, a failure) is looked at again after this

_seen: weakref.WeakKeyDictionary[Database, dict[int, tuple[tuple, bool, float, str | None]]] = (
    weakref.WeakKeyDictionary()
)
"""Per database and suite: what its inputs' signature was when last looked at, whether its board was done then,
when to look again if not, and the key its statistics are stored under."""
_seen_lock = threading.Lock()


def refresh_suites(db: Database) -> int:
    """Compute and store the statistics of every suite board that changed and lacks them; returns how many."""
    with db.read_session() as session, session.begin():
        signatures = _signatures(session)
    with _seen_lock:
        seen = _seen.setdefault(db, {})
    computed = 0
    for suite_id, signature in signatures.items():
        with _seen_lock:
            last = seen.get(suite_id)
        if last is not None and last[0] == signature:
            still = last[1] and (last[3] is None or _stored(last[3]))  # done, and its files not lost since
            if still or (not last[1] and time.monotonic() < last[2]):
                continue
        try:
            count, done, key = _refresh_suite(db, suite_id)
        except Exception:  # one broken suite must not stop the others; it is tried again after RETRY_SECONDS
            log.exception("statistics of suite %s failed", suite_id)
            count, done, key = 0, False, None
        computed += count
        with _seen_lock:
            seen[suite_id] = (signature, done, time.monotonic() + RETRY_SECONDS, key)
    return computed


def _signatures(session) -> dict[int, tuple]:
    """Per suite, what moves whenever its board may: its hosted version and last change (a tier, a flag), its
    tasks' board generations, and its newest version of any model. Three small queries for every suite together."""
    signatures: dict[int, list] = {  # updated_at moves with a tier or a flag, which changes who is ranked
        suite_id: [sha256, str(updated_at)]
        for suite_id, sha256, updated_at in session.execute(
            select(SuiteRecord.id, SuiteRecord.sha256, SuiteRecord.updated_at)
        )
    }
    for suite_id, competition_id, generation in session.execute(
        select(SuiteTask.suite_id, SuiteTask.competition_id, func.coalesce(BoardGeneration.generation, 0))
        .outerjoin(BoardGeneration, BoardGeneration.competition_id == SuiteTask.competition_id)
        .order_by(SuiteTask.suite_id, SuiteTask.position)
    ):
        signatures.setdefault(suite_id, []).append((competition_id, generation))
    for suite_id, newest, entries in session.execute(
        select(SuiteModel.suite_id, func.max(SuiteEntry.id), func.count(SuiteEntry.id))
        .join(SuiteEntry, SuiteEntry.model_id == SuiteModel.id)
        .group_by(SuiteModel.suite_id)
    ):
        signatures.setdefault(suite_id, []).append(("entries", newest, entries))
    return {suite_id: tuple(parts) for suite_id, parts in signatures.items()}


def _refresh_suite(db: Database, suite_id: int) -> tuple[int, bool, str | None]:
    """Compute the suite board's statistics if they are missing; returns how many were computed, whether the board
    is done, and its key."""
    with db.read_session() as session, session.begin():
        suite = session.get(SuiteRecord, suite_id)
        if suite is None:
            return 0, True, None
        inputs = board_inputs(session, suite)
        key = board_key(inputs)
        if key is None or _stored(key):
            return 0, True, key
        session.expunge_all()  # the rows are read outside the transaction: nothing is held while computing
    token = worker_name()
    with db.session() as session, session.begin():
        if not claim_board(session, key, token):
            return 0, False, key  # another worker is computing it
    try:
        if _stored(key):  # it may have finished just before the claim was ours
            return 0, True, key
        started = time.monotonic()
        statistics, arrays = compute(inputs)
        store_arrays(key, arrays)  # before the statistics: a reader who finds them finds the draws
        store(key, statistics)
        log.info("statistics of suite %s in %.1f s", inputs.suite.name, time.monotonic() - started)
        return 1, True, key
    finally:
        with db.session() as session, session.begin():
            release_board(session, key, token)


def _stored(key: str) -> bool:
    """Whether a board's statistics and the draws kept beside them are both in the file store (a lost draws file
    is computed again, so comparisons never wait for it for good)."""
    return statistics_path(key).exists() and draws_path(key).exists()


def compute(inputs: BoardInputs) -> tuple[dict, dict[str, np.ndarray]]:
    """The statistics of every filter combination from one joint bootstrap over each task's board rows, with the
    board's analysis (:func:`arena.server.suite_analysis.analyse`); and the draws, kept beside them.

    A model's rows on a task are its latest version's per-row results there, cut to the
    task's board rows (private once revealed, else public); a task whose metric keeps no
    per-row results, or a submission scored before they were kept, leaves its draws
    missing, so the model is shown and not ranked.
    """
    state = board_state(inputs)
    entries = [inputs.latest[model_id] for model_id in state.model_ids]
    metrics: list = []  # a task that cannot be loaded has no metric, and no model has rows there to use it
    truths: list[np.ndarray] = []
    rows: list[list[np.ndarray | None]] = [[] for _ in entries]
    for _, competition in inputs.tasks:
        board = board_rows(competition, private=competition.revealed)  # the rows the task's own board shows
        part = board.part if board is not None else None
        metrics.append(board.metric if board is not None else None)  # no rows there: no model uses a metric
        truths.append(board.truth if board is not None else np.zeros(0))
        for m, entry in enumerate(entries):
            found = inputs.submission(entry, competition)
            kept = (
                load_rows(found[0].rows_sha256) if part is not None and found is not None and counts(*found) else None
            )
            rows[m].append(kept[part] if kept is not None and part is not None and len(kept) == len(part) else None)
    draws = resampled_scores(metrics, truths, rows, resamples=RESAMPLES, seed=SEED)
    weights = [task.weight for task, _ in inputs.tasks]
    scales = [TaskScale(floor=task.floor, ceiling=task.ceiling) for task, _ in inputs.tasks]
    flagged = np.array([bool(e.flag_reason) for e in entries], dtype=bool)  # shown with the reason, never ranked
    statistics: dict[str, dict] = {}
    ranked: dict[str, np.ndarray] = {}
    for (hide_extra, hide_test, tier), name in FILTERS.items():
        include = ~flagged & np.array(
            [shown_by_filters(hide_extra, hide_test, tier, e.card or {}, e.tier) for e in entries], dtype=bool
        )
        made = board_statistics(inputs.suite.method, weights, scales, state.scores, draws, include=include, seed=SEED)
        statistics[name] = made.to_dict()
        ranked[name] = np.asarray(made.ranked, dtype=np.bool_)
    keys = [task.key for task, _ in inputs.tasks]
    analysis, arrays = analyse(inputs.suite.method, weights, scales, keys, state.scores, draws, ranked)
    return {"format": FORMAT, "models": state.model_ids, "statistics": statistics, "analysis": analysis}, arrays
