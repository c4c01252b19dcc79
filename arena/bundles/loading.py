"""Materialise a task: train, test features, answer key, their checksum, and a cache.

:func:`load_bundle` goes from a name or a bundle folder to a :class:`Task`; every task
reference, a Codabench phase's too, is opened by :func:`arena.tasks.load_task`.
Data problems (missing id column, duplicated ids, a class with one member, ...)
are collected with the spec's and reported together.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from arena.bundles.columns import COLUMNS_PREDICTION, sample_values
from arena.bundles.columns import describe as describe_columns
from arena.bundles.kinds import TEXT_TARGET_KINDS, label_matrix, relevance_column, sample_predictions, vocabulary
from arena.bundles.kinds import check_answers as check_kind_answers
from arena.bundles.sources import SPLIT_COLUMN, load_source, read_table, same_key_type
from arena.bundles.spec import TaskSpec, inspect_spec
from arena.bundles.splits import stratified_split
from arena.bundles.texts import TEXT_KIND, canonical_column, check_references, reference_column, sample_answer
from arena.config import cache_dir
from arena.errors import BundleError, Problem, UnknownTaskError, listed
from arena.metrics.ranking import ItemLists

USAGE_COLUMN = "usage"
USAGE_VALUES = ("public", "private", "ignored")
"""Kaggle's solution-file usages, in any case: Ignored rows are predicted but count on neither board."""
READER_VERSION = "2"
"""Part of every cache key: bump it when reading the same files gives other values or types."""


@dataclass(frozen=True)
class AnswerKey:
    """The hidden test labels, sorted by id and encoded for fast scoring.

    ``truth`` holds class codes (indexes into ``classes``) for classification, a boolean label matrix for
    multi-label, the queries' relevances (:class:`arena.metrics.ranking.ItemLists`) for ranking, each row's
    references (an object array of ``tuple[str, ...]``, :mod:`arena.bundles.texts`) for text and
    float64 values otherwise. ``usage_public`` is set when the bundle's answer file
    decides public/private rows itself (a ``usage`` column); ``ignored`` marks rows
    that column calls Ignored: participants predict them, no board counts them.
    """

    ids: np.ndarray
    truth: Any  # np.ndarray, or ItemLists for a ranking task: scoring branches on the task's kind, not this type
    classes: np.ndarray | None
    usage_public: np.ndarray | None
    sha256: str
    ignored: np.ndarray | None = None


