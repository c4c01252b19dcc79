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
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from arena.codabench.programs import ProgramFailed
from arena.code.failures import MESSAGES, OUTPUT
from arena.db.database import Database
from arena.db.models import Competition, Submission, utcnow
from arena.errors import SubmissionError
from arena.scoring import one_pass
from arena.scoring.score import Score, public_rows, score_submission
from arena.server import code_runs, dry_runs, feedback, notifications, slots
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
        dry_runs.sweep(session)  # a dry run whose worker died goes back in the queue too (announced as queued)
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


JOB_KINDS = ("score", "code")
"""What a worker may take: ``score`` (a predictions file) and ``code`` (a program to run, then its predictions)."""


def job_kind(submission: Submission) -> str:
    """``code`` for a code submission's job, ``score`` for a predictions file's."""
    return "code" if submission.run_status is not None else "score"


def score_one(
    db: Database, submission_id: int, slot: slots.Slot | None = None, kinds: tuple[str, ...] = JOB_KINDS
) -> str | None:
    """Claim and score one submission in a scoring slot; returns its new status (None if another worker had it).

    The database is only touched in short transactions before and after the scoring,
    so uploads are never blocked behind a long job. A result is recorded only while
    this worker still holds the claim: a job requeued meanwhile (a rescore, or a
    heartbeat judged lost) is scored again by whoever holds it now. ``slot`` is the
    child process to score in (by default this process's first slot). A code
    submission's program runs first (in the same slot), then its predictions are
    scored as an uploaded file is; a worker whose ``kinds`` leave out ``code`` never
    takes one.
    """
    slot = slot or default_slot()
    slot.start()  # before the heartbeat's thread exists: a forking slot must fork a single-threaded process
    worker = worker_name()
    run: code_runs.RunJob | None = None
    run_seconds = 0.0
    with db.session() as session, session.begin():
        waiting = session.get(Submission, submission_id)
        if waiting is None or job_kind(waiting) not in kinds or not store.claim(session, submission_id, worker):
            return None
        submission = session.get_one(Submission, submission_id)
        session.refresh(submission)
        competition = session.get_one(Competition, submission.competition_id)
        job = Job(
            competition.task_ref,
            str(path_for(submission.file_sha256)),
            competition.public_fraction,
            competition.split_key,
        )
        limit = time_limit(competition)
        started = (competition.task_ref, competition.task_version, competition.answer_sha256)
        if job_kind(submission) == "code":
            submission.run_status = "running"
            run_seconds = code_runs.run_limit(competition)
            run = code_runs.RunJob(
                competition.task_ref, job.file_path, submission.file_name, str(code_runs.work_folder()), sample=False
            )
    try:
        with _Heartbeat(db, submission_id, worker, limit + (run_seconds if run else 0)):
            ran = code_runs.run_in_slot(slot, run, run_seconds) if run is not None else None
            if ran is not None and ran.kind == "ran":
                if not _record_run(db, submission_id, worker, ran):
                    return None  # taken back meanwhile (a rescore): whoever holds it now runs it again
                job = replace(job, file_path=ran.predictions)
            result = (
                _outcome_result(slot.run(score_job, job, limit, prepare=prepare_job))
                if ran is None or ran.kind == "ran"
                else None
            )
        return _record(db, submission_id, worker, started, result, ran)
    finally:
        if run is not None:
            code_runs.remove(run.work)


def _record_run(db: Database, submission_id: int, worker: str, ran: code_runs.RunOutcome) -> bool:
    """The program ran: its measurements and output (organisers') are kept, and the submission shows ``scoring``."""
    with db.session() as session, session.begin():
        submission = session.get_one(Submission, submission_id, with_for_update=True)
        if not store.holds_claim(submission, worker):
            return False
        store.record_run(
            submission,
            wall_seconds=ran.wall_seconds,
            cpu_seconds=ran.cpu_seconds,
            peak_memory_mb=ran.peak_memory_mb,
            log=ran.log[-code_runs.KEPT_LOG_CHARS :],
        )
        return True


