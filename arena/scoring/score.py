"""Score a submission: every declared metric on public and private rows, with bootstrap CIs.

This is the one scoring path; the CLI, the API, the web form and the workers all call
:func:`score_submission` (or :func:`score_predictions` on an already-read file); :func:`arena.tasks.score`
takes a task's name or folder.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from arena._fast import chunks, over_slices, scratch
from arena.bundles.loading import Task
from arena.bundles.splits import public_mask, split_scope
from arena.config import installation_secret
from arena.intervals import kaggle_metrics as kaggle_intervals
from arena.intervals import text as text_intervals
from arena.intervals.bootstrap import has_fast_path
from arena.intervals.confidence import Interval, metric_interval
from arena.intervals.row_results import row_results, text_row_results
from arena.intervals.weighted import answer_weights, confusion_interval, row_interval
from arena.metrics import text as text_metrics
from arena.metrics.plugins import check_value, plugin_metrics
from arena.metrics.ranking import ItemLists
from arena.metrics.registry import get_metric
from arena.scoring import one_pass
from arena.scoring.interface import TaskInterface
from arena.scoring.validation import DEFAULT_MAX_BYTES, Predictions, take_rows, whole_tables

BOOTSTRAP_SEED = 20240601


@dataclass(frozen=True)
class Score:
    """Metric values of one submission on public and private rows, each with its 95% CI.

    ``public_ci``/``private_ci`` are the primary metric's (the board's); ``public_cis``/``private_cis``
    hold every metric's, the primary's included (scores recorded before them lack them).
    """

    primary: str
    higher_is_better: bool
    public: dict[str, float | None]  # None: a column a Codabench scoring program did not write
    private: dict[str, float | None]
    public_ci: tuple[float, float] | tuple[None, None]  # (None, None): a Codabench program's score has none
    private_ci: tuple[float, float] | tuple[None, None]
    n_public: int
    n_private: int
    public_undefined: int = 0  # bootstrap resamples where the primary metric was undefined (left out of the CI)
    private_undefined: int = 0
    public_cis: dict[str, tuple[float, float]] = field(default_factory=dict)
    private_cis: dict[str, tuple[float, float]] = field(default_factory=dict)
    signatures: dict[str, str] = field(default_factory=dict)  # how a text metric was computed (sacrebleu's for BLEU)
    rows: np.ndarray | None = field(default=None, compare=False, repr=False)  # per-row results, not serialised

    def to_dict(self) -> dict:
        data = asdict(replace(self, rows=None))
        data.pop("rows")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Score:
        cis = {
            part: {name: tuple(ci) for name, ci in (data.get(part) or {}).items()}
            for part in ("public_cis", "private_cis")
        }
        return cls(**{**data, "public_ci": tuple(data["public_ci"]), "private_ci": tuple(data["private_ci"]), **cis})


class SplitName(NamedTuple):
    """What names a split: its scope, the answer key, the public share and the installation secret (hashed).

    It keys every per-split cache, here and in :mod:`arena.scoring.one_pass`."""

    scope: str
    answers: str
    fraction: float
    secret: str


_cache: dict[SplitName, tuple[np.ndarray, np.ndarray | None, np.ndarray]] = {}
_cache_lock = threading.Lock()


def _split_name(task: Task | TaskInterface, public_fraction: float | None, split_key: str | None) -> SplitName:
    fraction = task.spec.competition.public_fraction if public_fraction is None else public_fraction
    return SplitName(
        split_scope(task.name, split_key),
        task.answer_key.sha256,
        fraction,
        hashlib.sha256(installation_secret()).hexdigest(),
    )


def _row_split(task: Task | TaskInterface, split: SplitName) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The public-row mask, for classification each row's base cell in the two confusion matrices,
    and the private-row mask (rows the answer file calls Ignored are in neither).

    All are the same for every upload to a competition, so they are computed once.
    The base cell is ``part * k * k + truth * k`` (part 0 private, 1 public, 2 ignored):
    adding a prediction code gives the row's cell, and one ``bincount`` builds both matrices.
    """
    key = task.answer_key
    with _cache_lock:
        if split not in _cache:
            if key.usage_public is not None:
                public = key.usage_public
            else:
                labels = key.truth if key.classes is not None else None  # stratified by class
                public = public_mask(key.ids, installation_secret(), split.scope, split.fraction, labels)
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
            _cache[split] = (public, base, private)
        return _cache[split]


def public_rows(
    task: TaskInterface, public_fraction: float | None = None, *, split_key: str | None = None
) -> np.ndarray:
    """Boolean mask over the answer key's rows: True where the row is public.

    A ``usage`` column in the bundle's answer file decides; otherwise the keyed hash
    of each id with this installation's secret and the competition's split key
    (the task name when there is none, as for ``arena score``).
    """
    return _row_split(task, _split_name(task, public_fraction, split_key))[0]


