"""A suite board's analysis: two models compared, every pair tested, the order's sensitivity, and the marks of the
best and the not-significantly-worse models.

The worker computes it with the board's statistics (:func:`analyse`, called from
:func:`arena.server.suite_worker.compute`), from the same joint bootstrap: the
pairwise tests, the cliques, the performance profile and the sensitivity panel go
into the stored statistics; the draws themselves (every model's score on every task
in every resample, and every model's aggregate in every resample) are stored beside
them as one ``.npz`` file, so that any two models can be compared on request, in a
millisecond, without resampling anything. A request reads them once per version of
the board (:mod:`arena.server.suite_cache`).

The analysis covers the models ranked on the unfiltered board: those with a score on
every task and no flag. The marks follow each filter's own ranking.
"""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

import numpy as np
from cachetools import LRUCache
from sqlalchemy.orm import Session

from arena.scoring.score import rounded
from arena.server.files import files_dir, write_whole
from arena.server.suite_boards import (
    SuiteBoard,
    aggregate_step_of,
    board_inputs,
    board_key,
    board_state,
    filter_name,
    shown_in_step,
    stored,
    suite_board,
)
from arena.server.suite_cache import cached
from arena.server.suites import SuiteNotFound, get_suite
from arena.server.teams import name_key
from arena.suites import analysis, figures
from arena.suites.aggregate import HIGHER_IS_BETTER, aggregate, normalise
from arena.suites.scales import SHOWN_DECIMALS, TaskScale

PROFILE_POINTS = 200
"""At most this many values of τ are kept for the performance profile (a log-spaced grid beyond it)."""
KEPT_DRAWS = 8
T = TypeVar("T")


class ModelNotOnBoard(SuiteNotFound):
    """A comparison names a model that is not on the suite's board."""


# --- the worker's side ---------------------------------------------------------------------


def analyse(
    method: str,
    weights: list[float],
    scales: list[TaskScale],
    keys: list[str],
    scores: np.ndarray,
    draws: np.ndarray,
    ranked: dict[str, np.ndarray],
) -> tuple[dict, dict[str, np.ndarray]]:
    """The stored analysis (JSON-ready) and the arrays kept beside it, for models (rows of ``scores`` and
    ``draws``) of which ``ranked[filter]`` says which each filter ranks."""
    floors = np.array([s.floor for s in scales], dtype=np.float64)
    ceilings = np.array([s.ceiling for s in scales], dtype=np.float64)
    higher = ceilings > floors
    task_weights = np.asarray(weights, dtype=np.float64)
    pool = np.flatnonzero(ranked[filter_name()])
    aggregates = np.full(scores.shape[0], np.nan)
    aggregate_draws = np.full((scores.shape[0], draws.shape[2]), np.nan)
    result: dict = {"pool": [int(i) for i in pool], "higher": [bool(h) for h in higher], "marks": {}}
    if len(pool):
        aggregates[pool] = aggregate(method, normalise(scores[pool][:, :, None], floors, ceilings), task_weights)[:, 0]
        aggregate_draws[pool] = aggregate(method, normalise(draws[pool], floors, ceilings), task_weights)
        # The tests and the profile read the scores as the board shows them (4 decimals): no order of two scores
        # shown equal, and no ratio finer than the board's, is given away.
        shown = np.round(scores[pool], SHOWN_DECIMALS)
        normalised = normalise(shown, floors, ceilings)
        tests = analysis.pairwise_tests(normalised, draws[pool], higher)
        profile = analysis.performance_profile(normalised)
        result["pairs"] = {
            "p_values": tests.p_values.tolist(),
            "adjusted": tests.adjusted.tolist(),
            "wins": tests.wins.tolist(),
            "mean_ranks": tests.mean_ranks.tolist(),
            "cliques": tests.cliques,
            "alpha": tests.alpha,
        }
        result["profile"] = _thinned(profile)
        result["sensitivity"] = asdict(analysis.sensitivity(scores[pool], floors, ceilings, task_weights, method, keys))
    for name, chosen in ranked.items():
        result["marks"][name] = _marks(method, task_weights, floors, ceilings, higher, keys, scores, draws, chosen)
    return result, {"draws": draws, "aggregates": aggregates, "aggregate_draws": aggregate_draws}


