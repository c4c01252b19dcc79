"""The prediction step of a phase with an ingestion program, run as Codabench's compute worker runs it.

Codabench scores a code submission in two steps. In the prediction step the
ingestion program runs with its own folder at ``/app/program``, the participant's
upload at ``/app/ingested_program``, the task's input data at ``/app/input_data``
and a writable ``/app/output``; its command comes from its ``metadata`` with
Codabench's variables replaced (:data:`INGESTION_VARIABLES`), in ``/app/program``.
At the same time the upload itself is looked at: with a ``metadata`` that has a
``command`` it runs as a program of its own (the upload at ``/app/program``); with
a ``metadata`` and no command nothing more happens; with no ``metadata`` its files
are copied into the output. What the step leaves in ``/app/output`` is the
prediction output, with a ``metadata`` file of exit codes and times added, and the
scoring step scores it as ``/app/input/res``.

Each run is a sandbox of its own with the phase's time limit; the reference data
is never mounted in this step, so nothing the participant's code runs can read
the answers. A run that fails, or leaves no output that can be kept, fails the
submission: Codabench would go on to score whatever was left, which gives a
failed run a score.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from arena.codabench.sandbox import APP, ProgramError, Run, run_sandboxed
from arena.errors import BundleError, Problem

METADATA_NAMES = ("metadata.yaml", "metadata")  # the order Codabench looks for them in
MAX_METADATA_BYTES = 64 << 10

INGESTION_VARIABLES = (
    ("$input", f"{APP}/input_data"),
    ("$output", f"{APP}/output"),
    ("$program", f"{APP}/program"),
    ("$ingestion_program", f"{APP}/program"),
    ("$hidden", f"{APP}/input/ref"),
    ("$shared", f"{APP}/shared"),
    ("$submission_program", f"{APP}/ingested_program"),
    ("$tmp", f"{APP}/output"),
    ("$predictions", f"{APP}/output"),
)
"""Codabench's variables in an ingestion program's command, in the order it replaces them."""

SUBMISSION_VARIABLES = (("$input", f"{APP}/input"), *INGESTION_VARIABLES[1:])
"""The same for a participant's own command: ``$input`` names ``/app/input``, which this step does not mount (as on
Codabench), so a program reads its data at ``/app/input_data``."""

SOURCE_SUFFIXES = frozenset(
    ".py .pyc .pyx .ipynb .r .rmd .jl .sh .bash .m .java .jar .scala .c .cc .cpp .h .hpp .go .rs .js .ts .pl .rb "
    ".lua .so".split()
)
"""File kinds that make an upload code; an upload with none of them and no ``metadata`` holds results only."""

RUN_METADATA = "metadata"  # what Codabench adds to the prediction output: exit codes and elapsed times


def _metadata_file(folder: Path) -> Path | None:
    for name in METADATA_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def _replaced(command: str, variables: Sequence[tuple[str, str]]) -> str:
    for variable, path in variables:
        command = command.replace(variable, path)
    return command.strip()


def ingestion_command(folder: Path) -> str:
    """The ingestion program's ``command`` with Codabench's variables replaced; BundleError when it has none."""
    path = _metadata_file(folder)
    where = f"{folder.name} (the ingestion program)"
    if path is None:
        raise BundleError([Problem(where, "has no metadata or metadata.yaml file with its command.")])
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BundleError([Problem(f"{where} {path.name}", f"is not valid YAML: {exc}")]) from None
    command = meta.get("command") if isinstance(meta, dict) else None
    if not isinstance(command, str) or not command.strip():
        raise BundleError(
            [
                Problem(
                    f"{where} {path.name}",
                    "needs a 'command', e.g. command: python3 $ingestion_program/ingestion.py $input $output "
                    "$ingestion_program $submission_program",
                )
            ]
        )
    return _replaced(command, INGESTION_VARIABLES)


def submission_command(folder: Path) -> str | None:
    """The command of an upload's own ``metadata``, or None: no metadata, metadata that is not YAML (Codabench goes
    on without it) or one without a command, as a code submission for an ingestion program has."""
    path = _metadata_file(folder)
    if path is None or path.stat().st_size > MAX_METADATA_BYTES:
        return None
    try:
        meta = yaml.safe_load(path.read_text(encoding="utf-8", errors="replace"))
    except yaml.YAMLError:
        return None
    command = meta.get("command") if isinstance(meta, dict) else None
    return _replaced(command, SUBMISSION_VARIABLES) if isinstance(command, str) and command.strip() else None


def _ignored(relative: Path) -> bool:
    """A macOS archive's side files: the ``__MACOSX`` folder and ``._name`` resource forks."""
    return "__MACOSX" in relative.parts or relative.name.startswith("._")


