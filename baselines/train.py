"""One training loop for every model and task.

AdamW with linear warmup and cosine decay; a validation split cut from train;
early stopping on the task's primary metric; fully seeded. Text answers train
teacher-forced (cross-entropy over each answer's characters and its end mark,
padding masked) and are predicted by greedy decoding inside the compiled function. The step is a pure
function of the parameters (``nnx.split`` once, ``nnx.merge`` inside ``jax.jit``),
which is much cheaper per call than ``nnx.jit`` walking the object graph. The
parameters travel as one flat vector: a call passes three arrays instead of a few
hundred, and AdamW updates them in one pass instead of one per weight.
"""

from __future__ import annotations

import csv
import ctypes
import json
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.flatten_util import ravel_pytree
from tqdm.auto import tqdm

from arena.metrics.registry import confusion_matrix, get_metric

from .data import BOS, PAD, Arrays


@dataclass
class TrainConfig:
    """Everything that decides a training run; the same config and seed give the same predictions."""

    epochs: int = 40
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    warmup_fraction: float = 0.05
    patience: int = 10
    seed: int = 0
    time_budget: float | None = None  # seconds; no epoch starts that would overrun it
    progress: bool = True
    buckets: int = 4  # token inputs: batches of similar length, cut to it (1: every batch at full length)
    train_rows: int | None = None  # train on the first N training rows only (quick checks)


@dataclass
class TrainResult:
    best_epoch: int
    best_val_score: float
    curves: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def validation_score(metric_name: str, outputs: np.ndarray, arrays: Arrays) -> float:
    """The task's primary metric on the validation split (in the target's original units)."""
    if arrays.spec.kind == "text":  # outputs: the decoded ids; each row's accepted answers as the truth
        metric = get_metric(metric_name, kind="text", text=arrays.text_options)
        references = np.empty(len(arrays.val_references), dtype=object)
        references[:] = arrays.val_references
        return float(metric.from_rows(references, np.asarray(arrays.decode_text(outputs), dtype=object)))
    metric = get_metric(metric_name)
    if arrays.spec.regression:
        mean, std = arrays.target_scale
        return metric.from_rows(arrays.y_val * std + mean, outputs[:, 0] * std + mean)
    if metric.from_confusion is not None:
        return float(metric.from_confusion(confusion_matrix(arrays.y_val, outputs.argmax(1), arrays.spec.n_outputs)))
    if metric.needs == "probabilities":
        return metric.from_rows(arrays.y_val, np.asarray(jax.nn.softmax(outputs, axis=-1)))
    return metric.from_rows(arrays.y_val, outputs.argmax(1))


def bucket_widths(arrays: Arrays, buckets: int) -> tuple[list[int], np.ndarray | None]:
    """Batch widths for token inputs: length quantiles of the training rows, rounded up to multiples of 8.

    Token rows are left-padded, so a batch cut to its last ``width`` columns keeps
    every real token; the models ignore padding, so the cut changes no output.
    """
    full = arrays.x_train.shape[1] if arrays.x_train.ndim > 1 else 0
    if arrays.spec.kind not in ("tokens", "text") or buckets <= 1 or len(arrays.x_train) == 0:
        return [full], None
    lengths = (arrays.x_train != PAD).sum(axis=1)
    quantiles = np.quantile(lengths, np.arange(1, buckets + 1) / buckets)
    return sorted({min(full, int(np.ceil(q / 8) * 8)) for q in quantiles}), lengths


