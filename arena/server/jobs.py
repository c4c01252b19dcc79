"""The scoring queue: an in-process worker by default, Redis (RQ) workers at scale.

Both run :func:`score_one`, the one scoring path for stored submissions. The queue's
truth is the database (``status``): Redis only carries wake-ups, so a lost Redis
message or a killed worker loses nothing. A worker beats a heartbeat on the job it
scores; :func:`sweep` puts back in the queue the jobs whose worker stopped beating
(or died on this machine), and never takes a live job from its worker.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import traceback
import time
from datetime import timedelta

from arena.scoring.datasets import load_task
from arena.errors import SubmissionError
from arena.server.files import path_for, remove_unreferenced
from arena.scoring.score import Score, score_submission
from arena.server import feedback
from arena.server.rank_worker import refresh_ranks
from arena.server import submissions as store
from arena.db.database import Database
from arena.db.models import Competition, Submission, utcnow

log = logging.getLogger("arena.jobs")
SCORING_TIMEOUT = timedelta(seconds=int(os.environ.get("ARENA_SCORING_TIMEOUT", "600")))
"""The longest one scoring may take; past it the worker stops vouching for the job and it is retried."""
MAX_FAILURE_DETAIL = 8000  # characters of a traceback kept for the organiser
HEARTBEAT = timedelta(seconds=float(os.environ.get("ARENA_HEARTBEAT_SECONDS", "10")))
"""How often a worker says it is alive; three missed beats and its job goes back in the queue."""
MISSED_BEATS = 3
RANKS_POLL_SECONDS = 2.0


def worker_name() -> str:
    """A fresh claim token: ``host:pid:nonce``, so a job's holder can be told dead or alive on its own host."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead_here(workers: list[tuple[int, str | None]]) -> list[int]:
    """The jobs held by processes of this host that no longer exist (killed, crashed)."""
    host = socket.gethostname()
    dead = []
    for submission_id, worker in workers:
        parts = (worker or "").rsplit(":", 2)
        if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not _alive(int(parts[1])):
            dead.append(submission_id)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process not yet reaped by its parent is a zombie: dead all the same
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def sweep(db: Database) -> list[int]:
    """Put back in the queue the jobs whose worker stopped beating or died; returns their ids."""
    with db.session() as session, session.begin():
        dead = _dead_here(store.scoring_workers(session))
        return store.requeue_stuck(session, utcnow() - HEARTBEAT * MISSED_BEATS, dead)


class _Heartbeat:
    """Beats for one claimed job in a thread while it is scored, until the scoring ends or runs past its time."""

    def __init__(self, db: Database, submission_id: int, worker: str) -> None:
        self.db, self.submission_id, self.worker = db, submission_id, worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arena-heartbeat", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        deadline = time.monotonic() + SCORING_TIMEOUT.total_seconds()
        while not self._stop.wait(HEARTBEAT.total_seconds()) and time.monotonic() < deadline:
            try:
                with self.db.session() as session, session.begin():
                    if not store.beat(session, self.submission_id, self.worker):
                        return  # the job was taken back (a rescore): nothing to vouch for
            except Exception:  # a missed beat is harmless; several in a row hand the job to another worker
                log.exception("heartbeat for submission %s failed", self.submission_id)


def score_one(db: Database, submission_id: int) -> str | None:
    """Claim and score one submission; returns its new status (None if another worker had it).

    The database is only touched in short transactions before and after the scoring,
    so uploads are never blocked behind a long job. A result is recorded only while
    this worker still holds the claim: a job requeued meanwhile (a rescore, or a
    heartbeat judged lost) is scored again by whoever holds it now.
    """
    worker = worker_name()
    with db.session() as session, session.begin():
        if not store.claim(session, submission_id, worker):
            return None
        submission = session.get(Submission, submission_id)
        competition = session.get(Competition, submission.competition_id)
        task_ref, fraction, file_sha = competition.task_ref, competition.public_fraction, submission.file_sha256
        split_key = competition.split_key
        started = (task_ref, competition.task_version, competition.answer_sha256)
    outcome: Score | list[str] | None
    failure = None
    with _Heartbeat(db, submission_id, worker):
        try:
            outcome = score_submission(load_task(task_ref), path_for(file_sha), public_fraction=fraction,
                                       split_key=split_key)
        except SubmissionError as exc:
            outcome = exc.messages()
        except Exception:  # our failure, never the participant's: retried, never charged
            log.exception("scoring submission %s failed", submission_id)
            outcome, failure = None, traceback.format_exc(limit=20)[-MAX_FAILURE_DETAIL:]
    with db.session() as session, session.begin():
        submission = session.get(Submission, submission_id, with_for_update=True)
        if not store.holds_claim(submission, worker):
            return None
        competition = session.get(Competition, submission.competition_id)
        if (competition.task_ref, competition.task_version, competition.answer_sha256) != started:  # changed: again
            submission.status = "queued"
        elif isinstance(outcome, Score):
            store.record_score(session, submission, competition, outcome)
            feedback.after_scoring(session, submission, competition, outcome)
        elif isinstance(outcome, list):
            store.record_invalid(submission, outcome)
        else:
            store.record_our_failure(submission, failure)
        submission.worker = None
        return submission.status


def pending(db: Database) -> list[int]:
    """Put stuck jobs back and list everything queued (used at start and by the worker loop)."""
    sweep(db)
    with db.session() as session, session.begin():
        return store.queued_ids(session)


def tidy_store(db: Database) -> int:
    """Remove stored files no submission references (left by a crash between storing and recording)."""
    with db.session() as session, session.begin():
        return remove_unreferenced(session)


