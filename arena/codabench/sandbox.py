"""Run a bundle's scoring program the way Codabench runs it, inside a bubblewrap sandbox.

The program sees ``/app/program`` (its own files, read-only), ``/app/input/ref``
(reference data, read-only), ``/app/input/res`` (the submission, read-only),
``/app/output`` and ``/app/shared`` (writable). Its command comes from
``metadata`` or ``metadata.yaml`` with ``$program``, ``$input``, ``$output`` and
``$shared`` replaced by those paths, so programs that name ``/app/input`` and
``/app/output`` directly work too. It has no network and the phase's time limit,
and its scores are read from ``output/scores.json`` or ``output/scores.txt``.

The same sandbox runs any command through :func:`run_sandboxed`, with the read-only
folders its caller names: an ingestion program with the participant's code, or a
participant's own code on hidden test inputs. Then the supervisor hands back the
output folder instead of scores (regular files and folders only, size-capped) with
the run's wall time, CPU time and peak memory.

Limits for the whole run, the program and every process it starts:

- Writable places are in-memory file systems of a fixed size, each at most
  ``disk_mb`` (``ARENA_PROGRAM_DISK_MB``): ``/app`` (which holds ``/app/output``
  and ``/app/shared``), ``/tmp`` and ``/dev/shm``. Everything else, ``/`` and
  ``/dev`` included, is read-only, and no host folder is writable: after the
  program ends, a small supervisor inside the sandbox stops every process left,
  then hands ``scores.json`` / ``scores.txt`` (at most 1 MB each) to Arena through
  a pipe. No file is larger than ``disk_mb`` and the output log is read as a pipe,
  keeping only its last few thousand characters.
- Where Arena can make a cgroup for the run (cgroup v2: ``ARENA_PROGRAM_CGROUP``,
  or its own cgroup when memory and pids can be enabled there; cgroup v1: its own
  memory and pids groups, which root can write), the kernel holds the total: all
  processes together, their in-memory files included, use at most ``memory_mb``
  (``ARENA_PROGRAM_MEMORY_MB``), and at most ``processes``
  (``ARENA_PROGRAM_PROCESSES``) processes and threads run at once.
- Without such a cgroup, per-process limits hold instead: each process gets
  ``memory_mb`` of address space (``RLIMIT_AS``) and the user namespace of the
  sandbox at most ``processes`` processes and threads (``RLIMIT_NPROC``), so the
  total stays below ``processes x memory_mb`` plus ``3 x disk_mb`` of files. The
  kernel counts ``RLIMIT_NPROC`` per user namespace (Linux 5.14 and later) and
  never applies it to root: as root without a cgroup, the process count is not
  capped (a warning is logged) and only the time limit stops a fork bomb.
  Either way each process also has the memory limit as address space, the time
  limit as CPU seconds and no core files, and (with bubblewrap 0.8 or later) cannot
  create user namespaces, so it cannot mount a file system of its own. The sizes
  count bytes, not files: without a cgroup, the kernel memory of many empty files
  is bounded only by the time limit.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from arena.errors import ArenaError, Problem

log = logging.getLogger("arena.sandbox")

MEMORY_MB = 4096  # ARENA_PROGRAM_MEMORY_MB
PROCESSES = 64  # ARENA_PROGRAM_PROCESSES
DISK_MB = 512  # ARENA_PROGRAM_DISK_MB
MAX_SCORES_BYTES = 1 << 20
LOG_TAIL = 4000
APP = "/app"
SYSTEM_DIRS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ssl",
    "/etc/localtime",
)
SANDBOX_ENVIRONMENT = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
"""All bubblewrap starts with; what runs inside gets its own variables (``--clearenv``, ``--setenv``)."""
SUPERVISOR_PROCESSES = 2  # the sandbox's init and its supervisor, on top of the program's processes
GRACE_S = 2.0  # how long the pipes may stay open after the sandbox has ended

# What went wrong, in the participant's terms; programs.py turns each into one fixed message.
FILE = "file"  # the program failed on this upload: exit status, a signal, a limit reached
PROGRAM = "program"  # the program ended well but its scores are missing or unusable
TIME = "time"  # the phase's time limit


class ProgramError(ArenaError):
    """The scoring program did not produce scores.

    ``problems`` say exactly why and ``log`` holds the program's output: both are for
    the organiser only. ``verdict`` (FILE, PROGRAM or TIME) is all a participant may
    learn. ``ours`` is True when the sandbox itself is missing or broken.
    """

    headline = "The scoring program could not score this submission"

    def __init__(
        self,
        problems: list[Problem] | list[str] | str,
        log: str = "",
        *,
        ours: bool = False,
        verdict: str = FILE,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(problems)
        self.log = log
        self.ours = ours  # True when the sandbox itself is missing or broken: never the participant's doing
        self.verdict = verdict
        self.usage = usage


@dataclass(frozen=True)
class Usage:
    """What the kernel measured of one run, where a cgroup held it (None elsewhere)."""

    limits: str  # "cgroup v2", "cgroup v1" or "rlimits"
    peak_memory: int | None = None  # bytes, all processes and their in-memory files together
    memory_kills: int | None = None  # processes the kernel stopped at the memory limit
    peak_processes: int | None = None
    process_refusals: int | None = None  # forks refused at the process cap

    def notes(self, memory_mb: int, processes: int) -> list[str]:
        """Which limit the run reached, for the organiser."""
        notes = []
        if self.memory_kills:
            notes.append(
                f"it reached the memory limit of {memory_mb} MB (the kernel stopped {self.memory_kills} "
                f"process{'es' if self.memory_kills != 1 else ''})"
            )
        if self.process_refusals:
            notes.append(f"it reached the limit of {processes} processes ({self.process_refusals} refused)")
        return notes


@dataclass(frozen=True)
class Run:
    """What a run produced: the parsed scores, the program's output for the organiser, and what it used.

    ``wall_seconds`` and ``cpu_seconds`` are measured inside the sandbox around the command (every process it
    started, the ones left behind included); ``peak_rss`` is the largest resident size of any one of its processes
    (bytes), the measure of memory where no cgroup holds the total (``usage.peak_memory``).
    """

    scores: dict[str, float]
    log: str
    usage: Usage | None = None
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_rss: int | None = None

    @property
    def peak_memory(self) -> int | None:
        """Bytes: the cgroup's peak for all processes together where one held the run, else the largest process."""
        measured = self.usage.peak_memory if self.usage else None
        return measured if measured is not None else self.peak_rss


