"""TaskSpec: parse and validate ``task.toml``, reporting every problem at once."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena.bundles.columns import COLUMNS_PREDICTION, SubmissionColumn, read_columns
from arena.errors import BundleError, Problem
from arena.metrics import registry as metric_registry
from arena.metrics.plugins import PluginSpec, read_plugins

KINDS = ("classification", "regression", "forecasting", "multilabel", "ranking", "text")
PREDICTIONS = ("label", "probabilities", "value", "ranking", "text", COLUMNS_PREDICTION)
PREDICTIONS_OF_KIND = {
    "classification": ("label", "probabilities", COLUMNS_PREDICTION),
    "regression": ("value", COLUMNS_PREDICTION),
    "forecasting": ("value", COLUMNS_PREDICTION),
    "multilabel": ("label", "probabilities"),
    "ranking": ("ranking",),
    "text": ("text",),
}
COLUMNS_HINT = (
    ' With prediction = "columns" every metric is a plugin with needs = "table": '
    "it receives the submission's declared columns."
)
MODALITIES = ("tabular", "image", "sequence", "tokens", "series")
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz")
SAMPLE_SUBMISSION = "sample_submission.csv"
"""An organiser's own sample submission, used when the bundle holds a file of this name."""
SECTIONS = ("data", "metrics", "submission", "competition", "scoring")
MAX_SCORING_TIMEOUT = 86400
"""The longest [scoring] timeout a task may set: one day."""
DATES_HINT = "dates are not part of a task: set them when hosting (arena host --starts-at/--ends-at, or the Host page)."
KEY_HINTS = {
    "metric": 'the metric is set in [metrics] as primary = "..." (and others = [...] for more).',
    "deadline": DATES_HINT,
    "end_date": DATES_HINT,
    "ends_at": DATES_HINT,
    "start_date": DATES_HINT,
    "starts_at": DATES_HINT,
    "end": DATES_HINT,
    "start": DATES_HINT,
}
"""Keys organisers write by habit that are not task keys, with where the setting really lives."""


@dataclass(frozen=True)
class CompetitionDefaults:
    """Rules a task suggests; the organiser may change them when hosting."""

    public_fraction: float = 0.3
    daily_limit: int = 5
    total_limit: int | None = None
    team_size: int = 4
    final_selections: int = 2
    feedback: str | None = None  # None: the bundle names no mode, and hosting chooses (the Ladder for a bundle)


SUBMISSION_KINDS = ("file", "code")
RUNTIMES_HINT = (
    'runtime = "server" (the server\'s own Python and its packages) or "venv:FOLDER" (a virtual environment the '
    "organiser built in the bundle)"
)
LOG_POLICIES = ("sample", "always")
MAX_CODE_LIMITS = {
    "wall_seconds": 86400,
    "memory_mb": 1 << 20,
    "processes": 4096,
    "disk_mb": 1 << 20,
    "output_mb": 4096,
}
"""The most a [submission.limits] key may ask for: a day, and sizes no single machine has (the installation may lower
every limit further, never raise one)."""


@dataclass(frozen=True)
class CodeLimits:
    """What one run of a participant's program may use; the installation may lower each, never raise it."""

    wall_seconds: int = 600
    memory_mb: int = 2048
    processes: int = 32
    disk_mb: int = 512
    output_mb: int = 64


@dataclass(frozen=True)
class CodeSpec:
    """A code task's ``[submission]``: participants upload a program that Arena runs on the test inputs.

    ``runtime`` is ``"server"`` (the server's Python and its installed packages) or ``"venv:FOLDER"``: a virtual
    environment the organiser built once in the bundle, whose packages the program imports instead. ``logs`` says
    when a participant sees the program's output: ``"sample"`` only for dry runs on the public sample (a real run's
    output could carry the hidden inputs), ``"always"`` for every run.
    """

    entry: str = "predict"
    limits: CodeLimits = field(default_factory=CodeLimits)
    runtime: str = "server"
    logs: str = "sample"

    @property
    def runtime_folder(self) -> str | None:
        """The bundle's folder that holds the runtime's virtual environment; None for the server's own Python."""
        return self.runtime.partition(":")[2] if self.runtime.startswith("venv:") else None


