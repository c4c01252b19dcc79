"""A Codabench or CodaLab bundle phase as a task: scored by the bundle's own program, in the sandbox.

A task reference names the bundle (a folder or a .zip with ``competition.yaml``)
and, after ``#``, the organiser's hosting options: the phase, optionally the Arena
metric that replaces the program, and ``code_only=1`` for a phase with an
ingestion program that takes code only: ``/srv/bundles/x#phase=2``,
``x.zip#phase=1&native=accuracy`` or ``x#phase=1&code_only=1``. Without a
fragment it is the first phase, scored by the program.

In a phase with an ingestion program an upload that holds code runs first
(:mod:`arena.codabench.ingestion`) and the scoring program scores its prediction
output; an upload of results only is scored as it is, unless the phase is
code-only.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pandas as pd

from arena.bundles.archives import MAX_UNPACKED_BYTES, safe_unzip
from arena.bundles.loading import AnswerKey, answer_sha256
from arena.bundles.spec import CompetitionDefaults, TaskSpec
from arena.codabench.bundle import Column, CompetitionBundle, Phase, is_competition_bundle, load_competition, slug_of
from arena.codabench.ingestion import holds_code, ingestion_command, predict
from arena.codabench.sandbox import APP, FILE, LOG_TAIL, PROGRAM, TIME, ProgramError, program_command, run_sandboxed
from arena.config import cache_dir
from arena.errors import ArenaError, BundleError, Problem, SubmissionError
from arena.scoring.score import Score

log = logging.getLogger("arena.programs")

PROGRAM_START_SECONDS = 60
"""A program's scoring may take its phase's time limit plus this (unpacking, starting the sandbox)."""

NO_DAILY_LIMIT = 1000
"""A competition's daily limit for a phase with none (max_submissions_per_day 0 or null) and no total limit either:
Arena's competitions always have a daily limit, and one this high is never reached by hand."""


@dataclass(frozen=True)
class ProgramSpec(TaskSpec):
    """A phase of a bundle described in TaskSpec's words: kind ``program``, the primary column as the metric."""

    ref: str = ""
    columns: tuple[Column, ...] = ()
    phase_name: str = ""
    time_limit: int = 600
    native: str | None = None
    ingestion: bool = False  # the phase runs uploads of code through its ingestion program
    code_only: bool = False  # the organiser takes no uploads of results only (``code_only=1``)

    @property
    def higher_is_better(self) -> bool:
        if self.native:
            from arena.metrics.registry import get_metric

            return get_metric(self.native).higher_is_better
        return self.columns[0].higher_is_better


# What a participant may learn when the program gives no score: one of these, with its hint, and
# never anything the program wrote (its output, its scores' keys or values, its exit status).
FILE_NOT_SCORED = "Your file could not be scored."
FAILED_ON_OUR_SIDE = "The scoring program failed on our side."
TIME_LIMIT = "Time limit: scoring your file took longer than this phase allows."
PARTICIPANT_MESSAGES = {
    FILE: (
        FILE_NOT_SCORED,
        "Check that the upload holds the files, names and format the competition's instructions "
        "ask for. This attempt does not count against your limits.",
    ),
    PROGRAM: (
        FAILED_ON_OUR_SIDE,
        "This attempt does not count against your limits; the organisers can see what went wrong.",
    ),
    TIME: (TIME_LIMIT, "This attempt does not count against your limits."),
}
CODE_FAILED = "Your code stopped with an error while it ran on the test inputs."
CODE_TIME_LIMIT = "Time limit: your code took longer than this phase allows."
PARTICIPANT_CODE_MESSAGES = {
    FILE: (
        CODE_FAILED,
        "Run it with the competition's starting kit to see why, and check that the upload holds the files and "
        "names the instructions ask for. This attempt does not count against your limits.",
    ),
    PROGRAM: PARTICIPANT_MESSAGES[PROGRAM],
    TIME: (CODE_TIME_LIMIT, "This attempt does not count against your limits."),
}
"""What a participant sees when the prediction step (their code, run by the ingestion program) fails."""
RESULTS_REFUSED = (
    "This phase takes code only: upload your model's code (for example model.py, zipped), which the competition's "
    "ingestion program runs on the test inputs. An upload of results only (predictions files) is not scored here."
)


