"""Run a participant's program in the sandbox on the test inputs (or the public sample) and collect its predictions.

The program sees ``/app/submission`` (its own files, read-only), ``/app/input`` (``train.csv``, ``test.csv``,
``sample_submission.csv``; read-only) and writes to ``/app/output``; nothing else of the host is visible or
writable, and it has no network (:func:`arena.codabench.sandbox.run_sandboxed`). Its limits are the task's
``[submission.limits]``, each lowered (never raised) by the installation's ``ARENA_CODE_*`` setting.
"""

from __future__ import annotations

import glob
import os
import shlex
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

from arena.bundles.loading import Task
from arena.bundles.spec import CodeLimits, CodeSpec
from arena.codabench.sandbox import TIME as SANDBOX_TIME
from arena.codabench.sandbox import ProgramError, run_sandboxed
from arena.code.failures import ERROR, MEMORY, OUTPUT, TIME, CodeFailed
from arena.code.inputs import write_inputs
from arena.code.launcher import SOURCE as LAUNCHER
from arena.code.runtime import read_pyvenv
from arena.code.uploads import unpack_code
from arena.errors import SubmissionError

SUBMISSION, INPUT, OUTPUT_DIR, LAUNCH, RUNTIME = (
    "/app/submission",
    "/app/input",
    "/app/output",
    "/app/launch",
    "/app/runtime",
)
PREDICTION_SUFFIXES = (".csv", ".csv.gz", ".parquet")
SETTINGS = {field.name: f"ARENA_CODE_{field.name.upper()}" for field in fields(CodeLimits)}
"""The installation's cap on each limit (ARENA_CODE_WALL_SECONDS, ARENA_CODE_MEMORY_MB, ...)."""


@dataclass(frozen=True)
class CodeRun:
    """A program's run that left one predictions file: the file and what the run used.

    ``log`` is the program's output (its last few thousand characters): show it to a participant only where
    :func:`arena.code.failures.log_shown` allows.
    """

    predictions: Path
    wall_seconds: float | None
    cpu_seconds: float | None
    peak_memory_mb: float | None
    log: str
    sample: bool


def code_spec(task: Task) -> CodeSpec:
    """The task's code submission settings; an error a participant can act on for a task that takes files."""
    code = getattr(task.spec, "code", None)
    if code is None:
        raise SubmissionError(
            f"task '{task.name}' takes predictions files, not programs: upload a predictions file "
            "(arena submit), or check the task's name."
        )
    return code


def limits_in_force(code: CodeSpec) -> CodeLimits:
    """The task's limits, each lowered by the installation's ARENA_CODE_* setting where that is smaller."""
    chosen = {}
    for name, setting in SETTINGS.items():
        asked = getattr(code.limits, name)
        text = os.environ.get(setting, "").strip()
        if not text:
            continue
        try:
            cap = int(text)
        except ValueError:
            raise CodeFailed(ERROR, detail=f"{setting} must be a whole number, not {text!r}.", ours=True) from None
        if cap < 1:
            raise CodeFailed(ERROR, detail=f"{setting} must be at least 1.", ours=True)
        chosen[name] = min(asked, cap)
    return replace(code.limits, **chosen)


def run_code(task: Task, upload: Path, *, file_name: str, sample: bool, work: Path) -> CodeRun:
    """Unpack the program into ``work/submission``, write its inputs into ``work/input`` (the test rows, or the
    public sample when ``sample``), run it in the sandbox and return its one predictions file in ``work/output``.

    Raises :class:`SubmissionError` for an upload that cannot run, :class:`CodeFailed` when the run fails (``ours``
    when the sandbox did). The predictions are not validated here: see :func:`arena.code.outputs.validate_output`.
    """
    code = code_spec(task)
    limits = limits_in_force(code)
    program = unpack_code(upload, file_name, work / "submission", entry=code.entry)
    write_inputs(task, work / "input", sample=sample)
    (work / "launch").mkdir(parents=True)
    (work / "launch" / "launch.py").write_text(LAUNCHER, encoding="utf-8")
    mounts = [(program.root, SUBMISSION), (work / "input", INPUT), (work / "launch", LAUNCH)]
    python, site_packages = _runtime(task, code)
    if site_packages is not None:
        mounts.append((Path(task.spec.bundle_dir) / (code.runtime_folder or ""), RUNTIME))
    # -I: no environment variables, no user site, no script folder on the path; a runtime's own packages only (-S)
    flags = ["-I", "-B"] if site_packages is None else ["-I", "-B", "-S"]
    launch = [python, *flags, f"{LAUNCH}/launch.py", SUBMISSION, program.module, code.entry]
    command = shlex.join(launch if site_packages is None else [*launch, site_packages])
    output = work / "output"
    try:
        run = run_sandboxed(
            command,
            mounts,
            time_limit=limits.wall_seconds,
            memory_mb=limits.memory_mb,
            processes=limits.processes,
            disk_mb=limits.disk_mb,
            workdir=SUBMISSION,
            output_to=output,
            output_mb=limits.output_mb,
            what="the program",
        )
    except ProgramError as exc:
        raise _failure(exc, limits) from None
    peak = run.peak_memory
    return CodeRun(
        predictions=_predictions(output, run.log),
        wall_seconds=run.wall_seconds,
        cpu_seconds=run.cpu_seconds,
        peak_memory_mb=None if peak is None else peak / 2**20,
        log=run.log,
        sample=sample,
    )


