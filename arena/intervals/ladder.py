"""The Ladder (Blum & Hardt 2015, "The Ladder: A Reliable Leaderboard for Machine Learning Competitions").

The parameter-free variant: a team's public score moves only when a submission
beats the team's best by more than the noise of the public rows, one standard
error of the paired per-row difference between the two submissions. Otherwise
the team sees its previous best again. Adaptive probing (submitting variations
and keeping what scored well) then learns next to nothing, because small, lucky
differences are never shown.

The test compares the two submissions themselves (the mean paired difference),
not the released score, which is rounded to the 1/n grid: a best just under a
grid point would otherwise let a smaller change through. A change of one row by
``d`` moves the mean by ``d / n`` and its exact standard error is ``|d| / n``,
so "more than one standard error" never releases it; the noise is also never
below the largest effect one row has, and a gain must beat the noise by a small
relative margin (``TIE``), so no rounding error turns that tie into a release.

Everything here is in loss terms (lower is better); a higher-is-better metric's
per-row values are negated by the caller. The server's test for every metric
(count metrics, ROC AUC, weights, metrics without per-row results) is
:func:`arena.intervals.row_results.paired_comparison`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TIE = 1e-6
"""A gain must exceed the noise by this share of it, plus ``SCALE_TIE`` of the size of the values compared: a gain
equal to the noise in exact arithmetic (a one-row change) never passes on a rounding error."""
SCALE_TIE = 1e-10


def beats(gain: float, noise: float, scale: float = 0.0) -> bool:
    """Whether a gain (> 0: better) clears the noise: strictly, by the rounding margin, and only a finite noise."""
    if not (math.isfinite(gain) and math.isfinite(noise)):
        return False
    return gain > 0 and gain > noise * (1 + TIE) + SCALE_TIE * abs(scale)


def paired_noise(new_rows: np.ndarray, best_rows: np.ndarray) -> float:
    """One standard error of the mean paired difference between two submissions' per-row losses, never below the
    largest effect of one row (its difference over n)."""
    difference = np.asarray(new_rows, dtype=np.float64) - np.asarray(best_rows, dtype=np.float64)
    if len(difference) < 2:
        return float("inf")
    n = len(difference)
    return float(max(np.std(difference, ddof=1) / np.sqrt(n), np.max(np.abs(difference)) / n))


def on_grid(loss: float, n: int) -> float:
    """The loss rounded to the nearest multiple of 1/n, as the parameter-free Ladder releases it."""
    return round(loss * n) / n if n else loss


@dataclass(frozen=True)
class Step:
    """What one submission does to the Ladder: the score released, and whether it became the new best."""

    released: float
    improved: bool


def step(released: float | None, loss: float, improved: bool, n: int) -> Step:
    """One round: release ``loss`` (on the 1/n grid) if it ``improved`` on the best by more than the noise, else
    the last release again. ``released`` is None for a team's first submission, which always sets the first release.
    """
    if not isinstance(improved, (bool, np.bool_)):
        raise TypeError(f"improved must be a bool (the test's decision), not {type(improved).__name__}")
    if released is None or improved:
        return Step(on_grid(loss, n), True)
    return Step(released, False)


class Ladder:
    """The Ladder for one team, fed per-row losses in submission order."""

    def __init__(self) -> None:
        self.released: float | None = None
        self.best_rows: np.ndarray | None = None

    def submit(self, rows: np.ndarray) -> float:
        """Take one submission's per-row losses on the public rows; return the score the team sees."""
        rows = np.asarray(rows, dtype=np.float64)
        improved = False
        if self.best_rows is not None:
            gain = float(np.mean(self.best_rows - rows))  # the mean paired difference: exactly 0 where rows agree
            improved = beats(gain, paired_noise(rows, self.best_rows), float(np.mean(rows)))
        result = step(self.released, float(rows.mean()), improved, len(rows))
        if result.improved:
            self.best_rows = rows
        self.released = result.released
        return result.released