FEEDBACK_MODES = {  # what participants see of public scores; a new mode adds a line here and its rule in the server
    "rounded": "every submission's public score, rounded to 4 decimals; a one-row change shows, so uploads can "
    "probe the public rows",
    "ladder": "the Ladder: a public score moves only when it beats the team's best by more than the noise; the "
    "default for a bundle that names no mode",
}


NORMALISATIONS = {
    "none": "answers compared exactly as written",
    "squad": "lower case, punctuation and the articles a, an, the removed, runs of spaces made one (SQuAD's rule)",
    "numeric": "answers read as numbers where they are, equal within the tolerance",
}
"""What ``[metrics] normalise`` may say for a text task, with what each does before answers are compared."""
TEXT_OPTION_KEYS = ("normalise", "tolerance", "stemming")


@dataclass(frozen=True)
class TextOptions:
    """A text task's declared comparison: ``[metrics] normalise``, ``tolerance`` and ``stemming``.

    The text metrics read them (``task.spec.text``); answers and references are stored exactly as written, and
    only a metric normalises them, so a task's normalisation can change without touching a file.
    """

    normalise: str = "none"
    tolerance: float = 0.0
    stemming: bool = False


@dataclass(frozen=True)
class TaskSpec:
    """A validated ``task.toml``. Paths are absolute; every field has been checked."""

    name: str
    title: str
    version: int
    kind: str
    bundle_dir: Path
    id_column: str
    target: str
    source: str | None = None
    train_file: Path | None = None
    test_file: Path | None = None
    answers_file: Path | None = None
    data_file: Path | None = None
    sample_file: Path | None = None
    test_fraction: float = 0.3
    seed: int = 0
    modality: str = "tabular"
    shape: tuple[int, ...] | None = None
    primary_metric: str = "accuracy"
    other_metrics: tuple[str, ...] = ()
    prediction: str = "label"
    competition: CompetitionDefaults = field(default_factory=CompetitionDefaults)
    description: str = ""
    weight: str | None = None
    plugins: tuple[PluginSpec, ...] = ()
    submission_columns: tuple[SubmissionColumn, ...] = ()  # declared with prediction = "columns"
    scoring_timeout: float | None = None  # [scoring] timeout: seconds one scoring may take (None: the installation's)
    code: CodeSpec | None = None  # [submission] kind = "code": participants upload a program (None: a file)
    starting_kit: str | None = None  # [submission] starting_kit: a folder of the bundle participants download
    text: TextOptions = field(default_factory=TextOptions)  # a text task's [metrics] normalise, tolerance, stemming

    @property
    def starting_kit_dir(self) -> Path | None:
        """The bundle's starting-kit folder, offered to participants as a zip (None: the task declares none)."""
        return self.bundle_dir / self.starting_kit if self.starting_kit else None

    @property
    def metric_names(self) -> tuple[str, ...]:
        return (self.primary_metric, *self.other_metrics)

    @property
    def higher_is_better(self) -> bool:
        """The primary metric's direction, read without importing any plugin code."""
        plugin = next((p for p in self.plugins if p.name == self.primary_metric), None)
        if plugin:
            return plugin.higher_is_better
        return metric_registry.get_metric(self.primary_metric, kind=self.kind).higher_is_better

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    @property
    def split_given(self) -> bool:
        """True when the data already say which rows are test rows."""
        return self.train_file is not None or (self.source is not None and self.test_fraction == 0)


