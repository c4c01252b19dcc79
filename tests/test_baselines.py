"""Baselines at tiny budgets: shapes, learning, determinism, valid files, the command end to end.

Full-budget scores are checked by bench/baseline_scores.py against the table in baselines/README.md;
here the small-budget floors from that README are checked, and the fused GRU against nnx.GRUCell.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

jax = pytest.importorskip("jax", reason="the baselines extra is not installed (pip install -e '.[baselines]')")

from arena.scoring.validation import read_submission  # noqa: E402
from arena.tasks import load_task  # noqa: E402
from baselines.data import InputSpec, prepare  # noqa: E402
from baselines.models import BUILDERS, build  # noqa: E402
from baselines.run import config_for, run_baseline  # noqa: E402
from baselines.train import TrainConfig, Trainer  # noqa: E402

pytestmark = pytest.mark.slow  # JAX: models trained and compiled, the command run end to end

README = Path(__file__).resolve().parent.parent / "baselines" / "README.md"
SPECS = {
    "image": (InputSpec("image", (8, 8, 1), 10), np.zeros((3, 8, 8, 1), np.float32)),
    "sequence": (InputSpec("sequence", (40, 1), 10), np.zeros((3, 40, 1), np.float32)),
    "tokens": (InputSpec("tokens", (16,), 10, vocab_size=20), np.ones((3, 16), np.int32)),
    "regression": (InputSpec("sequence", (24, 1), 1, regression=True), np.zeros((3, 24, 1), np.float32)),
}


@pytest.mark.parametrize("model", sorted(BUILDERS))
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_model_reads_every_input_kind(model, kind):
    spec, x = SPECS[kind]
    assert build(model, spec, seed=0)(x).shape == (3, spec.n_outputs)


@pytest.mark.parametrize("model", ["cnn", "gru", "lstm", "transformer", "mlp"])
def test_loss_falls_on_a_small_batch(model):
    task = load_task("digits")
    arrays = prepare(task, seed=0)
    arrays.x_train, arrays.y_train = arrays.x_train[:64], arrays.y_train[:64]
    trainer = Trainer(build(model, arrays.spec, 0), arrays, TrainConfig(epochs=30, batch_size=64, progress=False))
    result = trainer.fit("accuracy")
    losses = [c["train_loss"] for c in result.curves]
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_predictions_other_seed_differs():
    config = dict(epochs=2, progress=False)
    first = run_baseline("mnist1d", "cnn", config_for("mnist1d", "cnn", seed=3, **config)).predictions
    again = run_baseline("mnist1d", "cnn", config_for("mnist1d", "cnn", seed=3, **config)).predictions
    other = run_baseline("mnist1d", "cnn", config_for("mnist1d", "cnn", seed=4, **config)).predictions
    assert first.equals(again)
    assert not first.equals(other)


@pytest.mark.parametrize("task", ["digits", "listops", "sunspots"])
def test_written_predictions_pass_validation(task, tmp_path):
    model = {"digits": "cnn", "listops": "gru", "sunspots": "mlp"}[task]
    rows = 512 if task == "listops" else None  # a quick fit; the file still answers every test row
    run = run_baseline(task, model, config_for(task, model, epochs=1, train_rows=rows, progress=False))
    path = tmp_path / "p.csv"
    run.predictions.to_csv(path, index=False)
    loaded = load_task(task)
    predictions = read_submission(loaded, path)
    answered = next(a for a in (predictions.labels, predictions.probabilities, predictions.values) if a is not None)
    assert len(answered) == len(loaded.answer_key.ids)  # every test row answered


def test_text_answers_written_for_every_test_row(tmp_path):
    run = run_baseline("dates", "gru", config_for("dates", "gru", epochs=1, train_rows=512, progress=False))
    path = tmp_path / "p.csv"
    run.predictions.to_csv(path, index=False)
    loaded = load_task("dates")
    predictions = read_submission(loaded, path)
    assert predictions.texts is not None and len(predictions.texts) == len(loaded.answer_key.ids)


TEXT_SPEC = InputSpec("text", (12,), 20, vocab_size=20, target_length=6)


@pytest.mark.parametrize("model", ["transformer", "gru"])
def test_greedy_decoding_is_the_teacher_forced_argmax_of_its_own_output(model):
    """generate() feeds each chosen character back: the same model, teacher-forced on its answer, chooses it again."""
    from baselines.data import BOS

    net = build(model, TEXT_SPEC, seed=0)
    x = np.random.default_rng(0).integers(4, 20, (3, 12)).astype(np.int32)
    x[0, :5] = 0  # left padding
    out = np.asarray(net.generate(x))
    y_in = np.concatenate([np.full((3, 1), BOS), out[:, :-1]], axis=1)
    np.testing.assert_array_equal(np.asarray(net(x, y_in)).argmax(-1), out)
    assert out.shape == (3, 6)


@pytest.mark.parametrize("model", ["transformer", "gru"])
def test_text_models_ignore_left_padding(model):
    net = build(model, TEXT_SPEC, seed=0)
    x = np.zeros((2, 12), np.int32)
    x[0, -5:], x[1, -8:] = [5, 6, 7, 8, 9], [10, 11, 5, 6, 7, 8, 12, 13]
    y_in = np.random.default_rng(1).integers(4, 20, (2, 6)).astype(np.int32)
    np.testing.assert_allclose(net(x[:, -8:], y_in), net(x, y_in), atol=1e-5)
    assert not np.allclose(net(x[:1], y_in[:1]), net(x[1:], y_in[:1]))  # and the real characters do count


def test_text_models_are_only_the_sequence_to_sequence_ones():
    with pytest.raises(ValueError, match="does not write text answers; use one of: transformer, gru"):
        build("cnn", TEXT_SPEC, seed=0)


def small_budget_floors() -> dict[tuple[str, str], tuple[int, int | None, float]]:
    """Rows of the README's small-budget table: | task | model | epochs | training rows | floor |."""
    section = README.read_text().split("## Small-budget checks", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| (\w+) \| (\d+) \| (all|[\d,]+) \| ([\d.]+) \|", section, flags=re.M)
    return {(t, m): (int(e), None if n == "all" else int(n.replace(",", "")), float(f)) for t, m, e, n, f in rows}


def test_small_budget_floors_from_the_readme():
    floors = small_budget_floors()
    assert {("digits", "cnn"), ("sunspots", "mlp"), ("listops", "gru"), ("dates", "transformer")} <= set(floors)
    for (task, model), (epochs, rows, floor) in floors.items():
        run = run_baseline(task, model, config_for(task, model, epochs=epochs, train_rows=rows, progress=False))
        if task == "sunspots":  # a forecast: its validation RMSE must be under the floor
            assert run.val_score < floor, (task, model, run.val_score)
        else:
            assert run.val_score >= floor, (task, model, run.val_score)


def test_arena_baseline_command_end_to_end(tmp_path):
    out = tmp_path / "digits-cnn.csv"
    result = subprocess.run(
        [sys.executable, "-m", "arena.cli", "baseline", "digits", "cnn", "--epochs", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "validation accuracy" in result.stdout and out.exists()
    assert (tmp_path / "digits-cnn" / "curves.png").exists() and (tmp_path / "digits-cnn" / "best_params.npz").exists()
    assert "training" in result.stderr  # the progress bar
    check = subprocess.run(
        [sys.executable, "-m", "arena.cli", "validate", "digits", str(out)], capture_output=True, text=True
    )
    assert check.returncode == 0


def test_baseline_list_shows_models_per_task():
    result = subprocess.run([sys.executable, "-m", "arena.cli", "baseline", "--list"], capture_output=True, text=True)
    assert result.returncode == 0 and re.search(r"mnist1d\s+cnn, gru", result.stdout)


def test_baseline_submits_to_a_leaderboard_marked_as_baseline(tmp_path, live_server):
    server = live_server()
    token = server.people.token("reference", organiser=True)  # only organisers may mark a baseline
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "arena.cli",
            "baseline",
            "digits",
            "mlp",
            "--epochs",
            "2",
            "--no-curves",
            "--out",
            str(tmp_path / "p.csv"),
            "--submit",
            "--server",
            server.url,
            "--token",
            token,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "(baseline): scored" in result.stdout
    rows = server.client.get("/api/v1/competitions/digits/leaderboard").get_json()["rows"]
    [reference] = [row for row in rows if row["is_baseline"]]
    assert reference["team"] == "baseline: mlp"  # a row of its own named by the model, not the organiser's account


def test_transformer_takes_sinusoidal_positions():
    from flax import nnx

    from baselines.models.transformer import Transformer

    spec, x = SPECS["tokens"]
    model = Transformer(spec, positions="sinusoidal", rngs=nnx.Rngs(0))
    assert model(x).shape == (3, 10)
    assert not isinstance(model.positions, nnx.Param)  # fixed, not trained


# --- the fused GRU, padding and length buckets ---------------------------------------


def _gru_pair(in_features: int = 5, hidden: int = 7):
    """nnx.RNN over nnx.GRUCell, and our GRU layer holding the same parameters (a non-zero bias too)."""
    from flax import nnx

    from baselines.models.gru import GRU

    cell = nnx.GRUCell(in_features, hidden, rngs=nnx.Rngs(0))
    cell.dense_i.bias[...] = jax.random.normal(jax.random.key(1), (3 * hidden,))
    ours = GRU(in_features, hidden, rngs=nnx.Rngs(2))
    ours.w_ih[...], ours.b_ih[...], ours.w_hh[...] = (
        cell.dense_i.kernel[...],
        cell.dense_i.bias[...],
        cell.dense_h.kernel[...],
    )
    return cell, ours


@pytest.mark.parametrize("reverse", [False, True])
def test_fused_gru_matches_nnx_gru_cell_outputs_and_gradients(reverse):
    from flax import nnx

    cell, ours = _gru_pair()
    reference = nnx.RNN(cell, reverse=reverse, keep_order=True, rngs=False)
    x = jax.random.normal(jax.random.key(3), (3, 11, 5))
    weights = jax.random.normal(jax.random.key(4), (3, 11, 7))  # a loss that reads every step's output
    zeros = jax.numpy.zeros((3, 7))
    np.testing.assert_allclose(ours(x, reverse=reverse), reference(x, initial_carry=zeros), atol=1e-5)

    def loss_theirs(module, x):
        return (module(x, initial_carry=zeros) * weights).sum()

    def loss_ours(module, x):
        return (module(x, reverse=reverse) * weights).sum()

    (g_theirs, dx_theirs) = nnx.grad(loss_theirs, argnums=(0, 1))(reference, x)
    (g_ours, dx_ours) = nnx.grad(loss_ours, argnums=(0, 1))(ours, x)
    np.testing.assert_allclose(dx_ours, dx_theirs, atol=1e-5)
    np.testing.assert_allclose(g_ours.w_ih[...], g_theirs.cell.dense_i.kernel[...], atol=1e-5)
    np.testing.assert_allclose(g_ours.b_ih[...], g_theirs.cell.dense_i.bias[...], atol=1e-5)
    np.testing.assert_allclose(g_ours.w_hh[...], g_theirs.cell.dense_h.kernel[...], atol=1e-5)


@pytest.mark.parametrize("model", ["gru", "bigru", "transformer"])
def test_left_padding_changes_no_output(model):
    """Token models ignore padding, so a batch cut to its longest row (a length bucket) predicts the same."""
    spec = InputSpec("tokens", (16,), 10, vocab_size=20)
    rows = np.zeros((2, 16), np.int32)
    rows[0, -5:], rows[1, -9:] = [3, 4, 5, 6, 7], [8, 9, 3, 4, 5, 6, 7, 10, 11]
    net = build(model, spec, seed=0)
    np.testing.assert_allclose(net(rows[:, -9:]), net(rows), atol=1e-5)
    assert not np.allclose(net(rows[:1]), net(rows[1:]))  # and the real tokens do count


def test_length_buckets_hold_every_row_once_in_full_batches():
    from baselines.train import batch_plan

    lengths = np.random.default_rng(0).integers(1, 65, 1000)
    widths = [16, 32, 48, 64]
    plan = batch_plan(np.random.default_rng(1), 1000, 32, widths, lengths)
    rows = np.concatenate([r for r, _ in plan])
    assert all(len(r) == 32 for r, _ in plan) and len(set(rows)) == len(rows) > 1000 - 32
    assert all(lengths[r].max() <= width for r, width in plan)
    assert {width for _, width in plan} == set(widths)
    assert [w for _, w in plan] != sorted(w for _, w in plan)  # the buckets' batches are interleaved


def test_listops_version_2_adds_training_rows_and_keeps_the_test_rows():
    import dataclasses

    from arena.bundles.loading import _split_one_table
    from arena.bundles.sources import listops

    task = load_task("listops")
    assert task.spec.version == 2 and len(task.train) == 47_601
    first = dataclasses.replace(task.spec, source="listops", test_fraction=0.2, version=1)
    train, test, answers = _split_one_table(first, listops(first), "listops version 1")
    pd.testing.assert_frame_equal(test, task.test)
    pd.testing.assert_frame_equal(answers, task.answers[answers.columns])
    pd.testing.assert_frame_equal(task.train.iloc[: len(train)], train)
