"""A suite board's statistics from one joint bootstrap: every model's aggregate with its 95% interval, its rank
and 95% rank interval, and ``p_best``, the share of resamples in which it ranks first.

The resampling (the method of Hall & Miller 2009, and the challengeR package's
bootstrap ranking): each resample draws Bayesian-bootstrap weights for the rows of
every task, the same weights for every model, from the per-row results each
submission keeps. Every model's score on every task under those weights gives
every model's aggregate in that resample; the 2.5% and 97.5% quantiles over the
resamples are the interval. Because the models share the draws, their aggregates
in one resample are comparable, which is what makes the rank intervals and
``p_best`` honest. A text task's per-row results are each row's sufficient statistics, so its metric in a
resample (BLEU, chrF or an error rate as much as a mean) is computed from the weighted column sums: no row is ever
scored again. A second view also resamples the tasks (multinomial draws of
the tasks, times their weights): it answers "would the order hold on other tasks
like these", so it is given only for suites of 5 tasks or more.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse

from arena.intervals import row_results as rowresults
from arena.intervals.bootstrap import MEAN_TYPE, moments_for, weight_chunks
from arena.intervals.ranks import joint_ranks
from arena.metrics.registry import Metric
from arena.suites.aggregate import HIGHER_IS_BETTER, aggregate, normalise
from arena.suites.scales import SHOWN_DECIMALS, TaskScale

RESAMPLES = 1000
SEED = 20241203
TASK_VIEW_MIN_TASKS = 5
RANK_BASED = ("mean_rank", "mean_win_rate")
OUTPUT_CELLS = 1 << 24  # confusion-matrix cells (resamples x models x k^2) evaluated at once: 128 MB


@dataclass
class SuiteStatistics:
    """Per model, in the order the models were given (``order`` lists them as the board shows them).

    ``ranked[i]`` is False for a model missing a task (or left out by a filter): it
    gets no aggregate, rank or interval, and the board shows it after the ranked ones.
    """

    aggregate: list[float | None]
    aggregate_ci: list[tuple[float, float] | None]
    rank: list[int | None]
    rank_interval: list[tuple[int, int] | None]
    p_best: list[float | None]
    close: list[bool]  # cannot be told apart from the next ranked model (paired interval of the difference holds 0)
    order: list[int]
    ranked: list[bool]
    higher_is_better: bool
    task_view: dict | None = None  # {"aggregate_ci": [...], "rank_interval": [...]} resampling tasks as well

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SuiteStatistics:
        pair = lambda values: [tuple(v) if v is not None else None for v in values]
        view = data.get("task_view")
        if view is not None:
            view = {key: pair(values) for key, values in view.items()}
        return cls(
            **{
                **data,
                "aggregate_ci": pair(data["aggregate_ci"]),
                "rank_interval": pair(data["rank_interval"]),
                "task_view": view,
            }
        )


def resampled_scores(
    metrics: list[Metric],
    truths: list[np.ndarray],
    rows: list[list[np.ndarray | None]],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> np.ndarray:
    """Every model's score on every task under shared row weights: (models, tasks, resamples), NaN where a model
    has no per-row results for a task. ``rows[m][t]`` is model m's per-row record on task t's board rows
    (:func:`arena.intervals.row_results.row_results`); each task draws its weights from its own seed."""
    models, tasks = len(rows), len(metrics)
    draws = np.full((models, tasks, resamples), np.nan)
    for t, (metric, truth) in enumerate(zip(metrics, truths)):
        present = [m for m in range(models) if rows[m][t] is not None]
        if not present:
            continue
        done = 0
        for weights in weight_chunks(resamples, len(truth), seed + 7919 * t):
            chunk = slice(done, done + len(weights))
            found = _task_values(metric, truth, [r for m in present if (r := rows[m][t]) is not None], weights)
            draws[present, t, chunk] = found
            done += len(weights)
    return draws


def _task_values(metric: Metric, truth: np.ndarray, rows: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """(models, resamples) for one task: confusion and mean-type metrics for all models in a few matrix products; a
    text metric from each model's weighted column sums of its per-row statistics (checked first: a text task's
    exact_match shares a label metric's name)."""
    if metric.needs == "text":
        return np.stack([rowresults.weighted_values(metric, truth, model_rows, weights) for model_rows in rows])
    if metric.from_confusion is not None:
        return _confusion_values(metric, truth, rows, weights)
    if metric.name in MEAN_TYPE:
        return _moment_values(metric, truth, rows, weights)
    return np.stack([rowresults.weighted_values(metric, truth, model_rows, weights) for model_rows in rows])


