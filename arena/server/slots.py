"""Scoring slots: child processes that run one job at a time and are killed when a job overruns its limit.

Scoring runs organisers' code (metric plugins, Codabench programs) and reads hostile
files, so no job runs in a process that anything else depends on. A slot is one
child process; the caller sends it a job and waits at most the job's time limit.
Past the limit the job is killed with SIGKILL with every process it started (a
plugin that ignores signals, sleeps in C or forks goes too; a sandboxed program dies
with its parent), the caller hears ``timed out``, and the next job starts clean.

A slot's child lives on between jobs, so the tasks it loaded stay loaded. A job that
runs only Arena's own code runs in the slot's child itself, and one that overruns its
limit takes the child's whole process group with it: the next job pays for a new
interpreter. A job that runs an organiser's Python code (a metric plugin: the job's
``prepare`` says so, after loading what the job needs into the slot) runs in a child
forked for it alone, so nothing that code does (a function of numpy or Arena replaced,
numpy's error settings, warnings filters, the working folder, a thread it left
running) reaches the next job, another competition's above all. The slot ends such a
job at its limit itself and, after every such job, kills every process the job left
behind, those that left its process group or session (``setsid``) included: the slot
is their subreaper, so they become its children when their parents die.

The server's slots are spawned (a fresh interpreter: the web process has threads, and
a fork taken while one of them held a lock would wait on it forever). A Redis worker's
job runs in RQ's single-threaded work horse, which forks its slot and so hands it the
loops it already compiled.

The child leaves by itself when its parent dies, even in the middle of a job: it
watches its parent's process id and then kills its process group, so a killed server
leaves no scoring orphans; a forked job also dies with the slot (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkContext, SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, Literal

PARENT_WATCH_SECONDS = 1.0
FORKED_GRACE_SECONDS = 10.0
"""How long past a forked job's limit the caller waits for the slot to report the kill before killing the slot."""
SWEEP_SECONDS = 5.0
"""How long the slot keeps killing what a forked job left behind (a process that forks as fast as it is killed)."""
_HEADER = 8  # bytes of a forked job's answer that give its length

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Finished:
    """The job returned ``value`` (whatever the function returned: exceptions are the function's to catch)."""

    value: Any


@dataclass(frozen=True)
class TimedOut:
    """The job ran past its limit and was killed with every process it started."""

    seconds: float


@dataclass(frozen=True)
class Died:
    """The job ended without an answer (killed from outside, out of memory, a crash in C code, an answer that
    could not be read)."""

    exit_code: int | None


Outcome = Finished | TimedOut | Died


def _prctl(option: int, value: int) -> bool:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _serve(connection, environ: dict[str, str]) -> None:
    """The child: run each job sent to it and send back what came of it."""
    try:
        os.setsid()  # a group of its own, so one kill takes every process a job started
    except OSError:  # already a group leader (a forked child of one)
        pass
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # what a forked job leaves behind comes back here to be killed
    os.environ.update(environ)
    parent = os.getppid()
    threading.Thread(target=_leave_with_parent, args=(parent,), name="arena-slot-parent", daemon=True).start()
    while True:
        try:
            function, argument, environ, limit_seconds, prepare = connection.recv()
        except (EOFError, OSError):  # the parent closed the slot or died
            return
        deadline = time.monotonic() + limit_seconds
        _apply(environ)
        forked = False
        if prepare is not None:
            try:
                forked = bool(prepare(argument))
            except Exception:  # the job reports what failed; whatever it runs, it runs apart
                forked = True
        connection.send(("forked" if forked else "here", None))
        if not forked:
            answer = ForkingPickler.dumps(function(argument))  # Arena's code: an exception ends the child (Died)
            connection.send(("finished", None))
            connection.send_bytes(answer)
            continue
        kind, detail = _run_forked(connection, function, argument, deadline)
        connection.send((kind, None if kind == "finished" else detail))
        if kind == "finished":
            connection.send_bytes(detail)