def _setting(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    try:
        value = int(text) if text else default
    except ValueError:
        raise ProgramError([Problem(name, f"must be a whole number, not {text!r}.")], ours=True) from None
    if value < 1:
        raise ProgramError([Problem(name, "must be at least 1.")], ours=True)
    return value


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
                raise ProgramError(
                    [Problem(f"scoring program {name}", f"is not valid YAML: {exc}")], ours=True
                ) from None
            command = meta.get("command") if isinstance(meta, dict) else None
            if not isinstance(command, str) or not command.strip():
                raise ProgramError(
                    [
                        Problem(
                            f"scoring program {name}",
                            "needs a 'command', e.g. command: python3 $program/score.py $input $output",
                        )
                    ],
                    ours=True,
                )
            for variable, path_in_sandbox in (
                ("$program", f"{APP}/program"),
                ("$input", f"{APP}/input"),
                ("$output", f"{APP}/output"),
                ("$shared", f"{APP}/shared"),
            ):
                command = command.replace(variable, path_in_sandbox)
            return command.strip()
    raise ProgramError(
        [Problem("scoring program", "has no metadata or metadata.yaml file with its command.")], ours=True
    )


# --- cgroups --------------------------------------------------------------------------


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount point, root inside the hierarchy, file system type, super options) of every cgroup mount."""
    found: list[tuple[str, str, str, set[str]]] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if "-" not in fields:
            continue
        dash = fields.index("-")
        fstype = fields[dash + 1]
        if fstype in ("cgroup", "cgroup2"):
            options = set(fields[dash + 3].split(",")) if len(fields) > dash + 3 else set()
            found.append((fields[4].replace("\\040", " "), fields[3], fstype, options))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per hierarchy: '' for cgroup v2, else each v1 controller's name."""
    own: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            own[controller] = path
    return own


def _inside(mount_point: str, mount_root: str, path: str) -> Path | None:
    """The folder of a cgroup path under a mount, or None when the mount does not show it."""
    root = mount_root.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        return None
    return Path(mount_point) / path[len(root) :].lstrip("/")


