"""A suite's board: each model's latest version, its score on every task, and the statistics the worker computed.

A model's score on a task is its latest version's submission for that task, on the
rows that task's own board shows (its private rows once its competition is revealed,
else its public rows), with the 95% interval stored at scoring. A submission not yet
scored, failed or disqualified leaves the task missing: the model is shown, marked,
and not ranked. The aggregates, their intervals, the ranks and the rest come from one
joint bootstrap over every task's rows, which is work for the scoring worker
(:mod:`arena.server.suite_worker`), never for a web request: they are stored in the
file store under a key that hashes everything they depend on (:func:`board_key`), for
the four combinations of the board's filters at once, and until they are there the
board says they are pending. A board, and what a page or the API makes of it, is kept
in each process under the version of what it is made from (:mod:`arena.server.suite_cache`),
so a request that finds it kept reads two small queries and nothing else. No per-row
result and no private score before a reveal ever leaves here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TypeVar

import numpy as np
from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.db.models import Competition, Submission, SuiteEntry, SuiteEntryFile, SuiteModel, SuiteTask, Team, User
from arena.db.models import Suite as SuiteRecord
from arena.scoring.score import rounded
from arena.server.files import write_whole
from arena.server.standings import spreadsheet_safe
from arena.server.suite_cache import cached, statistics_path
from arena.server.suites import TIERS as SUITE_TIERS
from arena.server.suites import get_suite, model_named, suite_tasks
from arena.server.teams import name_key
from arena.suites.aggregate import HIGHER_IS_BETTER
from arena.suites.board import RESAMPLES, SEED, SuiteStatistics
from arena.suites.efficiency import Efficiency, MeasuredRuns, TaskRun, efficiency_of, measured_runs

FORMAT = 2  # raised when what is stored under a key changes meaning
TIERS = tuple(SUITE_TIERS)
"""Verification tiers, from the least vouched for: a board filter keeps the models at a tier or above."""
_DECLARED = {
    (False, False): "all",
    (True, False): "no-extra-data",
    (False, True): "no-test-inputs",
    (True, True): "neither",
}
FILTERS = {
    (extra, test, tier): _DECLARED[(extra, test)] + ("" if tier == "reported" else f"+{tier}")
    for (extra, test) in _DECLARED
    for tier in TIERS
}
"""The stored statistics of each filter combination (hide extra data, hide trained on test inputs, lowest tier)."""


def filter_name(hide_extra_data: bool = False, hide_trained_on_test: bool = False, tier: str = "reported") -> str:
    """The name the statistics of one filter combination are stored under."""
    return FILTERS[(hide_extra_data, hide_trained_on_test, tier)]


def shown_by_filters(hide_extra_data: bool, hide_trained_on_test: bool, tier: str, card: dict, entry_tier: str) -> bool:
    """Whether a board with these filters shows a model with this card and tier."""
    if hide_extra_data and card.get("extra_training_data"):
        return False
    if hide_trained_on_test and card.get("trained_on_test_inputs"):
        return False
    return TIERS.index(entry_tier if entry_tier in TIERS else "reported") >= TIERS.index(tier)


CARD_FIELDS = ("version", "parameters", "framework", "licence", "code_url", "paper_url")
"""The card's fields a board row carries beside the two a reader filters on."""
KEPT_BOARDS = 64
T = TypeVar("T")


@dataclass(frozen=True)
class TaskColumn:
    """One task of the suite as its board shows it: the scale its scores are normalised on, and which rows count."""

    key: str
    title: str
    competition: str  # the short name of the competition that hosts it
    metric: str
    higher_is_better: bool
    weight: float
    floor: float
    ceiling: float
    board: str  # "public" while its competition is not revealed, then "private"


@dataclass(frozen=True)
class TaskScore:
    """A model's score on one task: ``status`` is scored, queued, scoring, failed, disqualified or missing (no file);
    only a scored one has a score and counts."""

    status: str
    score: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    submission_id: int | None = None