def _run_forked(connection, function: Callable[[Any], Any], argument: Any, deadline: float) -> tuple[str, Any]:
    """Run one job in a child forked for it: ("finished", its pickled answer), ("timed out", None) or
    ("died", exit code). Every process the job started is gone when this returns."""
    before = set(_descendants())  # the slot's own children (none, as a rule) are left alone
    reader, writer = os.pipe()
    slot = os.getpid()
    pid = os.fork()
    if pid == 0:  # the job's own process
        code = 1
        try:
            os.close(reader)
            os.close(connection.fileno())  # the job never speaks to the caller but through the slot
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != slot:  # the slot died before the line above
                os._exit(1)
            data = ForkingPickler.dumps(function(argument))
            for part in (len(data).to_bytes(_HEADER, "big"), data):
                view = memoryview(part)
                while view:
                    view = view[os.write(writer, view) :]
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    os.close(writer)
    answer, status = bytearray(), None
    expected = None
    try:
        os.set_blocking(reader, False)
        selector = selectors.DefaultSelector()
        selector.register(reader, selectors.EVENT_READ, "answer")
        try:
            pidfd = os.pidfd_open(pid)
            selector.register(pidfd, selectors.EVENT_READ, "ended")
        except (AttributeError, OSError):
            pidfd = None
        try:
            while True:
                if expected is None and len(answer) >= _HEADER:
                    expected = _HEADER + int.from_bytes(answer[:_HEADER], "big")
                if expected is not None and len(answer) >= expected:
                    break  # the whole answer is here
                if status is not None:
                    break  # ended, and what it wrote has been read
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timed out", None
                events = selector.select(min(remaining, 0.05 if pidfd is None else remaining))
                ended = pidfd is not None and any(key.data == "ended" for key, _ in events)
                if pidfd is None or ended:
                    done, code = os.waitpid(pid, os.WNOHANG)
                    if done:
                        status = os.waitstatus_to_exitcode(code)
                if any(key.data == "answer" for key, _ in events) or status is not None:
                    _read_available(reader, answer, selector)
        finally:
            selector.close()
            if pidfd is not None:
                os.close(pidfd)
    finally:
        os.close(reader)
        _end_job(pid if status is None else None, before)
    if expected is not None and len(answer) >= expected:
        return "finished", bytes(answer[_HEADER:expected])
    return "died", status


def _read_available(fd: int, into: bytearray, selector) -> None:
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not chunk:
            try:
                selector.unregister(fd)
            except (KeyError, ValueError):
                pass
            return
        into += chunk


def _descendants() -> list[int]:
    """Every living process below this one (read from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != b"Z":
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [os.getpid()]
    while queue:
        for child in parents.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _end_job(pid: int | None, keep: set[int]) -> None:
    """Kill the job's process (``pid``, unless it was reaped already) and everything it left behind; reap them all."""
    if pid is not None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stop = time.monotonic() + SWEEP_SECONDS
    while True:
        left = [one for one in _descendants() if one not in keep]
        for one in left:
            try:
                os.kill(one, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap(keep)
        if not left or time.monotonic() > stop:
            return
        time.sleep(0.01)


def _reap(keep: set[int]) -> None:
    """Collect the exit status of every child that ended (those of the slot's own that still run stay)."""
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if done == 0:
            return


def _apply(environ: dict[str, str]) -> None:
    """The parent's ``ARENA_*`` settings as they are now (they can change while the slot lives)."""
    for key in [k for k in os.environ if k.startswith("ARENA_") and k not in environ]:
        del os.environ[key]
    os.environ.update(environ)


def _leave_with_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_WATCH_SECONDS)
        if os.getppid() != parent:
            try:
                if os.getpgid(0) == os.getpid():  # the slot leads its group: the job and what it started go too
                    os.killpg(0, signal.SIGKILL)
            finally:
                os._exit(0)