def private_rows(
    task: TaskInterface, public_fraction: float | None = None, *, split_key: str | None = None
) -> np.ndarray:
    """Boolean mask over the answer key's rows: True where the row is private (neither public nor ignored)."""
    return _row_split(task, _split_name(task, public_fraction, split_key))[2]


def _prediction_for(metric, predictions: Predictions) -> np.ndarray | ItemLists | None:
    if metric.needs == "label":
        return predictions.label_codes()
    if metric.needs == "text":  # an organiser's metric: the answers as Python strings (built-ins read the column)
        return text_metrics.as_objects(predictions.texts) if predictions.texts is not None else None
    given = {
        "probabilities": predictions.probabilities,
        "value": predictions.values,
        "ranking": predictions.ranked,
    }
    return given.get(metric.needs)  # None: a table plugin


def task_metrics(task: Task) -> list:
    """The task's metrics, primary first: built-ins (bound to the task's classes, which qwk_kaggle weighs by value),
    and its plugins (whose code is imported here, only here)."""
    spec = task.spec
    plugins = plugin_metrics(spec.plugins, weighted=spec.weight is not None) if getattr(spec, "plugins", ()) else {}
    classes = task.classes if spec.is_classification else None
    text = getattr(spec, "text", None) if spec.kind == "text" else None  # a text task's normalisation and options
    return [
        plugins[name] if name in plugins else get_metric(name, classes, kind=spec.kind, text=text)
        for name in spec.metric_names
    ]