@dataclass
class Task:
    """A loaded, validated bundle: data, id column, target, metrics, submission format."""

    spec: TaskSpec
    train: pd.DataFrame
    test: pd.DataFrame
    answers: pd.DataFrame = field(repr=False)
    answer_digest: str | None = field(default=None, repr=False)  # the answer key's SHA-256, hashed once per cache

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.test.columns if c != self.spec.id_column]

    @cached_property
    def classes(self) -> np.ndarray | None:
        """Sorted class labels (classification only); the order of probability columns."""
        target = self.spec.target
        if self.spec.kind == "multilabel":  # the labels, in the order of probability columns
            return vocabulary(self.train[target], self.answers[target])
        if not self.spec.is_classification:
            return None
        values = np.concatenate([self.train[target].to_numpy(), self.answers[target].to_numpy()])
        if (
            values.dtype.kind in "iub"
        ):  # whole-number labels: a hashed unique, then sort the few classes (10M: 4x faster)
            return np.sort(pd.unique(values))
        return np.unique(values)

    def known_classes(self) -> np.ndarray:
        """:attr:`classes`, where only a classification task can reach: an error naming the task otherwise."""
        classes = self.classes
        if classes is None:
            raise ValueError(f"task {self.spec.name!r} ({self.spec.kind}) has no classes")
        return classes

    @property
    def prediction_columns(self) -> list[str]:
        """Columns a submission must have besides the id column."""
        if self.spec.prediction == COLUMNS_PREDICTION:
            return [column.name for column in self.spec.submission_columns]
        if self.spec.prediction == "probabilities":
            return [str(c) for c in self.known_classes()]
        return [self.spec.target]

    @cached_property
    def answer_key(self) -> AnswerKey:
        spec = self.spec
        ordered = self.answers  # usually already in id order: checking costs far less than sorting
        if not ordered[spec.id_column].is_monotonic_increasing:
            ordered = ordered.sort_values(spec.id_column, kind="stable")
        ids = ordered[spec.id_column].to_numpy()
        if ids.dtype == object:
            ids = ids.astype(str)  # text ids compare with a submission's as fixed-width strings
        values = ordered[spec.target].to_numpy()
        truth: np.ndarray | ItemLists
        if spec.kind == "multilabel":
            truth = label_matrix(values, self.known_classes())
        elif spec.kind == "ranking":
            truth = relevance_column(values)
        elif spec.kind == TEXT_KIND:
            truth = reference_column(values)
        elif self.classes is not None:
            truth = np.searchsorted(self.classes, values).astype(np.int64)
        else:
            truth = values.astype(np.float64)
        usage = ignored = None
        if USAGE_COLUMN in ordered.columns:
            usage = (ordered[USAGE_COLUMN] == "public").to_numpy()
            ignored = (ordered[USAGE_COLUMN] == "ignored").to_numpy()
            ignored = ignored if ignored.any() else None
        return AnswerKey(
            ids=ids,
            truth=truth,
            classes=self.classes if spec.is_classification else None,
            usage_public=usage,
            sha256=self.answer_digest or answer_sha256(ordered, spec),
            ignored=ignored,
        )

    # --- what every task offers (arena.scoring.interface.TaskInterface), but scoring a file ----------------

    per_row_results = True
    """Scoring keeps each row's result, which the Ladder and rank intervals read."""

    @property
    def leaderboard_columns(self) -> tuple:
        """None: the board shows the task's metrics, not columns a scoring program reports."""
        return ()

    @property
    def scoring_timeout(self) -> float | None:
        """Seconds one scoring may take (None: the installation's)."""
        return self.spec.scoring_timeout

    def stored_ref(self, given: str | Path) -> str:
        """What a competition remembers of the task: a built-in's name, or the bundle's absolute folder."""
        return str(given) if str(given) in builtin_task_names() else str(self.spec.bundle_dir)

    def snapshot_folder(self, given: str | Path) -> Path | None:
        """The folder a hosted snapshot copies: the bundle's, unless the reference names a built-in (it ships with
        Arena)."""
        return None if str(given) in builtin_task_names() else Path(self.spec.bundle_dir)

    def describe(self) -> list[str]:
        """What ``arena tasks show`` prints."""
        spec = self.spec
        declared = getattr(spec, "submission_columns", ())
        form = f"{spec.prediction}: {describe_columns(declared)}" if declared else spec.prediction
        return [
            f"{spec.title} ({spec.name}, version {spec.version})",
            f"  kind:           {spec.kind} ({spec.modality})",
            f"  rows:           {len(self.train)} train, {len(self.test)} test",
            f"  id / target:    {spec.id_column} / {spec.target}",
            f"  metrics:        {spec.primary_metric} (primary), {', '.join(spec.other_metrics) or '-'}",
            f"  submission:     {spec.id_column},{listed(self.prediction_columns, sep=',')} ({form})",
            *self._text_lines(),
            *self._code_line(),
            f"  answer key sha256: {self.answer_key.sha256}",
        ]

    def _text_lines(self) -> list[str]:
        """For a text task: how answers are written and compared."""
        if self.spec.kind != TEXT_KIND:
            return []
        options = self.spec.text
        return [
            "  answers:        one text per row, kept exactly as written (CSV, JSON Lines or Parquet); "
            '"" is an empty answer',
            '  references:     one per answers cell, or several as a JSON list: ["Paris", "paris, France"]',
            f"  compared:       normalise = {options.normalise}, tolerance = {options.tolerance:g}, "
            f"stemming = {str(options.stemming).lower()}",
        ]

    def _code_line(self) -> list[str]:
        """For a code task: the entry point participants write, its main limits and the runtime."""
        code = getattr(self.spec, "code", None)
        if code is None:
            return []
        limits = code.limits
        return [
            f"  code:           {code.entry}(input_dir, output_dir) in main.py; {limits.wall_seconds} s, "
            f"{limits.memory_mb} MB, runtime {code.runtime}"
        ]

    def problems(self) -> list[Problem]:
        """What makes the loaded data unusable, beyond the spec's own checks; a subclass adds its layer's checks."""
        return check_kind_answers(self.spec, self.train, self.answers)

    def sample_submission(self) -> pd.DataFrame:
        """The organiser's own sample submission, if the bundle has one; else a valid, trivial one:
        the majority class, class frequencies, or the mean."""
        spec = self.spec
        if spec.sample_file is not None:
            text = [spec.target] if spec.prediction == "text" else []
            columns = [spec.id_column] + ([spec.target] if spec.prediction == "label" else [])
            frame = read_table(spec.sample_file, columns, exact=text)
            for column in columns:  # text in the answer key: text here too, even where it looks like a number
                if self.answers[column].dtype == object and column in frame.columns:
                    frame[column] = frame[column].astype(str).astype(object)
            return frame
        out = pd.DataFrame({spec.id_column: self.test[spec.id_column].to_numpy()})
        target = self.train[spec.target]
        if spec.prediction == COLUMNS_PREDICTION:
            return out.assign(**sample_values(spec.submission_columns, self.train))
        if spec.kind == TEXT_KIND:
            out[spec.target] = sample_answer(self.train, spec.target)
        elif spec.kind in TEXT_TARGET_KINDS:
            trivial = sample_predictions(spec, self.train, self.classes)
            if isinstance(trivial, pd.DataFrame):
                return out.assign(**{c: trivial[c].iloc[0] for c in trivial.columns})
            out[spec.target] = trivial
        elif spec.prediction == "label":
            out[spec.target] = target.mode().iloc[0]
        elif spec.prediction == "probabilities":
            frequencies = target.value_counts(normalize=True)
            classes = self.known_classes()
            for cls in classes:
                out[str(cls)] = round(float(frequencies.get(cls, 0.0)), 6)
            columns = [str(c) for c in classes]
            out[columns[-1]] = 1.0 - out[columns[:-1]].sum(axis=1)
        else:
            out[spec.target] = float(target.mean())
        return out


