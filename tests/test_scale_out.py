"""Production processes: ``arena serve --workers N`` (gunicorn), ``arena worker`` (Redis), PostgreSQL; kill -9 loses nothing."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import PASSWORD, postgres_url, redis_database, require_in_ci
from helpers import predictions_csv

pytestmark = pytest.mark.slow  # real web and worker processes: about 100 s

HEARTBEAT = 1.0  # ARENA_HEARTBEAT_SECONDS of the workers here: a silent job goes back after 3 missed beats


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _own_postgres():
    """A PostgreSQL database of this test's own (other tests drop the shared one's tables), dropped after."""
    from sqlalchemy import create_engine, make_url, text

    url = postgres_url()
    if not url:
        require_in_ci("no PostgreSQL server: set ARENA_TEST_POSTGRES_URL (.ci/services.sh starts one)")
    name = f"arena_scale_out_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Processes:
    """Started processes, each in a process group of its own, its output in a log file; all killed at the end."""

    def __init__(self, folder: Path, env: dict) -> None:
        self.folder, self.env, self.started = folder, env, []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"{name}-{len(self.started)}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "arena.cli", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = log.name
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log_path}\n" + Path(p.log_path).read_text(errors="replace")[-1500:] for p in self.started
        )

    def stop(self) -> None:
        for process in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


def _request(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body or None, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_until_serving(port: int, server: subprocess.Popen, processes: Processes) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        assert server.poll() is None, "arena serve stopped:\n" + processes.logs()
        with contextlib.suppress(OSError, http.client.HTTPException):
            if _request(port, "GET", "/api/v1/competitions")[0] == 200:
                return
        time.sleep(0.3)
    pytest.fail("arena serve did not answer within 120 s:\n" + processes.logs())


def _upload(port: int, token: str, body: str) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    payload = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{body}\r\n--{boundary}--\r\n"
    ).encode()
    status, answer = _request(
        port,
        "POST",
        "/api/v1/competitions/mnist1d/submissions",
        payload,
        {"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    return status, json.loads(answer or b"{}")


def _people(url: str, names: list[str], daily_limit: int) -> list[str]:
    """Accounts with API tokens, made in the shared database as an organiser's script would."""
    from sqlalchemy import select

    from arena.db.database import Database
    from arena.db.models import Competition
    from arena.server import accounts

    db = Database(url)
    with db.session() as session, session.begin():
        session.scalar(select(Competition).where(Competition.slug == "mnist1d")).daily_limit = daily_limit
        tokens = [accounts.create_token(session, accounts.register(session, name, PASSWORD)) for name in names]
    db.engine.dispose()
    return tokens


def _environment(home: Path, database: str) -> dict:
    return {
        **os.environ,
        "ARENA_HOME": str(home),
        "ARENA_DATABASE_URL": database,
        "ARENA_SECRET_KEY": "test-scale-out",
        "ARENA_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "ARENA_ADMIN_PASSWORD": PASSWORD,
        "PYTHONUNBUFFERED": "1",
    }