def score_predictions(
    task: Task, predictions: Predictions, *, public_fraction: float | None = None, split_key: str | None = None
) -> Score:
    """Score predictions already aligned with the answer key."""
    key = task.answer_key
    split = _split_name(task, public_fraction, split_key)
    public, base, private = _row_split(task, split)
    metrics = task_metrics(task)
    primary = metrics[0]
    weight = answer_weights(task)
    results: dict[str, dict[str, float]] = {"public": {}, "private": {}}
    cis: dict[str, dict[str, Interval]] = {"public": {}, "private": {}}

    count_metrics = [m for m in metrics if m.from_confusion is not None]
    if count_metrics:
        labels = predictions.label_codes()
        if key.classes is None or base is None or labels is None:  # count metrics are a classification task's
            raise AssertionError(f"{task.name}: count metrics need the task's classes and the predicted labels")
        k = len(key.classes)
        cells = _cell_counts(labels, base, weight, 3 * k * k)
        matrices = {"private": cells[: k * k].reshape(k, k), "public": cells[k * k : 2 * k * k].reshape(k, k)}
        for part, cm in matrices.items():
            rows = public if part == "public" else private
            for metric in count_metrics:
                results[part][metric.name] = float(metric.from_confusion(cm)) if cm.sum() else float("nan")
                if weight is not None:
                    cis[part][metric.name] = confusion_interval(
                        metric, key.truth[rows] * k + labels[rows], k, weight[rows], seed=BOOTSTRAP_SEED
                    )
                else:
                    cis[part][metric.name] = metric_interval(metric, cm=cm, seed=BOOTSTRAP_SEED)

    row_metrics = [m for m in metrics if m.from_rows is not None]
    plugin_names = {plugin.name for plugin in getattr(task.spec, "plugins", ())}
    primary_rows = None
    if weight is None:  # mean-type metrics: both parts from one pass over the rows
        parts = {"public": public, "private": private}
        for metric in [m for m in row_metrics if m.name in one_pass.NAMES]:
            given = _prediction_for(metric, predictions)
            if not isinstance(given, np.ndarray):  # one-pass metrics read labels, probabilities or values
                raise AssertionError(f"{metric.name}: no predictions to score in one pass")
            found = one_pass.blocked_score(metric.name, key.truth, given, parts, split, seed=BOOTSTRAP_SEED)
            for part in parts:
                results[part][metric.name], cis[part][metric.name] = found.values[part], found.intervals[part]
            if metric is primary:
                primary_rows = found.rows
        row_metrics = [m for m in row_metrics if m.name not in one_pass.NAMES]
        if any(m.name == "roc_auc" for m in row_metrics) and predictions.probabilities is not None:
            proba = predictions.probabilities
            auc_score = one_pass.binary_auc_score if proba.shape[1] == 2 else one_pass.multiclass_auc_score
            found_auc = auc_score(key.truth, proba, parts, split, seed=BOOTSTRAP_SEED)
            for part, (value, interval) in (found_auc or {}).items():
                results[part]["roc_auc"], cis[part]["roc_auc"] = value, interval
            if found_auc is not None:
                row_metrics = [m for m in row_metrics if m.name != "roc_auc"]
    # A text metric's per-row statistics, once for every answer-key row: both parts' values and intervals come from
    # them, and the primary's are the per-row results a suite's or a board's bootstrap resamples.
    answers = predictions.texts
    text_stats = {
        m.name: text_metrics.row_stats(m.name, key.truth, answers, m.text or text_metrics.DEFAULT)
        for m in row_metrics
        if m.needs == "text" and m.name not in plugin_names and len(key.truth) and answers is not None
    }
    for part, rows in (("public", public), ("private", private)) if row_metrics else ():
        truth, w = key.truth[rows], (weight[rows] if weight is not None else None)
        for metric in row_metrics:
            if len(truth) and metric.needs == "text" and metric.name in text_stats:  # from the statistics kept above
                results[part][metric.name], cis[part][metric.name] = text_intervals.stats_interval(
                    metric.name, text_stats[metric.name][rows], weight=w, seed=BOOTSTRAP_SEED
                )
                continue
            metric_truth, pred = (
                (key.truth, _prediction_for(metric, predictions))
                if metric.needs != "table"
                else whole_tables(task, predictions)
            )
            metric_truth, pred = take_rows(metric_truth, rows), take_rows(pred, rows)
            if (
                len(truth)
                and kaggle_intervals.handles(metric.name)
                and (w is None or kaggle_intervals.handles_weighted(metric.name))
            ):  # value and interval in one pass
                results[part][metric.name], cis[part][metric.name] = kaggle_intervals.value_and_interval(
                    metric.name, metric_truth, pred, seed=BOOTSTRAP_SEED, weight=w
                )
                continue
            if not len(truth):
                results[part][metric.name] = float("nan")
            else:
                results[part][metric.name] = metric.from_rows(
                    metric_truth, pred, **({"weight": w} if w is not None else {})
                )
            if w is None and has_fast_path(metric.name):
                cis[part][metric.name] = metric_interval(metric, metric_truth, pred, seed=BOOTSTRAP_SEED)
            else:  # weighted, new or an organiser's: the Bayesian bootstrap of arena.intervals.weighted
                cis[part][metric.name] = row_interval(metric, metric_truth, pred, w, seed=BOOTSTRAP_SEED)

    for part, rows in (("public", public), ("private", private)):
        for name in plugin_names & set(results[part]) if rows.any() else ():
            check_value(name, results[part][name])  # an organiser's metric must give a number where there are rows

    if primary_rows is None and primary.needs == "text" and primary.name in text_stats:
        primary_rows = text_row_results(primary.name, text_stats[primary.name])
    elif primary_rows is None:
        primary_pred = _prediction_for(primary, predictions)
        # A ranking metric's lists and a table plugin's tables keep no per-row record (nor does an organiser's
        # metric on text answers).
        kept = isinstance(primary_pred, np.ndarray) and primary.needs != "text"
        primary_rows = row_results(primary, key.truth, primary_pred) if kept else None  # type: ignore[arg-type]
    names = [m.name for m in metrics]
    signatures = {
        m.name: text_metrics.signature(m.name, m.text or text_metrics.DEFAULT)
        for m in metrics
        if m.needs == "text" and m.name not in plugin_names
    }
    return Score(
        primary=primary.name,
        higher_is_better=primary.higher_is_better,
        public={name: results["public"][name] for name in names},
        private={name: results["private"][name] for name in names},
        public_ci=cis["public"][primary.name].as_tuple(),
        private_ci=cis["private"][primary.name].as_tuple(),
        public_undefined=cis["public"][primary.name].undefined,
        private_undefined=cis["private"][primary.name].undefined,
        public_cis={name: cis["public"][name].as_tuple() for name in names},
        private_cis={name: cis["private"][name].as_tuple() for name in names},
        signatures=signatures,
        rows=primary_rows,
        n_public=int(public.sum()),
        n_private=int(private.sum()),
    )


def _cell_counts(labels: np.ndarray, base: np.ndarray, weight: np.ndarray | None, size: int) -> np.ndarray:
    """Rows (or their weights) per cell of the two confusion matrices, each row's cell being its base cell plus its
    predicted class: counted a few thousand rows at a time on every core, never a cell array of every row."""

    def count(rows: slice) -> np.ndarray:
        total = np.zeros(size)
        cell = scratch(rows, np.intp)
        for chunk in chunks(rows):
            at = cell[: chunk.stop - chunk.start]
            np.add(base[chunk], labels[chunk], out=at, casting="unsafe")
            total += np.bincount(at, weights=None if weight is None else weight[chunk], minlength=size)
        return total

    return np.sum(over_slices(count, len(labels)), axis=0)


def score_submission(
    task: TaskInterface,
    path: str | Path,
    *,
    public_fraction: float | None = None,
    split_key: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Score:
    """Score an uploaded file (raises SubmissionError for a bad file): a bundle's task reads and validates it and
    computes its metrics, a Codabench phase runs its program (or Arena's metric in its place)."""
    return task.score_file(path, public_fraction=public_fraction, split_key=split_key, max_bytes=max_bytes)


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A score as shown to participants: no more precision than needed (and None for NaN).

    Extra digits would let a participant probe individual hidden labels.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)