@dataclass(frozen=True)
class SuiteRow:
    rank: int | None  # equal shown aggregates share a rank; None for a model not ranked
    model: str
    owner: str
    version: int  # the model's latest version, the one on the board
    is_baseline: bool
    submitted_at: str
    extra_training_data: bool
    trained_on_test_inputs: bool
    card: dict  # CARD_FIELDS of the latest version's card
    scores: dict[str, TaskScore]  # by task key, in the suite's order
    ranked: bool
    missing: list[str]  # tasks without a scored submission: why the model is not ranked
    aggregate: float | None = None
    aggregate_ci: tuple[float, float] | None = None  # 95%, joint bootstrap of every task's rows
    rank_interval: tuple[int, int] | None = None  # 95% range of the rank over the same resamples
    p_best: float | None = None  # share of resamples where it ranks first
    indistinguishable_from_next: bool = False  # the next ranked model's paired difference interval holds 0
    task_view_aggregate_ci: tuple[float, float] | None = None  # resampling the tasks as well (5 tasks or more)
    task_view_rank_interval: tuple[int, int] | None = None
    tier: str = "reported"  # reported, reproduced (Arena ran its programs, or an organiser re-ran its code), reference
    tier_note: str = ""
    flag_reason: str = ""  # an organiser's reason for flagging it ("": not flagged); a flagged model is not ranked
    efficiency: Efficiency | None = None  # parameters, training, inference, memory: each measured or reported
    runs: MeasuredRuns | None = None  # what Arena measured running the version's programs (None: it ran none)


@dataclass(frozen=True)
class SuiteBoard:
    name: str
    title: str
    version: int
    description: str  # Markdown
    method: str
    higher_is_better: bool  # of the aggregate (mean rank: lower is better)
    tasks: list[TaskColumn]
    rows: list[SuiteRow]  # ranked models best first, then the others
    pending: bool  # the worker has yet to compute the statistics of the board as it is now
    hide_extra_data: bool
    hide_trained_on_test: bool
    resamples: int
    tier: str = "reported"  # the lowest verification tier shown (reported: every model)
    sensitivity: Sensitivity | None = None  # the order under other methods and without each task (unfiltered)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Sensitivity:
    """Each ranked model's rank (unfiltered board, board order) under the suite's method, every other method that
    applies, and with each task left out; ``kendall_tau[c]``: Kendall's τ of column c against the first."""

    columns: list[str]
    rows: list[tuple[str, list[int | None]]]  # (model, its rank in each column)
    kendall_tau: list[float | None]
    winner_changes: list[bool]  # per column: whether the first-ranked model differs from the suite's own


def _sensitivity(kept: dict, names: list[str]) -> Sensitivity | None:
    """The stored sensitivity panel with model names, the suite's order first."""
    found = (kept.get("analysis") or {}).get("sensitivity")
    if not found or not found["columns"]:
        return None
    pool = kept["analysis"]["pool"]
    rows = sorted(
        ((names[pool[i]], ranks) for i, ranks in enumerate(found["ranks"])),
        key=lambda row: (row[1][0] is None, row[1][0] or 0, row[0]),
    )
    winners = [r for _, r in rows if r[0] == 1]
    changes = [not any(ranks[c] == 1 for ranks in winners) for c in range(len(found["columns"]))]
    tau = [None if t is None else round(t, 3) for t in found["kendall_tau"]]
    return Sensitivity(found["columns"], rows, tau, changes)


@dataclass(frozen=True)
class SuiteSummary:
    name: str
    title: str
    version: int
    description: str
    method: str
    higher_is_better: bool
    tasks: list[TaskColumn]
    models: int
    updated_at: str


@dataclass(frozen=True)
class ModelVersion:
    number: int
    submitted_at: str
    card: dict
    scores: dict[str, TaskScore]
    tier: str = "reported"
    tier_note: str = ""
    flag_reason: str = ""
    runs: MeasuredRuns | None = None  # what Arena measured running this version's programs, per task and in all