def _write(path: Path, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _read_int(path: Path, key: str | None = None) -> int | None:
    """A number from a cgroup file: the whole file, or the value after ``key`` in a ``key value`` list."""
    try:
        text = path.read_text()
    except OSError:
        return None
    if key is None:
        return int(text) if text.strip().isdigit() else None
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key and parts[1].isdigit():
            return int(parts[1])
    return None


def _tidy(parent: Path) -> None:
    """Remove the empty cgroups of runs whose Arena process is gone (one killed before it could clean up)."""
    try:
        children = [child for child in parent.iterdir() if child.name.startswith("arena-program-")]
    except OSError:
        return
    for child in children:
        try:
            pid = int(child.name.split("-")[2])
            if pid != os.getpid():
                os.kill(pid, 0)
            continue
        except (IndexError, ValueError, PermissionError):
            continue
        except ProcessLookupError:
            pass
        try:
            child.rmdir()
        except OSError:
            pass


class Cgroup:
    """One run's cgroup (v2) or pair of cgroups (v1 memory and pids), made before the run and removed after it."""

    def __init__(self, version: int, memory: Path, pids: Path) -> None:
        self.version, self.memory, self.pids = version, memory, pids
        self.folders = [memory] if memory == pids else [memory, pids]

    @classmethod
    def make(cls, memory_bytes: int, processes: int) -> Cgroup | None:
        """A cgroup holding these limits, or None where this machine lets Arena make none."""
        setting = os.environ.get("ARENA_PROGRAM_CGROUP", "").strip()
        if setting.lower() in ("off", "no", "none", "0"):
            return None
        name = f"arena-program-{os.getpid()}-{secrets.token_hex(4)}"
        mounts, own = _mounts(), _own_cgroups()
        bases = (
            [Path(setting)]
            if setting
            else [
                folder
                for point, root, fstype, _ in mounts
                if fstype == "cgroup2" and "" in own
                for folder in [_inside(point, root, own[""])]
                if folder is not None
            ]
        )
        for base in bases:
            made = cls._make_v2(base / name, memory_bytes, processes)
            if made is not None:
                return made
        if setting:
            return None
        v1: dict[str, Path | None] = {}
        for point, root, fstype, options in mounts:
            for controller in ("memory", "pids"):
                if fstype == "cgroup" and controller in options and controller in own and controller not in v1:
                    v1[controller] = _inside(point, root, own[controller])
        memory, pids = v1.get("memory"), v1.get("pids")
        if memory is None or pids is None:
            return None
        return cls._make_v1(memory / name, pids / name, memory_bytes, processes)

    @classmethod
    def _make_v2(cls, folder: Path, memory_bytes: int, processes: int) -> Cgroup | None:
        control = folder.parent / "cgroup.subtree_control"
        _tidy(folder.parent)
        try:
            if not {"memory", "pids"} <= set(control.read_text().split()):
                _write(control, "+memory +pids")
            folder.mkdir()
        except OSError:
            return None
        group = cls(2, folder, folder)
        try:
            _write(folder / "memory.max", str(memory_bytes))
            if (folder / "memory.swap.max").exists():
                _write(folder / "memory.swap.max", "0")
            _write(folder / "pids.max", str(processes))
        except OSError:
            group.remove()
            return None
        return group

    @classmethod
    def _make_v1(cls, memory: Path, pids: Path, memory_bytes: int, processes: int) -> Cgroup | None:
        group = cls(1, memory, pids)
        _tidy(memory.parent)
        _tidy(pids.parent)
        try:
            memory.mkdir()
        except OSError:
            return None
        try:
            pids.mkdir()
        except OSError:
            memory.rmdir()
            return None
        try:
            _write(memory / "memory.limit_in_bytes", str(memory_bytes))
            try:
                _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))  # no swap either
            except OSError:
                pass  # the kernel keeps no swap account
            _write(pids / "pids.max", str(processes))
        except OSError:
            group.remove()
            return None
        return group

    @property
    def limits(self) -> str:
        return f"cgroup v{self.version}"

    def enter(self) -> list[str]:
        """A command prefix that moves itself into the cgroup, then runs the rest of the command line."""
        script = (
            'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "arena-sandbox: could not enter '
            'the cgroup $1" >&2; exit 125; }; shift; n=$((n - 1)); done; exec "$@"'
        )
        return [
            "/bin/sh",
            "-c",
            script,
            "arena-cgroup",
            str(len(self.folders)),
            *(str(folder / "cgroup.procs") for folder in self.folders),
        ]

    def usage(self) -> Usage:
        if self.version == 2:
            return Usage(
                self.limits,
                _read_int(self.memory / "memory.peak"),
                _read_int(self.memory / "memory.events", "oom_kill"),
                _read_int(self.pids / "pids.peak"),
                _read_int(self.pids / "pids.events", "max"),
            )
        return Usage(
            self.limits,
            _read_int(self.memory / "memory.max_usage_in_bytes"),
            _read_int(self.memory / "memory.oom_control", "oom_kill"),
            _read_int(self.pids / "pids.peak"),
            _read_int(self.pids / "pids.events", "max"),
        )

    def kill(self) -> None:
        """Stop every process still in the cgroup."""
        if self.version == 2 and (self.memory / "cgroup.kill").exists():
            try:
                _write(self.memory / "cgroup.kill", "1")
                return
            except OSError:
                pass
        for folder in self.folders:
            try:
                pids = (folder / "cgroup.procs").read_text().split()
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (OSError, ValueError):
                    pass

    def remove(self) -> None:
        """Stop what is left and remove the cgroup (its processes take a moment to leave it)."""
        deadline = time.monotonic() + 5
        for folder in self.folders:
            while folder.exists():
                try:
                    folder.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        log.warning("could not remove the scoring program's cgroup %s", folder)
                        break
                    self.kill()
                    time.sleep(0.02)


