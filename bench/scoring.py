"""Benchmark: score a 10M-row submission for a 10-class task, end to end.

Printed side by side, in one run, on the same file:
  (a) the raw pyarrow read of the file (the anchor: scoring cannot be faster than reading);
  (b) pandas + scikit-learn computing the same metrics on public and private rows;
  (c) Arena's ``score_submission``: read, validate, align by id, metrics on public and
      private rows, and 1,000-resample bootstrap CIs.
Targets: (c) <= 1.5x (a); Arena's metric compute >= 10x faster than scikit-learn's.

``--case`` picks other tasks, each timed once per metric with that metric as the
primary (so its 95% interval is computed), against the raw read of the same file:
  regression  rmse, mae, r2 (values);
  binary      roc_auc, log_loss (probabilities of two classes);
  multiclass  log_loss, roc_auc, accuracy, f1_macro (probabilities of four classes).
Probabilities are written with six decimals, as most CSVs are (pandas' float_format="%.6f").
Target for each: end to end <= 1.5x the raw read.

The newer metrics' cases also time the 95% interval alone, on every row of the file already read
and aligned (the Bayesian bootstrap of arena.intervals.kaggle_metrics), against the raw read;
target <= 3x. Run them at 1M rows (``--rows 1000000``): splitting and looking up the ranking
case's ten million ids dominates its end-to-end time.
  kaggle-regression  rmsle, mape, smape, median_ae, pearson, spearman (positive values);
  average-precision  average_precision (probabilities of two classes, then of four);
  multilabel         multilabel_log_loss, multilabel_roc_auc, multilabel_f1_micro, _macro, _samples
                     (probabilities of ten labels);
  ranking            map@10, ndcg@10 (ten ids per query, graded relevances).

``--case text`` times free-text answers (short answers of about 20 characters, one or two references a row): the
raw read of the answers file against each text metric with its 95% interval on every row (its per-row statistics,
then the bootstrap of their sums), beside sacrebleu's own corpus_bleu and corpus_chrf on the same rows. Goals:
exact match, token F1 and chrF within 3x the read, BLEU within 5x. The metrics are given the answers as the upload
reader gives them (the file's Arrow column). The medians are of submissions scored against an answer key already
in memory, as a worker scores them (its references prepared once); the first submission against a new answer key
object is timed apart. Run it at 1M rows (``--rows 1000000``).

Usage: python bench/scoring.py [--rows N] [--repeat R]
                              [--case labels|regression|binary|multiclass|<a newer metrics' case>|text|all]
                              [--metric NAME ...]  (only these metrics of the case)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from arena.startup import keep_blas_on_one_thread, keep_freed_memory_a_while

keep_freed_memory_a_while()  # first, as the arena program does: the allocator setting applies to the read too
keep_blas_on_one_thread()  # as the arena program does: BLAS's spinning threads would take the cores

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import arena  # noqa: F401  first: its allocator setting (see arena/__init__.py) applies to the whole process, the read too

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


def interleaved_medians(repeat: int, **fns) -> dict[str, tuple[float, object | None]]:
    """Run the functions in turn, ``repeat`` rounds after one untimed round, and keep each one's median time.

    Interleaving puts both sides under the same machine load; the median resists
    the occasional slow round (page faults, the other core's work). The untimed round
    warms what a running server has warm: compiled loops, and memory its allocator
    already holds. Each result is let go before the next call, so neither side runs
    beside the other's leftovers (a table of the whole file, a score's per-row results).
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, object] = {name: fn() for name, fn in fns.items()}
    for _ in range(repeat):
        for name, fn in fns.items():
            results.clear()
            elapsed, results[name] = timed(fn)
            times[name].append(elapsed)
    return {name: (float(np.median(times[name])), results.get(name)) for name in fns}  # the last call's result


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


CASES = {
    "regression": ("regression", "value", ["rmse", "mae", "r2"]),
    "binary": ("classification", "probabilities", ["roc_auc", "log_loss"]),
    "multiclass": ("classification", "probabilities", ["log_loss", "roc_auc", "accuracy", "f1_macro"]),
    "kaggle-regression": ("regression", "value", ["rmsle", "mape", "smape", "median_ae", "pearson", "spearman"]),
    "average-precision": ("classification", "probabilities", ["average_precision"]),
    "average-precision-4": ("classification", "probabilities", ["average_precision"]),
    "multilabel": (
        "multilabel",
        "probabilities",
        [
            "multilabel_log_loss",
            "multilabel_roc_auc",
            "multilabel_f1_micro",
            "multilabel_f1_macro",
            "multilabel_f1_samples",
        ],
    ),
    "ranking": ("ranking", "ranking", ["map@10", "ndcg@10"]),
}
NEWER = ("kaggle-regression", "average-precision", "average-precision-4", "multilabel", "ranking")
"""The cases of the newer metrics, whose interval is also timed alone."""