@dataclass(frozen=True)
class ModelView:
    """One model of a suite: its latest card and run record, and every version with its scores (newest first)."""

    suite: str
    name: str
    owner: str
    is_baseline: bool
    card: dict
    run: dict | None
    tasks: list[TaskColumn]
    versions: list[ModelVersion]

    def to_dict(self) -> dict:
        return asdict(self)


# --- what a board is made of -------------------------------------------------------------


@dataclass
class BoardInputs:
    """Everything a suite board is computed from, read in a few queries."""

    suite: SuiteRecord
    tasks: list[tuple[SuiteTask, Competition]]
    models: list[SuiteModel]  # by id
    owners: dict[int, str]  # model id -> owner's username
    latest: dict[int, SuiteEntry]  # model id -> its latest version
    cells: dict[tuple[int, int], tuple[Submission, bool]]  # (entry id, competition id) -> submission, team disqualified

    def submission(self, entry: SuiteEntry, competition: Competition) -> tuple[Submission, bool] | None:
        return self.cells.get((entry.id, competition.id))


def board_inputs(
    session: Session, suite: SuiteRecord, *, every_version: bool = False, only_model: int | None = None
) -> BoardInputs:
    """The suite's tasks, models (or the one model ``only_model``), their latest versions (or every version) and
    those versions' submissions."""
    tasks = suite_tasks(session, suite)
    scope = SuiteModel.suite_id == suite.id
    if only_model is not None:
        scope = scope & (SuiteModel.id == only_model)
    found = session.execute(
        select(SuiteModel, User.username).join(User, User.id == SuiteModel.user_id).where(scope).order_by(SuiteModel.id)
    ).all()
    models = [model for model, _ in found]
    owners = {model.id: username for model, username in found}
    newest = (
        select(SuiteEntry.model_id, func.max(SuiteEntry.number).label("number"))
        .join(SuiteModel, SuiteModel.id == SuiteEntry.model_id)
        .where(scope)
        .group_by(SuiteEntry.model_id)
        .subquery()
    )
    latest = {
        entry.model_id: entry
        for entry in session.scalars(
            select(SuiteEntry).join(
                newest, (newest.c.model_id == SuiteEntry.model_id) & (newest.c.number == SuiteEntry.number)
            )
        )
    }
    entry_ids = [entry.id for entry in latest.values()]
    if every_version:
        entry_ids = list(
            session.scalars(select(SuiteEntry.id).join(SuiteModel, SuiteModel.id == SuiteEntry.model_id).where(scope))
        )
    cells: dict[tuple[int, int], tuple[Submission, bool]] = {}
    for start in range(0, len(entry_ids), 500):
        for link, submission, team_disqualified in session.execute(
            select(SuiteEntryFile, Submission, Team.disqualified)
            .join(Submission, Submission.id == SuiteEntryFile.submission_id)
            .join(Team, Team.id == Submission.team_id)
            .where(SuiteEntryFile.entry_id.in_(entry_ids[start : start + 500]))
        ):
            cells[(link.entry_id, link.competition_id)] = (submission, bool(team_disqualified))
    return BoardInputs(suite, tasks, models, owners, latest, cells)


@dataclass(frozen=True)
class BoardState:
    """The numbers a board's statistics are computed from: the entered models (by id, as the worker orders them),
    their unrounded scores (models, tasks; NaN where missing) and each task's scale."""

    model_ids: list[int]
    names: list[str]
    scores: np.ndarray
    floors: np.ndarray
    ceilings: np.ndarray


def board_state(inputs: BoardInputs) -> BoardState:
    entered = [model for model in inputs.models if model.id in inputs.latest]
    scores = np.full((len(entered), len(inputs.tasks)), np.nan)
    for m, model in enumerate(entered):
        entry = inputs.latest[model.id]
        for t, (_, competition) in enumerate(inputs.tasks):
            scores[m, t] = task_value(inputs.submission(entry, competition), competition)
    return BoardState(
        model_ids=[model.id for model in entered],
        names=[model.name for model in entered],
        scores=scores,
        floors=np.array([task.floor for task, _ in inputs.tasks], dtype=np.float64),
        ceilings=np.array([task.ceiling for task, _ in inputs.tasks], dtype=np.float64),
    )


