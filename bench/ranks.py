"""Benchmark: rank intervals at a reveal, 100 teams on 10,000 test rows, for each kind of metric.

What the scoring worker does for a board (``arena.server.ranks.compute``): every
team's per-row results evaluated under the same 1,000 Bayesian-bootstrap row
weightings, then each team's 95% range of ranks and the paired comparison with
its neighbour. Printed per metric: the time, and its share of the budget
of 60 s for the top 100 teams at 10k rows. Teams are made a little better or worse
than each other so that their ranks overlap as on a real board.

Usage: python bench/ranks.py [--teams 100] [--rows 10000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from arena.intervals import row_results as rowresults
from arena.intervals.ranks import joint_ranks, joint_values
from arena.metrics.registry import get_metric

BUDGET_SECONDS = 60.0


def teams_predictions(name: str, truth: np.ndarray, teams: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Each team's predictions for a metric's task: skill falls slowly down the board."""
    n = len(truth)
    out = []
    for team in range(teams):
        skill = 0.9 - 0.3 * team / teams
        if name in ("accuracy", "f1_macro"):
            right = rng.random(n) < skill
            out.append(np.where(right, truth, (truth + 1 + rng.integers(0, 9, n)) % 10))
        elif name in ("rmse", "mae", "r2"):
            out.append(truth + rng.normal(0, 2 - skill, n))
        else:  # roc_auc, log_loss: probabilities of two classes
            p1 = np.clip(truth * skill + (1 - truth) * (1 - skill) + rng.normal(0, 0.25, n), 0.01, 0.99)
            out.append(np.column_stack([1 - p1, p1]))
    return out


def truth_for(name: str, rows: int, rng: np.random.Generator) -> np.ndarray:
    if name in ("accuracy", "f1_macro"):
        return rng.integers(0, 10, rows)
    if name in ("rmse", "mae", "r2"):
        return rng.normal(0, 3, rows)
    return rng.integers(0, 2, rows)


def rank_board(
    name: str, truth: np.ndarray, predictions: list[np.ndarray], resamples: int
) -> tuple[float, float, list]:
    """Per-row results (done at scoring time, timed apart), then the worker's joint evaluation and ranks."""
    metric = get_metric(name)
    started = time.perf_counter()
    rows = [rowresults.row_results(metric, truth, pred) for pred in predictions]
    kept = time.perf_counter() - started
    started = time.perf_counter()
    values = joint_values(metric, truth, rows, resamples=resamples, seed=20240602)
    intervals, _ = joint_ranks(values, higher_is_better=metric.higher_is_better)
    return kept, time.perf_counter() - started, intervals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    print(f"{args.teams} teams, {args.rows:,} rows, {args.resamples} joint resamples; budget {BUDGET_SECONDS:.0f} s")
    print(f"{'metric':<12} {'ranks s':>8} {'of budget':>10} {'per-row results s':>18}  median rank-interval width")
    for name in ("accuracy", "f1_macro", "rmse", "mae", "r2", "log_loss", "roc_auc"):
        rng = np.random.default_rng(1)
        truth = truth_for(name, args.rows, rng)
        predictions = teams_predictions(name, truth, args.teams, rng)
        kept, seconds, intervals = rank_board(name, truth, predictions, args.resamples)
        widths = [hi - lo for lo, hi in filter(None, intervals)]
        print(f"{name:<12} {seconds:>8.2f} {seconds / BUDGET_SECONDS:>9.1%} {kept:>18.2f}  {np.median(widths):.0f}")


if __name__ == "__main__":
    main()
