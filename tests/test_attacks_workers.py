"""Workers and the installation they share: the secret, owner-only files, heartbeats, dead scorers, Redis."""

from __future__ import annotations

import io
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from conftest import redis_database, upload
from helpers import InlineSlot, sample_csv

from arena import config
from arena.config import MissingSecret
from arena.db.database import Database
from arena.db.migrate import upgrade
from arena.db.models import Submission, User, utcnow
from arena.server import accounts, competitions, files, jobs, submissions, uploads
from leaderboard import create_app


def _store_with(database_url):
    db = Database(database_url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        competition = competitions.host(session, "mnist1d")
        user = accounts.register(session, "ada", "correct horse battery staple")
        return db, competition.id, user.id


def _dead_worker() -> str:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{gone.stdout.strip()}:gone"


def test_a_file_that_kills_its_scorer_stops_at_the_attempt_limit_across_restarts(database_url):
    """Each restart (a sweep) requeues a job whose scorer died, until MAX_ATTEMPTS; then it fails,
    says why, and costs no slot. Before, every restart requeued it: the server crash-looped."""
    db, competition_id, user_id = _store_with(database_url)
    with db.session() as session, session.begin():
        submission_id = uploads.submit_stream(
            session, "mnist1d", session.get(User, user_id), io.BytesIO(sample_csv("mnist1d").encode()), "bomb.csv"
        ).submission.id
    for attempt in range(1, submissions.MAX_ATTEMPTS + 1):
        with db.session() as session, session.begin():
            assert submissions.claim(session, submission_id, _dead_worker())  # ... and the scorer dies
        requeued = jobs.sweep(db)  # what every start of a server or worker does first
        with db.session() as session:
            row = session.get(Submission, submission_id)
            assert row.attempts == attempt
            if attempt < submissions.MAX_ATTEMPTS:
                assert requeued == [submission_id] and row.status == "queued"
    assert requeued == [] and row.status == "failed"
    assert (
        "stopped 3 times before it finished" in row.problems[0] and "did not use a submission slot" in row.problems[0]
    )
    assert jobs.sweep(db) == [] and jobs.pending(db) == []
    db.engine.dispose()


def test_arena_home_private_parts_are_owner_only(tmp_path, monkeypatch):
    """The secret, the database, the answer-key cache and the file store are 0600/0700; an
    installation made before is tightened as it is used."""
    home = tmp_path / "home"
    monkeypatch.setenv("ARENA_HOME", str(home))
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    (home / "cache").mkdir(parents=True, mode=0o755)
    (home / "cache").chmod(0o755)  # an older installation's folder
    config.installation_secret()
    db = Database()
    upgrade(db.engine)
    db.engine.dispose()
    files.store_stream(io.BytesIO(b"id,label\n"), 100)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)
    assert mode(config.cache_dir()) == 0o700
    assert mode(home / "secret") == 0o600 and mode(home / "arena.db") == 0o600
    assert all(mode(p) == 0o700 for p in [files.files_dir(), files.incoming_dir(), *files.files_dir().glob("*")])
    fresh = tmp_path / "new-home"
    monkeypatch.setenv("ARENA_HOME", str(fresh))
    assert mode(config.arena_home()) == 0o700


def test_a_worker_refuses_to_start_without_the_installation_secret(tmp_path):
    """A worker where ARENA_HOME has no secret would score on another split; it refuses instead."""
    env = {**os.environ, "ARENA_HOME": str(tmp_path / "elsewhere")}
    env.pop("ARENA_CREATE_SECRET", None)
    result = subprocess.run(
        [sys.executable, "-m", "arena.cli", "worker", "--redis", "redis://127.0.0.1:1/0", "--burst"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 1
    assert "found no file 'secret'" in result.stderr and "copy it from the machine" in result.stderr
    assert not (tmp_path / "elsewhere" / "secret").exists()


def test_a_web_process_refuses_to_start_without_the_secret_unless_told(tmp_path, monkeypatch):
    """``create_app`` (what gunicorn calls) refuses; ``arena serve``'s first start (CREATE_SECRET) creates it."""
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "web"))
    monkeypatch.delenv("ARENA_CREATE_SECRET", raising=False)
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}", "SECRET_KEY": "test"}
    with pytest.raises(MissingSecret, match="run 'arena setup' \\(or 'arena serve'\\) once first"):
        create_app(config)
    assert not (tmp_path / "web" / "secret").exists()
    create_app({**config, "CREATE_SECRET": True}).extensions["arena_db"].engine.dispose()
    assert (tmp_path / "web" / "secret").exists()
    create_app(config).extensions["arena_db"].engine.dispose()  # the secret is there now: it starts