def counts(submission: Submission, team_disqualified: bool) -> bool:
    """Whether a submission gives its model a score on its task: scored, and neither it nor its team disqualified.
    (A scored submission queued again for a new task version keeps counting with its score until rescored.)"""
    return (
        submission.score is not None
        and submission.status != "failed"
        and not submission.disqualified
        and not team_disqualified
    )


def task_score(found: tuple[Submission, bool] | None, competition: Competition) -> TaskScore:
    """What a board shows of one model's submission for one task, on that task's board rows."""
    if found is None:
        return TaskScore("missing")
    submission, team_disqualified = found
    if submission.disqualified or team_disqualified:
        return TaskScore("disqualified", submission_id=submission.id)
    if submission.status == "failed" or submission.score is None:
        return TaskScore(submission.status, submission_id=submission.id)
    private = competition.revealed
    value = submission.private_primary if private else submission.public_primary
    ci = submission.score.get("private_ci" if private else "public_ci") or (None, None)
    return TaskScore("scored", rounded(value), rounded(ci[0]), rounded(ci[1]), submission.id)


def task_value(found: tuple[Submission, bool] | None, competition: Competition) -> float:
    """The unrounded score the statistics use (NaN where the task is missing)."""
    if found is None or not counts(*found):
        return float("nan")
    value = found[0].private_primary if competition.revealed else found[0].public_primary
    return float("nan") if value is None else float(value)


def runs_of(inputs: BoardInputs, entry: SuiteEntry) -> MeasuredRuns | None:
    """What Arena measured running one version's programs: each task whose submission is a code run that was
    measured and counts (scored, not disqualified); None when there is none. A predictions file is never one."""
    runs = {}
    for task, competition in inputs.tasks:
        found = inputs.submission(entry, competition)
        if found is None or not counts(*found):
            continue
        submission = found[0]
        if submission.run_status is None or submission.wall_seconds is None:
            continue
        runs[task.key] = TaskRun(
            wall_seconds=round(float(submission.wall_seconds), 3),
            cpu_seconds=None if submission.cpu_seconds is None else round(float(submission.cpu_seconds), 3),
            peak_memory_mb=None if submission.peak_memory_mb is None else round(float(submission.peak_memory_mb), 1),
            test_rows=competition.test_rows,
        )
    return measured_runs([task.key for task, _ in inputs.tasks], runs)


def board_key(inputs: BoardInputs) -> str | None:
    """What a suite board's statistics depend on, hashed: the suite as hosted, each task's competition, split and
    scale, and each model's latest version, its declarations and its per-row results on each task. None when the
    suite has no model yet."""
    if not inputs.latest:
        return None
    tasks = [
        [
            c.id,
            str(c.created_at),
            c.task_ref,
            c.task_version,
            c.answer_sha256,
            c.split_key,
            c.public_fraction,
            c.revealed,
            t.key,
            t.weight,
            t.floor,
            t.ceiling,
        ]
        for t, c in inputs.tasks
    ]
    models = []
    for model in inputs.models:
        entry = inputs.latest.get(model.id)
        if entry is None:
            continue
        cells = []
        for _, competition in inputs.tasks:
            found = inputs.submission(entry, competition)
            cells.append(
                [found[0].id, found[0].rows_sha256, task_value(found, competition)]
                if found is not None and counts(*found)
                else None
            )
        card = entry.card or {}
        models.append(
            [
                model.id,
                entry.id,
                bool(card.get("extra_training_data")),
                bool(card.get("trained_on_test_inputs")),
                entry.tier,
                bool(entry.flag_reason),
                cells,
            ]
        )
    parts = [FORMAT, RESAMPLES, SEED, inputs.suite.id, inputs.suite.sha256, inputs.suite.method, tasks, models]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