class InProcessWorker:
    """A daemon thread that scores queued submissions; woken at once by :meth:`notify`."""

    def __init__(self, db: Database, poll_seconds: float = 2.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arena-scoring", daemon=True)

    def start(self) -> "InProcessWorker":
        """Start scoring. Jobs left ``scoring`` by a stopped process go back in the queue at once
        (a dead process on this host) or after its missed heartbeats (a silent one elsewhere)."""
        sweep(self.db)
        tidy_store(self.db)
        self._thread.start()
        return self

    def notify(self, submission_id: int | None = None) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def drain(self) -> None:
        """Score everything queued now, in this thread (tests and the CLI use it)."""
        while ids := pending(self.db):
            for submission_id in ids:
                score_one(self.db, submission_id)
        refresh_ranks(self.db)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for submission_id in pending(self.db):
                    if self._stop.is_set():
                        return
                    score_one(self.db, submission_id)
                refresh_ranks(self.db)  # boards changed by the scores above (or by anything else) get their ranks
            except Exception:  # keep the worker alive; the job stays queued and is retried
                log.exception("scoring loop error")
            self._wake.wait(min(self.poll_seconds, HEARTBEAT.total_seconds()))
            self._wake.clear()


class RedisQueue:
    """Hands submission ids to ``arena worker`` processes through Redis (RQ)."""

    def __init__(self, redis_url: str, db: Database) -> None:
        from redis import Redis
        from rq import Queue

        self.db = db
        self.redis_url = redis_url
        self.queue = Queue("arena-scoring", connection=Redis.from_url(redis_url))

    def start(self) -> "RedisQueue":
        """Re-announce what the database says is pending (a restart may have lost wake-ups)."""
        for submission_id in pending(self.db):
            self.notify(submission_id)
        return self

    def notify(self, submission_id: int | None = None) -> None:
        """Enqueue one submission, or (None) every queued one: rescores, new task versions, retries."""
        if submission_id is None:
            with self.db.session() as session, session.begin():
                ids = store.queued_ids(session, limit=None)
        else:
            ids = [submission_id]
        for one in ids:
            self.queue.enqueue(rq_score, one, job_timeout=int(SCORING_TIMEOUT.total_seconds()) + 60)

    def watch(self) -> threading.Thread:
        """Every heartbeat: requeue and enqueue the jobs of silent or dead workers, and re-announce queued
        jobs when Redis holds none (a lost wake-up). ``arena worker`` runs this beside the RQ worker."""

        def run() -> None:
            while True:
                time.sleep(HEARTBEAT.total_seconds())
                try:
                    for submission_id in sweep(self.db):
                        self.notify(submission_id)
                    if self.queue.count == 0:
                        self.notify(None)
                except Exception:  # Redis or the database away for a moment: try again at the next beat
                    log.exception("worker watch failed")

        thread = threading.Thread(target=run, name="arena-watch", daemon=True)
        thread.start()
        return thread


def start_rank_process(database_url: str | None = None):
    """``arena worker``'s rank process: rank statistics for the boards that changed, a little after each change.

    A process of its own, spawned (a fresh interpreter, never forked): RQ forks a process
    per job, and a fork taken while a thread of the parent held a lock (loading a task,
    say) would leave the job waiting on that lock forever. Every worker has one; a lock
    file lets one of them compute each board. It ends when its worker does.
    """
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(target=_rank_forever, args=(database_url, os.getpid()),
                                                           name="arena-ranks", daemon=True)
    process.start()
    return process


def _rank_forever(database_url: str | None, parent: int) -> None:
    db = Database(database_url)
    while os.getppid() == parent:  # a worker killed outright leaves its rank process an orphan: it stops too
        time.sleep(RANKS_POLL_SECONDS)
        try:
            refresh_ranks(db)
        except Exception:  # the database away for a moment: try again
            log.exception("rank statistics loop failed")


def rq_score(submission_id: int) -> str | None:
    """The RQ job: scores one submission in the database named by the environment; a job that goes back
    in the queue (a failure of ours, a task changed meanwhile) is enqueued again at once."""
    status = score_one(_worker_db(), submission_id)
    if status == "queued" and _redis_url:
        RedisQueue(_redis_url, _worker_db()).notify(submission_id)
    return status


_db: Database | None = None
_redis_url: str | None = None


def _worker_db() -> Database:
    global _db
    if _db is None:
        _db = Database()
        os.register_at_fork(after_in_child=_leave_parent_connections)
    return _db


def _leave_parent_connections() -> None:
    """RQ forks a process per job: the child opens its own connections and never touches the ones the parent's
    watch and rank threads use (SQLAlchemy's advice for pools across fork: ``dispose(close=False)``)."""
    if _db is not None:
        _db.engine.dispose(close=False)


def run_redis_worker(redis_url: str, burst: bool = False) -> None:
    """``arena worker``: re-enqueue what the database says is pending, watch for stuck jobs, serve the queue."""
    from redis import Redis
    from rq import Worker

    global _redis_url
    _redis_url = redis_url
    queue = RedisQueue(redis_url, _worker_db()).start()
    from arena.scoring.gridcount import warm  # (numba: imported by the worker, not by every web process)

    warm()  # each job is a forked child: it inherits the compiled loops instead of loading them (about 0.5 s)
    if not burst:
        start_rank_process()  # the same database as this worker, named by the environment
        queue.watch()
    Worker([queue.queue], connection=Redis.from_url(redis_url)).work(burst=burst)
    if burst:
        refresh_ranks(_worker_db())