def answer_key_csv(answers: pd.DataFrame, spec: TaskSpec) -> bytes:
    """The answer key as canonical CSV (id, target[, usage], sorted by id, ``\\n`` line ends): what is hashed."""
    columns = [spec.id_column, spec.target] + ([USAGE_COLUMN] if USAGE_COLUMN in answers.columns else [])
    buffer = io.StringIO()
    answers.sort_values(spec.id_column, kind="stable")[columns].to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def answer_sha256(answers: pd.DataFrame, spec: TaskSpec) -> str:
    """SHA-256 of the answer key as canonical CSV: tells one answer key from another (never published:
    unsalted, a small key could be recovered from it by brute force)."""
    return hashlib.sha256(answer_key_csv(answers, spec)).hexdigest()


# --- finding bundles ---------------------------------------------------------------


def builtin_tasks_dir() -> Path:
    """The built-in bundles: the repository's ``tasks/`` folder, installed as ``arena.builtin_tasks``."""
    return Path(str(resources.files("arena.builtin_tasks")))


def builtin_task_names() -> list[str]:
    return sorted(p.parent.name for p in builtin_tasks_dir().glob("*/task.toml"))


def find_bundle(name_or_path: str | Path) -> Path:
    """A built-in task's folder by name, or any folder that holds a task.toml."""
    path = Path(name_or_path)
    if (path / "task.toml").is_file():
        return path
    candidate = builtin_tasks_dir() / str(name_or_path)
    if str(name_or_path).replace("-", "").replace("_", "").isalnum() and (candidate / "task.toml").is_file():
        return candidate
    names = ", ".join(builtin_task_names())
    raise UnknownTaskError(f"'{name_or_path}' is neither a built-in task ({names}) nor a folder with a task.toml.")


# --- building the splits -----------------------------------------------------------