_kept: LRUCache[str, dict] = LRUCache(maxsize=KEPT_BOARDS)  # what is stored under a key never changes
_kept_lock = threading.Lock()


def stored(key: str) -> dict | None:
    """The statistics stored under ``key``, or None while the worker has yet to compute them."""
    with _kept_lock:
        hit = _kept.get(key)
    if hit is not None:
        return hit
    try:
        data = json.loads(statistics_path(key).read_text())
    except (OSError, ValueError):
        return None
    with _kept_lock:
        _kept[key] = data
    return data


def store(key: str, data: dict) -> None:
    """Keep a board's statistics under its key (written whole, then renamed: a reader never sees half a file)."""
    write_whole(statistics_path(key), json.dumps(data).encode())


# --- what a page and the API show --------------------------------------------------------


def task_columns(tasks: list[tuple[SuiteTask, Competition]]) -> list[TaskColumn]:
    return [
        TaskColumn(
            key=task.key,
            title=competition.title,
            competition=competition.slug,
            metric=competition.metric,
            higher_is_better=competition.higher_is_better,
            weight=task.weight,
            floor=task.floor,
            ceiling=task.ceiling,
            board="private" if competition.revealed else "public",
        )
        for task, competition in tasks
    ]


def suite_board(
    session: Session,
    name: str,
    *,
    hide_extra_data: bool = False,
    hide_trained_on_test: bool = False,
    tier: str = "reported",
) -> SuiteBoard:
    """The suite's board: every model's latest version with its task scores and, once the worker has computed
    them, its aggregate, interval, rank, rank interval and chance of being best. A filter leaves out the models
    that declare extra training data or training on test inputs, and the others are ranked among themselves.
    Made once per version of what it is made from (:mod:`arena.server.suite_cache`)."""
    return _kept_board(session, name, hide_extra_data, hide_trained_on_test, tier)[0]


def board_derived(
    session: Session,
    name: str,
    what: str | tuple,
    make: Callable[[SuiteBoard], T],
    *,
    hide_extra_data: bool = False,
    hide_trained_on_test: bool = False,
    tier: str = "reported",
    query: bool = False,
) -> T:
    """``make(board)`` for the suite's board with these filters (its CSV, a rendered page), made once per version
    of the board and kept beside it under ``what`` (``query``: ``what`` holds a visitor's choices, kept apart
    and bounded, see :func:`arena.server.suite_cache.cached`)."""

    def compute() -> tuple[T, str | None]:
        board, waiting = _kept_board(session, name, hide_extra_data, hide_trained_on_test, tier)
        return make(board), waiting

    return cached(session, name, (what, hide_extra_data, hide_trained_on_test, tier), compute, query=query)


def _kept_board(
    session: Session, name: str, hide_extra_data: bool, hide_trained_on_test: bool, tier: str
) -> tuple[SuiteBoard, str | None]:
    """The board and the key of the statistics it still waits for (None when it waits for none), kept."""

    def compute() -> tuple[tuple[SuiteBoard, str | None], str | None]:
        made = _make_board(session, name, hide_extra_data, hide_trained_on_test, tier)
        return made, made[1]

    return cached(session, name, ("board", hide_extra_data, hide_trained_on_test, tier), compute)


