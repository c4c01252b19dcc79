"""Run a bundle's scoring program the way Codabench runs it, inside a bubblewrap sandbox.

The program sees ``/app/program`` (its own files, read-only), ``/app/input/ref``
(reference data, read-only), ``/app/input/res`` (the submission, read-only),
``/app/output`` and ``/app/shared`` (writable). Its command comes from
``metadata`` or ``metadata.yaml`` with ``$program``, ``$input``, ``$output`` and
``$shared`` replaced by those paths, so programs that name ``/app/input`` and
``/app/output`` directly work too. It has no network, the phase's time limit and
a memory limit, and its scores are read from ``output/scores.json`` or
``output/scores.txt``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from arena.errors import ArenaError, Problem

MEMORY_MB = int(os.environ.get("ARENA_PROGRAM_MEMORY_MB", "4096"))
MAX_SCORES_BYTES = 1 << 20
TMP_BYTES = 256 * 2**20  # the sandbox's /tmp, held in memory
LOG_TAIL = 4000
APP = "/app"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/alternatives", "/etc/ld.so.cache",
               "/etc/ssl", "/etc/localtime")


class ProgramError(ArenaError):
    """The scoring program did not produce scores. ``log`` holds its output, for the organiser only."""

    headline = "The scoring program could not score this submission"

    def __init__(self, problems: list[Problem] | list[str] | str, log: str = "", *, ours: bool = False) -> None:
        super().__init__(problems)
        self.log = log
        self.ours = ours  # True when the sandbox itself is missing or broken: never the participant's doing


@dataclass(frozen=True)
class Run:
    """What a run produced: the parsed scores, and the program's output for the organiser."""

    scores: dict[str, float]
    log: str



def bwrap_path() -> str | None:
    """The bubblewrap binary, or None when it is not installed."""
    return shutil.which("bwrap")


def program_command(program_dir: Path) -> str:
    """The ``command`` from ``metadata`` or ``metadata.yaml``, with Codabench's variables replaced."""
    for name in ("metadata.yaml", "metadata"):
        path = program_dir / name
        if path.is_file():
            try:
                meta = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise ProgramError([Problem(f"scoring program {name}", f"is not valid YAML: {exc}")], ours=True) from None
            command = meta.get("command") if isinstance(meta, dict) else None
            if not isinstance(command, str) or not command.strip():
                raise ProgramError([Problem(f"scoring program {name}", "needs a 'command', e.g. "
                                            "command: python3 $program/score.py $input $output")], ours=True)
            for variable, path_in_sandbox in (("$program", f"{APP}/program"), ("$input", f"{APP}/input"),
                                              ("$output", f"{APP}/output"), ("$shared", f"{APP}/shared")):
                command = command.replace(variable, path_in_sandbox)
            return command.strip()
    raise ProgramError([Problem("scoring program", "has no metadata or metadata.yaml file with its command.")], ours=True)


def _bwrap_args(work: Path, program_dir: Path, ref_dir: Path, res_dir: Path) -> list[str]:
    # No capabilities even when Arena runs as root, and a bounded /tmp (its files live in memory).
    args = [bwrap_path() or "bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--size", str(TMP_BYTES), "--tmpfs", "/tmp", "--tmpfs", "/app"]
    python_dirs = {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix)}
    for folder in [*SYSTEM_DIRS, *sorted(python_dirs)]:
        if os.path.exists(folder) and not any(folder.startswith(d + "/") for d in SYSTEM_DIRS):
            args += ["--ro-bind", folder, folder]
    args += ["--ro-bind", str(program_dir), f"{APP}/program",
             "--ro-bind", str(ref_dir), f"{APP}/input/ref",
             "--ro-bind", str(res_dir), f"{APP}/input/res",
             "--bind", str(work / "output"), f"{APP}/output",
             "--bind", str(work / "shared"), f"{APP}/shared",
             "--chdir", f"{APP}/program",
             "--clearenv",
             "--setenv", "PATH", f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
             "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
             "--setenv", "OMP_NUM_THREADS", "1", "--setenv", "OPENBLAS_NUM_THREADS", "1",
             "--setenv", "MKL_NUM_THREADS", "1", "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]
    return args


def run_program(program_dir: Path, ref_dir: Path, res_dir: Path, *, time_limit: int,
                memory_mb: int = MEMORY_MB) -> Run:
    """Run the scoring program on one submission and return its scores (raises ProgramError)."""
    command = program_command(program_dir)
    if bwrap_path() is None:
        raise ProgramError([Problem("sandbox", "bubblewrap (bwrap) is not installed, and scoring programs never run "
                                    "outside the sandbox: install it (Debian/Ubuntu: apt-get install bubblewrap).")],
                           ours=True)
    with tempfile.TemporaryDirectory(prefix="arena-program-") as tmp:
        work = Path(tmp)
        (work / "output").mkdir()
        (work / "shared").mkdir()
        limits = 'ulimit -v "$1" && ulimit -t "$2" && ulimit -f 2097152 && exec /bin/sh -c "$3"'
        argv = [*_bwrap_args(work, program_dir, ref_dir, res_dir), "--", "/bin/sh", "-c", limits, "arena-sandbox",
                str(memory_mb * 1024), str(time_limit + 1), command]
        with open(work / "log.txt", "wb") as log_file:  # outside every folder the program can write to
            try:
                done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                      timeout=time_limit, check=False)
            except subprocess.TimeoutExpired:
                raise ProgramError([f"the scoring program took longer than the phase's time limit of {time_limit} s."],
                                   _tail(work / "log.txt")) from None
        log = _tail(work / "log.txt")
        if done.returncode != 0:
            if log.startswith("bwrap:"):
                raise ProgramError([Problem("sandbox", f"bubblewrap could not start: {log.strip()[:300]}")], log, ours=True)
            raise ProgramError([f"the scoring program stopped with an error (exit status {done.returncode})."], log)
        return Run(scores=read_scores(work / "output", log), log=log)


def _tail(path: Path) -> str:
    """The last few thousand characters of the program's output."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - LOG_TAIL))
        return handle.read().decode("utf-8", "replace")


_LINE = re.compile(r"^\s*([A-Za-z0-9_.\- ]+?)\s*:\s*(\S+)\s*$")


def read_scores(output: Path, log: str = "") -> dict[str, float]:
    """Scores from ``scores.json`` (an object of numbers) or ``scores.txt`` (``key: value`` lines)."""
    raw: dict = {}
    for name in ("scores.json", "scores.txt"):
        path = output / name
        if not path.is_file() or path.is_symlink():
            continue
        if path.stat().st_size > MAX_SCORES_BYTES:
            raise ProgramError([f"output/{name} is larger than 1 MB; it should hold a few numbers."], log)
        text = path.read_text(encoding="utf-8", errors="replace")
        if name == "scores.json":
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ProgramError([f"output/scores.json is not valid JSON: {exc}."], log) from None
            if not isinstance(raw, dict):
                raise ProgramError(["output/scores.json must be an object of scores, e.g. {\"accuracy\": 0.93}."], log)
        else:
            raw = {m.group(1): m.group(2) for m in map(_LINE.match, text.splitlines()) if m}
        break
    else:
        raise ProgramError(["the scoring program wrote no output/scores.json or output/scores.txt."], log)
    scores = {}
    for key, value in raw.items():
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            continue  # a non-numeric entry (a duration, a note) is not a score
        if not math.isfinite(number):
            raise ProgramError([f"the scoring program gave '{key}' the value {value!r}; scores must be finite numbers."], log)
        scores[str(key)] = number
    return scores