def _confusion_values(metric: Metric, truth: np.ndarray, rows: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    confusion_values = metric.confusion_function()
    k = int(max([truth.max(initial=0)] + [r.max(initial=0) for r in rows])) + 1
    n = len(truth)
    per_group = max(1, OUTPUT_CELLS // max(1, len(weights) * k * k))
    out = np.empty((len(rows), len(weights)))
    for start in range(0, len(rows), per_group):
        group = rows[start : start + per_group]
        cells = np.concatenate(
            [m * k * k + truth.astype(np.int64) * k + r.astype(np.int64) for m, r in enumerate(group)]
        )
        onehot = sparse.csr_matrix(
            (np.ones(len(cells)), (np.tile(np.arange(n), len(group)), cells)), shape=(n, len(group) * k * k)
        )
        matrices = np.asarray((onehot.T @ weights.T).T).reshape(len(weights), len(group), k, k)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + len(group)] = np.asarray(confusion_values(matrices), dtype=np.float64).T
    return out


def _moment_values(metric: Metric, truth: np.ndarray, rows: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Mean-type metrics keep one moment per row (squared or absolute error, log loss): one matrix product."""
    first = np.column_stack([r.reshape(len(r), -1)[:, 0].astype(np.float64) for r in rows])  # (n, models)
    total = weights.sum(axis=1, keepdims=True)
    means = (weights @ first) / total  # (resamples, models)
    example = np.ones((1, 2)) / 2 if metric.name == "log_loss" else truth[:1]
    value_of = moments_for(metric.name, truth[:1], example).value_of
    extra = None
    if metric.name == "r2":
        centred = truth - truth.mean()
        extra = (weights @ np.column_stack([centred, centred * centred])) / total
    out = np.empty((len(rows), len(weights)))
    with np.errstate(invalid="ignore", divide="ignore"):
        for m in range(len(rows)):
            moments = means[:, m : m + 1] if extra is None else np.column_stack([means[:, m], extra])
            out[m] = np.asarray(value_of(moments), dtype=np.float64)
    return out


def board_statistics(
    method: str,
    weights: list[float],
    scales: list[TaskScale],
    scores: np.ndarray,
    draws: np.ndarray,
    *,
    include: np.ndarray | None = None,
    seed: int = SEED,
) -> SuiteStatistics:
    """The board's numbers from each model's shown task scores (models, tasks; NaN where missing) and their joint
    draws (:func:`resampled_scores`). ``include`` (models,) leaves models out, as a board filter does: the others are
    ranked among themselves."""
    models, tasks = scores.shape
    include = np.ones(models, dtype=bool) if include is None else np.asarray(include, dtype=bool)
    complete = include & np.all(np.isfinite(scores), axis=1) & np.all(np.isfinite(draws), axis=(1, 2))
    if method in RANK_BASED and complete.sum() < 2:  # a win rate or a mean rank needs another model to compare with
        complete[:] = False
    floors = np.array([s.floor for s in scales])
    ceilings = np.array([s.ceiling for s in scales])
    higher = HIGHER_IS_BETTER[method]
    statistics = SuiteStatistics(
        aggregate=[None] * models,
        aggregate_ci=[None] * models,
        rank=[None] * models,
        rank_interval=[None] * models,
        p_best=[None] * models,
        close=[False] * models,
        order=[],
        ranked=[bool(c) for c in complete],
        higher_is_better=higher,
    )
    chosen = np.flatnonzero(complete)
    if len(chosen):
        point = aggregate(method, normalise(scores[chosen][:, :, None], floors, ceilings), np.asarray(weights))[:, 0]
        spread = aggregate(method, normalise(draws[chosen], floors, ceilings), np.asarray(weights))
        shown = np.round(point, SHOWN_DECIMALS)
        in_order = sorted(range(len(chosen)), key=lambda i: (-shown[i] if higher else shown[i], int(chosen[i])))
        intervals, close = joint_ranks(spread[in_order], higher_is_better=higher)
        signed = spread if higher else -spread
        first = (signed >= signed.max(axis=0, keepdims=True)).mean(axis=1)
        low, high = np.percentile(spread, [2.5, 97.5], axis=1)
        for place, i in enumerate(in_order):
            model = int(chosen[i])
            statistics.order.append(model)
            statistics.aggregate[model] = float(point[i])
            statistics.aggregate_ci[model] = (float(low[i]), float(high[i]))
            statistics.rank_interval[model] = intervals[place]
            statistics.close[model] = close[place]
            statistics.p_best[model] = float(first[i])
            before = statistics.order[place - 1] if place else None
            same = place > 0 and shown[i] == shown[in_order[place - 1]]
            statistics.rank[model] = statistics.rank[before] if same and before is not None else place + 1
        if tasks >= TASK_VIEW_MIN_TASKS:
            statistics.task_view = _task_view(
                method, weights, normalise(draws[chosen], floors, ceilings), chosen, models, seed
            )
    statistics.order += [m for m in range(models) if not complete[m]]
    return statistics


def _task_view(
    method: str, weights: list[float], normalised: np.ndarray, chosen: np.ndarray, models: int, seed: int
) -> dict:
    """Aggregate and rank intervals when the tasks are resampled too (multinomial counts times the weights)."""
    tasks, resamples = normalised.shape[1], normalised.shape[2]
    counts = np.random.default_rng([seed, 1]).multinomial(tasks, np.full(tasks, 1 / tasks), size=resamples).T
    task_weights = np.asarray(weights, dtype=np.float64)[:, None] * counts
    spread = aggregate(method, normalised, task_weights)
    higher = HIGHER_IS_BETTER[method]
    intervals, _ = joint_ranks(spread, higher_is_better=higher)
    low, high = np.percentile(spread, [2.5, 97.5], axis=1)
    view: dict[str, list] = {"aggregate_ci": [None] * models, "rank_interval": [None] * models}
    for i, model in enumerate(chosen):
        view["aggregate_ci"][int(model)] = (float(low[i]), float(high[i]))
        view["rank_interval"][int(model)] = intervals[i]
    return view
