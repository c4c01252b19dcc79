"""Reference models across a suite: the built-in suite's shipped rows are made for the current tasks, valid, and
score what baselines/README.md says; the quick ones can be made again; ``arena baseline --suite`` skips a task its
model does not fit and refuses a suite it cannot find.
"""

from __future__ import annotations

import argparse
import gzip
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.bundles.loading import find_bundle
from arena.bundles.spec import load_spec
from arena.suites.cards import load_card
from arena.suites.spec import builtin_suites_dir, load_suite
from arena.tasks import load_task

README = Path(__file__).resolve().parent.parent / "baselines" / "README.md"
SHIPPED = ("cnn", "gru", "mlp", "transformer")
CORE = load_suite("core")
MODELS = builtin_suites_dir() / "core" / "models"
# Materialising mnist1d (3 s) and listops (5 s, 50,000 expressions generated) on a cold cache is slow; digits and
# sunspots take well under a second, so their checks stay in the fast subset.
SLOW_TASKS = ("mnist1d", "listops")
TASKS = [pytest.param(key, marks=pytest.mark.slow) if key in SLOW_TASKS else key for key in CORE.keys]


def shipped_file(model: str, task: str) -> Path:
    return MODELS / model / f"{task}.csv.gz"


def answered(model: str) -> list[str]:
    """The suite's tasks the shipped model has a file for: all but those its run record says it skipped."""
    skipped = load_card(MODELS / model / "card.toml").run["skipped"]
    return [key for key in CORE.keys if key not in skipped]


def readme_scores() -> dict[tuple[str, str], tuple[float, float]]:
    """(model, task) -> (score, half a unit of its last digit) from the table of README's suite section."""
    section = README.read_text().split("## Reference baselines across a suite", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip().split(" ")[0] for cell in lines[0].strip("|").split("|")]
    scores = {}
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if set(cells[0]) <= {"-"}:
            continue
        for task, cell in zip(header[1:], cells[1:]):
            number = re.match(r"[\d.]+", cell)
            if task in CORE.keys and number:
                decimals = len(number.group().partition(".")[2])
                scores[(cells[0], task)] = (float(number.group()), 0.5 * 10**-decimals)
    return scores


def test_each_reference_model_ships_a_card_and_one_file_per_task_it_reads():
    assert sorted(path.name for path in MODELS.iterdir()) == sorted(SHIPPED)
    for model in SHIPPED:
        expected = {"card.toml", *(f"{key}.csv.gz" for key in answered(model))}
        assert {path.name for path in (MODELS / model).iterdir()} == expected
    assert all(key in answered("gru") for key in CORE.keys)  # one model at least ranks on every task


@pytest.mark.parametrize("model", SHIPPED)
def test_a_shipped_model_skips_exactly_the_tasks_it_cannot_read(model):
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines.suite import plan

    chosen = plan(CORE, model)
    assert answered(model) == [task.key for task in chosen.tasks]
    assert load_card(MODELS / model / "card.toml").run["skipped"] == list(chosen.skipped)


@pytest.mark.parametrize("model", SHIPPED)
def test_shipped_card_loads_and_was_made_for_the_current_task_versions(model):
    card = load_card(MODELS / model / "card.toml")
    assert card.name == f"{model}-reference" and card.run is not None
    assert (card.extra_training_data, card.trained_on_test_inputs) == (False, False)
    run = card.run
    assert (run["suite"], run["suite_version"], run["model"], run["seed"]) == ("core", CORE.version, model, 0)
    assert sorted(run["tasks"]) == sorted(answered(model)) and set(run["skipped"]) <= set(CORE.keys)
    assert card.parameters == max(task["parameters"] for task in run["tasks"].values())
    for task in (task for task in CORE.tasks if task.key in run["tasks"]):
        # A new version of a task must be answered by re-running the shipped baselines (see baselines/README.md).
        assert run["tasks"][task.key]["version"] == load_spec(find_bundle(task.ref)).version, (model, task.key)


@pytest.mark.parametrize("task", TASKS)
def test_shipped_cards_hold_the_answer_key_of_the_current_task(task):
    digest = load_task(task).answer_key.sha256
    for model in (model for model in SHIPPED if task in answered(model)):
        # Different answers (new data, another split) make the shipped scores meaningless: re-run the baselines.
        assert load_card(MODELS / model / "card.toml").run["tasks"][task]["answer_sha256"] == digest, model