def _record(
    db: Database,
    submission_id: int,
    worker: str,
    started: tuple,
    result: Result | None,
    ran: code_runs.RunOutcome | None,
) -> str | None:
    """Record what came of the job, while this worker still holds its claim."""
    with db.session() as session, session.begin():
        submission = session.get_one(Submission, submission_id, with_for_update=True)
        if not store.holds_claim(submission, worker):
            return None
        competition = session.get_one(Competition, submission.competition_id)
        code = job_kind(submission) == "code"
        first_result = submission.scored_version is None and not submission.problems
        if (competition.task_ref, competition.task_version, competition.answer_sha256) != started:  # changed: again
            submission.status = "queued"
        elif ran is not None and ran.kind == "failed":  # the participant's program: it keeps its slot
            store.record_code_failure(
                submission,
                ran.verdict or "error",
                list(ran.problems),
                detail=ran.detail[-MAX_FAILURE_DETAIL:],
                log=ran.log[-code_runs.KEPT_LOG_CHARS :],
            )
        elif ran is not None and ran.kind == "ours":  # the sandbox broke: retried, never charged
            log.error("running submission %s failed on our side:\n%s", submission_id, ran.detail)
            store.record_our_failure(submission, ran.detail[-MAX_FAILURE_DETAIL:], failure_kind="ours")
            store.note_uncharged_failure(session, submission, competition)
        elif result is None:
            raise ValueError(f"submission {submission_id} ended without a result")
        elif result.kind == "scored":
            if result.score is None:
                raise ValueError(f"scoring submission {submission_id} gave a scored result without a score")
            store.record_score(session, submission, competition, result.score)
            feedback.after_scoring(session, submission, competition, result.score)
        elif result.kind == "invalid" and code:  # checked before scoring; the reader's words could quote test inputs
            store.record_code_failure(submission, "output", [MESSAGES[OUTPUT]], detail="; ".join(result.problems))
        elif result.kind == "invalid":
            store.record_invalid(
                submission, list(result.problems), detail=result.detail, failure_kind=result.failure_kind
            )
        else:  # the organisers' reason goes to the server's log too
            log.error("scoring submission %s failed on our side:\n%s", submission_id, result.detail)
            if result.failure_kind is None:
                raise ValueError(f"scoring submission {submission_id} failed on our side without saying how")
            store.record_our_failure(submission, result.detail, failure_kind=result.failure_kind)
        if result is not None and result.failure_kind is not None and not (code and result.kind == "invalid"):
            store.note_uncharged_failure(session, submission, competition)
        submission.worker = None
        if submission.status in ("scored", "failed") and first_result:  # sent once committed; a rescore tells no one
            notifications.submission_done(session, submission, competition)
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


def pending_dry_runs(db: Database) -> list[int]:
    """The dry runs waiting for a worker, oldest first (stuck ones are put back first)."""
    with db.session() as session, session.begin():
        dry_runs.sweep(session)
        return dry_runs.queued_ids(session)


def tidy_store(db: Database) -> int:
    """Remove stored files no submission references (left by a crash between storing and recording)."""
    with db.session() as session, session.begin():
        return remove_unreferenced(session)


@dataclass(frozen=True)
class DryRunJob:
    """A queued dry run taken by a scoring slot (a submission is taken as its id)."""

    dry_run_id: int


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

    def notify_dry_run(self, dry_run_id: int | None = None) -> None:
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
        while dry := pending_dry_runs(self.db):
            for dry_run_id in dry:
                dry_runs.run_one(self.db, dry_run_id, self.slots[0])
        refresh_ranks(self.db)

    def _take(self, index: int) -> int | DryRunJob | None:
        """The next queued job this slot may take (a submission's id, or a dry run): the oldest of a competition
        that holds fewer than all slots but one (any competition when there is one slot)."""
        sweep(self.db)
        with self.db.session() as session, session.begin():
            queued = [("submission", *job) for job in store.queued_jobs(session)]
            queued += [("dry run", *job) for job in dry_runs.queued_jobs(session)]
        most = max(1, len(self.slots) - 1)
        with _busy_lock:  # another queue of this process (another app, the same database or not) may use the slot
            if index in _busy:
                return None
            held: dict[tuple[str, int], int] = {}
            for competition in _busy.values():
                held[competition] = held.get(competition, 0) + 1
            for kind, job_id, competition_id in queued:
                if held.get((self._database, competition_id), 0) < most:
                    _busy[index] = (self._database, competition_id)
                    return DryRunJob(job_id) if kind == "dry run" else job_id
        return None

    def _run(self, index: int) -> None:
        while not self._stop.is_set():
            try:
                while not self._stop.is_set() and (taken := self._take(index)) is not None:
                    try:
                        if isinstance(taken, DryRunJob):
                            dry_runs.run_one(self.db, taken.dry_run_id, self.slots[index])
                        else:
                            score_one(self.db, taken, self.slots[index])
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


QUEUES = {"score": "arena-scoring", "code": "arena-code"}
"""The Redis queue of each job kind: ``arena worker --kinds`` chooses which a worker serves, so programs can run on
machines of their own. A code submission's whole job (its run, then its scoring) and every dry run are ``code``."""


