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

from .config import installation_secret
from .datasets import Task
from .metrics import get_metric
from .splits import public_mask
from .stats import bootstrap_confusion, bootstrap_rows
from .submissions import DEFAULT_MAX_BYTES, Predictions, read_submission

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


_masks: dict[tuple, np.ndarray] = {}
_masks_lock = threading.Lock()


def public_rows(task: Task, public_fraction: float | None = None) -> np.ndarray:
    """Boolean mask over the answer key's rows: True where the row is public.

    A ``usage`` column in the bundle's answer file decides; otherwise the keyed hash
    of each id with this installation's secret. Cached: it is the same for every upload.
    """
    key = task.answer_key
    if key.usage_public is not None:
        return key.usage_public
    fraction = task.spec.competition.public_fraction if public_fraction is None else public_fraction
    secret = installation_secret()
    cache_key = (task.name, key.sha256, fraction, hashlib.sha256(secret).hexdigest())
    with _masks_lock:
        if cache_key not in _masks:
            _masks[cache_key] = public_mask(key.ids, secret, task.name, fraction)
        return _masks[cache_key]


def _values_on(task: Task, predictions: Predictions, rows: np.ndarray | None) -> dict[str, tuple]:
    """For each metric: (value, ci-or-None) on the selected rows."""
    truth = task.answer_key.truth if rows is None else task.answer_key.truth[rows]
    out = {}
    for name in task.spec.metric_names:
        metric = get_metric(name)
        if metric.from_confusion is not None:
            continue
        if metric.needs == "probabilities":
            pred = predictions.probabilities
        elif metric.needs == "label":
            pred = predictions.labels
        else:
            pred = predictions.values
        pred = pred if rows is None else pred[rows]
        value = metric.from_rows(truth, pred) if len(truth) else float("nan")
        out[name] = (value, truth, pred)
    return out


def score_predictions(task: Task, predictions: Predictions, *, public_fraction: float | None = None) -> Score:
    """Score predictions already aligned with the answer key."""
    key = task.answer_key
    public = public_rows(task, public_fraction)
    primary = get_metric(task.spec.primary_metric)
    results: dict[str, dict[str, float]] = {"public": {}, "private": {}}
    cis: dict[str, tuple[float, float]] = {}

    count_metrics = [get_metric(n) for n in task.spec.metric_names if get_metric(n).from_confusion is not None]
    if count_metrics:
        k = len(key.classes)
        # One pass builds both confusion matrices: cell index = (is_public, truth, prediction).
        cells = np.bincount(public.astype(np.int64) * (k * k) + key.truth * k + predictions.labels, minlength=2 * k * k)
        matrices = {"private": cells[: k * k].reshape(k, k).astype(np.float64),
                    "public": cells[k * k:].reshape(k, k).astype(np.float64)}
        for part, cm in matrices.items():
            for metric in count_metrics:
                results[part][metric.name] = float(metric.from_confusion(cm)) if cm.sum() else float("nan")
            if primary.from_confusion is not None:
                cis[part] = bootstrap_confusion(cm, primary.from_confusion, seed=BOOTSTRAP_SEED)

    for part, rows in (("public", public), ("private", ~public)):
        for name, (value, truth, pred) in _values_on(task, predictions, rows).items():
            results[part][name] = value
            if name == primary.name:
                cis[part] = bootstrap_rows(truth, pred, primary.from_rows, seed=BOOTSTRAP_SEED)

    order = list(task.spec.metric_names)
    return Score(
        primary=primary.name,
        higher_is_better=primary.higher_is_better,
        public={name: results["public"][name] for name in order},
        private={name: results["private"][name] for name in order},
        public_ci=cis["public"],
        private_ci=cis["private"],
        n_public=int(public.sum()),
        n_private=int((~public).sum()),
    )


def score_submission(task: Task, path: str | Path, *, public_fraction: float | None = None,
                     max_bytes: int = DEFAULT_MAX_BYTES) -> Score:
    """Read, validate and score a predictions file (raises SubmissionError for a bad file)."""
    return score_predictions(task, read_submission(task, path, max_bytes=max_bytes), public_fraction=public_fraction)


def rounded(value: float, digits: int = 4) -> float | None:
    """A score as shown to participants: no more precision than needed (and None for NaN).

    Extra digits would let a participant probe individual hidden labels.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)