def _make_board(
    session: Session, name: str, hide_extra_data: bool, hide_trained_on_test: bool, tier: str
) -> tuple[SuiteBoard, str | None]:
    suite = get_suite(session, name)
    inputs = board_inputs(session, suite)
    key = board_key(inputs)
    kept = stored(key) if key is not None else None
    statistics = None
    if kept is not None:
        statistics = SuiteStatistics.from_dict(
            kept["statistics"][filter_name(hide_extra_data, hide_trained_on_test, tier)]
        )
        order = [int(i) for i in kept["models"]]
    entered = [model for model in inputs.models if model.id in inputs.latest]
    index = {model.id: i for i, model in enumerate(entered)}
    if statistics is not None and order == [model.id for model in entered]:
        ordered = [entered[i] for i in statistics.order]
    else:
        statistics = None
        ordered = sorted(entered, key=lambda model: (model.name_key, model.id))
    rows = []
    for model in ordered:
        entry = inputs.latest[model.id]
        card = entry.card or {}
        extra, on_test = bool(card.get("extra_training_data")), bool(card.get("trained_on_test_inputs"))
        if not shown_by_filters(hide_extra_data, hide_trained_on_test, tier, card, entry.tier):
            continue
        scores = {task.key: task_score(inputs.submission(entry, c), c) for task, c in inputs.tasks}
        missing = [key for key, score in scores.items() if score.status != "scored"]
        runs = runs_of(inputs, entry)
        row = SuiteRow(
            rank=None,
            model=model.name,
            owner=inputs.owners[model.id],
            version=entry.number,
            is_baseline=model.is_baseline,
            submitted_at=entry.created_at.strftime("%Y-%m-%d %H:%M"),
            extra_training_data=extra,
            trained_on_test_inputs=on_test,
            card={field: card.get(field) for field in CARD_FIELDS},
            scores=scores,
            ranked=False,
            missing=missing,
            tier=entry.tier,
            tier_note=entry.tier_note,
            flag_reason=entry.flag_reason,
            efficiency=efficiency_of(card, reference=entry.tier == "reference", runs=runs),
            runs=runs,
        )
        if statistics is not None:
            row = _with_statistics(row, statistics, index[model.id], aggregate_step(suite.method, inputs.tasks))
        rows.append(row)
    for place in range(1, len(rows)):  # equal shown aggregates share a rank, in whatever step they are shown
        before, after = rows[place - 1], rows[place]
        if before.ranked and after.ranked and after.aggregate == before.aggregate:
            rows[place] = replace(after, rank=before.rank)
    board = SuiteBoard(
        name=suite.name,
        title=suite.title,
        version=suite.version,
        description=suite.description,
        method=suite.method,
        higher_is_better=HIGHER_IS_BETTER.get(suite.method, True),
        tasks=task_columns(inputs.tasks),
        rows=rows,
        pending=key is not None and kept is None,
        hide_extra_data=hide_extra_data,
        hide_trained_on_test=hide_trained_on_test,
        resamples=RESAMPLES,
        tier=tier,
        sensitivity=(  # computed over the unfiltered board's ranked models: shown there only
            _sensitivity(kept, [model.name for model in entered])
            if statistics is not None and kept and filter_name(hide_extra_data, hide_trained_on_test, tier) == "all"
            else None
        ),
    )
    return board, key if board.pending else None


SHOWN_STEP = 1e-4  # a board shows scores to 4 decimals


def aggregate_step(method: str, tasks: list[tuple[SuiteTask, Competition]]) -> float:
    """The step an aggregate is shown in: 4 decimals, or coarser where a narrow scale would otherwise give a task's
    score away to more digits than its own board shows.

    A normalised aggregate moves by ``w_t / (sum(w) * |ceiling_t - floor_t|)`` per unit of task t's score, so one
    model alone on a task with floor 0.9 and ceiling 1.0 would show that score to 5 decimals. Shown in steps of
    ``1e-4`` times the largest such factor, no task's score can be read back finer than its board shows it.
    Rank-based aggregates carry ranks, not scores.
    """
    return aggregate_step_of(method, [(task.weight, task.floor, task.ceiling) for task, _ in tasks])


def aggregate_step_of(method: str, scales: list[tuple[float, float, float]]) -> float:
    """:func:`aggregate_step` from each task's (weight, floor, ceiling)."""
    if method in ("mean_rank", "mean_win_rate") or not scales:
        return SHOWN_STEP
    total = sum(weight for weight, _, _ in scales)
    factor = max(weight / (total * abs(ceiling - floor)) for weight, floor, ceiling in scales)
    return max(SHOWN_STEP, SHOWN_STEP * factor)