def _joined(names: np.ndarray, cells: np.ndarray, *, ordered: bool = False) -> np.ndarray:
    """Space-separated names per row: of the True cells of a boolean matrix, or (``ordered``) of the columns
    each row lists."""
    if ordered:
        chosen = names[cells]
        return np.array([" ".join(row) for row in chosen.tolist()], dtype=object)
    return np.array([" ".join(names[row]) for row in cells], dtype=object)


def make_case(folder: Path, case: str, rows: int) -> tuple[Path, list[Path]]:
    """One submission file and one bundle per metric (that metric primary), all sharing the same data."""
    kind, prediction, metrics = CASES[case]
    rng = np.random.default_rng(1)
    ids = np.arange(rows, dtype=np.int64)
    data = folder / "data"
    data.mkdir()
    if case == "regression":
        truth = rng.normal(0, 2, rows)
        answers = pa.table({"id": ids, "y": truth})
        columns = {"y": truth + rng.standard_t(5, rows)}
        train = pd.DataFrame({"id": np.arange(-20, 0), "y": rng.normal(size=20)})
    elif case == "kaggle-regression":  # positive values, as rmsle and mape need
        truth = rng.gamma(4.0, 10.0, rows)
        answers = pa.table({"id": ids, "y": truth})
        columns = {"y": truth * np.exp(rng.normal(0, 0.3, rows))}
        train = pd.DataFrame({"id": np.arange(-20, 0), "y": rng.gamma(4.0, 10.0, 20)})
    elif case == "multilabel":
        labels = np.array([f"l{j}" for j in range(10)])
        present = rng.random((rows, 10)) < 0.2
        answers = pa.table({"id": ids, "y": _joined(labels, present)})
        proba = 1 / (1 + np.exp(-rng.normal(np.where(present, 1.0, -1.0), 1.0)))
        columns = {label: np.round(proba[:, j], 6) for j, label in enumerate(labels)}
        train = pd.DataFrame({"id": np.arange(-20, 0), "y": " ".join(labels)})
    elif case == "ranking":  # ten of twenty candidates listed per query; three relevant, one of them graded 3
        items = np.array([f"d{j}" for j in range(20)])
        relevant = np.argsort(rng.random((rows, 20)), axis=1)[:, :3]
        graded = np.char.add(items[relevant[:, 0]], ":3")
        answers = pa.table(
            {
                "id": ids,
                "y": np.char.add(
                    np.char.add(np.char.add(graded, " "), np.char.add(items[relevant[:, 1]], " ")),
                    items[relevant[:, 2]],
                ),
            }
        )
        score = rng.normal(size=(rows, 20))
        np.put_along_axis(score, relevant, np.take_along_axis(score, relevant, axis=1) + 1.5, axis=1)
        columns = {"y": _joined(items, np.argsort(-score, axis=1)[:, :10], ordered=True)}
        train = pd.DataFrame({"id": np.arange(-20, 0), "y": "d0 d1"})
    else:
        k = 4 if case in ("multiclass", "average-precision-4") else 2
        truth = rng.integers(0, k, rows)
        logits = rng.normal(size=(rows, k)) + 1.2 * np.eye(k)[truth]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        answers = pa.table({"id": ids, "y": truth})
        columns = {str(c): np.round(proba[:, c], 6) for c in range(k)}  # six decimals, as most CSVs are written
        train = pd.DataFrame({"id": np.arange(-20, 0), "y": np.arange(20) % k})
    train.to_csv(data / "train.csv", index=False)
    pq.write_table(pa.table({"id": ids}), data / "test.parquet")
    pq.write_table(answers, data / "answers.parquet")
    submission = folder / "submission.csv"
    pacsv.write_csv(pa.table({"id": ids, **columns}), submission)
    bundles = []
    for metric in metrics:
        bundle = folder / metric
        bundle.mkdir()
        for name in ("train.csv", "test.parquet", "answers.parquet"):
            os.link(data / name, bundle / name)
        (bundle / "task.toml").write_text(f"""
name = "bench-{case}-{metric.replace("_", "-").replace("@", "-at-")}"
version = 1
kind = "{kind}"
[data]
train = "train.csv"
test = "test.parquet"
answers = "answers.parquet"
id = "id"
target = "y"
[metrics]
primary = "{metric}"
[submission]
prediction = "{prediction}"
""")
        bundles.append(bundle)
    return submission, bundles


