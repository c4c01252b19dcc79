"""Task + model -> trained model -> predictions file in the task's submission format (+ --submit).

``arena baseline TASK MODEL`` calls :func:`main`. The file is validated with the
same reader the server uses before it is written out, like a careful participant.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arena.bundles.loading import Task, builtin_task_names, find_bundle
from arena.bundles.spec import load_spec
from arena.scoring.validation import read_submission
from arena.tasks import load_task

from .data import Arrays, prepare
from .models import BUILDERS, TEXT_BUILDERS, build, count_parameters
from .train import TrainConfig, Trainer, save_run

MODELS_FOR = {
    "image": ("cnn", "gru", "lstm", "bigru", "transformer", "mlp"),
    "sequence": ("cnn", "gru", "lstm", "bigru", "transformer", "mlp"),
    "tokens": ("gru", "bigru", "transformer", "lstm", "cnn", "mlp"),
    "series": ("mlp", "cnn", "gru", "lstm", "transformer"),
    "tabular": ("mlp", "cnn", "gru", "transformer"),
}
TEXT_MODELS = tuple(TEXT_BUILDERS)  # text answers, whatever the input: sequence-to-sequence models only
DEFAULTS = {  # per (task, model): what the table in baselines/README.md was made with
    ("digits", "cnn"): dict(epochs=60, batch_size=32, learning_rate=3e-3),
    ("mnist1d", "cnn"): dict(epochs=80, batch_size=64, learning_rate=3e-3),
    ("mnist1d", "gru"): dict(epochs=60, batch_size=64, learning_rate=3e-3),
    ("mnist1d", "transformer"): dict(epochs=80, batch_size=64, learning_rate=2e-3),
    ("listops", "gru"): dict(epochs=12, batch_size=64, learning_rate=3e-3, weight_decay=0.05, time_budget=270.0),
    ("listops", "transformer"): dict(epochs=3, batch_size=32, learning_rate=1e-3, time_budget=240.0),
    ("dates", "transformer"): dict(epochs=12, batch_size=64, learning_rate=3e-3, time_budget=270.0),
    ("dates", "gru"): dict(epochs=12, batch_size=64, learning_rate=3e-3, time_budget=270.0),
    ("sunspots", "mlp"): dict(epochs=300, batch_size=32, learning_rate=1e-3, patience=60, weight_decay=1e-3),
}


@dataclass
class BaselineRun:
    task: Task
    model: str
    predictions: pd.DataFrame
    val_score: float
    parameters: int
    seconds: float
    best_epoch: int = 0
    epochs_run: int = 0
    inference_seconds: float = 0.0  # wall time of predicting the test rows (``len(predictions)``), trained model


def models_for(spec) -> tuple[str, ...]:
    """The models that apply to a task (first: the reference), from its kind of answer and of input."""
    return TEXT_MODELS if spec.kind == "text" else MODELS_FOR.get(spec.modality, ())


def forecast(trainer: Trainer, arrays: Arrays, steps: int) -> np.ndarray:
    """Recursive forecast from the end of the training series: each prediction feeds the next."""
    window = arrays.spec.shape[0]
    history = list(arrays.history[-window:])
    out = []
    for _ in range(steps):
        value = float(trainer.predict(np.asarray(history[-window:], np.float32)[None, :, None])[0, 0])
        out.append(value)
        history.append(value)
    mean, std = arrays.target_scale
    return np.asarray(out) * std + mean


def predictions_frame(task: Task, trainer: Trainer, arrays: Arrays) -> pd.DataFrame:
    """The submission table: id plus labels, class probabilities or values, as the task asks."""
    spec = task.spec
    frame = pd.DataFrame({spec.id_column: arrays.test_ids})
    if arrays.spec.regression:
        frame[spec.target] = forecast(trainer, arrays, len(arrays.test_ids))
        return frame
    if arrays.spec.kind == "text":
        frame[spec.target] = arrays.decode_text(trainer.predict(arrays.x_test))
        return frame
    logits = trainer.predict(arrays.x_test)
    if spec.prediction == "probabilities":
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba = shifted / shifted.sum(axis=1, keepdims=True)
        for code, cls in enumerate(task.classes):
            frame[str(cls)] = proba[:, code]
    else:
        frame[spec.target] = task.classes[logits.argmax(axis=1)]
    return frame


def run_baseline(task_name: str, model_name: str, config: TrainConfig, *, run_dir: Path | None = None) -> BaselineRun:
    task = load_task(task_name)
    arrays = prepare(task, seed=config.seed)
    model = build(model_name, arrays.spec, config.seed)
    trainer = Trainer(model, arrays, config)
    result = trainer.fit(task.spec.primary_metric)
    predicting = time.perf_counter()  # the step is compiled already: validation predicted batches of this shape
    frame = predictions_frame(task, trainer, arrays)
    inference_seconds = time.perf_counter() - predicting
    if run_dir is not None:
        save_run(
            trainer,
            result,
            config,
            run_dir,
            {"task": task.name, "model": model_name, "metric": task.spec.primary_metric},
        )
    return BaselineRun(
        task,
        model_name,
        frame,
        result.best_val_score,
        count_parameters(model),
        result.seconds,
        best_epoch=result.best_epoch,
        epochs_run=len(result.curves),
        inference_seconds=inference_seconds,
    )


def write_predictions(run: BaselineRun, path: Path) -> None:
    """Write the predictions as CSV (gzip-compressed when the name ends in .gz) and check them as the server would.

    The gzip header carries no time (mtime 0), so the same predictions give the same bytes: shipped files stay
    byte-stable when re-made.
    """
    data = run.predictions.to_csv(index=False).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)
    read_submission(run.task, path)  # the file must pass the server's own validation


TIME_BUDGET = 170.0  # seconds: every reference run fits in 3 minutes on 2 CPU cores (ListOps: 5 minutes)


def config_for(task: str, model: str, **overrides) -> TrainConfig:
    settings = {
        "time_budget": TIME_BUDGET,
        **DEFAULTS.get((task, model), {}),
        **{k: v for k, v in overrides.items() if v is not None},
    }
    return TrainConfig(**settings)


def list_models() -> str:
    lines = ["task         models (first: the reference)"]
    for name in builtin_task_names():  # the spec is enough: no dataset is materialised to print this
        lines.append(f"{name:<12} {', '.join(models_for(load_spec(find_bundle(name))))}")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.list or not (args.task and args.model):
        print(list_models())
        return 0 if args.list else 2
    if args.model not in BUILDERS:
        print(f"unknown model '{args.model}'; models are: {', '.join(BUILDERS)}.", file=sys.stderr)
        return 2
    config = config_for(args.task, args.model, epochs=args.epochs, seed=args.seed, time_budget=args.time_budget)
    out = Path(args.out or f"{Path(args.task).name}-{args.model}-seed{config.seed}.csv")
    started = time.perf_counter()
    run = run_baseline(args.task, args.model, config, run_dir=out.with_suffix("") if not args.no_curves else None)
    write_predictions(run, out)
    metric = run.task.spec.primary_metric
    print(
        f"{run.task.name} / {run.model}: validation {metric} {run.val_score:.4f}; "
        f"{run.parameters:,} parameters; {time.perf_counter() - started:.0f} s; wrote {out}"
    )
    if args.submit:
        from arena.client import submit_file, wait_for_score

        answer = submit_file(
            args.server,
            args.token,
            run.task.name,
            out,
            note=f"baseline {run.model}, seed {config.seed}",
            baseline=True,
            baseline_model=run.model,  # its own row on the board: "baseline: cnn"
        )
        result = wait_for_score(args.server, args.token, answer["submission"]["id"])
        print(
            f"submitted as #{result['id']} (baseline): {result['status']}"
            + (f", public {metric} {result['public'][metric]}" if result["public"] else "")
        )
    return 0