class ProgramFailed(SubmissionError):
    """The program gave no score for a file.

    ``messages()`` is one fixed message and its fixed hint (PARTICIPANT_MESSAGES), all a
    participant sees. ``reason`` says exactly why and ``log`` holds the reason followed by
    the program's output: both are for the organisers only.
    """

    headline = "The scoring program could not score this submission"

    def __init__(self, verdict: str = FILE, reason: str = "", output: str = "", code: bool = False) -> None:
        verdict = verdict if verdict in PARTICIPANT_MESSAGES else FILE
        super().__init__(list((PARTICIPANT_CODE_MESSAGES if code else PARTICIPANT_MESSAGES)[verdict]))
        self.verdict, self.reason, self.output, self.code = verdict, reason, output, code
        what = "prediction step" if code else "scoring program"
        self.log = f"reason: {reason}" + (
            f"\n\n{what} output (its last {LOG_TAIL} characters):\n{output}"
            if output
            else f"\n\nthe {what} wrote no output."
        )

    def __reduce__(self):
        return type(self), (self.verdict, self.reason, self.output, self.code)


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame({"file": pd.Series([], dtype=str)})


@dataclass
class ProgramTask:
    """One phase of a bundle: its reference data, its scoring program and the leaderboard columns.

    It implements :class:`arena.scoring.interface.TaskInterface` on its own: a phase has no rows, classes or
    prediction columns of Arena's, so it takes nothing from a bundle's task (:class:`arena.bundles.loading.Task`).
    """

    spec: ProgramSpec
    answers: pd.DataFrame = field(repr=False)  # the reference data's and the program's files, by SHA-256
    bundle: CompetitionBundle
    phase: Phase
    program_dir: Path
    reference_dir: Path
    ingestion_dir: Path | None = None  # the phase's ingestion program, which runs uploads of code
    input_dir: Path | None = None  # the input data it reads
    train: pd.DataFrame = field(default_factory=_no_rows, repr=False)  # a phase's data ship with the bundle
    test: pd.DataFrame = field(default_factory=_no_rows, repr=False)

    per_row_results = False
    """The program gives one number per file, no per-row results."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def answer_key(self) -> AnswerKey:
        """The files that decide a score (reference data and program), by SHA-256: what a new version changes."""
        return AnswerKey(
            ids=np.array([]),
            truth=np.array([]),
            classes=None,
            usage_public=None,
            sha256=answer_sha256(self.answers, self.spec),
        )

    @property
    def prediction_columns(self) -> list[str]:
        """None: the upload is whatever files the competition's instructions ask for."""
        return []

    def sample_submission(self) -> pd.DataFrame:
        """Empty: a phase's sample submission, if any, ships with its bundle in its own format."""
        return pd.DataFrame()

    @property
    def leaderboard_columns(self) -> tuple[Column, ...]:
        """The program's columns, shown on the board in place of metrics (none when Arena's metric replaces it)."""
        return () if self.spec.native else self.spec.columns

    @property
    def scoring_timeout(self) -> float:
        """The phase's time limit for each sandbox run (two with an ingestion program), plus time to start them."""
        runs = 2 if self.ingestion_dir is not None else 1
        return runs * self.spec.time_limit + runs * PROGRAM_START_SECONDS

    def stored_ref(self, given: str | Path) -> str:
        """The bundle's folder and the phase (and the native metric)."""
        return self.spec.ref

    def snapshot_folder(self, given: str | Path) -> Path | None:
        """None: a Codabench bundle keeps its own folder."""
        return None

    def describe(self) -> list[str]:
        return describe(self)

    def check_file(self, path: str | Path) -> str:
        """Only the phase's own scoring program can check an upload: say so, and how to run it."""
        raise ArenaError(
            f"{self.name} is a Codabench or CodaLab phase: its uploads are checked by its own scoring program. "
            f"Run `arena score {self.spec.ref} {path}` to check and score it."
        )

    def score_file(
        self,
        path: str | Path,
        *,
        public_fraction: float | None = None,
        split_key: str | None = None,
        max_bytes: int = MAX_UNPACKED_BYTES,
        file_name: str | None = None,
    ) -> Score:
        """Score an upload (the zip or file a participant would give Codabench); a phase has no public and private
        rows, so ``public_fraction`` and ``split_key`` change nothing."""
        spec: ProgramSpec = self.spec
        with tempfile.TemporaryDirectory(prefix="arena-res-") as tmp:
            res = Path(tmp) / "res"
            _place_submission(Path(path), res, file_name, max_bytes)
            if self.ingestion_dir is not None:
                res = self._predictions(res, Path(tmp) / "predictions")
            if spec.native:
                from arena.codabench.native import score_natively

                return score_natively(self, res, max_bytes=max_bytes)
            mounts = [(self.program_dir, f"{APP}/program"), (self.reference_dir, f"{APP}/input/ref")]
            mounts.append((res, f"{APP}/input/res"))
            if self.ingestion_dir is not None and self.input_dir is not None:  # Codabench mounts it in both steps
                mounts.append((self.input_dir, f"{APP}/input_data"))
            try:
                run = run_sandboxed(program_command(self.program_dir), mounts, time_limit=spec.time_limit)
            except ProgramError as exc:
                if exc.ours:
                    raise
                log.warning("scoring program of %s failed: %s\n%s", spec.ref, exc.report(), exc.log)
                raise ProgramFailed(exc.verdict, "; ".join(exc.messages()), exc.log) from None
        primary = spec.columns[0].key
        if primary not in run.scores:
            given = ", ".join(repr(key[:100]) for key in list(run.scores)[:20]) or "none"
            log.warning("scoring program of %s wrote no '%s': %s\n%s", spec.ref, primary, given, run.log)
            raise ProgramFailed(
                PROGRAM,
                f"the scoring program gave no '{primary}' score (the first leaderboard "
                f"column); the scores it gave: {given}.",
                run.log,
            )
        values = {c.key: run.scores.get(c.key) for c in spec.columns}
        return Score(
            primary=primary,
            higher_is_better=spec.higher_is_better,
            public=values,
            private=dict(values),
            public_ci=(None, None),
            private_ci=(None, None),
            n_public=0,
            n_private=0,
        )

    def _predictions(self, upload: Path, output: Path) -> Path:
        """The folder the scoring program scores: the upload itself when it holds results only (unless the phase is
        code-only), else the prediction output of the ingestion program run on it as Codabench runs it."""
        if not holds_code(upload):
            if self.spec.code_only:
                raise SubmissionError([RESULTS_REFUSED])
            return upload
        assert self.ingestion_dir is not None
        try:
            predict(self.ingestion_dir, upload, self.input_dir, output, time_limit=self.spec.time_limit)
        except ProgramError as exc:
            if exc.ours:
                raise
            log.warning("prediction step of %s failed: %s\n%s", self.spec.ref, exc.report(), exc.log)
            raise ProgramFailed(exc.verdict, "; ".join(exc.messages()), exc.log, code=True) from None
        return output


