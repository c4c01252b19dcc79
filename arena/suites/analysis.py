"""Comparing models over a suite: two models side by side, every pair at once, and how much the order depends on
the choices made in building it.

Everything here works on what the suite board's joint bootstrap already drew
(:func:`arena.suites.board.resampled_scores`): every model's score on every task
under the same resampled row weights. A difference between two models in one
resample is therefore a paired difference, and its 2.5% and 97.5% quantiles are a
paired-bootstrap interval, far narrower than two separate intervals would suggest
when the models err on the same rows.

- **Two models** (:func:`compare_pair`): per task, the difference of scores with its
  paired interval and the share of resamples in which A beats B; over the suite,
  win / tie / loss counts (a tie: the interval holds 0), the Wilcoxon signed-rank
  test over the tasks' normalised differences, and the difference of aggregates
  with its joint interval.
- **Every pair** (:func:`pairwise_tests`): the Wilcoxon p-value of every pair,
  corrected for the number of pairs by Holm's step-down method, and the groups of
  models no test tells apart (:func:`cliques`), drawn as a critical-difference
  diagram over Demšar's mean ranks. Benavoli, Corani & Mangili (2016) showed that
  the mean-rank post-hoc test Demšar used (Nemenyi's) makes one pair's verdict
  depend on the other models in the pool; the pairwise signed-rank test does not.
- **The performance profile** (:func:`performance_profile`, Dolan & Moré 2002).
- **Sensitivity** (:func:`sensitivity`): each model's rank under every aggregate
  method and with each task left out, with Kendall's τ against the suite's order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import kendalltau, rankdata, wilcoxon

from arena.suites.aggregate import HIGHER_IS_BETTER, aggregate, normalise
from arena.suites.scales import SHOWN_DECIMALS

ALPHA = 0.05
LEVELS = (2.5, 97.5)
IQM_MIN_TASKS = 8
METHOD_TITLES = {
    "normalised_mean": "normalised mean",
    "mean_rank": "mean rank",
    "mean_win_rate": "mean win rate",
    "iqm": "IQM",
}


# --- two models -------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskDifference:
    """A minus B on one task, in the metric's own units, with its paired 95% interval; ``p_a_better`` is the share
    of resamples in which A does better (a tie counts half); ``outcome`` is A's: win, tie (the interval holds 0),
    loss, or missing (a model has no score there)."""

    difference: float | None
    ci: tuple[float, float] | None
    p_a_better: float | None
    outcome: str


@dataclass(frozen=True)
class PairComparison:
    tasks: list[TaskDifference]
    wins: int
    ties: int
    losses: int
    wilcoxon_statistic: float | None  # over the tasks both models have, on the normalised scale
    wilcoxon_p: float | None
    wilcoxon_tasks: int
    aggregate_difference: float | None  # in the aggregate's own units (mean rank: lower is better)
    aggregate_ci: tuple[float, float] | None
    aggregate_p_a_better: float | None


def task_difference(score_a: float, score_b: float, draws_a: np.ndarray, draws_b: np.ndarray, higher: bool):
    """One task's :class:`TaskDifference` from the two models' scores and their draws under shared weights."""
    if not (np.isfinite(score_a) and np.isfinite(score_b)) or not np.all(np.isfinite(draws_a - draws_b)):
        return TaskDifference(None, None, None, "missing")
    spread = draws_a - draws_b
    low, high = (float(v) for v in np.percentile(spread, LEVELS))
    signed = spread if higher else -spread
    p_better = float(np.mean(signed > 0) + 0.5 * np.mean(signed == 0))
    if low <= 0 <= high:
        outcome = "tie"
    else:
        outcome = "win" if (low > 0) == higher else "loss"
    return TaskDifference(float(score_a - score_b), (low, high), p_better, outcome)


def signed_rank_test(differences: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two-sided Wilcoxon signed-rank test (scipy's, zero differences dropped) of each row of ``differences``
    (..., tasks): (statistic, p-value). A row whose differences are all 0 gets statistic 0 and p = 1.

    The p-value is exact where the absolute differences hold no tie and no zero, and the normal approximation
    with scipy's tie correction otherwise (:func:`signed_rank_method`): never scipy's default for small samples with
    ties, a permutation test, whose p-value changes from one run to the next and which costs a thousand
    resamples per pair.
    """
    differences = np.asarray(differences, dtype=np.float64)
    shape = differences.shape[:-1]
    rows = differences.reshape(-1, differences.shape[-1])
    statistic, p = np.zeros(len(rows)), np.ones(len(rows))
    exact = np.array([signed_rank_method(row) == "exact" for row in rows], dtype=bool)
    for method, chosen in (("exact", exact), ("approx", ~exact)):
        if not chosen.any():
            continue
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            found = wilcoxon(rows[chosen], axis=-1, method=method)
        statistic[chosen] = found.statistic
        p[chosen] = found.pvalue
    zero = np.all(rows == 0, axis=-1)
    statistic[zero], p[zero] = 0.0, 1.0
    return statistic.reshape(shape), p.reshape(shape)


