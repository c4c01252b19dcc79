"""Running a participant's program for the jobs: the real run on the test inputs, and a dry run on the public sample.

A run happens in a scoring slot (:mod:`arena.server.slots`), in a work folder of its own that is removed afterwards.
What comes back is plain data (:class:`RunOutcome`): the predictions file and what the run measured, or why it
failed: the program's fault (``failed``: time, memory, an error, no valid predictions; a real run keeps its slot)
or ours (``ours``: the sandbox broke; retried, never charged). The program's output on the test inputs may carry
those inputs: it is kept for organisers only, never shown to a participant.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

from arena.code.failures import ERROR, MESSAGES, OURS_MESSAGE, CodeFailed
from arena.code.outputs import validate_output
from arena.code.runner import CodeRun, run_code
from arena.config import arena_home, private_dir
from arena.db.models import Competition
from arena.errors import SubmissionError
from arena.server import slots
from arena.tasks import load_task

log = logging.getLogger("arena.code_runs")
SHOWN_LOG_CHARS = 4000
"""How much of a dry run's output its team sees: the last 4000 characters."""
KEPT_LOG_CHARS = 8000
"""How much of a real run's output the organisers keep (its end)."""
SETUP_SECONDS = 120.0
"""Time a run may take beyond the program's own limit: unpacking, writing the inputs, starting the sandbox."""


@dataclass(frozen=True)
class RunJob:
    """What a slot needs to run one program: the task, the stored upload and its name, a work folder."""

    task_ref: str
    file_path: str
    file_name: str
    work: str
    sample: bool


@dataclass(frozen=True)
class RunOutcome:
    """``ran`` (with ``predictions``), ``failed`` (the program's fault: ``verdict``) or ``ours``.

    ``problems`` are what the participant may read; ``detail`` and ``log`` are the organisers' (a dry run's log,
    from the public sample, is its team's too)."""

    kind: str
    predictions: str = ""
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    verdict: str | None = None
    problems: tuple[str, ...] = ()
    detail: str = ""
    log: str = ""


def run_job(job: RunJob) -> RunOutcome:
    """Run the program and check its predictions as an upload is checked (in a slot); every exception is an outcome."""
    run: CodeRun | None = None
    try:
        task = load_task(job.task_ref)
        run = run_code(task, Path(job.file_path), file_name=job.file_name, sample=job.sample, work=Path(job.work))  # type: ignore[arg-type]
        validate_output(task, run, job.sample)  # type: ignore[arg-type]
    except CodeFailed as exc:
        sample_reason = (exc.detail,) if job.sample and exc.detail and not exc.ours else ()  # public rows: shown
        return RunOutcome(
            "ours" if exc.ours else "failed",
            verdict=exc.verdict,
            problems=(*exc.messages(), *sample_reason),
            detail=exc.detail,
            log=exc.log,
        )
    except SubmissionError as exc:  # an upload that cannot run, or (on the sample) predictions that do not fit
        problems = tuple(exc.messages()) if job.sample else (MESSAGES[ERROR],)  # real-run words stay neutral
        return RunOutcome(
            "failed",
            verdict="output" if run is not None else ERROR,
            problems=problems,
            detail="; ".join(exc.messages()),
            log=run.log if run is not None else "",
            **_measured(run),
        )
    except Exception:  # a failure of ours: the participant's program is not to blame
        log.exception("running %s failed", job.file_path)
        return RunOutcome("ours", problems=(OURS_MESSAGE,), detail=traceback.format_exc(limit=20)[-KEPT_LOG_CHARS:])
    return RunOutcome("ran", predictions=str(run.predictions), log=run.log, **_measured(run))


def _measured(run: CodeRun | None) -> dict:
    if run is None:
        return {}
    return {"wall_seconds": run.wall_seconds, "cpu_seconds": run.cpu_seconds, "peak_memory_mb": run.peak_memory_mb}


def run_in_slot(slot: slots.Slot, job: RunJob, limit_seconds: float) -> RunOutcome:
    """Run the program in ``slot``; a slot killed at its limit or dead is a failure of ours (the sandbox ends the
    program itself at the task's time limit, well before the slot's)."""
    outcome = slot.run(run_job, job, limit_seconds)
    if isinstance(outcome, slots.Finished):
        return outcome.value
    if isinstance(outcome, slots.TimedOut):
        detail = f"the run was stopped after {outcome.seconds:g} s, past the program's own limit and set-up time."
    else:
        detail = f"the run's process ended without an answer (exit code {outcome.exit_code})."
    return RunOutcome("ours", problems=(OURS_MESSAGE,), detail=detail)


def run_limit(competition: Competition) -> float:
    """The longest a slot lets one run of this competition's programs take: the task's time limit plus set-up."""
    limits = ((competition.task_facts or {}).get("code") or {}).get("limits") or {}
    return float(limits.get("wall_seconds", 600)) + SETUP_SECONDS


def work_folder() -> Path:
    """A new private folder for one run, under ARENA_HOME (the program's inputs and output are written there)."""
    root = private_dir(arena_home() / "runs")
    folder = root / secrets.token_hex(8)
    folder.mkdir()
    return folder


def remove(work: str | Path) -> None:
    shutil.rmtree(work, ignore_errors=True)


def shown_log(text: str | None) -> str:
    """The end of a dry run's output, as its team sees it."""
    text = text or ""
    return text if len(text) <= SHOWN_LOG_CHARS else "…" + text[-SHOWN_LOG_CHARS:]