_warned_uncapped = False


def limits_in_force() -> str:
    """Which limits hold a scoring program on this machine: 'cgroup v2', 'cgroup v1' or 'rlimits'."""
    group = Cgroup.make(64 * 2**20, 8)
    if group is None:
        return "rlimits"
    group.remove()
    return group.limits


# --- the run --------------------------------------------------------------------------

# Runs inside the sandbox as the supervisor: sets the per-process limits, runs the program's
# command, stops every process left when it ends, and hands the scores files over through a pipe.
SUPERVISOR = r"""
import json, os, resource, signal, stat, sys, time
fd, memory, processes, disk, cpu, most, output_most = map(int, sys.argv[1:8])
command = sys.argv[8]
try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: processes the program leaves behind come back here
    libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the program cannot open this process's pipe through /proc
except Exception:
    pass
os.set_inheritable(fd, False)
for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_NPROC, processes),
                     (resource.RLIMIT_FSIZE, disk), (resource.RLIMIT_CPU, cpu), (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(limit, (value, value))
os.write(fd, b"S")
started = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # as a shell would start it
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.execv("/bin/sh", ["/bin/sh", "-c", command])
    finally:
        os._exit(127)
status = None
while status is None:
    try:
        child, code = os.wait()
    except ChildProcessError:
        break
    if child == pid:
        status = os.waitstatus_to_exitcode(code)
while True:
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.wait()
    except ChildProcessError:
        break
wall = time.monotonic() - started
used = resource.getrusage(resource.RUSAGE_CHILDREN)
measured = {"wall_seconds": wall, "cpu_seconds": used.ru_utime + used.ru_stime, "peak_rss": used.ru_maxrss * 1024}
if output_most >= 0:  # hand over the output folder: its regular files and folders, as a tar stream after the record
    import tarfile
    members, total, problem = [], 0, None
    for root, folders, names in os.walk("/app/output"):
        for name in sorted(folders + names):
            path = os.path.join(root, name)
            info = os.lstat(path)
            if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
                members.append(path)
                total += info.st_size if stat.S_ISREG(info.st_mode) else 0
        folders[:] = [f for f in folders if stat.S_ISDIR(os.lstat(os.path.join(root, f)).st_mode)]
    if total > output_most:
        problem = "the output folder holds %d bytes, more than the %d allowed" % (total, output_most)
    record = json.dumps({"status": status, "files": {}, "output": problem or "tar", **measured}).encode()
    os.write(fd, record + b"\n")
    if problem is None:
        with os.fdopen(fd, "wb", closefd=False) as pipe, tarfile.open(fileobj=pipe, mode="w|") as archive:
            for path in members:
                archive.add(path, arcname=os.path.relpath(path, "/app/output"), recursive=False)
    raise SystemExit(0)
files = {}
for name in ("scores.json", "scores.txt"):
    try:
        handle = os.open("/app/output/" + name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        continue
    except OSError as exc:
        files[name] = {"error": "could not be opened (%s)" % exc.strerror}
        continue
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode):
        files[name] = {"error": "is not a regular file"}
    elif info.st_size > most:
        files[name] = {"error": "is larger than 1 MB; it should hold a few numbers"}
    else:
        data = b""
        while len(data) <= most:
            chunk = os.read(handle, most + 1 - len(data))
            if not chunk:
                break
            data += chunk
        files[name] = {"text": data[:most].decode("utf-8", "replace")}
    os.close(handle)
record = json.dumps({"status": status, "files": files, **measured}).encode() + b"\n"
while record:
    record = record[os.write(fd, record):]
"""