def signed_rank_method(differences: np.ndarray) -> str:
    """``exact`` when the absolute differences, zeros dropped, have no ties and there are no zeros, else
    ``approx``."""
    size = np.abs(np.asarray(differences, dtype=np.float64))
    nonzero = size[size != 0]
    return "exact" if len(nonzero) == len(size) and len(np.unique(nonzero)) == len(nonzero) else "approx"


def compare_pair(
    a: int,
    b: int,
    scores: np.ndarray,
    draws: np.ndarray,
    floors: np.ndarray,
    ceilings: np.ndarray,
    aggregates: np.ndarray | None = None,
    aggregate_draws: np.ndarray | None = None,
    method: str = "normalised_mean",
) -> PairComparison:
    """Models ``a`` and ``b`` of ``scores`` (models, tasks) and ``draws`` (models, tasks, resamples).

    ``aggregates`` (models,) and ``aggregate_draws`` (models, resamples) are the
    board's, computed over the whole pool (a rank-based aggregate depends on the
    other models); NaN, or None, where a model has none.
    """
    floors, ceilings = np.asarray(floors, dtype=np.float64), np.asarray(ceilings, dtype=np.float64)
    tasks = [
        task_difference(scores[a, t], scores[b, t], draws[a, t], draws[b, t], bool(ceilings[t] > floors[t]))
        for t in range(scores.shape[1])
    ]
    both = np.isfinite(scores[a]) & np.isfinite(scores[b])
    statistic = p = None
    if both.any():
        normalised = normalise(scores[[a, b]][:, both], floors[both], ceilings[both])
        found = signed_rank_test(normalised[0] - normalised[1])
        statistic, p = float(found[0]), float(found[1])
    difference = ci = p_better = None
    if aggregates is not None and aggregate_draws is not None and np.isfinite(aggregates[[a, b]]).all():
        spread = aggregate_draws[a] - aggregate_draws[b]
        higher = HIGHER_IS_BETTER[method]
        difference = float(aggregates[a] - aggregates[b])
        ci = tuple(float(v) for v in np.percentile(spread, LEVELS))
        signed = spread if higher else -spread
        p_better = float(np.mean(signed > 0) + 0.5 * np.mean(signed == 0))
    outcomes = [task.outcome for task in tasks]
    return PairComparison(
        tasks=tasks,
        wins=outcomes.count("win"),
        ties=outcomes.count("tie"),
        losses=outcomes.count("loss"),
        wilcoxon_statistic=statistic,
        wilcoxon_p=p,
        wilcoxon_tasks=int(both.sum()),
        aggregate_difference=difference,
        aggregate_ci=ci,  # type: ignore[arg-type]
        aggregate_p_a_better=p_better,
    )