class RedisQueue:
    """Hands submission ids (and dry runs) to ``arena worker`` processes through Redis (RQ), one queue per job kind."""

    def __init__(self, redis_url: str, db: Database) -> None:
        from redis import Redis
        from rq import Queue

        self.db = db
        self.redis_url = redis_url
        connection = Redis.from_url(redis_url)
        self.queues = {kind: Queue(name, connection=connection) for kind, name in QUEUES.items()}
        self.queue = self.queues["score"]

    def start(self) -> RedisQueue:
        """Re-announce what the database says is pending (a restart may have lost wake-ups)."""
        for submission_id in pending(self.db):
            self.notify(submission_id)
        self.notify_dry_run(None)
        return self

    def notify(self, submission_id: int | None = None, kind: str | None = None) -> None:
        """Enqueue one submission, or (None) every queued one (of ``kind`` only, when given): rescores, new task
        versions, retries. Each goes to its kind's queue."""
        with self.db.session() as session, session.begin():
            ids = store.queued_ids(session, limit=None) if submission_id is None else [submission_id]
            found = [
                (one, job_kind(submission), time_limit(competition), code_runs.run_limit(competition))
                for one, submission, competition in _with_competitions(session, ids)
            ]
        for one, its_kind, limit, run_seconds in found:  # RQ's own kill is only a backstop: the slot is killed first
            if kind is not None and its_kind != kind:
                continue
            seconds = limit + (run_seconds if its_kind == "code" else 0) + 2 * KILL_GRACE_SECONDS
            self.queues[its_kind].enqueue(rq_score if its_kind == "score" else rq_code, one, job_timeout=int(seconds))

    def notify_dry_run(self, dry_run_id: int | None = None) -> None:
        """Enqueue one dry run, or (None) every queued one, on the code queue."""
        with self.db.session() as session, session.begin():
            ids = dry_runs.queued_ids(session) if dry_run_id is None else [dry_run_id]
        for one in ids:
            self.queues["code"].enqueue(rq_dry_run, one, job_timeout=int(dry_runs.MAX_SECONDS))

    def watch(self) -> threading.Thread:
        """Every heartbeat: requeue and enqueue the jobs of silent or dead workers, and re-announce the queued jobs
        of a kind whose Redis queue holds none (a lost wake-up). ``arena worker`` runs this beside the RQ worker."""

        def run() -> None:
            while True:
                time.sleep(HEARTBEAT.total_seconds())
                try:
                    for submission_id in sweep(self.db):
                        self.notify(submission_id)
                    for kind, queue in self.queues.items():
                        if queue.count == 0:
                            self.notify(None, kind=kind)
                            if kind == "code":
                                self.notify_dry_run(None)
                except Exception:  # Redis or the database away for a moment: try again at the next beat
                    log.exception("worker watch failed")

        thread = threading.Thread(target=run, name="arena-watch", daemon=True)
        thread.start()
        return thread


def _with_competitions(session, ids: list[int]) -> list[tuple[int, Submission, Competition]]:
    return [
        (submission.id, submission, competition)
        for submission, competition in session.execute(
            select(Submission, Competition)
            .join(Competition, Competition.id == Submission.competition_id)
            .where(Submission.id.in_(ids))
        )
    ]


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
    """The RQ job of a predictions file: scores one submission in the database named by the environment; a job that
    goes back in the queue (a failure of ours, a task changed meanwhile) is enqueued again at once."""
    return _rq_job(submission_id, "score")


def rq_code(submission_id: int) -> str | None:
    """The RQ job of a code submission: runs its program, then scores its predictions (see :func:`rq_score`)."""
    return _rq_job(submission_id, "code")


def rq_dry_run(dry_run_id: int) -> str | None:
    """The RQ job of a dry run: runs the program on the public sample."""
    slot = slots.Slot("fork")
    try:
        status = dry_runs.run_one(_worker_db(), dry_run_id, slot)
    finally:
        slot.close()
    if status == "queued" and _redis_url:
        RedisQueue(_redis_url, _worker_db()).notify_dry_run(dry_run_id)
    return status


def _rq_job(submission_id: int, kind: str) -> str | None:
    if _redis_url and _held_back(_worker_db(), submission_id):
        time.sleep(HELD_BACK_SECONDS)  # the jobs of free competitions go first; this one goes to the back
        RedisQueue(_redis_url, _worker_db()).notify(submission_id)
        return "held back"
    slot = slots.Slot("fork")  # RQ's work horse is single-threaded: its slot inherits the loops it loaded
    try:
        status = score_one(_worker_db(), submission_id, slot, kinds=(kind,))
    finally:
        slot.close()
        notifications.wait()  # this job's own process ends next: its e-mails and webhook calls go out first
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


def run_redis_worker(redis_url: str, burst: bool = False, kinds: tuple[str, ...] = JOB_KINDS) -> None:
    """``arena worker``: re-enqueue what the database says is pending, watch for stuck jobs, serve the queues of
    ``kinds`` (``score``: predictions files; ``code``: programs to run, and dry runs)."""
    from redis import Redis
    from rq import Worker

    global _redis_url
    unknown = [kind for kind in kinds if kind not in QUEUES]
    if unknown or not kinds:
        raise ValueError(f"job kinds are {', '.join(QUEUES)}; got {', '.join(kinds) or 'none'}.")
    _redis_url = redis_url
    queue = RedisQueue(redis_url, _worker_db()).start()
    one_pass.warm()  # each job is a forked child: it inherits the compiled loops instead of loading them (about 0.5 s)
    if not burst:
        start_rank_process()  # the same database as this worker, named by the environment
        queue.watch()
    served = [queue.queues[kind] for kind in JOB_KINDS if kind in kinds]
    Worker(served, connection=Redis.from_url(redis_url)).work(burst=burst)
    if burst:
        refresh_ranks(_worker_db())
