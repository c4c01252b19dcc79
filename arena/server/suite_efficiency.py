"""A suite's board weighed against its models' costs: the utility view.

Each model's four costs are the board row's (:func:`arena.suites.efficiency.efficiency_of` of its latest version's
card: measured where the version is a reference run, or where Arena ran its program for every task; reported
otherwise), so this view and the board never disagree. A view is made once per version of the board and set of weights, kept among a bounded number of a
visitor's choices (:func:`arena.server.suite_cache.cached`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from arena.scoring.score import rounded
from arena.server.suite_boards import SuiteBoard, board_derived
from arena.suites.efficiency import Efficiency, MeasuredRuns, efficiency_of, utilities

T = TypeVar("T")


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
    runs: MeasuredRuns | None = None  # what Arena measured running the version's programs, as the board has it


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


def utility_board(session: Session, name: str, weights: dict[str, float]) -> UtilityBoard:
    """Suite ``name``'s board with each model's costs and its utility under ``weights`` (as
    :func:`arena.suites.efficiency.utility_weights` reads them), ordered by utility; equal shown utilities share a
    rank. Raises :class:`arena.server.suites.SuiteNotFound` for a suite that is not hosted. Made once per version
    of the board and set of weights (a shared view's link is read many times), among a bounded number of such."""
    return board_derived(
        session,
        name,
        ("utility", tuple(sorted(weights.items()))),
        lambda board: _utility_board(board, weights),
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
        lambda board: make(_utility_board(board, weights)),
        query=True,
    )


def _utility_board(board: SuiteBoard, weights: dict[str, float]) -> UtilityBoard:
    efficiencies = [row.efficiency or efficiency_of({}, reference=False) for row in board.rows]
    found = utilities(
        [row.aggregate for row in board.rows], efficiencies, weights, higher_is_better=board.higher_is_better
    )
    shown = [rounded(value) for value in found]
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
                runs=row.runs,
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