# --- every pair ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PairwiseTests:
    """Every pair of the models given (in that order): the Wilcoxon p-values over the tasks, the same corrected by
    Holm's method for the number of pairs, significant wins per pair, Demšar's mean ranks and the cliques."""

    p_values: np.ndarray  # (models, models), symmetric, 1 on the diagonal
    adjusted: np.ndarray  # Holm-corrected
    wins: np.ndarray  # wins[i, j]: tasks on which i beats j (paired interval clear of 0 on i's side)
    mean_ranks: np.ndarray  # (models,): 1 = best on every task
    cliques: list[list[int]]  # groups (2+ models, contiguous in mean-rank order) no corrected test tells apart
    alpha: float = ALPHA


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down correction of a family of p-values (Holm 1979): the i-th smallest of m is multiplied by
    m - i + 1, made non-decreasing in that order, and capped at 1. It controls the chance of any false finding
    among all the pairs without Bonferroni's loss of power."""
    p = np.asarray(p_values, dtype=np.float64).ravel()
    m = len(p)
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def mean_ranks(normalised: np.ndarray) -> np.ndarray:
    """Demšar's mean rank of each model (models, tasks): per task 1 = best, ties share the mean rank."""
    if normalised.size == 0:
        return np.zeros(normalised.shape[0])
    return rankdata(-normalised, axis=0, method="average").mean(axis=1)


def cliques(ranks: np.ndarray, significant: np.ndarray) -> list[list[int]]:
    """The maximal runs of models, in mean-rank order (best first), in which no pair differs significantly: the
    bars of a critical-difference diagram. Each is listed by model index in that order; single models are not
    listed."""
    order = [int(i) for i in np.argsort(ranks, kind="stable")]
    found: list[list[int]] = []
    reach = -1
    for start in range(len(order)):
        end = start
        while end + 1 < len(order) and not any(significant[order[end + 1], order[k]] for k in range(start, end + 1)):
            end += 1
        if end > start and end > reach:
            found.append(order[start : end + 1])
            reach = end
    return found


def pairwise_tests(
    normalised: np.ndarray,
    draws: np.ndarray | None = None,
    higher: np.ndarray | None = None,
    *,
    alpha: float = ALPHA,
) -> PairwiseTests:
    """Every pair of models from their normalised scores (models, tasks); ``draws`` (models, tasks, resamples) and
    ``higher`` (tasks,), if given, count each pair's significant task wins from paired intervals."""
    models = normalised.shape[0]
    p_values = np.ones((models, models))
    upper = np.triu_indices(models, k=1)
    if len(upper[0]):
        _, p = signed_rank_test(normalised[upper[0]] - normalised[upper[1]])
        p_values[upper] = p
        p_values[upper[::-1]] = p
    adjusted = np.ones((models, models))
    if len(upper[0]):
        corrected = holm(p_values[upper])
        adjusted[upper] = corrected
        adjusted[upper[::-1]] = corrected
    wins = np.zeros((models, models), dtype=np.int64)
    if draws is not None and higher is not None:
        wins = pairwise_wins(draws, higher)
    ranks = mean_ranks(normalised)
    return PairwiseTests(p_values, adjusted, wins, ranks, cliques(ranks, adjusted < alpha), alpha)


def pairwise_wins(draws: np.ndarray, higher: np.ndarray) -> np.ndarray:
    """wins[i, j]: the tasks on which i beats j, each paired 95% interval clear of 0 on i's side (``higher[t]``:
    whether a higher score is better on task t). One model at a time against all, so memory stays at (models,
    resamples) per task."""
    models, tasks = draws.shape[:2]
    wins = np.zeros((models, models), dtype=np.int64)
    for t in range(tasks):
        signed = draws[:, t, :] if higher[t] else -draws[:, t, :]
        for i in range(models):
            with np.errstate(invalid="ignore"):
                low = np.percentile(signed[i][None, :] - signed, LEVELS[0], axis=1)
            wins[i] += low > 0
    return wins


# --- the performance profile --------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    taus: list[float]  # from 1, every ratio at which some share changes, and a last point past them
    shares: list[list[float]]  # shares[m][j]: share of tasks on which model m is within taus[j] of the best


