"""A suite's models' costs, and its board weighed against them: the utility view.

Each model's four costs come from its latest version's card (:func:`arena.suites.efficiency.efficiency_of`),
measured where the model is a reference model (a baseline, entered by an organiser) with a run record, reported
otherwise. They are read once per version of the suite (:mod:`arena.server.suite_cache`); the utilities are
computed per request from the board as it is kept, which costs microseconds for a board of a hundred models, so the
weights a reader may choose never fill a cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.db.models import SuiteEntry, SuiteModel
from arena.server.suite_boards import SuiteBoard, board_derived
from arena.server.suite_cache import cached
from arena.server.suites import get_suite
from arena.suites.efficiency import Efficiency, efficiency_of, utilities

T = TypeVar("T")

SHOWN_DECIMALS = 4


@dataclass(frozen=True)
class UtilityRow:
    """One model of the board with its costs and its utility; ``utility_rank`` is None for a model not placed (no
    aggregate, or a weighed cost missing)."""

    model: str
    owner: str
    version: int
    is_baseline: bool
    board_rank: int | None
    aggregate: float | None
    efficiency: Efficiency
    utility: float | None
    utility_rank: int | None


@dataclass(frozen=True)
class UtilityBoard:
    """A suite's board ordered by utility (placed models best first, then the others in the board's order)."""

    name: str
    title: str
    version: int
    method: str
    higher_is_better: bool  # of the aggregate
    weights: dict[str, float]
    pending: bool  # the aggregates are still to be computed: nobody is placed yet
    rows: list[UtilityRow]

    def to_dict(self) -> dict:
        return asdict(self)


def model_efficiencies(session: Session, name: str) -> dict[str, Efficiency]:
    """Each model of suite ``name`` (by name) with the costs of its latest version's card; kept per version of the
    suite. Raises :class:`arena.server.suites.SuiteNotFound` for a suite that is not hosted."""
    return cached(session, name, ("efficiency",), lambda: (_read_efficiencies(session, name), None))


def _read_efficiencies(session: Session, name: str) -> dict[str, Efficiency]:
    suite = get_suite(session, name)
    newest = (
        select(SuiteEntry.model_id, func.max(SuiteEntry.number).label("number"))
        .join(SuiteModel, SuiteModel.id == SuiteEntry.model_id)
        .where(SuiteModel.suite_id == suite.id)
        .group_by(SuiteEntry.model_id)
        .subquery()
    )
    found = session.execute(
        select(SuiteModel.name, SuiteModel.is_baseline, SuiteEntry.card)
        .join(SuiteEntry, SuiteEntry.model_id == SuiteModel.id)
        .join(newest, (newest.c.model_id == SuiteEntry.model_id) & (newest.c.number == SuiteEntry.number))
    )
    return {model: efficiency_of(card or {}, reference=is_baseline) for model, is_baseline, card in found}


def utility_board(session: Session, name: str, weights: dict[str, float]) -> UtilityBoard:
    """Suite ``name``'s board with each model's costs and its utility under ``weights`` (as
    :func:`arena.suites.efficiency.utility_weights` reads them), ordered by utility; equal shown utilities share a
    rank. Raises :class:`arena.server.suites.SuiteNotFound` for a suite that is not hosted. Made once per version
    of the board and set of weights (a shared view's link is read many times), among a bounded number of such."""
    return board_derived(
        session,
        name,
        ("utility", tuple(sorted(weights.items()))),
        lambda board: _utility_board(session, name, board, weights),
        query=True,
    )


def utility_derived(
    session: Session, name: str, weights: dict[str, float], what: str, make: Callable[[UtilityBoard], T]
) -> T:
    """``make(view)`` for the utility view under ``weights`` (its rendered page, say), kept as the view is."""
    return board_derived(
        session,
        name,
        ("utility", tuple(sorted(weights.items())), what),
        lambda board: make(_utility_board(session, name, board, weights)),
        query=True,
    )


def _utility_board(session: Session, name: str, board: SuiteBoard, weights: dict[str, float]) -> UtilityBoard:
    costs = model_efficiencies(session, name)
    missing = efficiency_of({}, reference=False)  # a model entered after the costs were read: shown, not placed
    efficiencies = [costs.get(row.model, missing) for row in board.rows]
    found = utilities(
        [row.aggregate for row in board.rows], efficiencies, weights, higher_is_better=board.higher_is_better
    )
    shown = [None if value is None else round(value, SHOWN_DECIMALS) for value in found]
    order = sorted(range(len(board.rows)), key=lambda i: (shown[i] is None, -(shown[i] or 0.0)))
    rows: list[UtilityRow] = []
    for i in order:
        row, utility = board.rows[i], shown[i]
        rank = None
        if utility is not None:
            before = rows[-1] if rows else None
            rank = before.utility_rank if before is not None and before.utility == utility else len(rows) + 1
        rows.append(
            UtilityRow(
                model=row.model,
                owner=row.owner,
                version=row.version,
                is_baseline=row.is_baseline,
                board_rank=row.rank,
                aggregate=row.aggregate,
                efficiency=efficiencies[i],
                utility=utility,
                utility_rank=rank,
            )
        )
    return UtilityBoard(
        name=board.name,
        title=board.title,
        version=board.version,
        method=board.method,
        higher_is_better=board.higher_is_better,
        weights=dict(weights),
        pending=board.pending,
        rows=rows,
    )
