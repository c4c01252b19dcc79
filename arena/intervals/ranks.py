"""Rank intervals from joint resamples: each team's 95% range of ranks, and which neighbours cannot be told apart.

Every team's metric is evaluated under the same row weightings (a joint Bayesian
bootstrap of the rows), so the teams' values in one resample are comparable: a
team's rank in a resample is one plus the number of teams doing strictly better
there. Two neighbours cannot be told apart when the 95% interval of their paired
difference over the resamples holds zero.
"""

from __future__ import annotations

import numpy as np

from arena.intervals import row_results as rowresults
from arena.intervals.bootstrap import weight_chunks
from arena.metrics.registry import Metric


def joint_values(metric: Metric, truth: np.ndarray, rows: list[np.ndarray], *, resamples: int, seed: int) -> np.ndarray:
    """Each team's metric (teams, resamples) from its per-row results, every team under the same row weights:
    drawn a few resamples at a time (:func:`weight_chunks`), so memory stays bounded."""
    values = np.empty((len(rows), resamples))
    done = 0
    for weights in weight_chunks(resamples, len(truth), seed):
        for i, team_rows in enumerate(rows):
            values[i, done : done + len(weights)] = rowresults.weighted_values(metric, truth, team_rows, weights)
        done += len(weights)
    return values


def joint_ranks(values: np.ndarray, *, higher_is_better: bool) -> tuple[list[tuple[int, int] | None], list[bool]]:
    """For teams in board order with their metric under shared weightings ``values`` (teams, resamples):
    each team's 95% rank interval [best, worst] and whether it is indistinguishable from the next team.

    A team with an undefined value in any resample gets None and is left out of the others' ranks.
    """
    count = len(values)
    intervals: list[tuple[int, int] | None] = [None] * count
    close = [False] * count
    if count == 0:
        return intervals, close
    known = np.all(np.isfinite(values), axis=1)
    signed = values if higher_is_better else -values
    ranked = signed[known]
    better = np.zeros(ranked.shape, dtype=np.int32)
    for row in ranked:  # one team at a time: (teams, resamples) memory instead of (teams, teams, resamples)
        better += row[None, :] > ranked
    low, high = np.percentile(1 + better, [2.5, 97.5], axis=1)
    for index, lo, hi in zip(np.flatnonzero(known), low, high):
        intervals[index] = (int(np.floor(lo)), int(np.ceil(hi)))
    for i in range(count - 1):
        if known[i] and known[i + 1]:
            lo, hi = np.percentile(signed[i] - signed[i + 1], [2.5, 97.5])
            close[i] = bool(lo <= 0 <= hi)
    return intervals, close
