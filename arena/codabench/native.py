"""Beyond Codabench: notice when a scoring program computes a per-row metric Arena knows, and score it natively.

Detection is by experiment, not by reading code: Arena makes a few trial
submissions from the reference table (its target column with known mistakes),
runs the program on each in the sandbox, and compares the program's primary
score with each Arena metric on the same rows. A metric that matches on every
trial is offered; scored natively it gains 95% bootstrap intervals.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from arena.bundles.loading import Task
from arena.bundles.spec import TaskSpec
from arena.codabench.sandbox import ProgramError, run_program
from arena.errors import SubmissionError
from arena.intervals.confidence import bootstrap_confusion, bootstrap_rows
from arena.metrics.registry import confusion_matrix, get_metric
from arena.scoring.validation import DEFAULT_MAX_BYTES, Layout, read_submission

LABEL_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_micro",
    "f1_weighted",
    "precision_macro",
    "recall_macro",
)
VALUE_METRICS = ("mae", "rmse", "r2")
NATIVE_METRICS = LABEL_METRICS + VALUE_METRICS
TRIAL_ERRORS = (0.15, 0.35, 0.6)
SEED = 20240601


@dataclass(frozen=True)
class ReferenceTable:
    """The one table in a phase's reference data: its file, an id column (or row order) and the target column."""

    path: Path
    frame: pd.DataFrame
    id_column: str | int | None
    target: str | int
    header: bool

    @property
    def is_labels(self) -> bool:
        values = self.frame[self.target]
        if not pd.api.types.is_numeric_dtype(values):
            return True
        return bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0) and values.nunique() <= 20)


@dataclass(frozen=True)
class Detection:
    """What the host preview reports: the program's column, the matching Arena metric, and how it was checked."""

    column: str
    metric: str | None
    reference_file: str
    target: str
    trials: int
    note: str


def _read(path: Path, header: bool) -> pd.DataFrame:
    """The reference data, its delimiter chosen as an upload's is (:meth:`Layout.settled`): pandas' own guess
    takes a digit for the delimiter of a file of one number a line."""
    sep = Layout(()).settled(path, compressed=False).delimiter
    return pd.read_csv(path, sep=sep, header=0 if header else None, dtype=str, keep_default_na=False)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        numbers = pd.to_numeric(out[column], errors="coerce")
        if numbers.notna().all():
            out[column] = numbers
    return out


def reference_table(reference_dir: Path) -> ReferenceTable | None:
    """The reference data as one table of (id, target) or (target), or None when it is anything else."""
    files = [
        p for p in reference_dir.rglob("*") if p.is_file() and not p.name.startswith(".") and "__MACOSX" not in p.parts
    ]
    if len(files) != 1 or files[0].stat().st_size > 200 << 20:
        return None
    path = files[0]
    header = path.suffix.lower() in (".csv", ".tsv")
    try:
        frame = _typed(_read(path, header))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if len(frame) < 5 or frame.shape[1] not in (1, 2):
        return None
    if frame.shape[1] == 1:
        return ReferenceTable(path, frame, None, frame.columns[0], header)
    first, second = frame.columns
    if not frame[first].is_unique:
        return None
    return ReferenceTable(path, frame, first, second, header)


def _trial(table: ReferenceTable, error: float, rng: np.random.Generator) -> np.ndarray:
    truth = table.frame[table.target].to_numpy()
    n = len(truth)
    rows = rng.choice(n, size=max(1, int(error * n)), replace=False)
    pred = truth.copy()
    if table.is_labels:
        classes = np.unique(truth)
        if len(classes) < 2:
            return pred
        position = np.searchsorted(classes, truth[rows])
        pred[rows] = classes[(position + 1 + rng.integers(0, len(classes) - 1, size=len(rows))) % len(classes)]
    else:
        scale = float(np.std(truth.astype(float))) or 1.0
        pred = pred.astype(float)
        pred[rows] += rng.normal(0, scale, size=len(rows))
    return pred


def _write_like(table: ReferenceTable, pred: np.ndarray, path: Path) -> None:
    frame = table.frame.copy()
    frame[table.target] = pred
    sep = "\t" if table.path.suffix.lower() == ".tsv" else ","
    frame.to_csv(path, index=False, header=table.header, sep=sep)


def native_value(metric_name: str, truth: np.ndarray, pred: np.ndarray) -> tuple[float, tuple[float, float]]:
    """An Arena metric on aligned rows, with its 95% bootstrap interval."""
    metric = get_metric(metric_name)
    if metric.needs == "label":
        classes = np.unique(np.concatenate([truth.astype(str), pred.astype(str)]))
        cm = confusion_matrix(
            np.searchsorted(classes, truth.astype(str)), np.searchsorted(classes, pred.astype(str)), len(classes)
        )
        from_confusion = metric.confusion_function()
        return float(from_confusion(cm)), bootstrap_confusion(cm, from_confusion, seed=SEED)
    truth, pred = truth.astype(float), pred.astype(float)
    from_rows = metric.rows_function()
    return float(from_rows(truth, pred)), bootstrap_rows(truth, pred, from_rows, seed=SEED)


