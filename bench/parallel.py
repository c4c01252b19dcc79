"""Benchmark: do the per-upload passes need both parallel mechanisms of arena._fast.parallel, and does
multi-class ROC AUC still need to sample the rows whose influence sets its interval?

``--part slices`` (the default) times the library's own passes that use both mechanisms, on
``--rows`` rows (default 10M) of ten classes' probabilities:
  bounds    validation's smallest probability and row sums (_probability_bounds);
  largest   validation's most probable class of each row (_first_largest);
  cells     scoring's counts per cell of the two confusion matrices (_cell_counts);
  grid      each score's point on the six-decimal grid (registry.on_decimal_grid);
each in four ways, set through arena._fast.parallel's CHUNK_ROWS and worker count:
  (a) today: threads over contiguous slices (over_slices), each slice a few thousand rows at a
      time (chunks / scratch);
  (b) threads over slices, one numpy call per slice (a chunk is the whole slice);
  (c) chunk loops on one thread;
  (d) neither: one numpy call over every row, on one thread.

``--part auc-sample`` scores a four-class ROC AUC task end to end (score_submission, the
multiclass case of bench/scoring.py) with the influence sampled above
arena.scoring.one_pass.INFLUENCE_ROWS rows a part, as shipped, and with that threshold raised so
every row is read (each way keeps its own sample per split, as a server would), against the raw
pyarrow read of the same file; the goal is end to end <= 1.5x the read.

Every figure is the median of ``--repeat`` interleaved rounds after an untimed one, so the ways
compared share the machine's load.

Usage: python bench/parallel.py [--part slices|auc-sample|both] [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from arena.startup import keep_blas_on_one_thread, keep_freed_memory_a_while

WAYS = {  # name: (rows a chunk, workers); None keeps the library's own
    "a threads+chunks": (None, None),
    "b threads, no chunks": (1 << 62, None),
    "c chunks, 1 thread": (None, 1),
    "d neither": (1 << 62, 1),
}


def _way(name: str, fn):
    """``fn`` run with arena._fast.parallel set up as way ``name``, then set back."""
    import arena._fast.parallel as parallel

    chunk_rows, workers = WAYS[name]

    def run():
        shipped = parallel.CHUNK_ROWS, parallel._WORKERS
        parallel.CHUNK_ROWS, parallel._WORKERS = chunk_rows or shipped[0], workers or shipped[1]
        try:
            return fn()
        finally:
            parallel.CHUNK_ROWS, parallel._WORKERS = shipped

    return run


def slices(rows: int, repeat: int) -> None:
    import numpy as np
    from scoring import interleaved_medians  # bench/scoring.py

    import arena._fast.parallel as parallel
    from arena.metrics.registry import on_decimal_grid
    from arena.scoring.score import _cell_counts
    from arena.scoring.validation import _first_largest, _probability_bounds

    rng = np.random.default_rng(0)
    k = 10
    columns = rng.random((k, rows))
    columns /= columns.sum(axis=0)
    np.round(columns, 6, out=columns)  # six decimals, as most CSVs are written
    listed = [columns[c] for c in range(k)]
    truth = rng.integers(0, k, rows)
    part = (rng.random(rows) < 0.3).astype(np.int64)  # public rows, as a 30% split
    base = (part * (k * k) + truth * k).astype(np.uint16)
    labels = _first_largest(listed)
    score = np.ascontiguousarray(columns[0])
    passes = {
        "bounds": lambda: _probability_bounds(columns),
        "largest": lambda: _first_largest(listed),
        "cells": lambda: _cell_counts(labels, base, None, 3 * k * k),
        "grid": lambda: on_decimal_grid(score),
    }
    print(f"{rows:,} rows, {k} classes, {parallel._WORKERS} cores seen; medians of {repeat} interleaved rounds (s)")
    print(f"{'pass':9s}" + "".join(f"{name:>22s}" for name in WAYS) + "   b/a   c/a   d/a")
    totals = dict.fromkeys(WAYS, 0.0)
    for pass_name, fn in passes.items():
        first = np.asarray(_way("a threads+chunks", fn)())
        for name in WAYS:  # every way must give the same answer
            assert np.array_equal(first, np.asarray(_way(name, fn)())), (pass_name, name)
        runs = interleaved_medians(repeat, **{name: _way(name, fn) for name in WAYS})
        t = {name: runs[name][0] for name in WAYS}
        for name in WAYS:
            totals[name] += t[name]
        a, b, c, d = t.values()
        print(
            f"{pass_name:9s}" + "".join(f"{x:22.4f}" for x in t.values()) + f" {b / a:5.2f} {c / a:5.2f} {d / a:5.2f}"
        )
    a, b, c, d = totals.values()
    print(
        f"{'all four':9s}" + "".join(f"{x:22.4f}" for x in totals.values()) + f" {b / a:5.2f} {c / a:5.2f} {d / a:5.2f}"
    )


def auc_sample(rows: int, repeat: int) -> None:
    import pyarrow.csv as pacsv
    from scoring import interleaved_medians, make_case  # bench/scoring.py

    from arena.scoring import one_pass
    from arena.scoring.score import public_rows, score_submission
    from arena.tasks import load_task

    shipped = one_pass.INFLUENCE_ROWS
    thresholds = {"sampled": shipped, "every row": 1 << 62}
    kept: dict[str, dict] = {way: {} for way in thresholds}  # each way's own kept sample, as a server keeps one

    def scored(way: str):
        def run():
            one_pass.INFLUENCE_ROWS, one_pass._kept_samples = thresholds[way], kept[way]
            try:
                return score_submission(task, submission, max_bytes=2**40)
            finally:
                one_pass.INFLUENCE_ROWS = shipped

        return run

    with tempfile.TemporaryDirectory() as tmp:
        submission, bundles = make_case(Path(tmp), "multiclass", rows)
        task = load_task(next(bundle for bundle in bundles if bundle.name == "roc_auc"))
        public_rows(task)  # the answer key and row split are cached by the server
        runs = interleaved_medians(
            repeat,
            read=lambda: pacsv.read_csv(submission),
            sampled=scored("sampled"),
            every=scored("every row"),
        )
        t_read, t_sampled, t_every = (runs[name][0] for name in ("read", "sampled", "every"))
        print(f"\nmulti-class ROC AUC, 4 classes, {rows:,} rows, end to end (medians of {repeat} interleaved rounds)")
        print(f"  raw read                          {t_read:7.3f} s")
        print(f"  sampled above {shipped:,} rows a part {t_sampled:7.3f} s  {t_sampled / t_read:5.2f}x the read")
        print(f"  every row read                    {t_every:7.3f} s  {t_every / t_read:5.2f}x the read (goal <= 1.5x)")
        print(f"  every row / sampled               {t_every / t_sampled:5.2f}x")
        for way in thresholds:
            score = scored(way)()
            low, high = score.private_ci
            print(f"  {way:9s} private {score.private[score.primary]:.4f} [{low:.4f}, {high:.4f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="slices", choices=["slices", "auc-sample", "both"])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    keep_freed_memory_a_while()  # before pyarrow loads, as the arena program does: it applies to the read too
    keep_blas_on_one_thread()
    began = time.perf_counter()
    if args.part in ("slices", "both"):
        slices(args.rows, args.repeat)
    if args.part in ("auc-sample", "both"):
        auc_sample(args.rows, args.repeat)
    print(f"\n({time.perf_counter() - began:.0f} s in all)")


if __name__ == "__main__":
    main()