def test_killing_web_processes_and_workers_loses_no_upload_and_scores_each_once(tmp_path):
    """4 gunicorn web processes, 2 ``arena worker`` processes, PostgreSQL and Redis. During a stream of 100 uploads,
    web processes and workers are killed with SIGKILL (gunicorn replaces its web processes; a killed worker is started
    again, as a supervisor would). Every upload the server recorded ends scored, exactly once, and no job stays
    silent in 'scoring' past its heartbeat window (3 missed beats) and the sweep that follows."""
    from sqlalchemy import create_engine, func, select

    from arena.db.models import ScoreRecord, Submission

    redis = redis_database(7)  # a database of its own: other tests flush theirs
    with _own_postgres() as database:
        processes = Processes(tmp_path, _environment(tmp_path / "home", database))
        try:
            port = _free_port()
            server = processes.start(
                "serve", "serve", "--workers", "4", "--threads", "4", "--port", str(port), "--redis", redis
            )
            _wait_until_serving(port, server, processes)
            tokens = _people(database, [f"runner{i}" for i in range(5)], daily_limit=100)
            workers = [processes.start("worker", "worker", "--redis", redis) for _ in range(2)]
            bodies = [predictions_csv("mnist1d", 0.5 + (n % 40) / 100, seed=n) for n in range(100)]
            acknowledged: dict[int, int] = {}
            stream_done = threading.Event()
            lock = threading.Lock()

            def send(indexes: list[int]) -> None:
                for n in indexes:
                    for _attempt in range(10):  # a killed web process drops the connection: send the same file again
                        with contextlib.suppress(OSError, http.client.HTTPException, ValueError):
                            status, answer = _upload(port, tokens[n % 5], bodies[n])
                            if status in (200, 202):  # 200: the same file again, already recorded
                                with lock:
                                    acknowledged[n] = answer["submission"]["id"]
                                break
                        time.sleep(0.2)
                    time.sleep(0.15)  # a stream over several seconds, so the kills land in the middle of it

            kills = {"web": 0, "worker": 0}

            def kill_while_streaming() -> None:
                rng = random.Random(11)
                while not stream_done.wait(0.5):
                    web = [pid for pid in _children(server.pid) if "arena.cli serve" in _cmdline(pid)]
                    if web:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(rng.choice(web), signal.SIGKILL)
                            kills["web"] += 1
                    index = rng.randrange(len(workers))
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(workers[index].pid, signal.SIGKILL)  # the worker and the job it is scoring
                        kills["worker"] += 1
                    workers[index].wait()
                    workers[index] = processes.start("worker", "worker", "--redis", redis)

            engine = create_engine(database)
            silences: list[float] = [0.0]

            def watch_heartbeats() -> None:  # how long any job stays in 'scoring' without a sign of life
                while not watching_done.is_set():
                    with engine.connect() as connection:
                        now = datetime.now(UTC).replace(tzinfo=None)
                        for beat, started in connection.execute(
                            select(Submission.heartbeat_at, Submission.scoring_started_at).where(
                                Submission.status == "scoring"
                            )
                        ):
                            silences.append((now - (beat or started)).total_seconds())
                    time.sleep(0.2)

            watching_done = threading.Event()
            watcher = threading.Thread(target=watch_heartbeats)
            watcher.start()
            killer = threading.Thread(target=kill_while_streaming)
            senders = [threading.Thread(target=send, args=(list(range(i, 100, 4)),)) for i in range(4)]
            killer.start()
            for thread in senders:
                thread.start()
            for thread in senders:
                thread.join()
            stream_done.set()
            killer.join()
            deadline = time.time() + 240  # generous: a loaded CI machine scores slowly
            while time.time() < deadline:
                with engine.connect() as connection:
                    left = connection.scalar(
                        select(func.count()).select_from(Submission).where(Submission.status.in_(("queued", "scoring")))
                    )
                if not left:
                    break
                time.sleep(0.5)
            watching_done.set()
            watcher.join()
            with engine.connect() as connection:
                ours = Submission.is_baseline.is_(False)  # the built-in suite's reference models are Arena's own
                statuses = dict(
                    connection.execute(
                        select(Submission.status, func.count()).where(ours).group_by(Submission.status)
                    ).all()
                )
                records = dict(
                    connection.execute(
                        select(ScoreRecord.submission_id, func.count()).group_by(ScoreRecord.submission_id)
                    ).all()
                )
                recorded = set(connection.scalars(select(Submission.id).where(ours)))
            engine.dispose()
            assert kills["web"] >= 2 and kills["worker"] >= 2, kills
            assert len(acknowledged) == 100, (
                f"uploads never acknowledged: {sorted(set(range(100)) - set(acknowledged))}"
            )
            assert set(acknowledged.values()) == recorded and len(recorded) == 100  # nothing lost, nothing doubled
            assert statuses == {"scored": 100}, statuses and processes.logs()
            assert all(records.get(i) == 1 for i in recorded), {
                i: records.get(i) for i in recorded if records.get(i) != 1
            }
            # A job whose worker stopped beating goes back after 3 missed beats at the latest (a dead worker on
            # the same machine, at the next sweep, one beat): allow one more second for this test's polling.
            assert max(silences) <= 3 * HEARTBEAT + 1, f"a job was silent for {max(silences):.1f} s"
            print(f"kills: {kills}; longest silence of a job in 'scoring': {max(silences):.1f} s")
            # The workers' rank processes then give the board its rank intervals, without a board request computing them.
            import json
            import urllib.request

            rows: list = []
            for _ in range(120):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/competitions/mnist1d/leaderboard") as page:
                    rows = json.load(page)["rows"]
                if rows and all(row["rank_interval"] for row in rows):
                    break
                time.sleep(0.5)
            rows = [row for row in rows if not row["is_baseline"]]  # the reference models' row is Arena's own
            assert len(rows) == 5 and all(row["rank_interval"] for row in rows), rows
        finally:
            processes.stop()


def test_arena_serve_with_workers_serves_pages_and_scores_in_one_scoring_process(tmp_path):
    """``arena serve --workers 2`` without Redis: two gunicorn web processes serve the pages, and uploads are
    scored by the one scoring process beside them (no web process scores)."""
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    processes = Processes(tmp_path, _environment(tmp_path / "home", database))
    try:
        port = _free_port()
        server = processes.start("serve", "serve", "--workers", "2", "--threads", "2", "--port", str(port))
        _wait_until_serving(port, server, processes)
        status, page = _request(port, "GET", "/c/mnist1d")
        assert status == 200 and b'id="leaderboard"' in page
        web = lambda: [pid for pid in _children(server.pid) if "arena.cli serve" in _cmdline(pid)]
        deadline = time.time() + 30
        while len(web()) < 2 and time.time() < deadline:
            time.sleep(0.2)
        scoring = [pid for pid in _children(server.pid) if "spawn_main" in _cmdline(pid)]
        assert len(web()) == 2 and len(scoring) == 1, [(pid, _cmdline(pid)) for pid in _children(server.pid)]
        token = _people(database, ["solo"], daily_limit=5)[0]
        status, answer = _upload(port, token, predictions_csv("mnist1d", 0.8))
        assert status == 202, answer
        submission = answer["submission"]["id"]
        deadline = time.time() + 60
        while time.time() < deadline:
            status, body = _request(
                port, "GET", f"/api/v1/submissions/{submission}", headers={"Authorization": f"Bearer {token}"}
            )
            if json.loads(body)["status"] == "scored":
                break
            time.sleep(0.3)
        assert json.loads(body)["status"] == "scored", processes.logs()
        status, board = _request(port, "GET", "/api/v1/competitions/mnist1d/leaderboard")
        teams = [row["team"] for row in json.loads(board)["rows"] if not row["is_baseline"]]
        assert teams == ["solo"]  # beside the reference models' baseline row
    finally:
        processes.stop()