def _place_submission(upload: Path, res: Path, file_name: str | None, max_bytes: int) -> None:
    """Put the upload in ``input/res`` as Codabench does: a zip unpacked, any other file as it is."""
    res.mkdir(parents=True)
    if zipfile.is_zipfile(upload):
        try:
            safe_unzip(upload, res, max_bytes)
        except BundleError as exc:
            raise SubmissionError(exc.messages()) from None
    else:
        shutil.copyfile(upload, res / Path(file_name or "predictions").name)


def parse_ref(ref: str | Path) -> tuple[Path, int, str | None]:
    """The bundle path, the phase number (1-based) and the native metric of a task reference."""
    text = str(ref)
    path, _, fragment = text.partition("#")
    query = parse_qs(fragment)
    try:
        phase = int(query.get("phase", ["1"])[0])
    except ValueError:
        raise BundleError(
            [Problem(text, "the phase after '#phase=' must be a number, e.g. bundle.zip#phase=2.")]
        ) from None
    return Path(path), phase, query.get("native", [None])[0]


def is_code_only(ref: str | Path) -> bool:
    """The hosting option ``code_only=1`` of a task reference: the phase takes no uploads of results only."""
    values = parse_qs(str(ref).partition("#")[2]).get("code_only", ["0"])
    if values[-1] not in ("0", "1"):
        raise BundleError([Problem(str(ref), "'code_only' must be 1 (code only) or 0 (code or results).")])
    return values[-1] == "1"