def arena_settings() -> dict[str, str]:
    """The settings a job depends on: every ``ARENA_*`` variable of this process."""
    return {key: value for key, value in os.environ.items() if key.startswith("ARENA_")}


class Slot:
    """One child process that runs jobs one at a time, each under a hard wall-clock limit.

    ``context`` is a multiprocessing start method: ``spawn`` where the caller has threads,
    ``fork`` in a single-threaded process that wants its child to inherit what it loaded.
    A slot is used by one thread at a time (a lock makes sure).
    """

    def __init__(self, context: Literal["spawn", "fork"] = "spawn") -> None:
        self._context: SpawnContext | ForkContext = (
            multiprocessing.get_context("fork") if context == "fork" else multiprocessing.get_context(context)
        )
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> Slot:
        """Start the child now, if it is not running (``run`` starts it too)."""
        if self._process is None or not self._process.is_alive():
            self._discard()
            ours, theirs = self._context.Pipe()
            process = self._context.Process(
                target=_serve, args=(theirs, arena_settings()), name="arena-scoring-slot", daemon=True
            )
            process.start()
            theirs.close()
            self._process, self._connection = process, ours
        return self

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def run(
        self,
        function: Callable[[Any], Any],
        argument: Any,
        limit_seconds: float,
        prepare: Callable[[Any], bool] | None = None,
    ) -> Outcome:
        """Run ``function(argument)`` in the child; kill it if no answer comes within ``limit_seconds``.

        ``function`` must be a module-level function (it is sent by name) that catches its own
        exceptions and returns something picklable. ``prepare(argument)``, run in the slot's child
        first (within the limit), loads what the job needs so that later jobs find it loaded, and
        says whether the job runs code that is not Arena's: then the job runs in a child forked for
        it alone (so does every job when ``prepare`` fails). Without ``prepare`` the job runs in the
        slot's child itself.
        """
        with self._lock:
            self.start()
            connection = self._connection
            if connection is None:
                raise RuntimeError("the scoring slot started without a connection to its child")
            started = time.monotonic()
            try:
                connection.send((function, argument, arena_settings(), limit_seconds, prepare))
                if not connection.poll(limit_seconds):
                    self.kill()
                    return TimedOut(limit_seconds)
                where, _ = connection.recv()
                # A forked job is ended by the slot at its limit; the slot itself is killed only if it is silent.
                wait = started + limit_seconds + (FORKED_GRACE_SECONDS if where == "forked" else 0) - time.monotonic()
                if not connection.poll(max(0.0, wait)):
                    self.kill()
                    return TimedOut(limit_seconds)
                kind, detail = connection.recv()
                if kind == "timed out":
                    return TimedOut(limit_seconds)
                if kind == "died":
                    return Died(detail)
                return Finished(ForkingPickler.loads(connection.recv_bytes()))
            except (EOFError, OSError, BrokenPipeError):
                exit_code = self._reap()
                return Died(exit_code)
            except Exception:  # an answer that cannot be read: the child is in no state to score on
                self.kill()
                return Died(None)

    def kill(self) -> None:
        """Kill the child and every process it started; the next job starts a fresh child."""
        process = self._process
        if process is None:
            return
        if process.pid is None:  # a slot keeps its child only once started
            raise RuntimeError("the scoring slot's child was never started")
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the child leads its own group
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.kill()
        except (ProcessLookupError, OSError, ValueError):
            pass
        self._reap()

    def close(self) -> None:
        """Stop the child (it was idle, or it is killed)."""
        with self._lock:
            self.kill()

    def _reap(self) -> int | None:
        process = self._process
        exit_code = None
        if process is not None:
            process.join(5)
            if process.is_alive() and process.pid is not None:  # a child that did not die: kill it for good
                try:
                    os.kill(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.join(5)
            exit_code = process.exitcode
        self._discard()
        return exit_code

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            try:
                self._process.close()
            except ValueError:  # still running: it was killed above or will be reaped by multiprocessing
                pass
        self._process = self._connection = None