def _check_table(frame: pd.DataFrame, where: str, spec: TaskSpec, *, needs_target: bool) -> list[Problem]:
    problems = []
    if spec.id_column not in frame.columns:
        problems.append(
            Problem(
                where,
                f"id column '{spec.id_column}' is absent; columns are: {listed(frame.columns)}.",
            )
        )
    else:
        ids = frame[spec.id_column]
        if ids.isna().any():
            rows = (np.flatnonzero(ids.isna().to_numpy())[:5] + 2).tolist()
            problems.append(Problem(where, f"id column '{spec.id_column}' has empty values (file lines {rows})."))
        duplicated = ids[ids.duplicated()].unique()
        if len(duplicated):
            problems.append(
                Problem(
                    where,
                    f"id column '{spec.id_column}' has {len(duplicated)} duplicated ids, e.g. {duplicated[:5].tolist()}; ids must be unique.",
                )
            )
    if needs_target:
        if spec.target not in frame.columns:
            problems.append(
                Problem(
                    where,
                    f"target column '{spec.target}' is absent; columns are: {listed(frame.columns)}.",
                )
            )
        elif frame[spec.target].isna().any() and spec.kind not in TEXT_TARGET_KINDS:  # no labels is a label set
            rows = (np.flatnonzero(frame[spec.target].isna().to_numpy())[:5] + 2).tolist()
            problems.append(Problem(where, f"target column '{spec.target}' has empty values (file lines {rows})."))
        elif spec.kind in ("regression", "forecasting") and not pd.api.types.is_numeric_dtype(frame[spec.target]):
            problems.append(Problem(where, f"target column '{spec.target}' must be numeric for a {spec.kind} task."))
    return problems