@functools.cache
def _bwrap_knows(option: str) -> bool:
    """Whether the installed bubblewrap has this option."""
    try:
        done = subprocess.run(
            [bwrap_path() or "bwrap", "--help"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return option in done.stdout + done.stderr


def _bwrap_args(mounts: Sequence[tuple[Path, str]], disk_bytes: int, workdir: str) -> list[str]:
    # No capabilities even when Arena runs as root, no user namespaces inside, and every writable
    # place an in-memory file system of a fixed size; / and /dev read-only.
    size = str(disk_bytes)
    nested = ["--unshare-user", "--disable-userns"] if _bwrap_knows("--disable-userns") else []  # bubblewrap 0.8+
    args = [
        bwrap_path() or "bwrap",
        "--unshare-all",
        *nested,
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        size,
        "--tmpfs",
        "/dev/shm",
        "--remount-ro",
        "/dev",
        "--size",
        size,
        "--tmpfs",
        "/tmp",
        "--size",
        size,
        "--tmpfs",
        APP,
        "--dir",
        f"{APP}/output",
        "--dir",
        f"{APP}/shared",
    ]
    python_dirs = {sys.prefix, sys.base_prefix, os.path.realpath(sys.base_prefix)}
    for folder in [*SYSTEM_DIRS, *sorted(python_dirs)]:
        if os.path.exists(folder) and not any(folder.startswith(d + "/") for d in SYSTEM_DIRS):
            args += ["--ro-bind", folder, folder]
    for host, inside in mounts:
        args += ["--ro-bind", str(host), inside]
    args += [
        "--remount-ro",
        "/",
        "--chdir",
        workdir,
        "--clearenv",
        "--setenv",
        "PATH",
        f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "OMP_NUM_THREADS",
        "1",
        "--setenv",
        "OPENBLAS_NUM_THREADS",
        "1",
        "--setenv",
        "MKL_NUM_THREADS",
        "1",
        "--setenv",
        "PYTHONDONTWRITEBYTECODE",
        "1",
    ]
    return args


def run_program(
    program_dir: Path,
    ref_dir: Path,
    res_dir: Path,
    *,
    time_limit: int,
    memory_mb: int | None = None,
    processes: int | None = None,
    disk_mb: int | None = None,
) -> Run:
    """Run the scoring program on one submission and return its scores (raises ProgramError).

    The limits default to ``ARENA_PROGRAM_MEMORY_MB``, ``ARENA_PROGRAM_PROCESSES`` and
    ``ARENA_PROGRAM_DISK_MB``; the module's docstring says where each one holds.
    """
    mounts = [(program_dir, f"{APP}/program"), (ref_dir, f"{APP}/input/ref"), (res_dir, f"{APP}/input/res")]
    return run_sandboxed(
        program_command(program_dir),
        mounts,
        time_limit=time_limit,
        memory_mb=memory_mb,
        processes=processes,
        disk_mb=disk_mb,
    )


def run_sandboxed(
    command: str,
    mounts: Sequence[tuple[Path, str]],
    *,
    time_limit: int,
    memory_mb: int | None = None,
    processes: int | None = None,
    disk_mb: int | None = None,
    workdir: str = f"{APP}/program",
    output_to: Path | None = None,
    output_mb: int | None = None,
    what: str = "the scoring program",
) -> Run:
    """Run a shell ``command`` in the sandbox with these read-only ``mounts`` (host folder, path inside).

    Without ``output_to`` the run is a scoring program's: its scores are read from ``/app/output``. With it, the
    regular files and folders the command left in ``/app/output`` are copied into ``output_to`` (at most
    ``output_mb``, default ``disk_mb``; symbolic links and other special files are dropped, never followed) and
    ``Run.scores`` is empty: an ingestion program's or a participant's predictions, scored afterwards in a run of
    their own. ``what`` names the command in the organiser's messages. Raises ProgramError.
    """
    global _warned_uncapped
    memory_mb = memory_mb or _setting("ARENA_PROGRAM_MEMORY_MB", MEMORY_MB)
    processes = processes or _setting("ARENA_PROGRAM_PROCESSES", PROCESSES)
    disk_mb = disk_mb or _setting("ARENA_PROGRAM_DISK_MB", DISK_MB)
    output_bytes = -1 if output_to is None else (output_mb or disk_mb) * 2**20
    if bwrap_path() is None:
        raise ProgramError(
            [
                Problem(
                    "sandbox",
                    "bubblewrap (bwrap) is not installed, and programs never run "
                    "outside the sandbox: install it (Debian/Ubuntu: apt-get install bubblewrap).",
                )
            ],
            ours=True,
        )
    # The program's processes, plus the sandbox's init and supervisor, plus bubblewrap's own process outside it.
    group = Cgroup.make(memory_mb * 2**20, processes + SUPERVISOR_PROCESSES + 1)
    if group is None and os.geteuid() == 0 and not _warned_uncapped:
        _warned_uncapped = True
        log.warning(
            "sandboxed programs run without a cap on their number of processes: Arena runs as root and can "
            "make no cgroup (set ARENA_PROGRAM_CGROUP, or run Arena as an ordinary user)"
        )
    try:
        read_end, write_end = os.pipe()
        supervisor = [
            sys.executable or "python3",
            "-I",
            "-S",
            "-c",
            SUPERVISOR,
            str(write_end),
            str(memory_mb * 2**20),
            str(processes + SUPERVISOR_PROCESSES),
            str(disk_mb * 2**20),
            str(time_limit + 1),
            str(MAX_SCORES_BYTES),
            str(output_bytes),
            command,
        ]
        argv = [
            *(group.enter() if group else []),
            *_bwrap_args(mounts, disk_mb * 2**20, workdir),
            "--",
            *supervisor,
        ]
        try:
            try:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_end,),
                    # Not the server's environment (its secret key, its database URL): the sandbox's init process
                    # keeps what bubblewrap started with, and a program can read it in /proc/1/environ.
                    env=SANDBOX_ENVIRONMENT,
                )
            finally:
                os.close(write_end)
            most = 16 * MAX_SCORES_BYTES + max(output_bytes, 0) + (1 << 20)  # two escaped files, or a tar's headers
            output, record, timed_out = _collect(process, read_end, time_limit, most)
        finally:
            os.close(read_end)
        if group is not None:
            group.kill()
        usage = group.usage() if group else Usage("rlimits")
    finally:
        if group is not None:
            group.remove()
    return _outcome(
        output, record, timed_out, process.returncode, time_limit, memory_mb, processes, usage, what, output_to
    )


