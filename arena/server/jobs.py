"""The scoring queue: an in-process worker by default, Redis (RQ) workers at scale.

Both run :func:`score_one`, the one scoring path for stored submissions. The queue's
truth is the database (``status``): Redis only carries wake-ups, so a lost Redis
message or a killed worker loses nothing: ``requeue_stuck`` and ``pending`` pick
the work up again on restart.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import timedelta

from arena.scoring.datasets import load_task
from arena.errors import SubmissionError
from arena.server.files import path_for
from arena.scoring.score import Score, score_submission
from arena.server import submissions as store
from arena.db.database import Database
from arena.db.models import Competition, Submission

log = logging.getLogger("arena.jobs")
SCORING_TIMEOUT = timedelta(seconds=int(os.environ.get("ARENA_SCORING_TIMEOUT", "600")))


def score_one(db: Database, submission_id: int) -> str | None:
    """Claim and score one submission; returns its new status (None if another worker had it).

    The database is only touched in short transactions before and after the scoring,
    so uploads are never blocked behind a long job.
    """
    with db.session() as session, session.begin():
        if not store.claim(session, submission_id):
            return None
        submission = session.get(Submission, submission_id)
        competition = session.get(Competition, submission.competition_id)
        task_ref, fraction, file_sha = competition.task_ref, competition.public_fraction, submission.file_sha256
    outcome: Score | list[str] | None
    try:
        outcome = score_submission(load_task(task_ref), path_for(file_sha), public_fraction=fraction)
    except SubmissionError as exc:
        outcome = exc.messages()
    except Exception:  # our failure, never the participant's: retried, never charged
        log.exception("scoring submission %s failed", submission_id)
        outcome = None
    with db.session() as session, session.begin():
        submission = session.get(Submission, submission_id)
        competition = session.get(Competition, submission.competition_id)
        if competition.task_ref != task_ref:  # the task changed meanwhile: score again
            submission.status = "queued"
        elif isinstance(outcome, Score):
            store.record_score(session, submission, competition, outcome)
        elif isinstance(outcome, list):
            store.record_invalid(submission, outcome)
        else:
            store.record_our_failure(submission)
        return submission.status


def pending(db: Database) -> list[int]:
    """Put stuck jobs back and list everything queued (used at start and by the worker loop)."""
    with db.session() as session, session.begin():
        store.requeue_stuck(session, SCORING_TIMEOUT)
        return store.queued_ids(session)


class InProcessWorker:
    """A daemon thread that scores queued submissions; woken at once by :meth:`notify`."""

    def __init__(self, db: Database, poll_seconds: float = 2.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arena-scoring", daemon=True)

    def start(self) -> "InProcessWorker":
        """Start scoring. Jobs left ``scoring`` by a previous run of this server go back in the
        queue at once: with in-process scoring nobody else can be working on them."""
        with self.db.session() as session, session.begin():
            store.requeue_stuck(session, timedelta(0))
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for submission_id in pending(self.db):
                    if self._stop.is_set():
                        return
                    score_one(self.db, submission_id)
            except Exception:  # keep the worker alive; the job stays queued and is retried
                log.exception("scoring loop error")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


class RedisQueue:
    """Hands submission ids to ``arena worker`` processes through Redis (RQ)."""

    def __init__(self, redis_url: str, db: Database) -> None:
        from redis import Redis
        from rq import Queue

        self.db = db
        self.queue = Queue("arena-scoring", connection=Redis.from_url(redis_url))

    def start(self) -> "RedisQueue":
        """Re-announce what the database says is pending (a restart may have lost wake-ups)."""
        for submission_id in pending(self.db):
            self.notify(submission_id)
        return self

    def notify(self, submission_id: int | None = None) -> None:
        if submission_id is not None:
            self.queue.enqueue(rq_score, submission_id, job_timeout=int(SCORING_TIMEOUT.total_seconds()))


def rq_score(submission_id: int) -> str | None:
    """The RQ job: opens the database named by the environment and scores one submission."""
    return score_one(_worker_db(), submission_id)


_db: Database | None = None


def _worker_db() -> Database:
    global _db
    if _db is None:
        _db = Database()
    return _db


def run_redis_worker(redis_url: str, burst: bool = False) -> None:
    """``arena worker``: first re-enqueue what the database says is pending, then serve the queue."""
    from redis import Redis
    from rq import Worker

    queue = RedisQueue(redis_url, _worker_db()).start()
    Worker([queue.queue], connection=Redis.from_url(redis_url)).work(burst=burst)
