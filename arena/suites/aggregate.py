"""A suite's aggregate: each task's score on one scale, then one number per model.

Scores are first normalised per task, ``(score - floor) / (ceiling - floor)``: 0
is the floor (by default the trivial submission's score), 1 the ceiling (by
default the metric's best value). The formula is direction-aware by itself: a
loss has its ceiling (0) below its floor, so a lower loss normalises higher.

The methods, each a function of the normalised scores of the models that have
every task, vectorised over resamples (the last axis) and over task weights that
may differ per resample (the task-resampling view):

- ``normalised_mean``: the weighted mean. Cardinal: a model's aggregate depends on
  its own scores only, so adding a model never reorders the others.
- ``mean_rank``: the weighted mean of per-task ranks (1 = best; ties share the
  mean rank). Lower is better. It depends on which other models are present.
- ``mean_win_rate``: HELM's; per task, the share of the other models a model beats
  (a tie counts half), then the weighted mean. Depends on the pool too.
- ``iqm``: the weighted interquartile mean of normalised scores (Agarwal et al.
  2021): the middle half of the tasks by score, robust to one outlying task.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

HIGHER_IS_BETTER = {"normalised_mean": True, "mean_rank": False, "mean_win_rate": True, "iqm": True}


def normalise(scores: np.ndarray, floors: np.ndarray, ceilings: np.ndarray) -> np.ndarray:
    """Scores (models, tasks[, resamples]) on the 0 (floor) to 1 (ceiling) scale of each task."""
    shape = (1, -1) + (1,) * (scores.ndim - 2)
    floors = np.asarray(floors, dtype=np.float64).reshape(shape)
    ceilings = np.asarray(ceilings, dtype=np.float64).reshape(shape)
    return (scores - floors) / (ceilings - floors)


def aggregate(method: str, normalised: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each model's aggregate (models, resamples) from normalised scores (models, tasks, resamples).

    ``weights`` is (tasks,) or (tasks, resamples). Every model given must have every
    task: the rank-based methods compare the models given, and only them.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 1:
        weights = weights[:, None]
    weights = np.broadcast_to(weights, normalised.shape[1:])
    if method == "normalised_mean":
        return _weighted_mean(normalised, weights)
    if method == "mean_rank":
        return _weighted_mean(_ranks_best_first(normalised), weights)
    if method == "mean_win_rate":
        models = normalised.shape[0]
        if models < 2:
            return np.full((models, normalised.shape[2]), np.nan)
        ascending = rankdata(normalised, axis=0, method="average")  # 1 = lowest score
        return _weighted_mean((ascending - 1) / (models - 1), weights)
    if method == "iqm":
        return interquartile_mean(normalised, weights)
    raise ValueError(f"unknown aggregate method {method!r}")


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.einsum("mtr,tr->mr", values, weights) / weights.sum(axis=0)


def _ranks_best_first(normalised: np.ndarray) -> np.ndarray:
    """Per task and resample, each model's rank among the models (1 = highest normalised score; ties share)."""
    return rankdata(-normalised, axis=0, method="average")


def interquartile_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weighted mean of the middle half of each model's task scores (models, tasks, resamples) -> (models,
    resamples): each task covers its share of the weight, sorted by score, and counts by how much of that share
    lies between the 25% and 75% marks (a task straddling a mark counts in part)."""
    order = np.argsort(values, axis=1, kind="stable")
    sorted_values = np.take_along_axis(values, order, axis=1)
    shares = weights[None, :, :] / weights.sum(axis=0)[None, None, :]
    sorted_shares = np.take_along_axis(np.broadcast_to(shares, values.shape), order, axis=1)
    upper = np.cumsum(sorted_shares, axis=1)
    lower = upper - sorted_shares
    inside = np.clip(np.minimum(upper, 0.75) - np.maximum(lower, 0.25), 0.0, None)
    return (inside * sorted_values).sum(axis=1) / 0.5
