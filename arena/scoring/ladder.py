"""The Ladder (Blum & Hardt 2015, "The Ladder: A Reliable Leaderboard for Machine Learning Competitions").

The parameter-free variant: a team's public score moves only when a submission
beats the team's best by more than the noise of the public rows, that is one
standard error of the paired per-row difference between the two submissions.
Otherwise the team sees its previous best again. Adaptive probing (submitting
variations and keeping what scored well) then learns next to nothing, because
small, lucky differences are never shown.

Everything here is in loss terms (lower is better); a higher-is-better metric's
per-row values are negated by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def paired_noise(new_rows: np.ndarray, best_rows: np.ndarray) -> float:
    """One standard error of the mean paired difference between two submissions' per-row losses."""
    difference = np.asarray(new_rows, dtype=np.float64) - np.asarray(best_rows, dtype=np.float64)
    if len(difference) < 2:
        return float("inf")
    return float(np.std(difference, ddof=1) / np.sqrt(len(difference)))


def on_grid(loss: float, n: int) -> float:
    """The loss rounded to the nearest multiple of 1/n, as the parameter-free Ladder releases it."""
    return round(loss * n) / n if n else loss


@dataclass(frozen=True)
class Step:
    """What one submission does to the Ladder: the score released, and whether it became the new best."""

    released: float
    improved: bool
    noise: float


def step(released: float | None, loss: float, noise: float, n: int) -> Step:
    """One round: release ``loss`` only if it beats the last release by more than ``noise``.

    ``released`` is None for a team's first submission, which always sets the first release.
    """
    if released is None or loss < released - noise:
        return Step(on_grid(loss, n), True, noise)
    return Step(released, False, noise)


class Ladder:
    """The Ladder for one team, fed per-row losses in submission order."""

    def __init__(self) -> None:
        self.released: float | None = None
        self.best_rows: np.ndarray | None = None

    def submit(self, rows: np.ndarray) -> float:
        """Take one submission's per-row losses on the public rows; return the score the team sees."""
        rows = np.asarray(rows, dtype=np.float64)
        noise = 0.0 if self.best_rows is None else paired_noise(rows, self.best_rows)
        result = step(self.released, float(rows.mean()), noise, len(rows))
        if result.improved:
            self.best_rows = rows
        self.released = result.released
        return result.released
