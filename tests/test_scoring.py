"""Scores on public and private rows, with honest bootstrap intervals and a secret row split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from arena import config
from arena.bundles.splits import public_mask
from arena.intervals.confidence import bootstrap_confusion, bootstrap_rows
from arena.metrics.registry import accuracy_cm, confusion_matrix
from arena.scoring import score as scoring
from arena.scoring.score import public_rows, score_submission
from arena.tasks import load_task


def noisy_labels(task, accuracy, seed=0):
    rng = np.random.default_rng(seed)
    answers = task.answers.sort_values(task.spec.id_column)
    labels = answers[task.spec.target].to_numpy().copy()
    flip = rng.random(len(labels)) > accuracy
    labels[flip] = (labels[flip] + 1) % 10
    return answers[task.spec.id_column].to_numpy(), labels


def test_scores_match_sklearn_on_the_public_and_private_rows(tmp_path):
    task = load_task("mnist1d")
    ids, labels = noisy_labels(task, 0.8)
    pd.DataFrame({"id": ids, "label": labels}).to_csv(tmp_path / "s.csv", index=False)
    score = score_submission(task, tmp_path / "s.csv")
    truth = task.answer_key.truth
    public = public_rows(task)
    for part, rows in (("public", public), ("private", ~public)):
        values = getattr(score, part)
        assert values["accuracy"] == pytest.approx(accuracy_score(truth[rows], labels[rows]))
        assert values["f1_macro"] == pytest.approx(f1_score(truth[rows], labels[rows], average="macro"))
    assert score.n_public + score.n_private == 1000
    assert 0.2 < score.n_public / 1000 < 0.4
    assert score.public_ci[0] <= score.public["accuracy"] <= score.public_ci[1]
    assert score.private_ci[1] - score.private_ci[0] < 0.1


def test_regression_task_scores_and_interval(tmp_path):
    task = load_task("sunspots")
    task.sample_submission().to_csv(tmp_path / "s.csv", index=False)
    score = score_submission(task, tmp_path / "s.csv")
    assert score.primary == "rmse" and not score.higher_is_better
    assert score.private_ci[0] <= score.private["rmse"] <= score.private_ci[1]


def test_public_rows_depend_on_the_installation_secret(monkeypatch, tmp_path):
    task = load_task("digits")
    ours = public_rows(task).copy()
    monkeypatch.setenv("ARENA_HOME", str(tmp_path))  # another installation, another secret
    theirs = public_rows(task)
    assert 0.2 < theirs.mean() < 0.4
    assert (ours != theirs).mean() > 0.2


def test_the_secret_is_created_once_and_private_to_its_owner():
    first = config.installation_secret()
    assert config.installation_secret() == first and len(first) == 32
    assert (config.arena_home() / "secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("ids", [np.arange(100_000), np.array([f"row-{i}" for i in range(20_000)])])
def test_public_mask_takes_the_stated_fraction(ids):
    mask = public_mask(ids, b"k" * 32, "task", 0.3)
    assert abs(mask.mean() - 0.3) < 0.01


def test_confusion_bootstrap_matches_the_row_bootstrap():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 400)
    pred = np.where(rng.random(400) < 0.7, truth, rng.integers(0, 3, 400))
    by_matrix = bootstrap_confusion(confusion_matrix(truth, pred, 3), accuracy_cm, seed=5)
    by_rows = bootstrap_rows(truth, pred, lambda t, p: float(np.mean(t == p)), seed=5)
    assert by_matrix == pytest.approx(by_rows, abs=0.015)
    assert by_matrix[0] < np.mean(truth == pred) < by_matrix[1]


def test_bootstrap_is_seeded():
    cm = np.array([[30.0, 5], [7, 40]])
    assert bootstrap_confusion(cm, accuracy_cm, seed=3) == bootstrap_confusion(cm, accuracy_cm, seed=3)


def test_a_usage_column_decides_public_rows(write_bundle):
    folder = write_bundle(
        """