def _thinned(profile: analysis.Profile) -> dict:
    """The profile at most at PROFILE_POINTS values of τ: every breakpoint when there are few, else a log grid
    (the curves are steps; a grid point past a breakpoint shows it)."""
    taus = np.asarray(profile.taus)
    shares = np.asarray(profile.shares)
    if len(taus) > PROFILE_POINTS:
        grid = np.geomspace(taus[0], taus[-1], PROFILE_POINTS)
        picks = np.searchsorted(taus, grid, side="right") - 1
        taus, shares = grid, shares[:, picks]
    return {"taus": [float(t) for t in taus], "shares": shares.round(6).tolist()}


def _marks(
    method: str,
    weights: np.ndarray,
    floors: np.ndarray,
    ceilings: np.ndarray,
    higher: np.ndarray,
    keys: list[str],
    scores: np.ndarray,
    draws: np.ndarray,
    chosen: np.ndarray,
) -> dict[str, dict[str, str]]:
    """Per column (``aggregate`` and each task key), model index (as text) -> ``best`` or ``tied`` (its paired
    95% interval of the difference with the best holds 0), among the models this filter ranks."""
    pool = np.flatnonzero(chosen)
    marks: dict[str, dict[str, str]] = {}
    if not len(pool):
        return marks
    if method not in ("mean_rank", "mean_win_rate") or len(pool) >= 2:
        point = aggregate(method, normalise(scores[pool][:, :, None], floors, ceilings), weights)[:, 0]
        spread = aggregate(method, normalise(draws[pool], floors, ceilings), weights)
        marks["aggregate"] = _column_marks(pool, point, spread, HIGHER_IS_BETTER[method])
    for t, key in enumerate(keys):
        marks[key] = _column_marks(pool, scores[pool, t], draws[pool, t], bool(higher[t]))
    return marks


def _column_marks(pool: np.ndarray, point: np.ndarray, spread: np.ndarray, higher: bool) -> dict[str, str]:
    signed_point = point if higher else -point
    best = int(np.argmax(signed_point))
    found = {str(int(pool[best])): "best"}
    for i in range(len(pool)):
        if i == best:
            continue
        if signed_point[i] == signed_point[best]:
            found[str(int(pool[i]))] = "best"
            continue
        low, high = np.percentile(spread[i] - spread[best], analysis.LEVELS)
        if low <= 0 <= high:
            found[str(int(pool[i]))] = "tied"
    return found


def draws_path(key: str):
    """Where the worker keeps the draws of the board whose key is ``key``."""
    return files_dir() / "suites" / key[:2] / f"{key}.npz"


def store_arrays(key: str, arrays: dict[str, np.ndarray]) -> None:
    """Keep the draws (written whole before the statistics that point to them)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    write_whole(draws_path(key), buffer.getvalue())


_draws: LRUCache[str, dict[str, np.ndarray]] = LRUCache(maxsize=KEPT_DRAWS)
_draws_lock = threading.Lock()


def load_arrays(key: str) -> dict[str, np.ndarray] | None:
    with _draws_lock:
        hit = _draws.get(key)
    if hit is not None:
        return hit
    try:
        with np.load(draws_path(key)) as found:
            arrays = {name: found[name] for name in found.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):  # damaged: the comparison waits for them
        return None
    with _draws_lock:
        _draws[key] = arrays
    return arrays


# --- what a page and the API show ----------------------------------------------------------


@dataclass(frozen=True)
class AnalysisState:
    """What a request needs of a board's analysis, read once per version of the board."""

    board: SuiteBoard
    names: list[str]  # the models the worker computed for, in its order
    analysis: dict | None  # None while pending
    arrays: dict[str, np.ndarray] | None
    scores: np.ndarray  # (models, tasks): the unrounded scores, NaN where missing
    floors: np.ndarray
    ceilings: np.ndarray
    waiting: str | None  # the key of the statistics still to come (None when there are none to wait for)


def analysis_state(session: Session, name: str) -> AnalysisState:
    def compute() -> tuple[AnalysisState, str | None]:
        board = suite_board(session, name)
        suite = get_suite(session, name)
        inputs = board_inputs(session, suite)
        key = board_key(inputs)
        state = board_state(inputs)
        kept = stored(key) if key is not None else None
        arrays = load_arrays(key) if key is not None and kept is not None else None
        usable = kept is not None and arrays is not None and kept.get("models") == state.model_ids
        waiting = key if key is not None and not usable else None
        return (
            AnalysisState(
                board=board,
                names=state.names,
                analysis=kept.get("analysis") if usable and kept is not None else None,
                arrays=arrays if usable else None,
                scores=state.scores,
                floors=state.floors,
                ceilings=state.ceilings,
                waiting=waiting,
            ),
            waiting,
        )

    return cached(session, name, ("analysis",), compute)