def is_program_ref(ref: str | Path) -> bool:
    """True when the reference names a Codabench/CodaLab bundle (a folder or .zip with competition.yaml)."""
    if not str(ref).strip():
        return False
    path = parse_ref(ref)[0] if "#" in str(ref) else Path(ref)
    if path.is_dir():
        return is_competition_bundle(path)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zipped:
            return any(Path(n).name == "competition.yaml" and "__MACOSX" not in n for n in zipped.namelist())
    return False


_digests: dict[tuple[str, int, int, int], str] = {}


def _digest(path: Path) -> str:
    """A file's SHA-256, remembered while its size, time and inode stay the same: a phase is loaded for every job,
    and its input data may be large."""
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
    if key in _digests:
        return _digests[key]
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if len(_digests) > 100_000:
        _digests.clear()
    _digests[key] = digest.hexdigest()
    return _digests[key]


def _folder(path: Path) -> Path:
    """A bundle part as a folder: an inner .zip (CodaLab style) is unpacked once into the cache."""
    if path.is_dir():
        return path
    target = cache_dir() / "unpacked" / _digest(path)[:24]
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(dir=cache_dir()))
        try:
            safe_unzip(path, staging)
        except zipfile.BadZipFile:
            shutil.rmtree(staging, ignore_errors=True)
            raise BundleError([Problem(str(path), "is neither a folder nor a .zip archive.")]) from None
        try:
            (cache_dir() / "unpacked").mkdir(exist_ok=True)
            staging.rename(target)
        except OSError:  # another process unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _program_root(folder: Path, what: str = "the scoring program") -> Path:
    """The folder holding ``metadata``: the unpacked program itself, or its one subfolder."""
    if (folder / "metadata").is_file() or (folder / "metadata.yaml").is_file():
        return folder
    inner = [p for p in folder.iterdir() if p.is_dir() and p.name != "__MACOSX"]
    if len(inner) == 1 and ((inner[0] / "metadata").is_file() or (inner[0] / "metadata.yaml").is_file()):
        return inner[0]
    raise BundleError([Problem(str(folder), f"{what} has no metadata or metadata.yaml with its command.")])


def bundle_folder(path: Path) -> Path:
    """A bundle as a folder: a .zip is unpacked once into the cache, keyed by its content."""
    if path.is_dir():
        return path
    folder = _folder(path)
    found = [p.parent for p in folder.rglob("competition.yaml") if "__MACOSX" not in p.parts]
    if len(found) != 1:
        raise BundleError([Problem(str(path), "the archive must hold exactly one competition.yaml.")])
    return found[0]


def _listing(folder: Path, prefix: str) -> list[tuple[str, str]]:
    return [
        (f"{prefix}/{p.relative_to(folder).as_posix()}", _digest(p))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__MACOSX" not in p.parts
    ]


def phase_count(folder: Path) -> int:
    """How many phases a bundle folder's competition.yaml declares (it is checked as it is read)."""
    return len(load_competition(folder).phases)


_memory: dict[tuple[str, str], ProgramTask] = {}
_lock = threading.Lock()


