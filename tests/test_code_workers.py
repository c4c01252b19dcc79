"""Code submissions at scale: real ``arena worker`` processes take programs from Redis, run them under bubblewrap
and score them, each exactly once, while per-team limits hold; a worker for predictions files only never runs code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import auth, empty_postgres, postgres_url, redis_database, require_in_ci, upload
from helpers import sample_csv
from sqlalchemy import func, select
from test_code_competitions import COPY_SAMPLE, code_bundle, need_bwrap

from arena.db.models import ScoreRecord, Submission

PROGRAM = f"import shutil\ndef predict(i, o):\n    {COPY_SAMPLE}\n"


def _database() -> str:
    url = postgres_url()
    if not url:
        require_in_ci("no PostgreSQL server: set ARENA_TEST_POSTGRES_URL (.ci/services.sh starts one)")
    empty_postgres(url)
    return url


def _worker(redis: str, database: str, *kinds: str) -> subprocess.Popen:
    extra = ["--kinds", ",".join(kinds)] if kinds else []
    return subprocess.Popen(
        [sys.executable, "-m", "arena.cli", "worker", "--redis", redis, "--database", database, *extra],
        env={**os.environ, "ARENA_HEARTBEAT_SECONDS": "1"},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def _wait(db, done, seconds: float = 300) -> None:
    """Wait until ``done(session)``; the bound only stops a hung test, it times nothing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with db.session() as session:
            if done(session):
                return
        time.sleep(0.5)
    raise AssertionError("the workers did not finish in time")


@pytest.fixture
def hosted(people_factory, tmp_path):
    need_bwrap()
    redis, database = redis_database(7), _database()
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=redis)
    organiser = people.token("orga", organiser=True)
    bundle = code_bundle(tmp_path / "bundle")
    made = client.post(
        "/api/v1/competitions",
        json={"task": str(bundle), "slug": "tiny-code", "submission_kind": "code", "daily_limit": 3},
        headers=auth(organiser),
    )
    assert made.status_code == 201, made.get_json()
    return app, client, people, redis, database


@pytest.mark.slow
def test_two_workers_run_and_score_twenty_concurrent_programs_each_once_within_team_limits(hosted):
    app, client, people, redis, database = hosted
    tokens = [people.token(f"team{n}") for n in range(8)]  # 8 teams x 3 tries = 24 uploads against a limit of 3 each
    sources = [(token, f"{PROGRAM}# {n} {k}\n") for n, token in enumerate(tokens) for k in range(3)]
    sources += [(tokens[0], f"{PROGRAM}# over the limit\n")]

    def send(pair):
        token, source = pair
        return upload(app.test_client(), token, "tiny-code", source, name="main.py").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, sources))
    assert codes.count(202) == 24 and codes.count(429) + codes.count(400) == 1, codes
    workers = [_worker(redis, database), _worker(redis, database)]
    db = app.extensions["arena_db"]
    try:
        _wait(db, lambda s: s.scalar(select(func.count()).where(Submission.status == "scored")) == 24)
    finally:
        _stop(*workers)
    with db.session() as session:
        rows = session.scalars(select(Submission)).all()
        assert {row.run_status for row in rows} == {"scored"} and all(row.attempts == 1 for row in rows)
        assert all(row.wall_seconds is not None and row.peak_memory_mb is not None for row in rows)
        per_submission = dict(
            session.execute(select(ScoreRecord.submission_id, func.count()).group_by(ScoreRecord.submission_id)).all()
        )
        assert sorted(per_submission.values()) == [1] * 24  # each run and scored exactly once
        per_team = dict(session.execute(select(Submission.team_id, func.count()).group_by(Submission.team_id)).all())
        assert sorted(per_team.values()) == [3] * 8


def test_a_worker_for_predictions_files_never_takes_a_code_job(hosted):
    app, client, people, redis, database = hosted
    ada = people.token("ada")
    program = upload(client, ada, "tiny-code", PROGRAM, name="main.py").get_json()["submission"]["id"]
    predictions = upload(client, ada, "digits", sample_csv("digits")).get_json()["submission"]["id"]
    worker = _worker(redis, database, "score")
    db = app.extensions["arena_db"]
    try:
        _wait(db, lambda s: s.get(Submission, predictions).status == "scored")
        time.sleep(3)  # a few of the worker's watch beats, which re-announce what is queued
        with db.session() as session:
            waiting = session.get(Submission, program)
            assert (waiting.status, waiting.attempts, waiting.run_status) == ("queued", 0, "queued")
    finally:
        _stop(worker)
    code_worker = _worker(redis, database, "code")
    try:
        _wait(db, lambda s: s.get(Submission, program).status == "scored")
    finally:
        _stop(code_worker)


def test_arena_worker_refuses_an_unknown_job_kind(capsys):
    from arena.cli import main

    with pytest.raises(SystemExit):
        main(["worker", "--redis", "redis://127.0.0.1:1/0", "--kinds", "score,gpu"])
    assert "use score, code or score,code" in capsys.readouterr().err
