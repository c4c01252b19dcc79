"""Baselines at tiny budgets: shapes, learning, determinism, valid files, the command end to end.

Full-budget scores are checked by bench/baselines.py against the table in baselines/README.md;
here the small-budget floors from that README are checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="the baselines extra is not installed (pip install -e '.[baselines]')")

from arena.scoring.datasets import load_task  # noqa: E402
from arena.scoring.validation import read_submission  # noqa: E402
from baselines.data import InputSpec, prepare  # noqa: E402
from baselines.models import BUILDERS, build  # noqa: E402
from baselines.run import config_for, run_baseline  # noqa: E402
from baselines.train import TrainConfig, Trainer  # noqa: E402

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
    model = {"digits": "cnn", "listops": "transformer", "sunspots": "mlp"}[task]
    run = run_baseline(task, model, config_for(task, model, epochs=1, progress=False))
    path = tmp_path / "p.csv"
    run.predictions.to_csv(path, index=False)
    read_submission(load_task(task), path)


def small_budget_floors() -> dict[tuple[str, str], tuple[int, float]]:
    """Rows of the README's small-budget table: | task | model | epochs | floor |."""
    section = README.read_text().split("## Small-budget checks", 1)[1]
    rows = re.findall(r"^\| (\w+) \| (\w+) \| (\d+) \| ([\d.]+) \|", section, flags=re.M)
    return {(t, m): (int(e), float(f)) for t, m, e, f in rows}


def test_small_budget_floors_from_the_readme():
    floors = small_budget_floors()
    assert ("digits", "cnn") in floors and ("sunspots", "mlp") in floors
    for (task, model), (epochs, floor) in floors.items():
        run = run_baseline(task, model, config_for(task, model, epochs=epochs, progress=False))
        if task == "sunspots":  # a forecast: its validation RMSE must be under the floor
            assert run.val_score < floor, (task, model, run.val_score)
        else:
            assert run.val_score >= floor, (task, model, run.val_score)


def test_arena_baseline_command_end_to_end(tmp_path):
    out = tmp_path / "digits-cnn.csv"
    result = subprocess.run([sys.executable, "-m", "arena.cli", "baseline", "digits", "cnn", "--epochs", "1",
                             "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "validation accuracy" in result.stdout and out.exists()
    assert (tmp_path / "digits-cnn" / "curves.png").exists() and (tmp_path / "digits-cnn" / "best_params.npz").exists()
    assert "training" in result.stderr  # the progress bar
    check = subprocess.run([sys.executable, "-m", "arena.cli", "validate", "digits", str(out)], capture_output=True, text=True)
    assert check.returncode == 0


def test_baseline_list_shows_models_per_task():
    result = subprocess.run([sys.executable, "-m", "arena.cli", "baseline", "--list"], capture_output=True, text=True)
    assert result.returncode == 0 and re.search(r"mnist1d\s+cnn, gru", result.stdout)


def test_baseline_submits_to_a_leaderboard_marked_as_baseline(tmp_path, live_server):
    server = live_server()
    token = server.people.token("reference")
    result = subprocess.run([sys.executable, "-m", "arena.cli", "baseline", "digits", "mlp", "--epochs", "2",
                             "--no-curves", "--out", str(tmp_path / "p.csv"), "--submit", "--server", server.url,
                             "--token", token], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "(baseline): scored" in result.stdout
    rows = server.client.get("/api/v1/competitions/digits/leaderboard").get_json()["rows"]
    assert rows[0]["team"] == "reference" and rows[0]["is_baseline"]


def test_transformer_takes_sinusoidal_positions():
    from flax import nnx

    from baselines.models.transformer import Transformer

    spec, x = SPECS["tokens"]
    model = Transformer(spec, positions="sinusoidal", rngs=nnx.Rngs(0))
    assert model(x).shape == (3, 10)
    assert not isinstance(model.positions, nnx.Param)  # fixed, not trained