def batch_plan(
    rng: np.random.Generator, n: int, batch_size: int, widths: list[int], lengths: np.ndarray | None
) -> list[tuple[np.ndarray, int]]:
    """One epoch of full batches ``(rows, width)``: each row goes to the narrowest width that holds it.

    A bucket's last partial batch moves on to the next wider bucket; fewer than
    ``batch_size`` rows are left out of an epoch. With several widths the order of
    the batches is shuffled too.
    """
    order = rng.permutation(n)
    if n < batch_size:  # tiny data sets: sample with replacement to fill one batch
        return [(rng.choice(n, batch_size), widths[-1])]
    bucket = np.zeros(n, int) if lengths is None else np.searchsorted(widths, lengths[order])
    plan, left = [], order[:0]
    for i, width in enumerate(widths):
        rows = np.concatenate([left, order[bucket == i]])
        full = len(rows) // batch_size * batch_size
        plan += [(rows[b : b + batch_size], width) for b in range(0, full, batch_size)]
        left = rows[full:]
    if len(widths) > 1:
        plan = [plan[i] for i in rng.permutation(len(plan))]
    return plan


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)
_SCRATCH_BYTES = 1 << 30


def reuse_freed_memory() -> None:
    """Let the C allocator hand XLA's per-step scratch memory back out instead of mapping fresh pages.

    XLA's CPU runtime allocates the scratch space of each call afresh: tens of
    megabytes for a training step, above the largest size (32 MB) that glibc's
    malloc ever serves from its heap on its own. So every step mapped new memory
    and took a page fault on each of its pages: the dates Transformer's step spent
    about a quarter of its time in the kernel. Raising the thresholds makes
    freed blocks of up to 1 GiB reusable; the process keeps that memory until it
    ends. Nothing happens outside glibc (macOS, musl) or off the CPU.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc" or jax.default_backend() != "cpu":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, _SCRATCH_BYTES)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * _SCRATCH_BYTES)


class Trainer:
    """Holds the split model, its parameters as one flat vector, and the compiled step and predict functions."""

    def __init__(self, model: nnx.Module, arrays: Arrays, config: TrainConfig) -> None:
        if config.train_rows is not None:
            arrays = replace(
                arrays, x_train=arrays.x_train[: config.train_rows], y_train=arrays.y_train[: config.train_rows]
            )
        self.arrays, self.config = arrays, config
        self.widths, self.lengths = bucket_widths(arrays, config.buckets)
        reuse_freed_memory()
        self.graphdef, params, self.rest = nnx.split(model, nnx.Param, ...)
        self.flat, unravel = ravel_pytree(params)
        self._unravel = unravel
        steps = max(2, config.epochs * max(1, len(arrays.x_train) // config.batch_size))
        warmup = min(steps - 1, max(1, int(steps * config.warmup_fraction)))
        schedule = optax.warmup_cosine_decay_schedule(
            0.0, config.learning_rate, warmup, steps, config.learning_rate * 0.01
        )
        self.tx = optax.adamw(schedule, weight_decay=config.weight_decay)
        self.opt_state = self.tx.init(self.flat)
        regression, text = arrays.spec.regression, arrays.spec.kind == "text"
        graphdef, tx = self.graphdef, self.tx

        def loss_fn(flat, rest, x, y):
            model = nnx.merge(graphdef, unravel(flat), rest)
            if text:  # teacher forcing: the decoder reads the answer shifted right behind a start mark
                y_in = jnp.concatenate([jnp.full((y.shape[0], 1), BOS, y.dtype), y[:, :-1]], axis=1)
                losses = optax.softmax_cross_entropy_with_integer_labels(model(x, y_in), y)
                real = (y != PAD).astype(losses.dtype)
                return (losses * real).sum() / real.sum()
            out = model(x)
            if regression:
                return jnp.mean((out[:, 0] - y) ** 2)
            return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

        def train_step(flat, opt_state, rest, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(flat, rest, x, y)
            updates, opt_state = tx.update(grads, opt_state, flat)
            return optax.apply_updates(flat, updates), opt_state, loss

        def forward(flat, rest, x):
            model = nnx.merge(graphdef, unravel(flat), rest)
            return model.generate(x) if text else model(x)

        self._step = jax.jit(train_step, donate_argnums=(0, 1))
        self._forward = jax.jit(forward)

    @property
    def params(self) -> Any:
        """The parameters as the model's tree (``nnx.State``), named as in the model."""
        return self._unravel(self.flat)

    def predict(self, x: np.ndarray, flat: Any = None, batch: int = 512) -> np.ndarray:
        """Model outputs in fixed-size batches (the last one padded), so nothing recompiles."""
        flat = self.flat if flat is None else flat
        if len(x) == 0:
            spec = self.arrays.spec
            if spec.kind == "text":
                return np.zeros((0, spec.target_length), np.int32)
            return np.zeros((0, spec.n_outputs), np.float32)
        outputs = []
        for start in range(0, len(x), batch):
            chunk = x[start : start + batch]
            padded = (
                np.concatenate([chunk, np.repeat(chunk[-1:], batch - len(chunk), axis=0)])
                if len(chunk) < batch
                else chunk
            )
            outputs.append(np.asarray(self._forward(flat, self.rest, padded))[: len(chunk)])
        return np.concatenate(outputs)

    def fit(self, metric_name: str) -> TrainResult:
        config, arrays = self.config, self.arrays
        rng = np.random.default_rng(config.seed)
        higher = get_metric(metric_name).higher_is_better
        best = (-np.inf if higher else np.inf, -1, np.array(self.flat))
        curves, started, waited = [], time.perf_counter(), 0
        bar = tqdm(range(config.epochs), desc="training", unit="epoch", disable=not config.progress)
        full = self.widths[-1]
        for epoch in bar:
            losses = []
            for rows, width in batch_plan(rng, len(arrays.x_train), config.batch_size, self.widths, self.lengths):
                x = arrays.x_train[rows] if width == full else arrays.x_train[rows, -width:]
                self.flat, self.opt_state, loss = self._step(
                    self.flat, self.opt_state, self.rest, x, arrays.y_train[rows]
                )
                losses.append(loss)
            train_loss = float(np.mean(jax.device_get(losses)))
            score = validation_score(metric_name, self.predict(arrays.x_val), arrays)
            elapsed = time.perf_counter() - started
            curves.append({"epoch": epoch + 1, "train_loss": train_loss, "val_score": score, "seconds": elapsed})
            bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{score:.4f}")
            if (score > best[0]) if higher else (score < best[0]):
                best, waited = (score, epoch + 1, np.array(self.flat)), 0
            else:
                waited += 1
            epoch_seconds = elapsed - (curves[-2]["seconds"] if len(curves) > 1 else 0.0)
            if waited >= config.patience or (config.time_budget and elapsed + epoch_seconds > config.time_budget):
                break  # patience spent, or another epoch would overrun the time budget
        bar.close()
        self.flat = jnp.asarray(best[2])
        return TrainResult(
            best_epoch=best[1], best_val_score=float(best[0]), curves=curves, seconds=time.perf_counter() - started
        )


