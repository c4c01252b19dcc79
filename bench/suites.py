"""Benchmark: a suite board's statistics, 100 models x 10 tasks x 10,000 test rows, 1,000 joint resamples.

What the scoring worker does for a suite board: every model's per-row results on
every task evaluated under the same Bayesian-bootstrap row weights
(:func:`arena.suites.board.resampled_scores`), then, for each of the board's twelve
filter views (all models; without extra data; without training on test inputs;
without both; each for every model, the reproduced and reference ones, and the
reference ones only), every model's aggregate interval, rank interval and ``p_best``
(:func:`arena.suites.board.board_statistics`), the rows-and-tasks view included; then
the board's analysis (:func:`arena.server.suite_analysis.analyse`): every pair's
Wilcoxon test with Holm's correction and the tasks each pair's paired intervals
separate (the all-pairs matrix, 4,950 pairs for 100 models, over the 1,000
resamples), the cliques, the performance profile, the sensitivity panel, and each
filter view's best and not-significantly-worse marks.

The tasks mix the metrics boards use: six count metrics (accuracy, macro-F1), two
RMSE tasks, a log-loss task and a binary ROC AUC task. Models are made a little
better or worse than each other so that their ranks overlap as on a real board.
Printed: each phase's time, the total, and its ratio to the 60 s budget. The same
work as the worker does it on a real database (per-row results read from the file
store, the statistics stored), and the board then served over HTTP, is
``bench/suite_board.py``.

Usage: python bench/suites.py [--models 100] [--tasks 10] [--rows 10000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from arena.intervals.row_results import row_results
from arena.metrics.registry import get_metric
from arena.server.suite_analysis import analyse
from arena.suites.board import board_statistics, resampled_scores
from arena.suites.scales import TaskScale

BUDGET_SECONDS = 60.0
METRICS = [
    "accuracy",
    "f1_macro",
    "accuracy",
    "rmse",
    "log_loss",
    "accuracy",
    "f1_macro",
    "roc_auc",
    "rmse",
    "accuracy",
]
SCALES = {
    "accuracy": TaskScale(0.1, 1.0),
    "f1_macro": TaskScale(0.02, 1.0),
    "rmse": TaskScale(2.0, 0.0),
    "log_loss": TaskScale(0.7, 0.0),
    "roc_auc": TaskScale(0.5, 1.0),
}


def predictions(name: str, truth: np.ndarray, skill: float, rng: np.random.Generator) -> np.ndarray:
    n = len(truth)
    if name in ("accuracy", "f1_macro"):
        return np.where(rng.random(n) < skill, truth, (truth + 1 + rng.integers(0, 9, n)) % 10)
    if name == "rmse":
        return truth + rng.normal(0, 2 - skill, n)
    p1 = np.clip(truth * skill + (1 - truth) * (1 - skill) + rng.normal(0, 0.25, n), 0.01, 0.99)
    return np.column_stack([1 - p1, p1])


def truth_for(name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name in ("accuracy", "f1_macro"):
        return rng.integers(0, 10, n)
    if name == "rmse":
        return rng.normal(0, 3, n)
    return rng.integers(0, 2, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    names = [METRICS[t % len(METRICS)] for t in range(args.tasks)]
    metrics = [get_metric(name) for name in names]
    truths = [truth_for(name, args.rows, rng) for name in names]
    rows, scores = [], np.empty((args.models, args.tasks))
    for m in range(args.models):
        skill = 0.9 - 0.3 * m / args.models
        model_rows = []
        for t, (metric, truth) in enumerate(zip(metrics, truths)):
            pred = predictions(metric.name, truth, skill, rng)
            model_rows.append(row_results(metric, truth, pred))
            scores[m, t] = metric.rows_function()(truth, pred) if metric.from_rows else None
            if metric.from_confusion is not None:
                k = 10
                cm = np.bincount(truth * k + pred, minlength=k * k).reshape(k, k)
                scores[m, t] = float(metric.from_confusion(cm))
        rows.append(model_rows)
    scales = [SCALES[name] for name in names]
    extra = rng.random(args.models) < 0.2
    on_test = rng.random(args.models) < 0.1

    started = time.perf_counter()
    draws = resampled_scores(metrics, truths, rows, resamples=args.resamples)
    resampled = time.perf_counter() - started
    reproduced = rng.random(args.models) < 0.3
    reference = rng.random(args.models) < 0.1
    views = {
        f"{declared}{tier}": include & vouched
        for declared, include in {
            "all": np.ones(args.models, bool),
            "no-extra-data": ~extra,
            "no-test-inputs": ~on_test,
            "neither": ~extra & ~on_test,
        }.items()
        for tier, vouched in {
            "": np.ones(args.models, bool),
            "+reproduced": reproduced | reference,
            "+reference": reference,
        }.items()
    }
    weights = [1.0] * args.tasks
    started = time.perf_counter()
    ranked = {}
    for name, include in views.items():
        statistics = board_statistics("normalised_mean", weights, scales, scores, draws, include=include)
        ranked[name] = np.asarray(statistics.ranked, dtype=bool)
    viewed = time.perf_counter() - started
    started = time.perf_counter()
    analysis, _ = analyse(
        "normalised_mean", weights, scales, [f"task{t}" for t in range(args.tasks)], scores, draws, ranked
    )
    analysed = time.perf_counter() - started
    total = resampled + viewed + analysed
    best = statistics.order[0]
    print(f"{args.models} models x {args.tasks} tasks x {args.rows:,} rows, {args.resamples} joint resamples")
    print(f"  tasks: {', '.join(names)}")
    print(f"  every model's task scores under shared row weights: {resampled:6.2f} s")
    print(f"  twelve filter views (aggregates, rank intervals, p_best): {viewed:6.2f} s")
    pairs = len(analysis["pool"]) * (len(analysis["pool"]) - 1) // 2
    print(
        f"  the analysis ({pairs:,} pairs: Wilcoxon + Holm, paired task wins; cliques, profile, "
        f"sensitivity, marks): {analysed:6.2f} s"
    )
    print(f"  total: {total:.2f} s = {total / BUDGET_SECONDS:.2f} x the {BUDGET_SECONDS:.0f} s budget")
    print(
        f"  (the last view's leader: aggregate {statistics.aggregate[best]:.4f}, "
        f"rank interval {statistics.rank_interval[best]}, p_best {statistics.p_best[best]:.3f})"
    )


if __name__ == "__main__":
    main()