def _runtime(task: Task, code: CodeSpec) -> tuple[str, str | None]:
    """The interpreter that runs the program, and the runtime's site-packages inside the sandbox (None: the
    server's own Python, whose packages are visible as they are)."""
    folder = code.runtime_folder
    if folder is None:
        return sys.executable, None
    venv = Path(task.spec.bundle_dir) / folder
    config = read_pyvenv(venv / "pyvenv.cfg")
    version = ".".join(config.get("version", config.get("version_info", "")).split(".")[:2])
    interpreter = Path(config.get("home", "")) / f"python{version}"
    found = sorted(glob.glob(str(venv / "lib" / f"python{version}" / "site-packages")))
    shown = ("/usr/", "/bin/", sys.prefix + "/", sys.base_prefix + "/", os.path.realpath(sys.base_prefix) + "/")
    if not version or not interpreter.is_file() or not found or not str(interpreter).startswith(shown):
        raise CodeFailed(
            ERROR,
            detail=f"the runtime '{folder}' is not a usable virtual environment: its Python ({interpreter}) or its "
            f"site-packages (lib/python{version}/site-packages) is missing, or that Python is neither the system's "
            f"(/usr) nor the server's, the only ones the sandbox shows. Build it again on this machine with the "
            f"server's Python: python{version} -m venv {folder}.",
            ours=True,
        )
    return str(interpreter), f"{RUNTIME}/{Path(found[0]).relative_to(venv).as_posix()}"


def _failure(exc: ProgramError, limits: CodeLimits) -> CodeFailed:
    """The verdict a participant may learn, with the exact reason and output kept for the organiser."""
    detail = "; ".join(exc.messages())
    if exc.ours:
        return CodeFailed(ERROR, detail=detail, log=exc.log, ours=True)
    if exc.verdict == SANDBOX_TIME:
        return CodeFailed(TIME, detail=detail, log=exc.log)
    usage = exc.usage
    if (usage is not None and usage.memory_kills) or _ran_out_of_memory(exc.log):
        return CodeFailed(MEMORY, detail=f"{detail} (limit {limits.memory_mb} MB)", log=exc.log)
    return CodeFailed(ERROR, detail=detail, log=exc.log)


def _ran_out_of_memory(log: str) -> bool:
    """Where no cgroup counts memory kills, Python's own report of an allocation refused at the limit."""
    last = log.strip().splitlines()[-1:] if log.strip() else []
    return bool(last) and last[0].startswith("MemoryError")


def _predictions(output: Path, log: str) -> Path:
    """The one predictions file the program wrote (CSV, gzip-compressed CSV or Parquet)."""
    found = sorted(p for p in output.rglob("*") if p.is_file()) if output.is_dir() else []
    usable = [p for p in found if p.name.lower().endswith(PREDICTION_SUFFIXES)]
    if len(usable) != 1:
        names = ", ".join(str(p.relative_to(output)) for p in found[:10]) or "nothing"
        raise CodeFailed(
            OUTPUT,
            detail=f"the program left {len(usable)} predictions files in output_dir (it wrote: {names}); exactly one "
            f"file ending in {', '.join(PREDICTION_SUFFIXES)} is expected.",
            log=log,
        )
    return usable[0]