def shown_in_step(value: float | None, step: float) -> float | None:
    """An aggregate (or a difference of aggregates) as a board shows it: 4 decimals, or the coarser ``step`` of
    :func:`aggregate_step`."""
    if value is None or step <= SHOWN_STEP:
        return rounded(value)
    return round(round(value / step) * step, 12)


def _with_statistics(row: SuiteRow, statistics: SuiteStatistics, i: int, step: float = SHOWN_STEP) -> SuiteRow:
    view = statistics.task_view or {}
    view_ci = (view.get("aggregate_ci") or [None] * (i + 1))[i]
    view_rank = (view.get("rank_interval") or [None] * (i + 1))[i]
    ci = statistics.aggregate_ci[i]
    return replace(
        row,
        rank=statistics.rank[i],
        ranked=statistics.ranked[i],
        aggregate=shown_in_step(statistics.aggregate[i], step),
        aggregate_ci=None if ci is None else (shown_in_step(ci[0], step), shown_in_step(ci[1], step)),  # type: ignore[arg-type]
        rank_interval=_int_pair(statistics.rank_interval[i]),
        p_best=rounded(statistics.p_best[i]),
        indistinguishable_from_next=bool(statistics.close[i]),
        task_view_aggregate_ci=None
        if view_ci is None
        else (shown_in_step(view_ci[0], step), shown_in_step(view_ci[1], step)),  # type: ignore[arg-type]
        task_view_rank_interval=_int_pair(view_rank),
    )


def _int_pair(pair) -> tuple[int, int] | None:
    return None if pair is None else (int(pair[0]), int(pair[1]))


def suite_board_csv(board: SuiteBoard) -> str:
    """The board as CSV, one row per model and a score, interval and status per task; model and owner names that
    a spreadsheet would run as formulas are neutralised, as on competition boards."""
    buffer = io.StringIO()
    head = [
        "rank",
        "model",
        "owner",
        "version",
        "is_baseline",
        "aggregate",
        "aggregate_ci_low",
        "aggregate_ci_high",
        "rank_interval_low",
        "rank_interval_high",
        "p_best",
        "indistinguishable_from_next",
        "ranked",
        "extra_training_data",
        "trained_on_test_inputs",
        *(f"card_{field}" for field in CARD_FIELDS),
        *RUN_COLUMNS,
    ]
    for task in board.tasks:
        head += [task.key, f"{task.key}_ci_low", f"{task.key}_ci_high", f"{task.key}_status"]
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(head)
    for row in board.rows:
        ci = row.aggregate_ci or (None, None)
        span = row.rank_interval or (None, None)
        cells = [
            row.rank,
            row.model,
            row.owner,
            row.version,
            row.is_baseline,
            row.aggregate,
            ci[0],
            ci[1],
            span[0],
            span[1],
            row.p_best,
            row.indistinguishable_from_next,
            row.ranked,
            row.extra_training_data,
            row.trained_on_test_inputs,
            *(row.card.get(field) for field in CARD_FIELDS),
            *_run_cells(row.runs),
        ]
        for task in board.tasks:
            score = row.scores[task.key]
            cells += [score.score, score.ci_low, score.ci_high, score.status]
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
    return buffer.getvalue()


RUN_COLUMNS = ("runs_measured", "runs_complete", "run_wall_s", "run_cpu_s", "run_peak_memory_mb")
"""What Arena measured running a version's programs, as the CSV has it: on how many of the tasks ("2/2"), whether
every task (only then do they stand for the model's costs), wall and CPU seconds summed, the largest peak memory."""


def _run_cells(runs: MeasuredRuns | None) -> list:
    if runs is None:
        return [None] * len(RUN_COLUMNS)
    return [f"{runs.measured}/{runs.tasks}", runs.complete, runs.wall_seconds, runs.cpu_seconds, runs.peak_memory_mb]


def list_suites(session: Session) -> list[SuiteSummary]:
    """Every hosted suite with its tasks and how many models are entered, by name."""
    entered = {
        suite_id: models
        for suite_id, models in session.execute(select(SuiteModel.suite_id, func.count()).group_by(SuiteModel.suite_id))
    }
    return [
        suite_summary(session, suite, entered.get(suite.id, 0))
        for suite in session.scalars(select(SuiteRecord).order_by(SuiteRecord.name))
    ]