name = "usage"
version = 1
kind = "regression"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
target = "y"
[metrics]
primary = "mae"
[submission]
prediction = "value"
""",
        {
            "train.csv": "id,y\n1,1.0\n2,2.0\n",
            "test.csv": "id\n3\n4\n5\n",
            "answers.csv": "id,y,usage\n3,3.0,public\n4,4.0,private\n5,5.0,private\n",
        },
    )
    task = load_task(folder)
    path = folder / "sub.csv"
    path.write_text("id,y\n3,3.0\n4,5.0\n5,7.0\n")
    score = score_submission(task, path)
    assert (score.public["mae"], score.private["mae"], score.n_public) == (0.0, 1.5, 1)


def test_rounded_scores_hide_extra_precision():
    assert scoring.rounded(0.123456789) == 0.1235
    assert scoring.rounded(float("nan")) is None


def test_score_takes_a_task_name_and_a_file(tmp_path):
    from arena.tasks import score

    load_task("digits").sample_submission().to_csv(tmp_path / "s.csv", index=False)
    assert score("digits", tmp_path / "s.csv") == score_submission(load_task("digits"), tmp_path / "s.csv")


@pytest.mark.parametrize("task_name", ["digits", "sunspots"])
def test_every_metric_gets_its_own_interval_around_its_value(task_name, tmp_path):
    from helpers import predictions_csv, sample_csv

    task = load_task(task_name)
    path = tmp_path / "sample.csv"
    path.write_text(sample_csv(task_name) if task_name == "sunspots" else predictions_csv(task_name, 0.8))
    score = score_submission(task, path)
    assert set(score.public_cis) == set(score.public) == set(task.spec.metric_names)
    for part, values, cis in (
        ("public", score.public, score.public_cis),
        ("private", score.private, score.private_cis),
    ):
        for name, value in values.items():
            low, high = cis[name]
            assert low <= value + 1e-9 and value - 1e-9 <= high and low < high, (part, name, value, cis[name])
    assert score.public_cis[score.primary] == score.public_ci
    assert type(score).from_dict(score.to_dict()) == score


def test_line_breaks_are_counted_alike_in_slices(monkeypatch):
    """The row cap's line count, cut into slices that run at once, counts every line break once."""
    import pyarrow as pa

    from arena._fast import parallel as slices
    from arena.scoring import validation

    text = b"".join(b"id,label\n" if i % 7 else b"\n\n" for i in range(5000)) + b"x"
    expected = text.count(b"\n")
    assert validation._line_breaks(pa.py_buffer(text)) == expected
    monkeypatch.setattr(validation, "COUNT_BYTES", 97)  # odd chunks: slices and chunks meet anywhere
    monkeypatch.setattr(slices, "_WORKERS", 3)
    assert validation._line_breaks(pa.py_buffer(text)) == expected


def test_probability_bounds_are_found_alike_in_slices_and_chunks(monkeypatch):
    """The smallest probability and row sums, read in slices and chunks, are the whole array's, wherever they lie."""
    from arena._fast import parallel as slices
    from arena.scoring import validation

    rng = np.random.default_rng(5)
    columns = rng.dirichlet(np.ones(3), 10_000).T.copy()
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 1000)
    monkeypatch.setattr(slices, "_WORKERS", 3)
    monkeypatch.setattr(slices, "CHUNK_ROWS", 333)
    for row, change in ((9_999, (0.0, 0.0, 0.5)), (5_000, (-0.25, 0.0, 0.0)), (0, (0.0, -0.2, 0.0))):
        broken = columns.copy()
        broken[:, row] += change
        sums = broken.sum(axis=0)
        assert validation._probability_bounds(broken) == pytest.approx(
            (broken.min(), sums.min(), sums.max()), abs=1e-15
        )


def test_ids_in_the_answer_keys_order_are_recognised_block_by_block():
    """The usual file (ids as in test.csv) needs no reordering; one id out of place in any block does."""
    from types import SimpleNamespace

    import pyarrow as pa

    from arena.scoring import validation

    key = SimpleNamespace(ids=np.arange(10, 1010, dtype=np.int64))
    blocks = [key.ids[:300], key.ids[300:301], key.ids[301:]]
    assert validation._in_key_order(pa.chunked_array(blocks), key)
    swapped = [blocks[0], blocks[1], blocks[2].copy()]
    swapped[2][[-1, -2]] = swapped[2][[-2, -1]]
    assert not validation._in_key_order(pa.chunked_array(swapped), key)
    assert not validation._in_key_order(pa.chunked_array(blocks[:2]), key)  # too few
    wide = pa.chunked_array([pa.array(b, pa.uint64()) for b in blocks])
    assert not validation._in_key_order(wide, key)  # other integer types take the general path


def test_a_columns_blocks_are_copied_alike_on_several_cores(monkeypatch):
    """Blocks of uneven sizes, shared among three threads, land at their own rows (empty cells as NaN)."""
    import pyarrow as pa

    from arena._fast import parallel as slices
    from arena.scoring import validation

    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 10)
    monkeypatch.setattr(slices, "_WORKERS", 3)
    rng = np.random.default_rng(9)
    blocks = [rng.random(size) for size in (7, 1, 30, 12, 5, 19)]
    column = pa.chunked_array([pa.array(b, mask=(np.arange(len(b)) == 3)) for b in blocks])
    out = np.zeros(len(column))
    validation._copy_blocks(column, out)
    assert np.array_equal(out, column.to_numpy(zero_copy_only=False), equal_nan=True)
    assert np.isnan(out).sum() == 5  # row 3 of every block with four rows or more


