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
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from arena.codabench.programs import ProgramFailed
from arena.db.database import Database
from arena.db.models import Competition, Submission, utcnow
from arena.errors import SubmissionError
from arena.scoring import one_pass
from arena.scoring.score import Score, public_rows, score_submission
from arena.server import feedback, slots
from arena.server import submissions as store
from arena.server.claims import worker_name
from arena.server.files import path_for, remove_unreferenced
from arena.server.rank_worker import refresh_ranks
from arena.tasks import load_task

log = logging.getLogger("arena.jobs")
DEFAULT_SCORING_TIMEOUT = 600.0
"""The longest one scoring may take (a task may set its own); past it the job's process is killed."""
SCORING_SLOTS = int(os.environ.get("ARENA_SCORING_SLOTS", "2"))
"""Scoring processes of ``arena serve``'s own queue: jobs of other competitions flow while one runs long."""
KILL_GRACE_SECONDS = 30
"""How long past a job's limit its heartbeat still vouches for it (the kill and the record take a moment)."""
MAX_FAILURE_DETAIL = 8000  # characters of a traceback kept for the organiser
HEARTBEAT = timedelta(seconds=float(os.environ.get("ARENA_HEARTBEAT_SECONDS", "10")))
"""How often a worker says it is alive; three missed beats and its job goes back in the queue."""
MISSED_BEATS = 3
RANKS_POLL_SECONDS = 2.0


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

    def __init__(self, db: Database, submission_id: int, worker: str, limit_seconds: float) -> None:
        self.db, self.submission_id, self.worker = db, submission_id, worker
        self.limit_seconds = limit_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arena-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit_seconds + KILL_GRACE_SECONDS
        while not self._stop.wait(HEARTBEAT.total_seconds()) and time.monotonic() < deadline:
            try:
                with self.db.session() as session, session.begin():
                    if not store.beat(session, self.submission_id, self.worker):
                        return  # the job was taken back (a rescore): nothing to vouch for
            except Exception:  # a missed beat is harmless; several in a row hand the job to another worker
                log.exception("heartbeat for submission %s failed", self.submission_id)


@dataclass(frozen=True)
class Job:
    """What a scoring slot needs to score one stored submission."""

    task_ref: str
    file_path: str
    public_fraction: float
    split_key: str


@dataclass(frozen=True)
class Result:
    """What came of one job: ``scored`` (with its Score), ``invalid`` (the participant's file, with the
    problems they may see) or ``ours`` (a failure of ours). ``detail`` is for organisers only."""

    kind: str
    score: Score | None = None
    problems: tuple[str, ...] = ()
    detail: str = ""
    failure_kind: str | None = None  # what the organisers' count of uncharged failures calls it


def score_job(job: Job) -> Result:
    """Score one submission (run in a scoring slot); every exception becomes a Result."""
    try:
        score = score_submission(
            load_task(job.task_ref), Path(job.file_path), public_fraction=job.public_fraction, split_key=job.split_key
        )
    except SubmissionError as exc:
        program = isinstance(exc, ProgramFailed)  # a scoring program refused or failed on this file
        return Result(
            "invalid",
            problems=tuple(exc.messages()),
            detail=str(getattr(exc, "log", "") or "")[-MAX_FAILURE_DETAIL:],
            failure_kind="program" if program else None,
        )
    except Exception:  # our failure, never the participant's: retried, never charged
        log.exception("scoring %s failed", job.file_path)
        return Result("ours", detail=traceback.format_exc(limit=20)[-MAX_FAILURE_DETAIL:], failure_kind="ours")
    return Result("scored", score=score)


def prepare_job(job: Job) -> bool:
    """Run in the scoring slot before the job: load its task (Arena's code only, no organiser's) and its split,
    which later jobs of the same competition then find loaded; True when scoring runs an organiser's Python code
    (a metric plugin), which the slot then runs in a process of its own that ends with the job, so that nothing
    the code changes in the process reaches another job."""
    task = load_task(job.task_ref)
    if task.spec.kind != "program":
        public_rows(task, job.public_fraction, split_key=job.split_key)
    return bool(getattr(task.spec, "plugins", ()))