def suite_summary(session: Session, suite: SuiteRecord, models: int | None = None) -> SuiteSummary:
    if models is None:
        models = session.scalar(select(func.count()).select_from(SuiteModel).where(SuiteModel.suite_id == suite.id))
    return SuiteSummary(
        name=suite.name,
        title=suite.title,
        version=suite.version,
        description=suite.description,
        method=suite.method,
        higher_is_better=HIGHER_IS_BETTER.get(suite.method, True),
        tasks=task_columns(suite_tasks(session, suite)),
        models=models or 0,
        updated_at=suite.updated_at.isoformat(),
    )


def describe_suite(session: Session, name: str) -> SuiteSummary:
    """One suite as :func:`list_suites` shows it."""
    return suite_summary(session, get_suite(session, name))


def model_view(session: Session, suite_name: str, model_name: str) -> ModelView:
    """A model of a suite: its latest card and run record, and every version with its scores on today's tasks.
    Made once per version of the suite's board (:mod:`arena.server.suite_cache`)."""
    return cached(
        session,
        suite_name,
        ("model", name_key(model_name)),
        lambda: (_make_model_view(session, suite_name, model_name), None),
    )


def model_derived(session: Session, suite_name: str, model_name: str, what: str, make: Callable[[ModelView], T]) -> T:
    """``make(view)`` for a model's view (its JSON, say), made once per version of the suite's board and kept
    beside it under ``what``."""
    return cached(
        session,
        suite_name,
        ("model", name_key(model_name), what),
        lambda: (make(model_view(session, suite_name, model_name)), None),
    )


def public_card(card: dict | None, tasks: list[tuple[SuiteTask, Competition]]) -> dict:
    """A card as readers see it: its run record's answer-key hashes replaced by whether each matches the answer
    key the board scores that task with. The hash itself is never shown: of a small answer key it would give the
    labels away to anyone who tries labels until the hash matches."""
    card = dict(card or {})
    run = card.get("run")
    if isinstance(run, dict) and isinstance(run.get("tasks"), dict):
        keys = {task.key: competition.answer_sha256 for task, competition in tasks}
        shown = {}
        for key, facts in run["tasks"].items():
            if isinstance(facts, dict) and "answer_sha256" in facts:
                facts = {name: value for name, value in facts.items() if name != "answer_sha256"}
                facts["answer_key_matches"] = key in keys and run["tasks"][key]["answer_sha256"] == keys[key]
            shown[key] = facts
        card["run"] = {**run, "tasks": shown}
    return card


def _make_model_view(session: Session, suite_name: str, model_name: str) -> ModelView:
    suite = get_suite(session, suite_name)
    model = model_named(session, suite, model_name)
    inputs = board_inputs(session, suite, every_version=True, only_model=model.id)
    entries = list(
        session.scalars(select(SuiteEntry).where(SuiteEntry.model_id == model.id).order_by(SuiteEntry.number.desc()))
    )
    versions = [
        ModelVersion(
            number=entry.number,
            submitted_at=entry.created_at.strftime("%Y-%m-%d %H:%M"),
            card=public_card(entry.card, inputs.tasks),
            tier=entry.tier,
            tier_note=entry.tier_note,
            flag_reason=entry.flag_reason,
            scores={task.key: task_score(inputs.submission(entry, c), c) for task, c in inputs.tasks},
            runs=runs_of(inputs, entry),
        )
        for entry in entries
    ]
    card = public_card(entries[0].card if entries else {}, inputs.tasks)
    return ModelView(
        suite=suite.name,
        name=model.name,
        owner=inputs.owners[model.id],
        is_baseline=model.is_baseline,
        card=card,
        run=card.get("run"),
        tasks=task_columns(inputs.tasks),
        versions=versions,
    )
