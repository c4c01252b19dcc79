"""Scoring slots: child processes that run one job at a time and are killed when a job overruns its limit.

Scoring runs organisers' code (metric plugins, Codabench programs) and reads hostile
files, so no job runs in a process that anything else depends on. A slot is one
child process; the caller sends it a job and waits at most the job's time limit.
Past the limit the slot's whole process group is killed with SIGKILL (a plugin that
ignores signals, sleeps in C or forks goes too; a sandboxed program dies with its
parent), the caller hears ``timed out``, and the next job starts a fresh child.

A slot's child lives on between jobs, so the tasks it loaded stay loaded: a job pays
for a new interpreter only after a kill. The server's slots are spawned (a fresh
interpreter: the web process has threads, and a fork taken while one of them held a
lock would wait on it forever). A Redis worker's job runs in RQ's single-threaded
work horse, which forks its slot and so hands it the loops it already compiled.

The child leaves by itself when its parent dies, even in the middle of a job: it
watches its parent's process id, so a killed server leaves no scoring orphans.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

PARENT_WATCH_SECONDS = 1.0


@dataclass(frozen=True)
class Finished:
    """The job returned ``value`` (whatever the function returned: exceptions are the function's to catch)."""

    value: Any


@dataclass(frozen=True)
class TimedOut:
    """The job ran past its limit and its process group was killed."""

    seconds: float


@dataclass(frozen=True)
class Died:
    """The child ended without an answer (killed from outside, out of memory, a crash in C code)."""

    exit_code: int | None


Outcome = Finished | TimedOut | Died


def _serve(connection, environ: dict[str, str]) -> None:
    """The child: run each job sent to it and send back what the function returned."""
    try:
        os.setsid()  # a group of its own, so one kill takes every process a job started
    except OSError:  # already a group leader (a forked child of one)
        pass
    os.environ.update(environ)
    parent = os.getppid()
    threading.Thread(target=_leave_with_parent, args=(parent,), name="arena-slot-parent", daemon=True).start()
    while True:
        try:
            function, argument, environ = connection.recv()
        except (EOFError, OSError):  # the parent closed the slot or died
            return
        _apply(environ)
        connection.send(function(argument))


def _apply(environ: dict[str, str]) -> None:
    """The parent's ``ARENA_*`` settings as they are now (they can change while the slot lives)."""
    for key in [k for k in os.environ if k.startswith("ARENA_") and k not in environ]:
        del os.environ[key]
    os.environ.update(environ)


def _leave_with_parent(parent: int) -> None:
    while True:
        time.sleep(PARENT_WATCH_SECONDS)
        if os.getppid() != parent:
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

    def __init__(self, context: str = "spawn") -> None:
        self._context = multiprocessing.get_context(context)
        self._process = None
        self._connection = None
        self._lock = threading.Lock()

    def start(self) -> "Slot":
        """Start the child now, if it is not running (``run`` starts it too)."""
        if self._process is None or not self._process.is_alive():
            self._discard()
            ours, theirs = self._context.Pipe()
            process = self._context.Process(target=_serve, args=(theirs, arena_settings()), name="arena-scoring-slot",
                                            daemon=True)
            process.start()
            theirs.close()
            self._process, self._connection = process, ours
        return self

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None and self._process.is_alive() else None

    def run(self, function: Callable[[Any], Any], argument: Any, limit_seconds: float) -> Outcome:
        """Run ``function(argument)`` in the child; kill it if no answer comes within ``limit_seconds``.

        ``function`` must be a module-level function (it is sent by name) that catches its own
        exceptions and returns something picklable.
        """
        with self._lock:
            self.start()
            try:
                self._connection.send((function, argument, arena_settings()))
                if not self._connection.poll(limit_seconds):
                    self.kill()
                    return TimedOut(limit_seconds)
                return Finished(self._connection.recv())
            except (EOFError, OSError, BrokenPipeError):
                exit_code = self._reap()
                return Died(exit_code)

    def kill(self) -> None:
        """Kill the child and every process it started; the next job starts a fresh child."""
        process = self._process
        if process is None:
            return
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
            if process.is_alive():  # a child that did not die of SIGTERM-free exit: kill it for good
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