def board_marks(
    session: Session,
    name: str,
    *,
    hide_extra_data: bool = False,
    hide_trained_on_test: bool = False,
    tier: str = "reported",
) -> dict[str, dict[str, str]]:
    """Per column (``aggregate`` and each task key), model name -> ``best`` or ``tied`` (not significantly worse
    than the best: the paired 95% interval of the difference holds 0), on the board with these filters."""
    state = analysis_state(session, name)
    if state.analysis is None:
        return {}
    filtered = state.analysis["marks"].get(filter_name(hide_extra_data, hide_trained_on_test, tier), {})
    return {
        column: {state.names[int(index)]: mark for index, mark in found.items()} for column, found in filtered.items()
    }


def _index(state: AnalysisState, model: str) -> int:
    wanted = name_key(model)
    for i, found in enumerate(state.names):
        if name_key(found) == wanted:
            return i
    raise ModelNotOnBoard(f"there is no model '{model}' on the board of suite '{state.board.name}'.")


def compare_models(session: Session, name: str, a: str, b: str) -> dict:
    """Models ``a`` and ``b`` of the suite side by side: per task the difference with its paired 95% interval and
    the chance A does better; win / tie / loss; the Wilcoxon signed-rank test over the tasks; the difference of
    aggregates with its joint interval. ``pending`` while the worker has yet to compute the board. Each pair is
    worked out once per version of the board (a link to a comparison is read many times)."""
    state = analysis_state(session, name)
    i, j = _index(state, a), _index(state, b)
    return cached(session, name, ("compare", i, j), lambda: (_compare(state, i, j), state.waiting), query=True)


def _compare(state: AnalysisState, i: int, j: int) -> dict:
    board = state.board
    result: dict = {
        "suite": board.name,
        "version": board.version,
        "method": board.method,
        "a": state.names[i],
        "b": state.names[j],
        "resamples": board.resamples,
        "pending": state.arrays is None,
        "tasks": [],
        "wins": None,
        "ties": None,
        "losses": None,
        "wilcoxon": None,
        "aggregate": None,
    }
    rows = {row.model: row for row in board.rows}
    a_row, b_row = rows[state.names[i]], rows[state.names[j]]
    if state.arrays is None:
        result["tasks"] = [_task_entry(task, a_row, b_row, None) for task in board.tasks]
        return result
    arrays = state.arrays
    found = analysis.compare_pair(  # the scores as the board shows them: no finer difference than it shows
        i,
        j,
        np.round(state.scores, SHOWN_DECIMALS),
        arrays["draws"],
        state.floors,
        state.ceilings,
        arrays["aggregates"],
        arrays["aggregate_draws"],
        board.method,
    )
    result["tasks"] = [_task_entry(task, a_row, b_row, d) for task, d in zip(board.tasks, found.tasks)]
    result.update(wins=found.wins, ties=found.ties, losses=found.losses)
    result["wilcoxon"] = {
        "statistic": found.wilcoxon_statistic,
        "p_value": _round(found.wilcoxon_p),
        "tasks": found.wilcoxon_tasks,
    }
    if found.aggregate_difference is not None:
        result["aggregate"] = {
            "a": a_row.aggregate,
            "b": b_row.aggregate,
            "difference": _aggregate_shown(board, found.aggregate_difference),
            "ci": None if found.aggregate_ci is None else [_aggregate_shown(board, v) for v in found.aggregate_ci],
            "p_a_better": _round(found.aggregate_p_a_better),
        }
    return result


def _task_entry(task, a_row, b_row, difference: analysis.TaskDifference | None) -> dict:
    """One task's line of a comparison: the two shown scores and, once computed, the paired difference."""
    return {
        "key": task.key,
        "title": task.title,
        "metric": task.metric,
        "higher_is_better": task.higher_is_better,
        "a": a_row.scores[task.key].score,
        "b": b_row.scores[task.key].score,
        "difference": None if difference is None else _round(difference.difference),
        "ci": None if difference is None or difference.ci is None else [_round(v) for v in difference.ci],
        "p_a_better": None if difference is None else _round(difference.p_a_better),
        "outcome": None if difference is None else difference.outcome,
    }