def detect(task) -> Detection:
    """Run the program on trial submissions and name the Arena metric that matches its primary score, if any."""
    column = task.spec.columns[0].key
    table = reference_table(task.reference_dir)
    if table is None:
        return Detection(
            column,
            None,
            "",
            "",
            0,
            "the reference data is not one table of ids and targets, "
            "so Arena cannot compare the program with its own metrics.",
        )
    truth = table.frame[table.target].to_numpy()
    candidates = list(LABEL_METRICS if table.is_labels else VALUE_METRICS)
    rng = np.random.default_rng(SEED)
    for error in TRIAL_ERRORS:
        pred = _trial(table, error, rng)
        with tempfile.TemporaryDirectory(prefix="arena-trial-") as tmp:
            res = Path(tmp)
            _write_like(table, pred, res / table.path.name)
            try:
                run = run_program(task.program_dir, task.reference_dir, res, time_limit=task.spec.time_limit)
            except ProgramError as exc:
                return Detection(
                    column,
                    None,
                    table.path.name,
                    str(table.target),
                    0,
                    f"the program could not score a trial submission: {'; '.join(exc.messages())}",
                )
        value = run.scores.get(column)
        candidates = [
            m
            for m in candidates
            if value is not None and abs(native_value(m, truth, pred)[0] - value) <= 1e-6 * max(1.0, abs(value))
        ]
        if not candidates:
            return Detection(
                column,
                None,
                table.path.name,
                str(table.target),
                0,
                f"'{column}' matches none of Arena's metrics on trial submissions.",
            )
    return Detection(
        column,
        candidates[0],
        table.path.name,
        str(table.target),
        len(TRIAL_ERRORS),
        f"'{column}' equals Arena's {candidates[0]} on column '{table.target}' of {table.path.name} "
        f"for {len(TRIAL_ERRORS)} trial submissions: Arena can score it natively, with 95% intervals.",
    )


def _names(table: ReferenceTable) -> list[str]:
    """The reference table's column names as text: a header's own, else "column 1", "column 2"."""
    return (
        [str(c) for c in table.frame.columns]
        if table.header
        else [f"column {i + 1}" for i in range(table.frame.shape[1])]
    )


def reference_task(task, table: ReferenceTable) -> Task:
    """The reference table as a bundle's task, which the common reader validates an upload against: the id column
    (or each row's position) and the target, a classification for a label metric, else a regression."""
    names = _names(table)
    target = names[-1]
    id_column = names[0] if table.id_column is not None else ("row" if target != "row" else "row number")
    answers = pd.DataFrame(
        {
            id_column: table.frame.iloc[:, 0].to_numpy()
            if table.id_column is not None
            else np.arange(len(table.frame)),
            target: table.frame[table.target].to_numpy(),
        }
    )
    labels = get_metric(task.spec.native).needs == "label"
    spec = TaskSpec(
        name=task.spec.name,
        title=task.spec.title,
        version=1,
        kind="classification" if labels else "regression",
        bundle_dir=Path(task.reference_dir),
        id_column=id_column,
        target=target,
        primary_metric=task.spec.native,
        prediction="label" if labels else "value",
    )
    return Task(spec=spec, train=answers.iloc[:0], test=answers[[id_column]], answers=answers)


def _in_order(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[order] = values
    return out


def score_natively(task, res: Path, *, max_bytes: int = DEFAULT_MAX_BYTES):
    """Score an upload with the Arena metric in place of the program: same file, same value, plus intervals.

    The file is read by the reader of every upload (:func:`arena.scoring.validation.read_submission`), laid out as
    the reference data is (with or without a header and an id column, commas or tabs), so each of its checks
    holds: size, binary files, ids, empty, NaN, infinite and out-of-range values, each named by its line.
    """
    from arena.scoring.score import Score

    table = reference_table(task.reference_dir)
    if table is None:
        raise ValueError("the reference data is no longer one table; host the phase with its scoring program.")
    files = [p for p in res.rglob("*") if p.is_file() and "__MACOSX" not in p.parts]
    named = [p for p in files if p.name == table.path.name]
    if len(named) != 1 and len(files) != 1:
        raise SubmissionError([f"upload one predictions file named {table.path.name} (alone or in a .zip)."])
    reference = reference_task(task, table)
    columns = _names(table) if table.id_column is not None else _names(table)[-1:]
    layout = Layout(tuple(columns), header=table.header, numbered=table.id_column is None)
    predictions = read_submission(reference, (named or files)[0], max_bytes=max_bytes, layout=layout)
    key = reference.answer_key
    found = predictions.label_codes() if key.classes is not None else predictions.values
    if found is None:
        raise ValueError(f"the reader gave no {reference.spec.prediction}s for {table.path.name}")
    truth, pred = (key.classes[key.truth], key.classes[found]) if key.classes is not None else (key.truth, found)
    # Back in the reference data's row order, as the program reads it (the key is in id order): the same
    # resampled rows, so the same interval, as before the reader was shared.
    order = reference.answers.sort_values(reference.spec.id_column, kind="stable").index.to_numpy()
    truth, pred = _in_order(truth, order), _in_order(pred, order)
    value, ci = native_value(task.spec.native, truth, pred)
    n = len(truth)
    return Score(
        primary=task.spec.native,
        higher_is_better=get_metric(task.spec.native).higher_is_better,
        public={task.spec.native: value},
        private={task.spec.native: value},
        public_ci=ci,
        private_ci=ci,
        n_public=n,
        n_private=n,
    )