class _Reader:
    """Reads typed values out of the parsed TOML, noting a problem for each bad one."""

    def __init__(self, raw: dict[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where
        self.problems: list[Problem] = []
        self.known: set[str] = set()
        self.bad: set[str] = set()

    def problem(self, key: str, message: str) -> None:
        self.bad.add(key)
        self.problems.append(Problem(f"{self.where} [{key}]", message))

    def get(self, key: str, kind: type | tuple[type, ...], *, required: bool = False, default: Any = None) -> Any:
        self.known.add(key)
        table, _, name = key.rpartition(".")
        node: Any = self.raw
        for part in filter(None, table.split(".")):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if not isinstance(node, dict) or name not in node:
            if required:
                self.problem(key, f"is required ({_describe(kind)}).")
            return default
        value = node[name]
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            self.problem(key, f"must be {_describe(kind)}, got {value!r}.")
            return default
        if not isinstance(value, kind):
            self.problem(key, f"must be {_describe(kind)}, got {value!r}.")
            return default
        return value

    def unknown_keys(self) -> None:
        """A problem for every key no ``get`` asked for, with the likely key it was meant to be."""
        tables = {key.partition(".")[0] for key in self.known if "." in key} | set(SECTIONS)
        for name, value in self.raw.items():
            if name in tables:
                if not isinstance(value, dict):
                    self.problem(name, f"must be a table: write [{name}] on a line of its own, its keys below it.")
                    continue
                for inner in value:
                    if f"{name}.{inner}" not in self.known:
                        self.problem(f"{name}.{inner}", self._unknown(inner, name))
            elif name not in self.known:
                if isinstance(value, dict):
                    close = difflib.get_close_matches(name, sorted(tables), n=1)
                    hint = f" Did you mean [{close[0]}]?" if close else ""
                    self.problem(name, f"unknown table.{hint} Tables are: {', '.join(f'[{t}]' for t in SECTIONS)}.")
                else:
                    self.problem(name, self._unknown(name, ""))

    def _unknown(self, name: str, table: str) -> str:
        if name in KEY_HINTS:
            return f"unknown key: {KEY_HINTS[name]}"
        here = sorted(k.rpartition(".")[2] for k in self.known if k.rpartition(".")[0] == table)
        close = difflib.get_close_matches(name, here, n=1)
        if close:
            return f"unknown key. Did you mean '{close[0]}'?"
        elsewhere = sorted(self.known, key=lambda k: k.count("."))
        by_name = {k.rpartition(".")[2]: k for k in reversed(elsewhere)}
        close = difflib.get_close_matches(name, sorted(by_name), n=1)
        if close:
            table_of, _, key = by_name[close[0]].rpartition(".")
            place = f"[{table_of}]" if table_of else "the top of the file (before any [table])"
            return f"unknown key here. Did you mean '{key}' in {place}?"
        known = ", ".join(here) if here else "none"
        return f"unknown key. Keys allowed {'in [' + table + ']' if table else 'at the top'}: {known}."


def _describe(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "a whole number", float: "a number", list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _feeds(prediction: str, needs: str) -> bool:
    """Whether a submission of this form gives a metric what it needs (a table plugin takes any form)."""
    if needs == "table":
        return True
    return prediction != COLUMNS_PREDICTION and needs in metric_registry.needs_for_prediction(prediction)


def _data_file(reader: _Reader, bundle: Path, key: str, value: str | None) -> Path | None:
    if value is None:
        return None
    path = (bundle / value).resolve()
    if not str(value).endswith(DATA_SUFFIXES):
        reader.problem(
            key, f"'{value}' must be a CSV (.csv, .csv.gz), JSON Lines (.jsonl, .jsonl.gz) or Parquet (.parquet) file."
        )
    elif not path.is_file():
        reader.problem(key, f"file '{value}' does not exist in {bundle}.")
    elif bundle.resolve() not in path.parents:
        reader.problem(key, f"'{value}' must lie inside the bundle folder.")
    return path


def _text_options(r: _Reader, kind: str) -> TextOptions:
    """``[metrics] normalise``, ``tolerance`` and ``stemming``: how a text task's metrics compare answers."""
    normalise = r.get("metrics.normalise", str)
    tolerance = r.get("metrics.tolerance", (int, float))
    stemming = r.get("metrics.stemming", bool)
    given = [k for k, v in zip(TEXT_OPTION_KEYS, (normalise, tolerance, stemming)) if v is not None]
    if kind != "text":
        for key in given:
            r.problem(f"metrics.{key}", f'applies to text tasks only (kind = "text"); this task is a {kind} task.')
        return TextOptions()
    if normalise is not None and normalise not in NORMALISATIONS:
        close = difflib.get_close_matches(normalise.lower(), list(NORMALISATIONS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        r.problem(
            "metrics.normalise",
            f"'{normalise}' is not a normalisation.{hint} Choose one of: "
            + "; ".join(f"'{name}' ({what})" for name, what in NORMALISATIONS.items())
            + ".",
        )
        normalise = None
    if tolerance is not None and not (0 <= tolerance < float("inf")):
        r.problem("metrics.tolerance", f"must be a number of 0 or more, got {tolerance}.")
        tolerance = None
    return TextOptions(
        normalise=normalise or "none",
        tolerance=float(tolerance or 0.0),
        stemming=bool(stemming),
    )


def _starting_kit(r: _Reader, bundle: Path, hidden: tuple[Path | None, ...]) -> str | None:
    """``[submission] starting_kit``: a folder inside the bundle, handed to every participant as a zip, so it must
    not hold the hidden test inputs or the answer key (``hidden``). Returns the folder as written, or None."""
    folder = r.get("submission.starting_kit", str)
    if folder is None:
        return None
    key, example = "submission.starting_kit", ' e.g. starting_kit = "starting_kit".'
    path, root = bundle / folder, bundle.resolve()
    if not folder.strip() or Path(folder).is_absolute() or root not in path.resolve().parents:
        r.problem(key, f"'{folder}' must name a folder inside the bundle (a path relative to task.toml),{example}")
        return None
    if any(part.startswith(".") for part in Path(folder).parts):
        r.problem(key, f"'{folder}' is hidden (its name starts with '.'), and hosting copies no hidden files.{example}")
        return None
    if path.is_symlink():
        r.problem(key, f"'{folder}' is a link; hosting copies no links. Make it a real folder in the bundle.")
        return None
    if not path.is_dir():
        if path.exists():
            r.problem(key, f"'{folder}' is a file; starting_kit names a folder of the files participants start from.")
            return None
        here = (
            sorted(p.name for p in bundle.iterdir() if p.is_dir() and not p.name.startswith("."))
            if bundle.is_dir()
            else []
        )
        close = difflib.get_close_matches(folder, here, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else f" Folders in the bundle: {', '.join(here) or 'none'}."
        r.problem(key, f"there is no folder '{folder}' in {bundle}.{hint}")
        return None
    resolved = path.resolve()
    leaks = [p.name for p in hidden if p is not None and resolved in p.resolve().parents]
    if leaks:
        r.problem(
            key,
            f"'{folder}' holds {', '.join(leaks)}, which must stay hidden: every participant downloads the starting "
            "kit. Keep the data files outside the starting-kit folder.",
        )
        return None
    if not any(p.is_file() and not p.name.startswith(".") for p in path.rglob("*")):
        r.problem(key, f"'{folder}' is empty: put the files participants start from (e.g. main.py, README.md) in it.")
        return None
    return folder


def _code_spec(r: _Reader, bundle: Path) -> CodeSpec | None:
    """``[submission] kind``, and for a code task its entry, ``[submission.limits]``, runtime and logs."""
    kind = r.get("submission.kind", str, default="file")
    entry = r.get("submission.entry", str)
    limits = r.get("submission.limits", dict)
    runtime = r.get("submission.runtime", str)
    logs = r.get("submission.logs", str)
    if kind not in SUBMISSION_KINDS:
        close = difflib.get_close_matches(kind, SUBMISSION_KINDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        r.problem(
            "submission.kind",
            f"'{kind}' is not a kind of submission.{hint} Use \"file\" (participants upload predictions) or "
            '"code" (participants upload a program that Arena runs on the test inputs).',
        )
        return None
    if kind == "file":
        for key, value in (("entry", entry), ("limits", limits), ("runtime", runtime), ("logs", logs)):
            if value is not None:
                r.problem(f"submission.{key}", 'applies to code submissions only: add kind = "code" to [submission].')
        return None
    if entry is not None and not entry.isidentifier():
        r.problem("submission.entry", f"'{entry}' is not a Python function name; e.g. entry = \"predict\".")
    chosen = {}
    for key, value in (limits or {}).items():
        if key not in MAX_CODE_LIMITS:
            close = difflib.get_close_matches(key, list(MAX_CODE_LIMITS), n=1)
            hint = f"Did you mean '{close[0]}'? " if close else ""
            r.problem(f"submission.limits.{key}", f"unknown limit. {hint}Limits are: {', '.join(MAX_CODE_LIMITS)}.")
        elif isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CODE_LIMITS[key]:
            r.problem(
                f"submission.limits.{key}", f"must be a whole number from 1 to {MAX_CODE_LIMITS[key]}, got {value!r}."
            )
        else:
            chosen[key] = value
    if runtime is not None and runtime != "server":
        folder = runtime.partition(":")[2] if runtime.startswith("venv:") else None
        path = (bundle / folder).resolve() if folder else None
        if path is None:
            r.problem("submission.runtime", f"'{runtime}' is not a runtime: use {RUNTIMES_HINT}.")
        elif bundle.resolve() not in path.parents:
            r.problem("submission.runtime", f"'{folder}' must be a folder inside the bundle.")
        elif not (path / "pyvenv.cfg").is_file():
            r.problem(
                "submission.runtime",
                f"'{folder}' is not a virtual environment in the bundle (it has no pyvenv.cfg). Build it once in the "
                f"bundle folder with the server's Python: python -m venv {folder} && {folder}/bin/pip install PACKAGES.",
            )
    if logs is not None and logs not in LOG_POLICIES:
        close = difflib.get_close_matches(logs, LOG_POLICIES, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        r.problem(
            "submission.logs",
            f"'{logs}' is not a log policy.{hint} Use \"sample\" (the program's output is shown for dry runs on the "
            'public sample only) or "always" (for every run: only when its output cannot carry the test inputs).',
        )
    return CodeSpec(
        entry=entry or "predict",
        limits=CodeLimits(**chosen),
        runtime=runtime or "server",
        logs=logs if logs in LOG_POLICIES else "sample",
    )


def load_spec(bundle_dir: str | Path) -> TaskSpec:
    """Read and validate ``bundle_dir/task.toml``.

    Raises :class:`BundleError` listing every problem found, each with the file,
    the key and what is expected.
    """
    spec, problems = inspect_spec(bundle_dir)
    if problems:
        raise BundleError(problems)
    if spec is None:  # inspect_spec gives a spec whenever it finds no problem
        raise ValueError(f"{bundle_dir}: task.toml gave neither a spec nor a problem")
    return spec


DATA_KEYS = ("kind", "data")
"""Keys the data stage depends on: while one of them is wrong, the data files are not read."""


def inspect_spec(bundle_dir: str | Path) -> tuple[TaskSpec | None, list[Problem]]:
    """Every problem of ``task.toml``, and a spec good enough to check the data files with.

    The spec has defaults in place of wrong values; it is None when the data cannot be
    located or read as described (a problem with ``kind`` or a ``[data]`` key), so the
    next stage (reading and checking the data) runs whenever it can, and a bundle's
    problems are all reported at once. Raises :class:`BundleError` only when there is
    no ``task.toml`` to read.
    """
    bundle = Path(bundle_dir)
    toml_path = bundle / "task.toml"
    where = str(toml_path)
    if not toml_path.is_file():
        raise BundleError([Problem(str(bundle), "has no task.toml; a task bundle is a folder with a task.toml in it.")])
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [Problem(where, f"is not valid TOML: {exc}.")]

    r = _Reader(raw, where)
    name = r.get("name", str, required=True, default="")
    if name and not all(c.isalnum() or c in "-_" for c in name):
        r.problem("name", f"'{name}' may hold only letters, digits, '-' and '_'.")
    title = r.get("title", str, default=name)
    version = r.get("version", int, required=True, default=1)
    if isinstance(version, int) and version < 1:
        r.problem("version", "must be 1 or more.")
    kind = r.get("kind", str, required=True, default="classification")
    if kind not in KINDS:
        close = difflib.get_close_matches(kind.lower(), KINDS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        r.problem("kind", f"'{kind}' is not one of: {', '.join(KINDS)}.{hint}")

    source = r.get("data.source", str)
    train = r.get("data.train", str)
    test = r.get("data.test", str)
    answers = r.get("data.answers", str)
    single = r.get("data.file", str)
    if source is not None:
        from arena.bundles.sources import BUILTIN_SOURCES

        if source not in BUILTIN_SOURCES:
            r.problem(
                "data.source", f"unknown source '{source}'. Built-in sources: {', '.join(sorted(BUILTIN_SOURCES))}."
            )
    given_files = [k for k, v in (("train", train), ("test", test), ("answers", answers)) if v is not None]
    if sum([source is not None, single is not None, bool(given_files)]) != 1:
        r.problem(
            "data",
            'give exactly one of: source = "..."; file = "all.csv" (split by Arena); or train, test and answers files.',
        )
    elif given_files and len(given_files) != 3:
        missing = sorted({"train", "test", "answers"} - set(given_files))
        r.problem(
            "data", f"with separate files, train, test and answers are all needed; missing: {', '.join(missing)}."
        )

    test_fraction = r.get("data.test_fraction", (int, float), default=0.3 if single else 0.0)
    if single is not None and not 0 < test_fraction < 1:
        r.problem("data.test_fraction", f"must be between 0 and 1 (exclusive), got {test_fraction}.")
    if source is not None and not 0 <= test_fraction < 1:
        r.problem("data.test_fraction", "must be at least 0 and below 1 (0 keeps the source's own split).")
    modality = r.get("data.modality", str, default="tabular")
    if modality not in MODALITIES:
        r.problem("data.modality", f"'{modality}' is not one of: {', '.join(MODALITIES)}.")
    shape = r.get("data.shape", list)
    if shape is not None and not all(isinstance(s, int) and s > 0 for s in shape):
        r.problem("data.shape", "must be a list of positive whole numbers, e.g. [8, 8].")

    primary = r.get("metrics.primary", str, required=True, default="")
    others = r.get("metrics.others", list, default=[])
    prediction = r.get("submission.prediction", str, required=True, default="label")
    if prediction not in PREDICTIONS:
        r.problem("submission.prediction", f"'{prediction}' is not one of: {', '.join(PREDICTIONS)}.")
    elif kind in KINDS and prediction not in PREDICTIONS_OF_KIND[kind]:
        quoted = [f"'{p}'" for p in PREDICTIONS_OF_KIND[kind]]
        expected = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
        r.problem("submission.prediction", f"a {kind} task needs prediction = {expected}.")
    plugins = read_plugins(r.get("metrics.plugin", list), bundle, r.problem)
    text_options = _text_options(r, kind)
    declared = {plugin.name: plugin for plugin in plugins}
    for key, metric_name in [("metrics.primary", primary)] + [("metrics.others", o) for o in others]:
        if not isinstance(metric_name, str) or not metric_name:
            r.problem(key, f"metric names must be non-empty strings, got {metric_name!r}.")
            continue
        if metric_name in declared:
            needs = declared[metric_name].needs
            if prediction in PREDICTIONS and not _feeds(prediction, needs):
                r.problem(
                    key,
                    f"plugin '{metric_name}' needs {needs} predictions, but [submission] prediction = "
                    f"'{prediction}'.{COLUMNS_HINT if prediction == COLUMNS_PREDICTION else ''}",
                )
            continue
        if not metric_registry.is_known(metric_name):
            r.problem(key, metric_registry.unknown_metric_message(metric_name))
            continue
        metric = metric_registry.get_metric(metric_name, kind=kind)
        if kind in KINDS and kind not in metric.kinds:
            r.problem(key, f"'{metric.name}' is not a {kind} metric.")
        elif prediction in PREDICTIONS and not _feeds(prediction, metric.needs):
            r.problem(
                key,
                f"'{metric.name}' needs {metric.needs} predictions, but [submission] prediction = "
                f"'{prediction}'.{COLUMNS_HINT if prediction == COLUMNS_PREDICTION else ''}",
            )

    public_fraction = r.get("competition.public_fraction", (int, float), default=0.3)
    if not 0 < public_fraction < 1:
        r.problem("competition.public_fraction", f"must be between 0 and 1 (exclusive), got {public_fraction}.")
    limits = {}
    for key, default in (("daily_limit", 5), ("team_size", 4), ("final_selections", 2), ("total_limit", None)):
        value = r.get(f"competition.{key}", int, default=default)
        if value is not None and value < 1:
            r.problem(f"competition.{key}", f"must be 1 or more, got {value}.")
        limits[key] = value
    feedback = r.get("competition.feedback", str)  # absent: hosting chooses (see FEEDBACK_MODES)
    if feedback is not None and feedback not in FEEDBACK_MODES:
        r.problem(
            "competition.feedback",
            f"'{feedback}' is not a feedback mode; choose one of: "
            + "; ".join(f"'{mode}' ({what})" for mode, what in FEEDBACK_MODES.items())
            + ".",
        )

    id_column = r.get("data.id", str, default="id")
    target = r.get("data.target", str, default="label")
    for key, column in (("data.id", id_column), ("data.target", target)):
        if not column.strip():
            r.problem(key, 'must name a column of the data files, e.g. "id".')
    if id_column == target and id_column.strip():
        r.problem("data.target", f"must differ from [data] id (both are '{id_column}').")
    submission_columns = read_columns(r.get("submission.columns", dict), prediction, id_column, r.problem)
    weight = r.get("data.weight", str)
    if weight is not None and (not weight.strip() or weight in (id_column, target)):
        r.problem(
            "data.weight", "must name a column of the answers file that holds each row's weight (not the id or target)."
        )
    elif weight is not None and answers is None:
        r.problem("data.weight", "a weight column lives in the answers file: give train, test and answers files.")
    sample = r.get("data.sample_submission", str)
    if sample is None and (bundle / SAMPLE_SUBMISSION).is_file():
        sample = SAMPLE_SUBMISSION
    spec_kwargs = dict(
        train_file=_data_file(r, bundle, "data.train", train),
        test_file=_data_file(r, bundle, "data.test", test),
        answers_file=_data_file(r, bundle, "data.answers", answers),
        data_file=_data_file(r, bundle, "data.file", single),
        sample_file=_data_file(r, bundle, "data.sample_submission", sample),
    )
    seed = r.get("data.seed", int, default=0)
    scoring_timeout = r.get("scoring.timeout", (int, float))
    if scoring_timeout is not None and not 1 <= scoring_timeout <= MAX_SCORING_TIMEOUT:
        r.problem(
            "scoring.timeout", f"must be a number of seconds from 1 to {MAX_SCORING_TIMEOUT}, got {scoring_timeout}."
        )
        scoring_timeout = None
    code = _code_spec(r, bundle)
    hidden = (spec_kwargs["test_file"], spec_kwargs["answers_file"], spec_kwargs["data_file"])
    starting_kit = _starting_kit(r, bundle, hidden)
    # Every key is read above this line: a key nobody asked for is a typo or a misplaced setting.
    r.unknown_keys()
    if any(key.partition(".")[0] in DATA_KEYS and (key in r.known or "." not in key) for key in r.bad):
        return None, r.problems
    readme = bundle / "README.md"
    return TaskSpec(
        name=name,
        title=title,
        version=version,
        kind=kind,
        bundle_dir=bundle.resolve(),
        id_column=id_column,
        target=target,
        source=source,
        test_fraction=float(test_fraction),
        seed=seed,
        modality=modality,
        shape=tuple(shape) if shape else None,
        primary_metric=metric_registry.ALIASES.get(primary, primary),
        other_metrics=tuple(metric_registry.ALIASES.get(o, o) for o in others),
        prediction=prediction,
        competition=CompetitionDefaults(public_fraction=float(public_fraction), feedback=feedback, **limits),
        description=readme.read_text(encoding="utf-8") if readme.is_file() else "",
        weight=weight,
        plugins=plugins,
        submission_columns=submission_columns,
        scoring_timeout=float(scoring_timeout) if scoring_timeout is not None else None,
        code=code,
        starting_kit=starting_kit,
        text=text_options,
        **spec_kwargs,
    ), r.problems