def _outcome_result(outcome: slots.Outcome) -> Result:
    """A slot's outcome as a job's result: a kill for time and a dead slot are failures of ours."""
    if isinstance(outcome, slots.Finished):
        return outcome.value
    if isinstance(outcome, slots.TimedOut):
        return Result(
            "ours", detail=f"scoring was stopped after its time limit of {outcome.seconds:g} s.", failure_kind="timeout"
        )
    return Result(
        "ours",
        detail=f"the scoring process ended without an answer (exit code {outcome.exit_code}); "
        "it may have run out of memory.",
        failure_kind="ours",
    )


def time_limit(competition: Competition) -> float:
    """The competition's scoring time limit: its task's own (task.toml or a Codabench phase) or the installation's."""
    own = (competition.task_facts or {}).get("scoring_timeout")
    return float(own) if own else installation_time_limit()


def installation_time_limit() -> float:
    """``ARENA_SCORING_TIMEOUT`` (seconds, default 600): the limit of tasks that set none."""
    return float(os.environ.get("ARENA_SCORING_TIMEOUT", DEFAULT_SCORING_TIMEOUT))


def score_one(db: Database, submission_id: int, slot: slots.Slot | None = None) -> str | None:
    """Claim and score one submission in a scoring slot; returns its new status (None if another worker had it).

    The database is only touched in short transactions before and after the scoring,
    so uploads are never blocked behind a long job. A result is recorded only while
    this worker still holds the claim: a job requeued meanwhile (a rescore, or a
    heartbeat judged lost) is scored again by whoever holds it now. ``slot`` is the
    child process to score in (by default this process's first slot).
    """
    slot = slot or default_slot()
    slot.start()  # before the heartbeat's thread exists: a forking slot must fork a single-threaded process
    worker = worker_name()
    with db.session() as session, session.begin():
        if not store.claim(session, submission_id, worker):
            return None
        submission = session.get_one(Submission, submission_id)
        competition = session.get_one(Competition, submission.competition_id)
        job = Job(
            competition.task_ref,
            str(path_for(submission.file_sha256)),
            competition.public_fraction,
            competition.split_key,
        )
        limit = time_limit(competition)
        started = (competition.task_ref, competition.task_version, competition.answer_sha256)
    with _Heartbeat(db, submission_id, worker, limit):
        result = _outcome_result(slot.run(score_job, job, limit, prepare=prepare_job))
    with db.session() as session, session.begin():
        submission = session.get_one(Submission, submission_id, with_for_update=True)
        if not store.holds_claim(submission, worker):
            return None
        competition = session.get_one(Competition, submission.competition_id)
        if (competition.task_ref, competition.task_version, competition.answer_sha256) != started:  # changed: again
            submission.status = "queued"
        elif result.kind == "scored":
            if result.score is None:
                raise ValueError(f"scoring submission {submission_id} gave a scored result without a score")
            store.record_score(session, submission, competition, result.score)
            feedback.after_scoring(session, submission, competition, result.score)
        elif result.kind == "invalid":
            store.record_invalid(
                submission, list(result.problems), detail=result.detail, failure_kind=result.failure_kind
            )
        else:  # the organisers' reason goes to the server's log too
            log.error("scoring submission %s failed on our side:\n%s", submission_id, result.detail)
            if result.failure_kind is None:
                raise ValueError(f"scoring submission {submission_id} failed on our side without saying how")
            store.record_our_failure(submission, result.detail, failure_kind=result.failure_kind)
        if result.failure_kind is not None:
            store.note_uncharged_failure(session, submission, competition)
        submission.worker = None
        return submission.status


_slots: list[slots.Slot] = []
_slots_lock = threading.Lock()
_busy: dict[int, tuple[str, int]] = {}
"""Slot index -> (database, competition) it scores now, for every queue of this process: they share its slots."""
_busy_lock = threading.Lock()


def default_slot() -> slots.Slot:
    """This process's first scoring slot (the CLI, the tests' drain and the first worker thread use it)."""
    return worker_slots(1)[0]