def _collect(process: subprocess.Popen, record_fd: int, time_limit: int, most: int) -> tuple[str, bytes, bool]:
    """The tail of the program's output and the supervisor's record, read until the sandbox ends or time runs out."""
    stdout = process.stdout
    if stdout is None:
        raise ValueError("the sandbox was started without a pipe for its output")
    deadline = time.monotonic() + time_limit
    tail, record = bytearray(), bytearray()
    selector = selectors.DefaultSelector()
    selector.register(stdout, selectors.EVENT_READ, "log")
    selector.register(record_fd, selectors.EVENT_READ, "record")
    timed_out, ended_at = False, None
    try:
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                timed_out = process.poll() is None
                break
            if ended_at is None and process.poll() is not None:
                ended_at = now
            if ended_at is not None and now - ended_at > GRACE_S:
                break
            for key, _ in selector.select(timeout=min(0.2, deadline - now)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data == "log":
                    tail = (tail + chunk)[-LOG_TAIL * 4 :]
                elif len(record) <= most:
                    record += chunk
    finally:
        selector.close()
        if process.poll() is None:
            process.kill()  # bubblewrap takes the whole sandbox down with it
        process.wait()
        stdout.close()
    return tail.decode("utf-8", "replace")[-LOG_TAIL:], bytes(record), timed_out


def _outcome(
    output: str,
    record: bytes,
    timed_out: bool,
    returncode: int,
    time_limit: int,
    memory_mb: int,
    processes: int,
    usage: Usage,
    what: str = "the scoring program",
    output_to: Path | None = None,
) -> Run:
    """Scores (or the output folder) from the supervisor's record, or the ProgramError that says why there are none."""
    notes = usage.notes(memory_mb, processes)
    limits = f"; {'; '.join(notes)}" if notes else ""
    if timed_out:
        raise ProgramError(
            [f"{what} took longer than the time limit of {time_limit} s{limits}."],
            output,
            verdict=TIME,
            usage=usage,
        )
    if not record.startswith(b"S"):  # the supervisor never started: the sandbox is broken
        raise ProgramError(
            [Problem("sandbox", f"the sandbox could not start (status {returncode}): {output.strip()[:300]}")],
            output,
            ours=True,
            usage=usage,
        )
    head, _, payload = record[1:].partition(b"\n")
    try:
        result = json.loads(head)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        raise ProgramError(
            [f"the sandbox stopped before {what} ended (status {returncode}){limits}."],
            output,
            usage=usage,
        )
    status = result.get("status")
    if status != 0:
        how = (
            f"was stopped by signal {-status}"
            if isinstance(status, int) and status < 0
            else f"stopped with an error (exit status {status})"
        )
        raise ProgramError([f"{what} {how}{limits}."], output, usage=usage)
    rss = result.get("peak_rss")
    wall, cpu = _number_or_none(result.get("wall_seconds")), _number_or_none(result.get("cpu_seconds"))
    if output_to is None:
        scores = _scores_from(result.get("files") or {}, output)
    elif result.get("output") != "tar":
        raise ProgramError([f"{what} left output that cannot be kept: {str(result.get('output'))[:200]}."], output)
    else:
        _unpack_output(payload, output_to, what, output)
        scores = {}
    return Run(scores, output, usage, wall, cpu, rss if isinstance(rss, int) else None)


def _number_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _unpack_output(payload: bytes, folder: Path, what: str, log_text: str) -> None:
    """The output folder's tar stream, unpacked with the standard library's ``data`` filter (no links, no paths out
    of ``folder``, no special files) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r|") as archive:
            archive.extractall(folder, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ProgramError([f"the output of {what} could not be read back: {exc}."], log_text) from None


_LINE = re.compile(r"^\s*([A-Za-z0-9_.\- ]+?)\s*:\s*(\S+)\s*$")


def read_scores(output: Path, log: str = "") -> dict[str, float]:
    """Scores from ``scores.json`` (an object of numbers) or ``scores.txt`` (``key: value`` lines) in a folder."""
    files = {}
    for name in ("scores.json", "scores.txt"):
        path = output / name
        if path.is_symlink() or (path.exists() and not path.is_file()):
            files[name] = {"error": "is not a regular file"}
        elif path.is_file():
            if path.stat().st_size > MAX_SCORES_BYTES:
                files[name] = {"error": "is larger than 1 MB; it should hold a few numbers"}
            else:
                files[name] = {"text": path.read_text(encoding="utf-8", errors="replace")}
    return _scores_from(files, log)


def _scores_from(files: dict, log: str) -> dict[str, float]:
    """Scores from the supervisor's copy of ``scores.json`` or ``scores.txt`` (JSON first)."""
    for name in ("scores.json", "scores.txt"):
        found = files.get(name)
        if not isinstance(found, dict):
            continue
        if "text" not in found:
            raise ProgramError([f"output/{name} {found.get('error', 'could not be read')}."], log, verdict=PROGRAM)
        text = str(found["text"])
        if name == "scores.json":
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ProgramError([f"output/scores.json is not valid JSON: {exc}."], log, verdict=PROGRAM) from None
            if not isinstance(raw, dict):
                raise ProgramError(
                    ['output/scores.json must be an object of scores, e.g. {"accuracy": 0.93}.'], log, verdict=PROGRAM
                )
        else:
            raw = {m.group(1): m.group(2) for m in map(_LINE.match, text.splitlines()) if m}
        break
    else:
        raise ProgramError(
            ["the scoring program wrote no output/scores.json or output/scores.txt."], log, verdict=PROGRAM
        )
    scores = {}
    for key, value in raw.items():
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError, OverflowError):
            continue  # a non-numeric entry (a duration, a note) is not a score
        if not math.isfinite(number):
            raise ProgramError(
                [
                    f"the scoring program gave {str(key)[:100]!r} the value {repr(value)[:100]}; scores must "
                    f"be finite numbers."
                ],
                log,
                verdict=PROGRAM,
            )
        scores[str(key)] = number
    return scores