def holds_code(folder: Path) -> bool:
    """True when an upload holds code: a ``metadata`` file or a source file (:data:`SOURCE_SUFFIXES`) anywhere in it;
    False for results only, such as the predictions files of a Codabench sample result submission."""
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if _ignored(relative) or not path.is_file():
            continue
        if path.name in METADATA_NAMES or path.suffix.lower() in SOURCE_SUFFIXES:
            return True
    return False


@dataclass(frozen=True)
class Prediction:
    """What the prediction step ran: the ingestion program's run and the upload's own, if it had a command."""

    ingestion: Run
    program: Run | None

    @property
    def log(self) -> str:
        """The runs' output, for the organiser."""
        parts = [f"ingestion program output:\n{self.ingestion.log}"]
        if self.program is not None:
            parts.append(f"submission program output:\n{self.program.log}")
        return "\n\n".join(parts)


def predict(
    ingestion_dir: Path,
    submission_dir: Path,
    input_dir: Path | None,
    output: Path,
    *,
    time_limit: int,
    command: str | None = None,
) -> Prediction:
    """Run the prediction step for the upload unpacked in ``submission_dir``; its output is left in ``output``.

    ``command`` is the ingestion program's (read from its metadata when not given). Raises ProgramError: its
    ``what`` names the run that failed.
    """
    command = command or ingestion_command(ingestion_dir)
    data = [(input_dir, f"{APP}/input_data")] if input_dir is not None else []
    own = submission_command(submission_dir)
    work = output.parent / f"{output.name}-runs"
    runs: list[Callable[[], Run]] = [
        lambda: run_sandboxed(
            command,
            [(ingestion_dir, f"{APP}/program"), (submission_dir, f"{APP}/ingested_program"), *data],
            time_limit=time_limit,
            output_to=work / "ingestion",
            what="the ingestion program",
        )
    ]
    if own is not None:
        runs.append(
            lambda: run_sandboxed(
                own,
                [(submission_dir, f"{APP}/program"), *data],
                time_limit=time_limit,
                output_to=work / "program",
                what="the submission's own program (its metadata command)",
            )
        )
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:  # side by side, as Codabench runs them
        futures = [pool.submit(run) for run in runs]
        results = [future.exception() or future.result() for future in futures]
    for result in results:
        if isinstance(result, BaseException):
            raise result
    ingestion, program = results[0], results[1] if len(results) > 1 else None
    assert isinstance(ingestion, Run) and (program is None or isinstance(program, Run))
    output.mkdir(parents=True, exist_ok=True)
    if _metadata_file(submission_dir) is None:  # no metadata: Codabench copies the upload into the output
        shutil.copytree(submission_dir, output, dirs_exist_ok=True)
    for folder in (work / "program", work / "ingestion"):
        if folder.is_dir():
            shutil.copytree(folder, output, dirs_exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    _write_run_metadata(output, ingestion, program)
    return Prediction(ingestion, program)


def _write_run_metadata(output: Path, ingestion: Run, program: Run | None) -> None:
    """Codabench's record of the step in the output (scoring programs read ``elapsedTime`` from it)."""
    path = output / RUN_METADATA
    if path.exists() or path.is_symlink():
        raise ProgramError(
            [
                f"the prediction output already holds a file named '{RUN_METADATA}', which Codabench keeps for the "
                "run's exit codes and times; the ingestion program (or the submission) must not write one."
            ],
            ingestion.log,
        )
    record = {
        "exitCode": 0 if program is not None else None,
        "elapsedTime": (program.wall_seconds if program is not None else None) or ingestion.wall_seconds,
        "ingestionExitCode": 0,
        "ingestionElapsedTime": ingestion.wall_seconds,
    }
    path.write_text(yaml.safe_dump(record, default_flow_style=False), encoding="utf-8")