@pytest.mark.parametrize("task", TASKS)
def test_shipped_predictions_are_valid_and_score_as_the_readme_says(task):
    loaded = load_task(task)
    recorded = readme_scores()
    for model in (model for model in SHIPPED if task in answered(model)):
        path = shipped_file(model, task)
        assert loaded.check_file(path).startswith("valid submission")
        # Every test row, not an installation's private rows: the private rows depend on its secret.
        score = loaded.score_file(path, public_fraction=0.0)
        value, rounding = recorded[(model, task)]
        assert abs(score.private[score.primary] - value) <= rounding + 1e-12, (model, task, score.private)


def suite_args(suite: str, model: str, out: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(
        task=model,
        model=None,
        list=False,
        suite=suite,
        epochs=None,
        seed=None,
        time_budget=None,
        out=str(out) if out else None,
        gzip=False,
        no_curves=False,
        submit=False,
        server=None,
        token=None,
    )


def write_suite(folder: Path, *tasks: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    entries = "".join(f'\n[[tasks]]\ntask = "{task}"\n' for task in tasks)
    (folder / "suite.toml").write_text(f'name = "mini"\nversion = 1\n{entries}')
    return folder


def test_a_task_the_model_does_not_fit_is_skipped_with_a_reason(tmp_path, monkeypatch, capsys):
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    import baselines.suite
    from baselines.commands import cmd_baseline
    from baselines.run import BaselineRun

    def trained(ref, model, config):  # the orchestration is under test here, not the training
        task = load_task(ref)
        return BaselineRun(task, model, task.sample_submission(), 0.5, 1234, 0.1, best_epoch=1, epochs_run=1)

    monkeypatch.setattr(baselines.suite, "run_baseline", trained)
    suite = write_suite(tmp_path / "suite", "digits", "sunspots")  # bigru reads images, not a series
    out = tmp_path / "out"
    assert cmd_baseline(suite_args(str(suite), "bigru", out)) == 0
    printed = capsys.readouterr().out
    assert "skipped sunspots: bigru does not apply to its series inputs" in printed
    assert sorted(path.name for path in out.iterdir()) == ["card.toml", "digits.csv"]
    run = load_card(out / "card.toml").run
    assert list(run["tasks"]) == ["digits"] and run["skipped"] == ["sunspots"]
    assert run["command"] == f"arena baseline --suite {suite} bigru --out {out}"


def test_a_suite_with_no_task_for_the_model_trains_nothing(tmp_path, capsys):
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines.commands import cmd_baseline

    suite = write_suite(tmp_path / "suite", "sunspots")
    out = tmp_path / "out"
    assert cmd_baseline(suite_args(str(suite), "bigru", out)) == 1
    captured = capsys.readouterr()
    assert "skipped sunspots" in captured.out and "bigru applies to no task of suite 'mini'" in captured.err
    assert not out.exists()


def test_submit_with_a_task_the_model_skips_trains_nothing(tmp_path, capsys):
    """A suite refuses an entry without a file for every task: --submit says so before any training."""
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines.commands import cmd_baseline

    suite = write_suite(tmp_path / "suite", "digits", "sunspots")
    out = tmp_path / "out"
    args = suite_args(str(suite), "bigru", out)
    args.submit, args.server, args.token = True, "http://127.0.0.1:9", "arena_token"
    assert cmd_baseline(args) == 1
    assert "bigru skips sunspots; nothing trained" in capsys.readouterr().err and not out.exists()


def test_an_unknown_suite_is_refused_with_the_suites_there_are(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "arena.cli",
            "baseline",
            "--suite",
            "no-such-suite",
            "cnn",
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "'no-such-suite' is neither a built-in suite (core" in result.stderr
    assert not (tmp_path / "o").exists()


def test_the_mlp_reads_token_batches_cut_to_a_length_bucket():
    """Token batches are cut to their length bucket; the MLP, which needs every position, must predict the same."""
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines.data import InputSpec
    from baselines.models import build

    rows = np.zeros((2, 16), np.int32)
    rows[0, -5:], rows[1, -9:] = [3, 4, 5, 6, 7], [8, 9, 3, 4, 5, 6, 7, 10, 11]
    net = build("mlp", InputSpec("tokens", (16,), 10, vocab_size=20), seed=0)
    np.testing.assert_array_equal(net(rows[:, -9:]), net(rows))


def test_cards_keep_any_text_through_toml():
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines.card import to_toml

    card = {
        "notes": 'quotes " and \\ back\nslash, tab\t, DEL \x7f, ünïcode ✓ 😀',
        "run": {"tasks": {"a b": {"x": 1.5}}},
    }
    assert tomllib.loads(to_toml(card)) == card


@pytest.mark.parametrize("model", SHIPPED)
def test_shipped_runs_used_each_tasks_reference_settings(model):
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines.run import config_for

    run = load_card(MODELS / model / "card.toml").run
    for key, task in run["tasks"].items():
        reference = {k: v for k, v in vars(config_for(key, model, seed=0)).items() if k != "progress" and v is not None}
        assert task["settings"] == reference, (model, key)


@pytest.mark.slow
@pytest.mark.parametrize(("task", "model"), [("sunspots", "mlp"), ("digits", "cnn")])
def test_the_quick_shipped_predictions_can_be_made_again(task, model):
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    from baselines import record
    from baselines.run import config_for, run_baseline

    card = load_card(MODELS / model / "card.toml")
    shipped = pd.read_csv(shipped_file(model, task))
    recorded = card.run["tasks"][task]
    # Where the shipped run stopped was decided by early stopping or the epoch count, not by the time budget, so a
    # rerun at another speed stops at the same epoch.
    assert recorded["training_seconds"] < 0.5 * recorded["settings"]["time_budget"]
    again = run_baseline(task, model, config_for(task, model, seed=0, progress=False)).predictions
    assert list(again.columns) == list(shipped.columns) and again.iloc[:, 0].equals(shipped.iloc[:, 0])
    installed = record.software()
    same_place = card.run["hardware"]["cpu"] == record.cpu_model() and all(
        card.software.get(name) == installed.get(name) for name in ("jax", "flax", "optax", "numpy")
    )
    if same_place:
        # Same CPU model and the same JAX, Flax, Optax and NumPy: seeded training gives the same bits, and the file
        # written (gzip without a time stamp) the same bytes as the shipped one.
        assert gzip.compress(again.to_csv(index=False).encode(), mtime=0) == shipped_file(model, task).read_bytes()
        return
    # XLA compiles for the CPU it runs on (vector width, fused multiply-adds), so the last bits of sums can differ
    # on another CPU, and training over hundreds of steps carries that on. Another CPU may not change the
    # predictions more than another seed does: below the smallest difference between the seeds 0 to 3, measured
    # on the machine that made the shipped files (sunspots mlp: an RMS difference of 8.8 between two seeds'
    # forecasts; digits cnn: a mean absolute difference of 0.0045 in the probabilities, 97.6% of rows the same class).
    ours, theirs = again.iloc[:, 1:].to_numpy(float), shipped.iloc[:, 1:].to_numpy(float)
    if task == "sunspots":
        assert np.sqrt(((ours - theirs) ** 2).mean()) < 8.8
    else:
        assert np.abs(ours - theirs).mean() < 0.0045
        assert (ours.argmax(1) == theirs.argmax(1)).mean() > 0.976


@pytest.mark.slow  # a live server, its queue and a scoring job
def test_submit_enters_the_folder_as_a_baseline_model_of_the_suite(tmp_path, monkeypatch, capsys, live_server):
    pytest.importorskip("jax", reason="the baselines extra is not installed")
    import baselines.suite
    from arena.server import organiser_actions
    from baselines.commands import cmd_baseline
    from baselines.run import BaselineRun

    def trained(ref, model, config):  # the upload is under test here, not the training
        task = load_task(ref)
        return BaselineRun(task, model, task.sample_submission(), 0.5, 1234, 0.1, best_epoch=1, epochs_run=1)

    monkeypatch.setattr(baselines.suite, "run_baseline", trained)
    server = live_server()
    suite = write_suite(tmp_path / "suite", "digits")
    with server.app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(suite))
    args = suite_args(str(suite), "cnn", tmp_path / "out")
    args.submit, args.server, args.token = True, server.url, server.people.token("reference", organiser=True)
    assert cmd_baseline(args) == 0
    printed = capsys.readouterr().out
    assert "entered as model 'cnn-reference' version 1 in suite 'mini' (baseline):" in printed
    assert re.search(r"digits: submission #\d+ ", printed)