def worker_slots(count: int) -> list[slots.Slot]:
    """This process's first ``count`` scoring slots, made on first use and shared by its queues."""
    with _slots_lock:
        while len(_slots) < count:
            _slots.append(slots.Slot("spawn"))
        return _slots[:count]


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
    """Scoring threads in this process, one per scoring slot; woken at once by :meth:`notify`.

    A competition holds at most all slots but one at a time (one, with the default two
    slots), so a job that runs until its limit never keeps another competition's
    uploads waiting: they take the free slot.
    """

    def __init__(self, db: Database, poll_seconds: float = 2.0, slot_count: int | None = None) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self.slots = worker_slots(max(1, slot_count or SCORING_SLOTS))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._database = str(db.engine.url)  # whose competition ids these are
        self._threads = [
            threading.Thread(target=self._run, args=(index,), name=f"arena-scoring-{index}", daemon=True)
            for index in range(len(self.slots))
        ]

    def start(self) -> InProcessWorker:
        """Start scoring. Jobs left ``scoring`` by a stopped process go back in the queue at once
        (a dead process on this host) or after its missed heartbeats (a silent one elsewhere)."""
        sweep(self.db)
        tidy_store(self.db)
        for thread in self._threads:
            thread.start()
        return self

    def notify(self, submission_id: int | None = None) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=10)

    def drain(self) -> None:
        """Score everything queued now, in this thread (tests and the CLI use it)."""
        while ids := pending(self.db):
            for submission_id in ids:
                score_one(self.db, submission_id, self.slots[0])
        refresh_ranks(self.db)

    def _take(self, index: int) -> int | None:
        """The next queued job this slot may score: the oldest of a competition that holds fewer than
        all slots but one (any competition when there is one slot)."""
        sweep(self.db)
        with self.db.session() as session, session.begin():
            queued = store.queued_jobs(session)
        most = max(1, len(self.slots) - 1)
        with _busy_lock:  # another queue of this process (another app, the same database or not) may use the slot
            if index in _busy:
                return None
            held: dict[tuple[str, int], int] = {}
            for competition in _busy.values():
                held[competition] = held.get(competition, 0) + 1
            for submission_id, competition_id in queued:
                if held.get((self._database, competition_id), 0) < most:
                    _busy[index] = (self._database, competition_id)
                    return submission_id
        return None

    def _run(self, index: int) -> None:
        while not self._stop.is_set():
            try:
                while not self._stop.is_set() and (submission_id := self._take(index)) is not None:
                    try:
                        score_one(self.db, submission_id, self.slots[index])
                    finally:
                        with _busy_lock:
                            _busy.pop(index, None)
                    self._wake.set()  # the others may now take a job this one's competition held back
                if index == 0:
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

    def start(self) -> RedisQueue:
        """Re-announce what the database says is pending (a restart may have lost wake-ups)."""
        for submission_id in pending(self.db):
            self.notify(submission_id)
        return self

    def notify(self, submission_id: int | None = None) -> None:
        """Enqueue one submission, or (None) every queued one: rescores, new task versions, retries."""
        with self.db.session() as session, session.begin():
            ids = store.queued_ids(session, limit=None) if submission_id is None else [submission_id]
            limits = {one: time_limit(competition) for one, competition in store.competitions_of(session, ids)}
        for one in ids:  # RQ's own kill is only a backstop: the job's slot is killed at its limit
            self.queue.enqueue(
                rq_score, one, job_timeout=int(limits.get(one, installation_time_limit()) + 2 * KILL_GRACE_SECONDS)
            )

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

    process = multiprocessing.get_context("spawn").Process(
        target=_rank_forever, args=(database_url, os.getpid()), name="arena-ranks", daemon=True
    )
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
    if _redis_url and _held_back(_worker_db(), submission_id):
        time.sleep(HELD_BACK_SECONDS)  # the jobs of free competitions go first; this one goes to the back
        RedisQueue(_redis_url, _worker_db()).notify(submission_id)
        return "held back"
    slot = slots.Slot("fork")  # RQ's work horse is single-threaded: its slot inherits the loops it loaded
    try:
        status = score_one(_worker_db(), submission_id, slot)
    finally:
        slot.close()
    if status == "queued" and _redis_url:
        RedisQueue(_redis_url, _worker_db()).notify(submission_id)
    return status


HELD_BACK_SECONDS = 0.2


def _held_back(db: Database, submission_id: int) -> bool:
    """True when this job's competition already has a job scoring while another competition, with none
    scoring, has jobs waiting: Redis workers then take those first, so one competition's long jobs never
    hold every worker while others wait."""
    with db.session() as session, session.begin():
        return store.waits_for_free_competitions(session, submission_id)


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
    one_pass.warm()  # each job is a forked child: it inherits the compiled loops instead of loading them (about 0.5 s)
    if not burst:
        start_rank_process()  # the same database as this worker, named by the environment
        queue.watch()
    Worker([queue.queue], connection=Redis.from_url(redis_url)).work(burst=burst)
    if burst:
        refresh_ranks(_worker_db())