def load_program_task(ref: str | Path) -> ProgramTask:
    """Load one phase of a Codabench/CodaLab bundle as a task (raises BundleError with every problem)."""
    path, number, native = parse_ref(ref)
    code_only = is_code_only(ref)
    folder = bundle_folder(path)
    bundle = load_competition(folder)
    if not 1 <= number <= len(bundle.phases):
        raise BundleError(
            [
                Problem(
                    str(ref),
                    f"the bundle has {len(bundle.phases)} phases; choose #phase=1 to #phase={len(bundle.phases)}.",
                )
            ]
        )
    phase = bundle.phase(number)
    bundle_task = bundle.tasks[phase.tasks[0]]
    program = _program_root(_folder(bundle_task.scoring_program))
    reference = _folder(bundle_task.reference_data)
    ingestion = inputs = None
    if bundle_task.ingestion_program is not None:
        ingestion = _program_root(_folder(bundle_task.ingestion_program), "the ingestion program")
        ingestion_command(ingestion)  # a bundle whose ingestion program has no command is refused when loaded
        inputs = _folder(bundle_task.input_data) if bundle_task.input_data is not None else None
    elif code_only:
        raise BundleError(
            [Problem(str(ref), "'code_only=1' needs a phase with an ingestion program, which runs the code.")]
        )
    if native is not None:
        from arena.codabench.native import NATIVE_METRICS

        if native not in NATIVE_METRICS:
            raise BundleError(
                [
                    Problem(
                        str(ref),
                        f"'{native}' is not a metric Arena scores natively; choose one of: "
                        f"{', '.join(NATIVE_METRICS)}.",
                    )
                ]
            )
    files = [("competition.yaml", _digest(folder / "competition.yaml"))]
    files += _listing(reference, "ref") + _listing(program, "program")
    if ingestion is not None:  # what the prediction step runs and reads decides scores too
        files += _listing(ingestion, "ingestion") + (_listing(inputs, "input") if inputs is not None else [])
    answers = pd.DataFrame(files, columns=["file", "sha256"])
    fingerprint = hashlib.sha256(repr((files, number, native, code_only)).encode()).hexdigest()
    stored = (
        f"{folder}#phase={number}" + (f"&native={native}" if native else "") + ("&code_only=1" if code_only else "")
    )
    with _lock:
        key = (stored, fingerprint)
        if key in _memory:
            return _memory[key]
        multi = len(bundle.phases) > 1
        spec = ProgramSpec(
            name=slug_of(bundle.title),
            title=f"{bundle.title} — {phase.name}" if multi else bundle.title,
            version=1,
            kind="program",
            bundle_dir=folder,
            id_column="file",
            target="sha256",
            primary_metric=native or bundle.primary.key,
            other_metrics=() if native else tuple(c.key for c in bundle.columns[1:]),
            prediction="file",
            modality="files",
            competition=CompetitionDefaults(
                daily_limit=phase.daily_limit or phase.total_limit or NO_DAILY_LIMIT, total_limit=phase.total_limit
            ),
            description="\n\n".join(filter(None, [bundle.description, phase.description])),
            ref=stored,
            columns=bundle.columns,
            phase_name=phase.name,
            time_limit=phase.time_limit,
            native=native,
            ingestion=ingestion is not None,
            code_only=code_only,
        )
        task = ProgramTask(
            spec=spec,
            answers=answers,
            bundle=bundle,
            phase=phase,
            program_dir=program,
            reference_dir=reference,
            ingestion_dir=ingestion,
            input_dir=inputs,
        )
        _memory[key] = task
        return task


def describe(task: ProgramTask) -> list[str]:
    """The host preview as text: every phase with its dates and limits, the columns, and the native-metric check."""
    from arena.codabench.native import detect

    bundle = task.bundle
    lines = [f"{bundle.title} (Codabench/CodaLab bundle, competition.yaml version {bundle.yaml_version})"]
    for phase in bundle.phases:
        dates = f"{phase.starts_at or 'now'} to {phase.ends_at or 'no end'}"
        total = f", {phase.total_limit} in all" if phase.total_limit else ""
        daily = f"{phase.daily_limit} per day" if phase.daily_limit else "no daily limit"
        marker = "*" if phase is task.phase else " "
        runs = " (ingestion program runs code uploads)" if bundle.tasks[phase.tasks[0]].ingestion_program else ""
        lines.append(
            f" {marker}phase {phase.number}: {phase.name}: {dates}; {daily}{total}; "
            f"time limit {phase.time_limit} s; task '{bundle.tasks[phase.tasks[0]].name}'{runs}"
        )
    lines.append(
        "  columns:        "
        + ", ".join(
            f"{c.title} ({c.key}, {'higher' if c.higher_is_better else 'lower'} is better)" for c in bundle.columns
        )
    )
    lines.append(
        f"  scoring:        {'Arena metric ' + task.spec.native if task.spec.native else 'the bundle scoring program'}"
        f" (phase {task.phase.number}: {task.spec.phase_name})"
    )
    if task.ingestion_dir is not None:
        lines.append(
            "  uploads:        "
            + ("code only" if task.spec.code_only else "code (run by the ingestion program) or results only")
        )
    lines.append(f"  native check:   {detect(task).note}")
    lines.append(f"  answer key sha256: {task.answer_key.sha256}")
    return lines