def _aggregate_shown(board: SuiteBoard, value: float | None) -> float | None:
    """A difference of aggregates in the step the board shows aggregates in (coarser than four decimals on a narrow
    scale, so that no task's score is read back finer than its own board shows it)."""
    step = aggregate_step_of(board.method, [(t.weight, t.floor, t.ceiling) for t in board.tasks])
    return _positive_zero(shown_in_step(value, step))


def _round(value: float | None) -> float | None:
    """Four decimals, as every score on a board (a difference of exactly 0 stays 0)."""
    return _positive_zero(rounded(value))


def _positive_zero(value: float | None) -> float | None:
    return None if value is None else value + 0.0  # -0.0 reads as 0


@dataclass(frozen=True)
class PairsView:
    """Every pair of the models ranked on the unfiltered board, in mean-rank order (best first)."""

    suite: str
    version: int
    pending: bool
    models: list[str]
    mean_ranks: list[float]
    p_values: list[list[float]]
    adjusted: list[list[float]]
    wins: list[list[int]]
    cliques: list[list[str]]
    alpha: float
    tasks: int
    profile_taus: list[float]
    profile_shares: list[list[float]]  # in the order of ``models``

    def to_dict(self) -> dict:
        return asdict(self)


def pairs_view(session: Session, name: str) -> PairsView:
    """The all-pairs matrix (Wilcoxon p-values, raw and Holm-corrected, and significant task wins), the cliques
    and the performance profile, as the worker computed them. Made once per version of the board."""

    def compute() -> tuple[PairsView, str | None]:
        state = analysis_state(session, name)
        board = state.board
        found = state.analysis
        if found is None or "pairs" not in found:
            empty = PairsView(
                board.name,
                board.version,
                found is None,
                [],
                [],
                [],
                [],
                [],
                [],
                analysis.ALPHA,
                len(board.tasks),
                [],
                [],
            )
            return empty, state.waiting
        pool = found["pool"]
        pairs = found["pairs"]
        ranks = np.asarray(pairs["mean_ranks"])
        order = [int(i) for i in np.argsort(ranks, kind="stable")]
        pick = lambda matrix: [[matrix[r][c] for c in order] for r in order]
        names = [state.names[pool[i]] for i in order]
        return (
            PairsView(
                suite=board.name,
                version=board.version,
                pending=False,
                models=names,
                mean_ranks=[round(float(ranks[i]), 4) for i in order],
                p_values=[[round(v, 4) for v in row] for row in pick(pairs["p_values"])],
                adjusted=[[round(v, 4) for v in row] for row in pick(pairs["adjusted"])],
                wins=pick(pairs["wins"]),
                cliques=[[state.names[pool[i]] for i in clique] for clique in pairs["cliques"]],
                alpha=pairs["alpha"],
                tasks=len(board.tasks),
                profile_taus=found["profile"]["taus"],
                profile_shares=[found["profile"]["shares"][i] for i in order],
            ),
            state.waiting,
        )

    return cached(session, name, ("pairs",), compute)


def pairs_derived(session: Session, name: str, what: str, make: Callable[[PairsView], T]) -> T:
    """``make(view)`` for the suite's :func:`pairs_view` (its JSON, say), made once per version of the board."""

    def compute() -> tuple[T, str | None]:
        return make(pairs_view(session, name)), analysis_state(session, name).waiting

    return cached(session, name, ("pairs", what), compute)


@dataclass(frozen=True)
class Pictures:
    critical_difference: str  # SVG
    profile: str  # SVG


def pictures(session: Session, name: str) -> Pictures:
    """The critical-difference diagram and the performance profile of the suite's board as SVG, drawn once per
    version of the board."""

    def draw(view: PairsView) -> Pictures:
        title = f"{view.suite} v{view.version}"
        return Pictures(
            critical_difference=figures.critical_difference_svg(
                view.models,
                view.mean_ranks,
                [[view.models.index(model) for model in clique] for clique in view.cliques],
                title=f"Critical-difference diagram, {title}",
            ),
            profile=figures.performance_profile_svg(
                view.models, view.profile_taus or [1.0], view.profile_shares, title=f"Performance profile, {title}"
            ),
        )

    return pairs_derived(session, name, "pictures", draw)
