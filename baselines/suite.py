"""One reference model on every task of a suite: a folder of predictions files and the model's card.

``arena baseline --suite SUITE MODEL`` calls :func:`main`. Each task the model applies to is trained with that task's
reference settings (``DEFAULTS`` in :mod:`baselines.run`), exactly as ``arena baseline TASK MODEL`` would; the folder
then holds ``TASK.csv`` per task and ``card.toml``, whose ``[run]`` table records what the run measured, so that the
model can enter the suite as a participant's model would, and a reader can check and reproduce it.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from arena.bundles.loading import find_bundle
from arena.bundles.spec import load_spec
from arena.suites.spec import Suite, SuiteTask

from . import record
from .card import model_card, to_toml
from .run import BaselineRun, config_for, models_for, run_baseline, write_predictions

CARD_FILE = "card.toml"
DESCRIPTIONS = {  # what each model is, for its card's notes (baselines/README.md says more)
    "cnn": "convolutions over images, signals or token embeddings, global average pooling",
    "gru": "a GRU reading the input step by step, or an image row by row",
    "lstm": "an LSTM reading the input step by step, or an image row by row",
    "bigru": "GRUs reading the input from both ends",
    "transformer": "a pre-LayerNorm Transformer encoder with mean pooling",
    "mlp": "two GELU layers over the flattened input",
}


@dataclass(frozen=True)
class Plan:
    """Which tasks of a suite a model trains on, and why each other task is skipped."""

    tasks: list[SuiteTask]
    skipped: dict[str, str]  # task key -> what to tell the user


def plan(suite: Suite, model: str) -> Plan:
    """The suite's tasks the model reads (``models_for`` each task: its kind of input or of answer); the rest, with a reason.

    Only each task's task.toml is read: nothing is trained or materialised to decide.
    """
    tasks, skipped = [], {}
    for task in suite.tasks:
        spec = load_spec(find_bundle(task.ref))
        fitting = models_for(spec)
        if model in fitting:
            tasks.append(task)
        else:
            what = "text answers" if spec.kind == "text" else f"{spec.modality} inputs"
            skipped[task.key] = (
                f"skipped {task.key}: {model} does not apply to its {what} (models for it: "
                f"{', '.join(fitting) or 'none'})."
            )
    return Plan(tasks, skipped)


def command_line(args: argparse.Namespace, model: str) -> str:
    """The command that reproduces this run, from the parsed options; the server and token are never recorded."""
    words = ["arena", "baseline", "--suite", args.suite, model]
    for flag, value in (("--seed", args.seed), ("--epochs", args.epochs), ("--time-budget", args.time_budget)):
        if value is not None:
            words += [flag, str(value)]
    if args.out:
        words += ["--out", args.out]
    if args.gzip:
        words.append("--gzip")
    return shlex.join(words)


def task_record(run: BaselineRun, file: str, seconds: float, settings: dict) -> dict:
    """One task's part of the run record: which task version and answers it met, and what the run measured."""
    return {
        "file": file,
        "version": run.task.spec.version,
        "answer_sha256": run.task.answer_key.sha256,
        "metric": run.task.spec.primary_metric,
        "validation_score": round(float(run.val_score), 6),
        "parameters": run.parameters,
        "seconds": round(seconds, 1),
        "training_seconds": round(run.seconds, 1),
        "test_rows": len(run.predictions),
        "inference_seconds": round(run.inference_seconds, 3),
        "epochs_run": run.epochs_run,
        "best_epoch": run.best_epoch,
        "settings": settings,
    }


def measured_costs(runs: list[BaselineRun]) -> dict[str, int | float]:
    """What the run cost, over every task it trained: the four quantities a suite's efficiency columns show as
    measured (:mod:`arena.suites.efficiency` reads them under these names; the peak memory is added by the caller).

    ``parameters`` is the largest model's count, counted from its parameters; ``training_seconds`` the wall time
    of training, summed over the tasks; ``inference_seconds_per_1000_rows`` the wall time of predicting every
    task's test rows with the trained model, per 1,000 rows predicted.
    """
    rows = sum(len(run.predictions) for run in runs)
    costs: dict[str, int | float] = {
        "parameters": max(run.parameters for run in runs),
        "training_seconds": round(sum(run.seconds for run in runs), 1),
        "test_rows": rows,
    }
    if rows:
        costs["inference_seconds_per_1000_rows"] = round(1000 * sum(run.inference_seconds for run in runs) / rows, 3)
    return costs


def main(args: argparse.Namespace, suite: Suite) -> int:
    """Train ``args.task`` (the model, with ``--suite``) on every task of ``suite`` that it applies to."""
    model = args.task
    chosen = plan(suite, model)
    for line in chosen.skipped.values():
        print(line)
    if not chosen.tasks:
        print(
            f"{model} applies to no task of suite '{suite.name}': nothing trained. `arena baseline --list` shows "
            "which models fit which tasks.",
            file=sys.stderr,
        )
        return 1
    if args.submit and chosen.skipped:
        print(
            f"--submit: a suite takes a model only with a file for every task, and {model} skips "
            f"{', '.join(chosen.skipped)}; nothing trained. Run without --submit to write the files it can.",
            file=sys.stderr,
        )
        return 1
    seed = args.seed if args.seed is not None else 0
    out = Path(args.out or f"{suite.name}-{model}-seed{seed}")
    out.mkdir(parents=True, exist_ok=True)
    commit, dirty = record.git_state()
    started = time.perf_counter()
    files: dict[str, Path] = {}
    tasks: dict[str, dict] = {}
    runs: list[BaselineRun] = []
    for task in chosen.tasks:
        task_started = time.perf_counter()
        name = load_spec(find_bundle(task.ref)).name  # the reference settings are kept by task name
        config = config_for(name, model, seed=seed, epochs=args.epochs, time_budget=args.time_budget)
        run = run_baseline(task.ref, model, config)
        path = out / f"{task.key}.csv{'.gz' if args.gzip else ''}"
        write_predictions(run, path)
        seconds = time.perf_counter() - task_started
        settings = {key: value for key, value in vars(config).items() if key != "progress" and value is not None}
        tasks[task.key] = task_record(run, path.name, seconds, settings)
        files[task.key] = path
        runs.append(run)
        metric = run.task.spec.primary_metric
        print(
            f"{task.key} / {model}: validation {metric} {run.val_score:.4f}; {run.parameters:,} parameters; "
            f"{seconds:.0f} s; wrote {path}"
        )
    facts = record.hardware()
    run_record = {
        "suite": suite.name,
        "suite_version": suite.version,
        "model": model,
        "seed": seed,
        "command": command_line(args, model),
        "commit": commit,
        "dirty": dirty,
        "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": round(time.perf_counter() - started, 1),
        **measured_costs(runs),
        "peak_memory_mb": record.peak_memory_mb(),
        "skipped": list(chosen.skipped),
        "hardware": facts,
        "tasks": tasks,
    }
    card = model_card(
        model, DESCRIPTIONS.get(model, model), run_record, record.describe_hardware(facts), record.software()
    )
    card_path = out / CARD_FILE
    card_path.write_text(to_toml(card))
    print(f"{model} on suite {suite.name}: wrote {len(files)} predictions files and {CARD_FILE} to {out}")
    if args.submit:
        from arena.client import submit_suite

        answer = submit_suite(args.server, args.token, suite.name, files, card_path, baseline=True)
        print(
            f"entered as model '{answer['model']}' version {answer['version']} in suite '{answer['suite']}' (baseline):"
        )
        for key, submission in answer["submissions"].items():
            print(f"  {key}: submission #{submission['id']} {submission['status']}")
    return 0
