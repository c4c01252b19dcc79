"""Benchmark: score a 10M-row submission for a 10-class task, end to end.

Printed side by side, in one run, on the same file:
  (a) the raw pyarrow read of the file (the anchor: scoring cannot be faster than reading);
  (b) pandas + scikit-learn computing the same metrics on public and private rows;
  (c) Arena's ``score_submission``: read, validate, align by id, metrics on public and
      private rows, and 1,000-resample bootstrap CIs.
Targets: (c) <= 1.5x (a); Arena's metric compute >= 10x faster than scikit-learn's.

Usage: python bench/scoring.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

BUNDLE = """
name = "bench10"
version = 1
kind = "classification"
[data]
train = "train.csv"
test = "test.parquet"
answers = "answers.parquet"
id = "id"
target = "label"
[metrics]
primary = "accuracy"
others = ["f1_macro", "balanced_accuracy"]
[submission]
prediction = "label"
"""


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def interleaved_medians(repeat: int, **fns) -> dict[str, tuple[float, object]]:
    """Run the functions in turn, ``repeat`` rounds, and keep each one's median time.

    Interleaving puts both sides under the same machine load; the median resists
    the occasional slow round (page faults, the other core's work).
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, object] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            elapsed, results[name] = timed(fn)
            times[name].append(elapsed)
    return {name: (float(np.median(times[name])), results[name]) for name in fns}


def make_bundle(folder: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    ids = np.arange(rows, dtype=np.int64)
    truth = rng.integers(0, 10, rows)
    (folder / "task.toml").write_text(BUNDLE)
    pd.DataFrame({"id": np.arange(-20, 0), "label": np.arange(20) % 10}).to_csv(folder / "train.csv", index=False)
    pq.write_table(pa.table({"id": ids}), folder / "test.parquet")
    pq.write_table(pa.table({"id": ids, "label": truth}), folder / "answers.parquet")
    predictions = np.where(rng.random(rows) < 0.8, truth, rng.integers(0, 10, rows))
    pacsv.write_csv(pa.table({"id": ids, "label": predictions}), folder / "submission.csv")
    return folder / "submission.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ARENA_HOME", str(Path(tmp) / "home"))
        from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

        from arena.scoring.datasets import load_task
        from arena.scoring.score import public_rows, score_predictions, score_submission
        from arena.scoring.validation import read_submission

        folder = Path(tmp) / "bundle"
        folder.mkdir()
        submission = make_bundle(folder, args.rows)
        size_mb = submission.stat().st_size / 2**20
        start = time.perf_counter()
        task = load_task(folder)
        public = public_rows(task)  # the answer key and row split are cached by the server
        setup = time.perf_counter() - start
        print(f"{args.rows:,} rows, 10 classes, submission CSV {size_mb:.0f} MiB; "
              f"task load + answer key cache (once per task) {setup:.2f} s")

        runs = interleaved_medians(args.repeat, read=lambda: pacsv.read_csv(submission),
                                   arena=lambda: score_submission(task, submission))
        (t_read, _), (t_arena, score) = runs["read"], runs["arena"]

        def sklearn_way():
            frame = pd.read_csv(submission)
            truth = task.answers.set_index("id")["label"]
            aligned = truth.loc[frame["id"]].to_numpy()
            mask = pd.Series(public, index=task.answer_key.ids).loc[frame["id"]].to_numpy()
            t0 = time.perf_counter()
            for rows in (mask, ~mask):
                y, p = aligned[rows], frame["label"].to_numpy()[rows]
                accuracy_score(y, p), f1_score(y, p, average="macro"), balanced_accuracy_score(y, p)
            return time.perf_counter() - t0

        t_sklearn, sklearn_metric_time = timed(sklearn_way)

        predictions = read_submission(task, submission)

        def arena_metrics():  # the same metrics plus both bootstrap CIs, on the already-read file
            return score_predictions(task, predictions)

        t_metrics = interleaved_medians(args.repeat, metrics=arena_metrics)["metrics"][0]

        print(f"(a) raw pyarrow read (median)            {t_read:7.3f} s")
        print(f"(b) pandas read + scikit-learn metrics   {t_sklearn:7.3f} s   (metrics alone {sklearn_metric_time:.3f} s)")
        print(f"(c) arena score_submission (median)      {t_arena:7.3f} s   (metrics + CIs alone {t_metrics:.3f} s)")
        print(f"end to end / raw read:                   {t_arena / t_read:7.2f}x   (target <= 1.5x)")
        print(f"metric compute, scikit-learn / arena:    {sklearn_metric_time / t_metrics:7.1f}x  (target >= 10x)")
        print(f"end to end, pandas+sklearn / arena:      {t_sklearn / t_arena:7.1f}x")
        print(f"private accuracy {score.private['accuracy']:.4f}, 95% CI "
              f"[{score.private_ci[0]:.4f}, {score.private_ci[1]:.4f}]")


if __name__ == "__main__":
    main()