def _store_with_a_submission(database_url):
    db = Database(database_url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        competitions.host(session, "mnist1d")
        accounts.register(session, "ada", "correct horse battery staple")
    with db.session() as session, session.begin():
        ada = session.query(User).filter_by(username="ada").one()
        submission = uploads.submit_stream(session, "mnist1d", ada, io.BytesIO(sample_csv("mnist1d").encode()), "s.csv")
        return db, submission.submission.id


def test_a_live_job_is_never_taken_and_a_silent_one_comes_back(database_url):
    """A beating worker keeps its job however long it scores; three missed beats, or a dead process
    on this host, and the job is queued again."""
    db, submission_id = _store_with_a_submission(database_url)
    with db.session() as session, session.begin():
        assert submissions.claim(session, submission_id, "another-host:123:live")
        session.get(Submission, submission_id).scoring_started_at = utcnow() - timedelta(hours=5)  # a long job
    assert jobs.sweep(db) == []
    with db.session() as session, session.begin():
        session.get(Submission, submission_id).heartbeat_at = utcnow() - jobs.HEARTBEAT * (jobs.MISSED_BEATS + 1)
    assert jobs.sweep(db) == [submission_id]
    with db.session() as session, session.begin():
        assert submissions.claim(session, submission_id, _dead_worker())  # beat just now, then killed
    assert jobs.sweep(db) == [submission_id]
    db.engine.dispose()


@pytest.mark.slow
def test_a_worker_beats_while_it_scores_and_a_stale_result_is_dropped(database_url, monkeypatch):
    """The heartbeat advances during a long scoring, sweeps leave the job alone, and a worker whose
    job was taken back (requeued and claimed by another) records nothing."""
    db, submission_id = _store_with_a_submission(database_url)
    monkeypatch.setattr(jobs, "HEARTBEAT", jobs.timedelta(seconds=0.2))
    real = jobs.score_submission
    started = threading.Event()

    def slow(*args, **kwargs):
        started.set()
        time.sleep(2)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "score_submission", slow)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(jobs.score_one(db, submission_id, InlineSlot())))
    worker.start()
    assert started.wait(30)
    with db.session() as session:
        first_beat = session.get(Submission, submission_id).heartbeat_at
    for _ in range(8):
        time.sleep(0.2)
        assert jobs.sweep(db) == []  # stale after 0.6 s without beats; it keeps beating
    with db.session() as session:
        assert session.get(Submission, submission_id).heartbeat_at > first_beat
    worker.join(30)
    assert outcome == ["scored"]
    with db.session() as session, session.begin():
        row = session.get(Submission, submission_id)
        assert row.attempts == 1
        row.status = "queued"
    # From here the other worker holds the job: a normal heartbeat, so no sweep (any process's, on a shared
    # database) judges its claim stale during the seconds this takes.
    monkeypatch.setattr(jobs, "HEARTBEAT", jobs.timedelta(seconds=10))
    taken = threading.Thread(target=lambda: outcome.append(jobs.score_one(db, submission_id, InlineSlot())))
    started.clear()
    taken.start()
    assert started.wait(30)
    with db.session() as session, session.begin():  # meanwhile the job was judged lost and another worker has it
        row = session.get(Submission, submission_id)
        row.status, row.worker = "scoring", "another-host:9:other"
    taken.join(30)
    assert outcome[-1] is None
    with db.session() as session:
        assert session.get(Submission, submission_id).worker == "another-host:9:other"
    db.engine.dispose()


def test_redis_rescores_and_retries_are_enqueued_at_once(tmp_path, monkeypatch):
    """``notify(None)`` (a rescore, a new task version) enqueues every queued job, and a retry after a
    failure of ours goes back into Redis from the worker itself. Before, both waited for a worker restart."""
    url = redis_database()
    db, submission_id = _store_with_a_submission(f"sqlite:///{tmp_path / 'queue.db'}")
    queue = jobs.RedisQueue(url, db)
    queue.notify(None)
    assert queue.queue.count == 1
    queue.queue.empty()
    monkeypatch.setattr(jobs, "_db", db)
    monkeypatch.setattr(jobs, "_redis_url", url)
    monkeypatch.setattr(jobs, "score_submission", lambda *a, **k: 1 / 0)
    assert jobs.rq_score(submission_id) == "queued"
    assert queue.queue.count == 1
    db.engine.dispose()


_SLOW_WORKER = """
import os, sys, time
from arena.server import jobs
real = jobs.score_submission
def slow(*args, **kwargs):
    time.sleep(float(os.environ["SLOW_SCORING_SECONDS"]))
    return real(*args, **kwargs)
jobs.score_submission = slow
from arena.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_9_of_a_redis_worker_hands_its_job_on_and_a_live_one_is_left_alone(tmp_path, people_factory):
    """With real ``arena worker`` processes: while worker A scores (slowly) and beats, worker B
    never takes the job; after kill -9 of A, B scores it once A's heartbeat is stale, not after RQ's 11-minute
    job timeout."""
    url = redis_database()
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=url)
    submission_id = upload(client, people.token("ada"), "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
    db = app.extensions["arena_db"]

    def row():
        with db.session() as session:
            return session.get(Submission, submission_id)

    env = {**os.environ, "ARENA_HEARTBEAT_SECONDS": "1", "SLOW_SCORING_SECONDS": "120"}
    command = ["worker", "--redis", url, "--database", database]
    a = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WORKER, *command],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    b = held = None
    try:
        deadline = time.monotonic() + 120
        while row().status != "scoring" and time.monotonic() < deadline:
            time.sleep(0.2)
        held = row()
        assert held.status == "scoring", held.status
        b = subprocess.Popen(
            [sys.executable, "-m", "arena.cli", *command],
            env={**env, "SLOW_SCORING_SECONDS": "0"},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(8)  # B is up and sweeping every second; A beats every second
        still = row()
        assert (still.status, still.worker, still.attempts) == ("scoring", held.worker, 1)
        assert still.heartbeat_at > held.heartbeat_at
        os.killpg(a.pid, signal.SIGKILL)  # the worker ...
        os.kill(int(held.worker.split(":")[1]), signal.SIGKILL)  # ... and the process scoring for it (RQ's horse)
        a.wait()
        # B hands the job on when A's heartbeat goes stale, within seconds; the bound below only stops a wait for
        # RQ's own 11-minute job timeout, so it is generous for a loaded machine and times nothing.
        killed = time.monotonic()
        while row().status != "scored" and time.monotonic() - killed < 180:
            time.sleep(0.2)
        done = row()
        assert (done.status, done.attempts) == ("scored", 2)  # a second attempt: B's, as A and its horse are dead
    finally:
        for process in (a, b):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if held is not None and held.worker:
            try:
                os.kill(int(held.worker.split(":")[1]), signal.SIGKILL)
            except ProcessLookupError:
                pass