def run_case(case: str, rows: int, repeat: int, only: list[str] | None = None) -> None:
    from arena.scoring.score import public_rows, score_submission
    from arena.tasks import load_task

    with tempfile.TemporaryDirectory() as tmp:
        submission, bundles = make_case(Path(tmp), case, rows)
        size_mb = submission.stat().st_size / 2**20
        print(f"\n{case}: {rows:,} rows, submission CSV {size_mb:.0f} MiB")
        for bundle in bundles:
            if only and bundle.name not in only:
                continue
            task = load_task(bundle)
            public_rows(task)  # the answer key and row split are cached by the server
            if case in NEWER:
                interval_case(task, submission, repeat)
                continue
            runs = interleaved_medians(
                repeat,
                read=lambda: pacsv.read_csv(submission),
                arena=lambda task=task: score_submission(task, submission, max_bytes=2**40),
            )
            (t_read, _), (t_arena, score) = runs["read"], runs["arena"]
            low, high = score.private_ci
            print(
                f"  {task.spec.primary_metric:9s} read {t_read:6.3f} s  arena {t_arena:6.3f} s  "
                f"ratio {t_arena / t_read:5.2f}x (target <= 1.5x)  private {score.private[score.primary]:.4f} "
                f"[{low:.4f}, {high:.4f}]"
            )


def interval_case(task, submission: Path, repeat: int) -> None:
    """One newer metric: the raw read, its interval alone on every row (read and aligned once), and end to end."""
    from arena.intervals.confidence import metric_interval
    from arena.metrics.registry import get_metric
    from arena.scoring.score import BOOTSTRAP_SEED, _prediction_for, score_submission
    from arena.scoring.validation import read_submission

    metric = get_metric(task.spec.primary_metric)
    pred = _prediction_for(metric, read_submission(task, submission, max_bytes=2**40))
    truth = task.answer_key.truth
    runs = interleaved_medians(
        repeat,
        read=lambda: pacsv.read_csv(submission),
        interval=lambda: metric_interval(metric, truth, pred, seed=BOOTSTRAP_SEED),
        arena=lambda: score_submission(task, submission, max_bytes=2**40),
    )
    (t_read, _), (t_interval, _), (t_arena, _) = runs["read"], runs["interval"], runs["arena"]
    found = metric_interval(metric, truth, pred, seed=BOOTSTRAP_SEED)  # each timed result was let go
    print(
        f"  {metric.name:22s} read {t_read:6.3f} s  interval {t_interval:6.3f} s  ratio {t_interval / t_read:5.2f}x "
        f"(target <= 3x)  end to end {t_arena:6.3f} s ({t_arena / t_read:5.2f}x)  "
        f"all rows {metric.from_rows(truth, pred):.4f} [{found.low:.4f}, {found.high:.4f}]"
    )