def performance_profile(normalised: np.ndarray) -> Profile:
    """Dolan & Moré's performance profile over normalised scores (models, tasks), higher better.

    On each task a model's ratio is the best normalised score over its own: 1 for
    the best, 2 for half the best's distance above the floor. A model at or below the
    floor (0) is never within a finite factor; where no model is above the floor,
    only the best counts as within. Each model's curve is the share of tasks whose
    ratio is at most τ, for τ from 1 up.
    """
    models, tasks = normalised.shape
    if models == 0 or tasks == 0:
        return Profile([1.0], [[0.0] for _ in range(models)])
    best = normalised.max(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(normalised > 0, best[None, :] / normalised, np.inf)
    ratios = np.where((best[None, :] <= 0) & (normalised == best[None, :]), 1.0, ratios)
    finite = np.unique(ratios[np.isfinite(ratios)])
    largest = float(finite.max()) if finite.size else 1.0
    taus = sorted({1.0, *[float(v) for v in finite], max(2.0, largest * 1.25)})
    shares = [[float(np.mean(ratios[m] <= tau)) for tau in taus] for m in range(models)]
    return Profile(taus, shares)


# --- sensitivity of the order -------------------------------------------------------------


@dataclass(frozen=True)
class Sensitivity:
    """Each model's rank (rows, in the order given) under each alternative (columns); ``kendall_tau[c]`` compares
    column c with the first column, the suite's own order (None where undefined: fewer than two models, or a
    column that ties every model)."""

    columns: list[str]
    ranks: list[list[int | None]]
    kendall_tau: list[float | None]


def sensitivity(
    scores: np.ndarray,
    floors: np.ndarray,
    ceilings: np.ndarray,
    weights: np.ndarray,
    method: str,
    task_keys: list[str],
) -> Sensitivity:
    """The suite's order (its own method over every task) against every other aggregate method that applies (IQM
    from 8 tasks) and against leaving each task out, for models (rows of ``scores``) that have every task."""
    weights = np.asarray(weights, dtype=np.float64)
    normalised = normalise(scores, floors, ceilings)
    alternatives: list[tuple[str, str, np.ndarray]] = [
        (f"{METHOD_TITLES[method]} (the suite's)", method, np.ones(len(task_keys), dtype=bool))
    ]
    for other in METHOD_TITLES:
        if other != method and (other != "iqm" or len(task_keys) >= IQM_MIN_TASKS):
            alternatives.append((METHOD_TITLES[other], other, np.ones(len(task_keys), dtype=bool)))
    if len(task_keys) > 1:
        for t, key in enumerate(task_keys):
            keep = np.arange(len(task_keys)) != t
            alternatives.append((f"without {key}", method, keep))
    columns, ranks, taus = [], [], []
    for title, chosen, keep in alternatives:
        if chosen == "iqm" and keep.sum() < IQM_MIN_TASKS:
            continue
        columns.append(title)
        ranks.append(_ranks(chosen, normalised[:, keep], weights[keep]))
    default = ranks[0] if ranks else []
    for column in ranks:
        taus.append(_tau(default, column))
    by_model = [[column[m] for column in ranks] for m in range(scores.shape[0])]
    return Sensitivity(columns, by_model, taus)


def _ranks(method: str, normalised: np.ndarray, weights: np.ndarray) -> list[int | None]:
    """Competition ranks (1 + the models strictly better, on the board's shown decimals) under one method."""
    models = normalised.shape[0]
    if models == 0:
        return []
    if method in ("mean_rank", "mean_win_rate") and models < 2:
        return [None] * models
    values = aggregate(method, normalised[:, :, None], weights)[:, 0]
    shown = np.round(values, SHOWN_DECIMALS)
    signed = shown if HIGHER_IS_BETTER[method] else -shown
    return [int(1 + np.sum(signed > signed[m])) for m in range(models)]


def _tau(first: list[int | None], other: list[int | None]) -> float | None:
    pairs = [(a, b) for a, b in zip(first, other) if a is not None and b is not None]
    if len(pairs) < 2:
        return None
    x, y = zip(*pairs)
    if len(set(x)) < 2 or len(set(y)) < 2:
        return None
    return float(kendalltau(x, y).statistic)
