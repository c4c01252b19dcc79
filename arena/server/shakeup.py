"""The shake-up at the reveal: how far the private board moved from the public one, and whether it is noise.

For every team on both boards: its public and private rank. Then the mean absolute
rank change divided by the number of teams (0: nothing moved), Spearman's rho
between the two boards, and which changes in the private top 10 exceed the team's
private rank interval (a move larger than the rows' own noise).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scipy.stats import spearmanr
from sqlalchemy.orm import Session

from arena.db.models import Competition
from arena.server.competitions import CompetitionError
from arena.server.standings import board_for

TOP = 10


@dataclass(frozen=True)
class Move:
    team: str
    public_rank: int | None
    private_rank: int
    change: int | None  # public rank minus private rank: positive climbed
    private_rank_interval: tuple[int, int] | None
    beyond_noise: bool  # in the private top 10, and its public rank lies outside its private rank interval


def shakeup(session: Session, competition: Competition) -> dict:
    """The shake-up report of a revealed competition (refused before the reveal: it would show private ranks)."""
    if not competition.revealed:
        raise CompetitionError(
            "the shake-up is published at the reveal; this competition's private board is not revealed yet."
        )
    private = board_for(session, competition, True)
    public_rank = {  # a reference model's row (drawn unranked) is no team: it neither moves nor is moved past
        standing.team: standing.rank for standing in board_for(session, competition, False) if standing.rank is not None
    }
    moves = []
    for standing in private:
        rank = standing.rank
        if rank is None:
            continue
        before = public_rank.get(standing.team)
        span = standing.rank_interval
        beyond = rank <= TOP and before is not None and span is not None and not span[0] <= before <= span[1]
        moves.append(
            Move(
                standing.team,
                before,
                rank,
                None if before is None else before - rank,
                (span[0], span[1]) if span else None,
                beyond,
            )
        )
    both = [move for move in moves if move.public_rank is not None]
    teams = len(both)
    changes = [move.change for move in both if move.change is not None]  # every one: both have a public rank
    mean_change = sum(abs(change) for change in changes) / teams / teams if teams else None
    rho = None
    if teams >= 2:
        value = spearmanr([m.public_rank for m in both], [m.private_rank for m in both]).statistic
        rho = None if value != value else round(float(value), 4)
    return {
        "teams": len(moves),
        "mean_abs_rank_change_per_team": None if mean_change is None else round(mean_change, 4),
        "spearman_rho": rho,
        "top10_beyond_noise": [m.team for m in moves if m.beyond_noise],
        "rank_intervals_pending": any(standing.rank_interval_pending for standing in private),
        "rows": [asdict(move) for move in moves],
    }