def text_answers(rows: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Short answers (two to four words of 3-7 letters from 5,000, ~20 characters) with one or two references each:
    half answered exactly, a quarter with one word changed, a quarter with other words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocabulary = np.array(["".join(rng.choice(letters, rng.integers(3, 8))) for _ in range(5000)], dtype=object)

    def phrases(count: int) -> np.ndarray:
        length = rng.integers(2, 5, count)
        picks = vocabulary[rng.integers(0, len(vocabulary), (count, 4))]
        return np.array([" ".join(p[:k]) for p, k in zip(picks, length, strict=True)], dtype=object)

    first, second = phrases(rows), phrases(rows)
    truth = np.empty(rows, dtype=object)
    two = rng.random(rows) < 0.3
    truth[:] = [(a, b) if t else (a,) for a, b, t in zip(first, second, two, strict=True)]
    kind = rng.random(rows)
    changed = np.array([a.rsplit(" ", 1)[0] + " " + w for a, w in zip(first, phrases(rows), strict=True)], dtype=object)
    pred = np.where(kind < 0.5, first, np.where(kind < 0.75, changed, second[::-1]))
    return truth, pred


def text_case(rows: int, repeat: int, only: list[str] | None = None) -> None:
    """Free-text answers: the raw read against each text metric with its interval, and sacrebleu's own corpus time."""
    import sacrebleu

    from arena import _fast
    from arena.intervals.confidence import metric_interval
    from arena.metrics import text as text_metrics
    from arena.metrics.registry import get_metric
    from arena.scoring.score import BOOTSTRAP_SEED

    _fast.warm()  # the compiled loops loaded, as a running server has them, before the first answer key is timed
    truth, pred = text_answers(rows)
    streams = text_metrics.reference_streams(truth)
    library = {
        "bleu": lambda: sacrebleu.corpus_bleu(list(pred), streams).score,
        "chrf": lambda: sacrebleu.corpus_chrf(list(pred), streams).score,
    }
    goals = {"exact_match": 3, "token_f1": 3, "chrf": 3, "bleu": 5}
    with tempfile.TemporaryDirectory() as tmp:
        submission = Path(tmp) / "submission.csv"
        pacsv.write_csv(pa.table({"id": np.arange(rows), "answer": pa.array(list(pred), pa.string())}), submission)
        size_mb = submission.stat().st_size / 2**20
        mean_length = np.mean([len(p) for p in pred])
        print(f"\ntext: {rows:,} rows, mean answer {mean_length:.1f} characters, CSV {size_mb:.0f} MiB")
        # the answers as the upload reader hands them to the metrics: the file's Arrow column, in one piece
        column = pacsv.read_csv(submission).column("answer").combine_chunks()
        for name, goal in goals.items():
            if only and name not in only:
                continue
            metric = get_metric(name, kind="text", text=text_metrics.Options("squad"))
            kept: dict[str, object] = {}  # the interval (small), kept past interleaved_medians' letting go

            def scored(metric=metric, kept=kept):
                kept["found"] = metric_interval(metric, truth, column, seed=BOOTSTRAP_SEED)

            fresh = truth.copy()  # a new answer key object: its references are prepared in this call
            started = time.perf_counter()
            metric_interval(metric, fresh, column, seed=BOOTSTRAP_SEED)
            t_first = time.perf_counter() - started
            del fresh
            runs = interleaved_medians(repeat, read=lambda: pacsv.read_csv(submission), arena=scored)
            (t_read, _), (t_arena, _), found = runs["read"], runs["arena"], kept["found"]
            line = (
                f"  {name:11s} read {t_read:6.3f} s  with interval {t_arena:6.3f} s  ratio {t_arena / t_read:5.2f}x "
                f"(goal <= {goal}x)  first of its answer key {t_first:6.3f} s ({t_first / t_read:5.1f}x)  "
                f"[{found.low:.4f}, {found.high:.4f}]"
            )
            if name in library:  # the floor: sacrebleu's corpus score alone, no interval (one run: it is slow)
                t_lib, value = timed(library[name])
                line += f"  sacrebleu corpus alone {t_lib:7.2f} s ({t_lib / t_read:6.1f}x), score {value:.4f}"
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--case", default="labels", choices=["labels", *CASES, "text", "all"])
    parser.add_argument("--metric", action="append", help="time only this metric of the case (repeatable)")
    args = parser.parse_args()
    if args.case == "text":
        text_case(args.rows, args.repeat, args.metric)
        return
    if args.case != "labels":
        os.environ.setdefault("ARENA_HOME", tempfile.mkdtemp(prefix="arena-bench-"))
        for case in CASES if args.case == "all" else [args.case]:
            run_case(case, args.rows, args.repeat, args.metric)
        if args.case != "all":
            return

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ARENA_HOME", str(Path(tmp) / "home"))
        from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

        from arena.scoring.score import public_rows, score_predictions, score_submission
        from arena.scoring.validation import read_submission
        from arena.tasks import load_task

        folder = Path(tmp) / "bundle"
        folder.mkdir()
        submission = make_bundle(folder, args.rows)
        size_mb = submission.stat().st_size / 2**20
        start = time.perf_counter()
        task = load_task(folder)
        public = public_rows(task)  # the answer key and row split are cached by the server
        setup = time.perf_counter() - start
        print(
            f"{args.rows:,} rows, 10 classes, submission CSV {size_mb:.0f} MiB; "
            f"task load + answer key cache (once per task) {setup:.2f} s"
        )

        runs = interleaved_medians(
            args.repeat, read=lambda: pacsv.read_csv(submission), arena=lambda: score_submission(task, submission)
        )
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
        print(
            f"(b) pandas read + scikit-learn metrics   {t_sklearn:7.3f} s   (metrics alone {sklearn_metric_time:.3f} s)"
        )
        print(f"(c) arena score_submission (median)      {t_arena:7.3f} s   (metrics + CIs alone {t_metrics:.3f} s)")
        print(f"end to end / raw read:                   {t_arena / t_read:7.2f}x   (target <= 1.5x)")
        print(f"metric compute, scikit-learn / arena:    {sklearn_metric_time / t_metrics:7.1f}x  (target >= 10x)")
        print(f"end to end, pandas+sklearn / arena:      {t_sklearn / t_arena:7.1f}x")
        print(
            f"private accuracy {score.private['accuracy']:.4f}, 95% CI "
            f"[{score.private_ci[0]:.4f}, {score.private_ci[1]:.4f}]"
        )


if __name__ == "__main__":
    main()
