"""Score a submission: every declared metric on public and private rows, with bootstrap CIs.

This is the one scoring path; the CLI, the API, the web form and the workers all call
:func:`score_submission` (or :func:`score_predictions` on an already-read file).
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from arena.config import installation_secret
from arena.scoring.datasets import Task
from arena.scoring.metrics import get_metric
from arena.scoring.splits import public_mask, split_scope
from arena.scoring.stats import bootstrap_confusion, bootstrap_rows
from arena.scoring.validation import DEFAULT_MAX_BYTES, Predictions, read_submission

BOOTSTRAP_SEED = 20240601


@dataclass(frozen=True)
class Score:
    """Metric values of one submission on public and private rows, with a 95% CI for the primary."""

    primary: str
    higher_is_better: bool
    public: dict[str, float]
    private: dict[str, float]
    public_ci: tuple[float, float]
    private_ci: tuple[float, float]
    n_public: int
    n_private: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Score":
        return cls(**{**data, "public_ci": tuple(data["public_ci"]), "private_ci": tuple(data["private_ci"])})


_cache: dict[tuple, tuple[np.ndarray, np.ndarray | None]] = {}
_cache_lock = threading.Lock()


def _row_split(task: Task, public_fraction: float | None,
               split_key: str | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The public-row mask, for classification each row's base cell in the two confusion matrices,
    and the private-row mask (rows the answer file calls Ignored are in neither).

    All are the same for every upload to a competition, so they are computed once.
    The base cell is ``part * k * k + truth * k`` (part 0 private, 1 public, 2 ignored):
    adding a prediction code gives the row's cell, and one ``bincount`` builds both matrices.
    """
    key = task.answer_key
    fraction = task.spec.competition.public_fraction if public_fraction is None else public_fraction
    secret = installation_secret()
    scope = split_scope(task.name, split_key)
    cache_key = (scope, key.sha256, fraction, hashlib.sha256(secret).hexdigest())
    with _cache_lock:
        if cache_key not in _cache:
            if key.usage_public is not None:
                public = key.usage_public
            else:
                labels = key.truth if key.classes is not None else None  # stratified by class
                public = public_mask(key.ids, secret, scope, fraction, labels)
            part = public.astype(np.int64)
            if key.ignored is not None:
                part[key.ignored] = 2
                public = public & ~key.ignored
            private = part == 0
            base = None
            if key.classes is not None:
                k = len(key.classes)
                # The smallest integer type that holds every cell keeps the per-upload pass cheap.
                dtype = np.uint16 if 3 * k * k <= np.iinfo(np.uint16).max else np.int64
                base = (part * (k * k) + key.truth * k).astype(dtype)
            _cache[cache_key] = (public, base, private)
        return _cache[cache_key]


def public_rows(task: Task, public_fraction: float | None = None, *, split_key: str | None = None) -> np.ndarray:
    """Boolean mask over the answer key's rows: True where the row is public.

    A ``usage`` column in the bundle's answer file decides; otherwise the keyed hash
    of each id with this installation's secret and the competition's split key
    (the task name when there is none, as for ``arena score``).
    """
    return _row_split(task, public_fraction, split_key)[0]


def _prediction_for(metric, predictions: Predictions) -> np.ndarray:
    return {"probabilities": predictions.probabilities, "label": predictions.labels,
            "value": predictions.values}[metric.needs]


def score_predictions(task: Task, predictions: Predictions, *, public_fraction: float | None = None,
                      split_key: str | None = None) -> Score:
    """Score predictions already aligned with the answer key."""
    key = task.answer_key
    public, base, private = _row_split(task, public_fraction, split_key)
    metrics = [get_metric(name) for name in task.spec.metric_names]
    primary = metrics[0]
    results: dict[str, dict[str, float]] = {"public": {}, "private": {}}
    cis: dict[str, tuple[float, float]] = {}

    count_metrics = [m for m in metrics if m.from_confusion is not None]
    if count_metrics:
        k = len(key.classes)
        cell = predictions.labels.astype(base.dtype)
        np.add(cell, base, out=cell)
        cells = np.bincount(cell, minlength=3 * k * k).astype(np.float64)
        matrices = {"private": cells[: k * k].reshape(k, k), "public": cells[k * k: 2 * k * k].reshape(k, k)}
        for part, cm in matrices.items():
            for metric in count_metrics:
                results[part][metric.name] = float(metric.from_confusion(cm)) if cm.sum() else float("nan")
            if primary.from_confusion is not None:
                cis[part] = bootstrap_confusion(cm, primary.from_confusion, seed=BOOTSTRAP_SEED)

    row_metrics = [m for m in metrics if m.from_rows is not None]
    for part, rows in (("public", public), ("private", private)) if row_metrics else ():
        truth = key.truth[rows]
        for metric in row_metrics:
            pred = _prediction_for(metric, predictions)[rows]
            results[part][metric.name] = metric.from_rows(truth, pred) if len(truth) else float("nan")
            if metric is primary:
                cis[part] = bootstrap_rows(truth, pred, metric.from_rows, seed=BOOTSTRAP_SEED)

    names = [m.name for m in metrics]
    return Score(
        primary=primary.name,
        higher_is_better=primary.higher_is_better,
        public={name: results["public"][name] for name in names},
        private={name: results["private"][name] for name in names},
        public_ci=cis["public"],
        private_ci=cis["private"],
        n_public=int(public.sum()),
        n_private=int(private.sum()),
    )


def score_submission(task: Task, path: str | Path, *, public_fraction: float | None = None,
                     split_key: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Score:
    """Read, validate and score a predictions file (raises SubmissionError for a bad file)."""
    if hasattr(task, "score_file"):  # a Codabench/CodaLab phase: its program (or the native metric) scores the file
        return task.score_file(path, max_bytes=max_bytes)
    return score_predictions(task, read_submission(task, path, max_bytes=max_bytes), public_fraction=public_fraction,
                             split_key=split_key)


def rounded(value: float, digits: int = 4) -> float | None:
    """A score as shown to participants: no more precision than needed (and None for NaN).

    Extra digits would let a participant probe individual hidden labels.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def score(task: Task | str, file: str | Path, *, public_fraction: float | None = None) -> Score:
    """``score(task, file)``: a task (or its name or bundle folder) and a predictions file -> Score."""
    from arena.scoring.datasets import load_task

    return score_submission(load_task(task) if not isinstance(task, Task) else task, file, public_fraction=public_fraction)