def _split_one_table(spec: TaskSpec, full: pd.DataFrame, where: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cut one table into train, test features and answer key (raises BundleError)."""
    problems = _check_table(full, where, spec, needs_target=True)
    if problems:
        raise BundleError(problems)
    if spec.test_fraction == 0:
        if SPLIT_COLUMN not in full.columns:
            raise BundleError([Problem(where, "has no canonical split; set [data] test_fraction between 0 and 1.")])
        is_test = (full[SPLIT_COLUMN] == "test").to_numpy()
        full = full.drop(columns=[SPLIT_COLUMN])
    else:
        labels = None
        if spec.is_classification:
            labels = full[spec.target].to_numpy()
            values, counts = np.unique(labels, return_counts=True)
            lonely = values[counts < 2]
            if len(lonely):
                raise BundleError(
                    [
                        Problem(
                            where,
                            f"classes with a single member cannot be split into train and test: {lonely[:10].tolist()}. Add rows or drop those classes.",
                        )
                    ]
                )
        is_test = stratified_split(labels, len(full), spec.test_fraction, spec.seed)
    train = full[~is_test].reset_index(drop=True)
    test_full = full[is_test].reset_index(drop=True)
    answer_columns = label_columns(spec, full.columns)
    answers = test_full[[spec.id_column, *answer_columns]]
    return train, test_full.drop(columns=answer_columns), answers


def label_columns(spec: TaskSpec, columns) -> list[str]:
    """The columns of a table that hold answers: the target, and the declared submission columns it holds
    (the several targets of a task with prediction = "columns"). Never features of the test set."""
    declared = [c.name for c in getattr(spec, "submission_columns", ())]
    return [spec.target] + [c for c in declared if c in set(columns) and c not in (spec.id_column, spec.target)]


def _read(path: Path, problems: list[Problem], key_columns: list[str], exact: list[str]) -> pd.DataFrame | None:
    try:
        return read_table(path, key_columns, exact=exact)
    except Exception as exc:  # any reader failure is a bundle problem to report, not a crash
        kind = "Parquet" if path.suffix == ".parquet" else "JSON Lines" if ".jsonl" in path.name else "CSV"
        problems.append(Problem(str(path), f"cannot be read as {kind}: {exc}"))
        return None


def _exact_columns(spec: TaskSpec) -> list[str]:
    """Columns read as text exactly as written: a text task's answers (``NA``, ``007`` and empty texts kept)."""
    return [spec.target] if spec.kind == TEXT_KIND else []


def _key_columns(spec: TaskSpec) -> list[str]:
    """Columns typed by their values: the id, a classification task's target, and declared text columns
    (a label ``0300`` in the answers stays ``0300``, as the submission's text does)."""
    text = [c.name for c in getattr(spec, "submission_columns", ()) if c.type == "text" and c.name != spec.target]
    return [spec.id_column] + ([spec.target] if spec.is_classification or spec.kind in TEXT_TARGET_KINDS else []) + text


def _usage_column(answers: pd.DataFrame, spec: TaskSpec, where: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Kaggle's ``Usage`` column under any case, renamed ``usage`` with values in lower case."""
    found = [c for c in answers.columns if str(c).lower() == USAGE_COLUMN and c not in (spec.id_column, spec.target)]
    if not found:
        return answers, []
    if len(found) > 1:
        return answers, [Problem(where, f"has {len(found)} usage columns ({', '.join(map(str, found))}); keep one.")]
    usage = answers[found[0]].astype("string").str.strip().str.lower()
    answers = answers.drop(columns=found).assign(**{USAGE_COLUMN: usage.astype(object)})
    bad = ~usage.isin(USAGE_VALUES).fillna(False).to_numpy(dtype=bool)
    problems = []
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 2).tolist()
        problems.append(Problem(where, f"column '{found[0]}' must be Public, Private or Ignored (file lines {rows})."))
    elif not (usage == "public").any() or not (usage == "private").any():
        problems.append(Problem(where, f"column '{found[0]}' needs at least one Public and one Private row."))
    return answers, problems


def _build(spec: TaskSpec) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    problems: list[Problem] = []
    keys = _key_columns(spec)
    if spec.train_file is not None:
        if spec.test_file is None or spec.answers_file is None:  # the spec's checks give all three or none
            raise ValueError(f"task {spec.name!r} has a train file but not its test and answers files")
        exact = _exact_columns(spec)
        train = _read(spec.train_file, problems, keys, exact)
        test = _read(spec.test_file, problems, [spec.id_column], exact)
        answers = _read(spec.answers_file, problems, keys, exact)
        for column in keys:
            same_key_type([train, test, answers], column)
        if train is not None:
            problems += _check_table(train, str(spec.train_file), spec, needs_target=True)
        if test is not None:
            problems += _check_table(test, str(spec.test_file), spec, needs_target=False)
        if answers is not None:
            problems += _check_table(answers, str(spec.answers_file), spec, needs_target=True)
        if problems or train is None or test is None or answers is None:  # a file not read is one of the problems
            raise BundleError(problems)
        answers, problems = _usage_column(answers, spec, str(spec.answers_file))
        problems += _check_answers_match(spec, train, test, answers)
    else:
        where = str(spec.data_file) if spec.data_file else f"source '{spec.source}'"
        full = _read(spec.data_file, problems, keys, _exact_columns(spec)) if spec.data_file else load_source(spec)
        if problems or full is None:  # a file not read is one of the problems
            raise BundleError(problems)
        train, test, answers = _split_one_table(spec, full, where)
    if spec.is_classification:
        train_classes = set(train[spec.target].unique().tolist())
        unseen = sorted(set(answers[spec.target].unique().tolist()) - train_classes, key=str)
        if unseen:
            problems.append(
                Problem(
                    "answers",
                    f"{len(unseen)} classes appear in the answer key but never in train "
                    f"(e.g. {unseen[:5]}); every class needs training rows.",
                )
            )
        if len(train_classes) < 2:
            problems.append(Problem("train", "a classification task needs at least two classes."))
    if spec.kind == TEXT_KIND:  # every answer cell gives a reference, before the key is built and hashed
        problems += check_references(spec, [(answers, spec.answers_file or spec.data_file or "answers")])
    if problems:
        raise BundleError(problems)
    if spec.kind == TEXT_KIND:  # several references as one JSON list, whatever file they came from
        train, answers = canonical_column(train, spec.target), canonical_column(answers, spec.target)
    return train, test, answers


def _check_answers_match(
    spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, answers: pd.DataFrame
) -> list[Problem]:
    problems = []
    if spec.target in test.columns:
        problems.append(
            Problem(
                str(spec.test_file),
                f"holds the target column '{spec.target}': test labels must live only in the answers file.",
            )
        )
    predicted = sorted(set(label_columns(spec, test.columns)) - {spec.target})
    if predicted:
        problems.append(
            Problem(
                str(spec.test_file),
                f"holds columns the submission predicts ([submission] columns): "
                f"{listed(predicted)}; test labels must live only in the answers file.",
            )
        )
    missing = set(train.columns) - set(label_columns(spec, train.columns)) - set(test.columns)
    if missing:
        problems.append(
            Problem(str(spec.test_file), f"lacks feature columns that train has: {listed(sorted(missing))}.")
        )
    test_ids, answer_ids = set(test[spec.id_column]), set(answers[spec.id_column])
    if test_ids != answer_ids:
        problems.append(
            Problem(
                str(spec.answers_file),
                f"ids differ from the test file's: {len(test_ids - answer_ids)} test ids have no answer, {len(answer_ids - test_ids)} answers have no test row.",
            )
        )
    return problems


# --- cache ---------------------------------------------------------------------------


_file_digests: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 of a data file, remembered by (path, mtime, size): pages call load_task often."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _file_digests:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
        _file_digests[key] = digest.hexdigest()
    return _file_digests[key]


def _fingerprint(spec: TaskSpec) -> str:
    """What the materialised task depends on: task.toml and the bytes of its data files."""
    digest = hashlib.sha256((spec.bundle_dir / "task.toml").read_bytes())
    digest.update(f"reader {READER_VERSION}".encode())
    for path in (spec.train_file, spec.test_file, spec.answers_file, spec.data_file, spec.sample_file):
        if path is not None:
            digest.update(_file_digest(path).encode())
    return digest.hexdigest()[:16]


_PARTS = ("train", "test", "answers")
_memory: dict[tuple[str, str, type], Task] = {}
_lock = threading.Lock()
TaskT = TypeVar("TaskT", bound=Task)


@overload
def load_bundle(name_or_path: str | Path) -> Task: ...
@overload
def load_bundle(name_or_path: str | Path, task_type: type[TaskT]) -> TaskT: ...
def load_bundle(name_or_path: str | Path, task_type: type[Task] = Task) -> Task:
    """Load and validate a task.toml bundle by built-in name or folder, using the on-disk cache.

    ``task_type`` is the class the task is made as (:class:`Task`, or a subclass whose :meth:`Task.problems`
    adds its layer's checks); every reference, a Codabench phase's too, is opened by
    :func:`arena.tasks.load_task`. Raises :class:`BundleError` (every problem at once) or
    :class:`UnknownTaskError`.
    """
    bundle = find_bundle(name_or_path)
    spec, problems = inspect_spec(bundle)
    if problems:
        if spec is not None:  # task.toml is wrong, but the data can be checked too: report both at once
            try:
                _build(spec)
            except BundleError as exc:
                problems = problems + exc.problems
        raise BundleError(problems)
    if spec is None:  # inspect_spec gives a spec whenever it finds no problem
        raise ValueError(f"{bundle}: task.toml gave neither a spec nor a problem")
    key = (str(spec.bundle_dir), _fingerprint(spec), task_type)
    with _lock:
        if key in _memory:
            return _memory[key]
        folder = cache_dir() / spec.name / f"v{spec.version}-{key[1]}"
        if all((folder / f"{part}.parquet").is_file() for part in _PARTS):
            train, test, answers = (pq.read_table(folder / f"{part}.parquet").to_pandas() for part in _PARTS)
        else:
            train, test, answers = _build(spec)
            _write_cache(folder, dict(zip(_PARTS, (train, test, answers))))
        task = task_type(spec=spec, train=train, test=test, answers=answers, answer_digest=_stored_digest(folder))
        if task.answer_digest is None:  # hashed once, when the task is first loaded (hosting it), then stored
            _store_digest(folder, task.answer_key.sha256)
        problems = task.problems()
        if problems:
            raise BundleError(problems)
        _memory[key] = task
        return task


_DIGEST_FILE = "answers.sha256"


def _stored_digest(folder: Path) -> str | None:
    """The answer key's SHA-256 stored beside its cached parts: a large key is never hashed twice."""
    try:
        text = (folder / _DIGEST_FILE).read_text().strip()
    except OSError:
        return None
    return text if len(text) == 64 else None


def _store_digest(folder: Path, digest: str) -> None:
    staging = folder / f".{_DIGEST_FILE}.{threading.get_ident()}"
    try:
        staging.write_text(digest)
        staging.replace(folder / _DIGEST_FILE)
    except OSError:  # a read-only cache: the key is hashed again next time, nothing worse
        pass


def _write_cache(folder: Path, parts: dict[str, pd.DataFrame]) -> None:
    """Write the parts into a temporary folder, then move it into place in one step."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent))
    for part, frame in parts.items():
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), staging / f"{part}.parquet")
    try:
        staging.rename(folder)
    except OSError:  # another process cached it first
        shutil.rmtree(staging, ignore_errors=True)
