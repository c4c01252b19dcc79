"""Honest ranks: ranks shared on equal shown scores, the 95% range of each team's rank across joint
resamples of the rows, and which neighbours a paired bootstrap cannot tell apart.

Every team's submission is evaluated on the same Bayesian-bootstrap row weights
(joint resampling), from the per-row results kept at scoring time.
"""

from __future__ import annotations

import numpy as np

from arena.db.models import Competition, Submission
from arena.errors import ArenaError
from arena.scoring import rowresults
from arena.scoring.datasets import load_task
from arena.scoring.intervals import row_weights
from arena.scoring.metrics import get_metric
from arena.scoring.score import private_rows, public_rows

RESAMPLES = 1000
TOP = 100  # rank intervals are computed for the first TOP teams of a board
SEED = 20240602


def shared_ranks(scores: list[float | None]) -> list[int]:
    """Competition ranks ("1224") of scores already in board order: equal shown scores share a rank."""
    ranks: list[int] = []
    for place, value in enumerate(scores, start=1):
        ranks.append(ranks[-1] if ranks and value is not None and value == scores[place - 2] else place)
    return ranks


def rank_statistics(competition: Competition, submissions: list[Submission], *, private: bool,
                    resamples: int = RESAMPLES) -> tuple[list[tuple[int, int] | None], list[bool]]:
    """For submissions in board order: each one's 95% rank interval [best, worst] and, for each one, whether the
    next one cannot be told apart (the 95% interval of their paired difference holds 0).

    Submissions without per-row results (or beyond TOP) get None and False.
    """
    from arena.server.feedback import load_rows

    count = len(submissions)
    intervals: list[tuple[int, int] | None] = [None] * count
    close = [False] * count
    if not any(submission.rows_sha256 for submission in submissions[:TOP]):
        return intervals, close
    try:
        task = load_task(competition.task_ref)
        metric = get_metric(task.spec.primary_metric)
    except ArenaError:  # an organiser's metric, a scoring program's column, or a broken snapshot: plain scores
        return intervals, close
    public = public_rows(task, competition.public_fraction, split_key=competition.split_key)
    part = private_rows(task, competition.public_fraction, split_key=competition.split_key) if private else public
    truth = task.answer_key.truth[part]
    weights = row_weights(resamples, int(part.sum()), SEED)
    values = np.full((min(count, TOP), resamples), np.nan)
    for i, submission in enumerate(submissions[:TOP]):
        rows = load_rows(submission.rows_sha256)
        if rows is not None and len(rows) == len(part):
            values[i] = rowresults.weighted_values(metric, truth, rows[part], weights)
    known = np.all(np.isfinite(values), axis=1)
    signed = values if metric.higher_is_better else -values
    ranked = signed[known]
    # rank in each resample: 1 + how many known teams do strictly better there
    ranks = 1 + (ranked[None, :, :] > ranked[:, None, :]).sum(axis=1)
    low, high = np.percentile(ranks, [2.5, 97.5], axis=1)
    for index, lo, hi in zip(np.flatnonzero(known), low, high):
        intervals[index] = (int(np.floor(lo)), int(np.ceil(hi)))
    for i in range(min(count, TOP) - 1):
        if known[i] and known[i + 1]:
            difference = signed[i] - signed[i + 1]
            lo, hi = np.percentile(difference, [2.5, 97.5])
            close[i] = bool(lo <= 0 <= hi)
    return intervals, close