@pytest.mark.parametrize("weighted", [False, True])
def test_predicted_classes_and_confusion_cells_are_found_alike_in_slices_and_chunks(monkeypatch, weighted):
    """The first most probable class of each row and the confusion matrices' counts, read in three slices of odd
    chunks, are numpy's argmax and one whole bincount."""
    from arena._fast import parallel as slices
    from arena.scoring import validation

    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 100)
    monkeypatch.setattr(slices, "_WORKERS", 3)
    monkeypatch.setattr(slices, "CHUNK_ROWS", 77)
    rng = np.random.default_rng(10)
    proba = np.round(rng.dirichlet(np.ones(4), 2000), 1)  # coarse: many rows tie for the largest
    labels = validation._first_largest([proba[:, c] for c in range(4)])
    assert np.array_equal(labels, np.argmax(proba, axis=1))
    base = (rng.integers(0, 3, 2000) * 16 + rng.integers(0, 4, 2000) * 4).astype(np.uint16)
    weight = rng.random(2000) if weighted else None
    expected = np.bincount(base.astype(np.intp) + labels, weights=weight, minlength=48)
    assert np.allclose(scoring._cell_counts(labels, base, weight, 48), expected, rtol=0, atol=1e-9)


def test_importing_arenas_libraries_changes_no_environment_variable():
    """A library leaves the importing process as it found it (and sandboxed programs inherit nothing from it)."""
    import os
    import subprocess
    import sys

    code = (
        "import json, os; before = dict(os.environ); "
        "import arena, arena.scoring, arena.scoring.score, arena.scoring.validation, arena.server.jobs; "
        "print(json.dumps([k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    changed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert changed.stdout.strip() == "[]"


# A child interpreter that makes the arena program's start-up setting (or not), then loads pyarrow and
# allocates, touches and frees the same 132 MB of Arrow buffers five times, 0.3 s apart. It prints the
# pool's backend, whether the setting applied, and the page faults of each round after the first: where
# the allocator kept the freed pages, a round finds them mapped and faults (almost) none.
_ROUNDS = """
import ctypes, json, os, resource, sys, time
from arena.startup import keep_freed_memory_a_while
applied = keep_freed_memory_a_while() if sys.argv[1] == "start" else None
import pyarrow as pa
pool = pa.default_memory_pool()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def one_round():
    before = faults()
    buffers = [pa.allocate_buffer(size << 20, memory_pool=pool) for size in (3, 8, 40, 1, 64, 16)]
    for buffer in buffers:
        ctypes.memset(buffer.address, 1, buffer.size)
    return faults() - before
rounds = []
for _ in range(5):
    rounds.append(one_round())
    time.sleep(0.3)
print(json.dumps({"backend": pool.backend_name, "applied": applied, "faults": rounds[1:]}))
"""


def _allocation_rounds(how: str, env: dict) -> dict:
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _ROUNDS, how], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


@pytest.mark.slow
def test_the_arena_programs_start_keeps_arrows_freed_pages_for_the_next_upload():
    """The setting reaches the real pool: mimalloc, and freed pages reused without faulting them in again.

    The control run, told to purge at once, faults each round's pages anew: the measure can see the difference."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    kept = _allocation_rounds("start", env)
    assert kept["backend"] == "mimalloc" and kept["applied"] is True
    purged = _allocation_rounds("plain", {**env, "MIMALLOC_PURGE_DELAY": "0"})
    assert min(purged["faults"]) > 200, purged  # 132 MB purged: hundreds of huge pages, or tens of thousands of small
    assert max(kept["faults"]) < 50, kept


def test_a_purge_delay_the_environment_holds_wins_and_a_late_start_says_so():
    import os
    import subprocess
    import sys

    code = (
        "import os, sys; from arena.startup import keep_freed_memory_a_while as keep; "
        "first = keep(); import pyarrow; print(first, keep(), os.environ['MIMALLOC_PURGE_DELAY'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.split() == ["True", "False", "30000"]
    told = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "MIMALLOC_PURGE_DELAY": "25"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert told.stdout.split() == ["True", "False", "25"]


_BLAS_THREADS = """
import json, sys
from arena.startup import keep_blas_on_one_thread
applied = keep_blas_on_one_thread() if sys.argv[1] == "start" else None
import numpy
from threadpoolctl import threadpool_info
threads = [found["num_threads"] for found in threadpool_info() if found["user_api"] == "blas"]
print(json.dumps({"applied": applied, "late": keep_blas_on_one_thread(), "threads": threads}))
"""


def _blas_threads(how: str, env: dict) -> dict:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _BLAS_THREADS, how], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_the_arena_programs_start_runs_blas_on_one_thread_unless_the_environment_says_otherwise():
    """BLAS's threads spin after a bootstrap's product and take the cores from the scoring loops that run next: the
    arena program's start gives numpy's BLAS one thread, before numpy loads it; an operator's own setting wins, and
    a start made too late says so. The control run, without the setting, has a thread per core."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    started = _blas_threads("start", env)
    assert started["applied"] is True and started["late"] is False
    assert started["threads"] and set(started["threads"]) == {1}
    told = _blas_threads("start", {**env, "OPENBLAS_NUM_THREADS": "2"})
    assert set(told["threads"]) == {2}
    if (os.cpu_count() or 1) > 1:
        plain = _blas_threads("plain", env)
        assert min(plain["threads"]) > 1, plain


def test_the_arena_console_script_enters_through_the_start_up_settings():
    from importlib import metadata

    (script,) = [entry for entry in metadata.entry_points(group="console_scripts") if entry.name == "arena"]
    assert script.value == "arena.startup:main"