def save_run(trainer: Trainer, result: TrainResult, config: TrainConfig, folder: Path, meta: dict) -> None:
    """Curves (JSON, CSV, PNG), the config, and the best parameters as a plain .npz checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "curves.json").write_text(json.dumps(result.curves, indent=1))
    with open(folder / "curves.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "train_loss", "val_score", "seconds"])
        writer.writeheader()
        writer.writerows(result.curves)
    (folder / "run.json").write_text(
        json.dumps(
            {
                **meta,
                "config": asdict(config),
                "best_epoch": result.best_epoch,
                "best_val_score": result.best_val_score,
                "seconds": result.seconds,
            },
            indent=1,
        )
    )
    flat = {
        jax.tree_util.keystr(path): np.asarray(leaf)
        for path, leaf in jax.tree_util.tree_leaves_with_path(trainer.params)
    }
    np.savez(folder / "best_params.npz", **flat)
    plot_curves(result.curves, folder / "curves.png", meta.get("metric", "score"))


def plot_curves(curves: list[dict[str, float]], path: Path, metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [c["epoch"] for c in curves]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(epochs, [c["train_loss"] for c in curves])
    left.set(xlabel="epoch", ylabel="training loss", yscale="log")
    right.plot(epochs, [c["val_score"] for c in curves], color="tab:green")
    right.set(xlabel="epoch", ylabel=f"validation {metric}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
