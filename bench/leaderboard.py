"""Benchmark: boards of 1,000 teams x 100 submissions, and concurrent uploads, over a real HTTP server.

The data is seeded through the store's own functions (``teams.create_team``,
``submissions.accept``, ``claim``, ``record_score``; accounts are inserted directly,
since hashing 1,000 passwords would only time Argon2). The server is gunicorn with
gthread workers, started the way ``arena serve --workers N`` starts it, and it also
serves a hello-world Flask route (``/hello``), the anchor: every figure is printed
beside hello-world's, measured by the same concurrent clients in the same run.

Targets (issue 11): board pages and the leaderboard API p99 < 50 ms and at least
0.3x hello-world's requests per second; with ``--uploads``, 200 concurrent uploads
from 50 teams (daily limit 5) accept exactly the allowed number, all get scored,
and accepted uploads per second are reported (target >= 50/s with PostgreSQL and
4 web processes).

Usage: python bench/leaderboard.py [--database sqlite|postgresql|both] [--teams 1000] [--per-team 100]
                                   [--web 2] [--threads 4] [--clients 8] [--seconds 3] [--uploads]
PostgreSQL is ARENA_TEST_POSTGRES_URL (its tables are dropped first).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and this file would shadow the leaderboard package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import http.client  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402

ROUTES = [("hello-world route", "/hello/"), ("home page", "/"), ("competition page", "/c/bench"),
          ("API leaderboard", "/api/v1/competitions/bench/leaderboard"), ("leaderboard CSV", "/c/bench/leaderboard.csv"),
          ("competition list", "/api/v1/competitions")]


def seed(url: str, teams: int, per_team: int) -> float:
    """Host 'digits' as ``bench`` and give it ``teams`` teams of ``per_team`` scored submissions; returns seconds."""
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.db.models import User
    from arena.scoring.score import Score
    from arena.server import competitions, submissions, teams as team_rules

    started = time.perf_counter()
    db = Database(url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        competition = competitions.host(session, "digits", slug="bench", daily_limit=5)
    rng = random.Random(7)
    day0 = datetime(2026, 1, 1)
    for t in range(teams):
        with db.session() as session, session.begin():
            competition = session.merge(competition)
            user = User(username=f"bench{t}", password_hash="!")  # never logs in
            session.add(user)
            session.flush()
            team_rules.create_team(session, competition, user, f"Team {t:04d}")
            skill = rng.uniform(0.6, 0.9)
            for s in range(per_team):
                accepted = submissions.accept(session, competition, user, file_sha256=uuid.uuid4().hex * 2,
                                              file_name=f"s{s}.csv", file_size=100, now=day0 + timedelta(days=s))
                submissions.claim(session, accepted.submission.id, "bench")
                public, private = min(1.0, skill + rng.gauss(0, 0.02)), min(1.0, skill + rng.gauss(0, 0.02))
                score = Score("accuracy", True, {"accuracy": public}, {"accuracy": private},
                              (public - 0.03, public + 0.03), (private - 0.02, private + 0.02), 162, 378)
                submissions.record_score(session, accepted.submission, competition, score)
    db.engine.dispose()
    return time.perf_counter() - started


def wsgi():
    """The arena app with a hello-world Flask app beside it at /hello, in one WSGI application."""
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from leaderboard import create_app

    hello = Flask("hello")
    hello.add_url_rule("/", "hello", lambda: "Hello, world!")
    return DispatcherMiddleware(create_app(), {"/hello": hello})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(url: str, web: int, threads: int, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), "--web", str(web),
                                "--threads", str(threads)], env={**env, "ARENA_DATABASE_URL": url},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/hello/")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start: " + process.stderr.read().decode()[-2000:])


def load(port: int, path: str, clients: int, seconds: float) -> dict:
    """``clients`` threads with keep-alive connections GET ``path`` for ``seconds``; latencies in ms."""
    latencies: list[float] = []
    errors = [0]
    stop = time.perf_counter() + seconds
    barrier = threading.Barrier(clients)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        barrier.wait()
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - began) * 1000)
        latencies.extend(mine)

    began = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    return {"n": len(latencies), "rps": len(latencies) / elapsed, "p50": pick(0.5), "p99": pick(0.99),
            "errors": errors[0]}


def boards(label: str, url: str, args, env: dict) -> None:
    print(f"\n== {label}: seeding {args.teams} teams x {args.per_team} submissions ...", flush=True)
    print(f"   seeded in {seed(url, args.teams, args.per_team):.0f} s", flush=True)
    server, port = start_server(url, args.web, args.threads, env)
    try:
        for _, path in ROUTES:  # the first request of each process computes and keeps the board
            for _ in range(args.web * 2):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                connection.request("GET", path)
                connection.getresponse().read()
        load(port, "/", args.clients, 1.0)
        print(f"   gunicorn, {args.web} web processes x {args.threads} threads (gthread); {args.clients} concurrent "
              f"keep-alive clients, {args.seconds:.0f} s per route")
        print(f"   {'request':<20} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'x hello':>8} {'errors':>7}")
        anchor = None
        for name, path in ROUTES:
            figures = load(port, path, args.clients, args.seconds)
            anchor = anchor or figures["rps"]
            print(f"   {name:<20} {figures['p50']:>8.2f} {figures['p99']:>8.2f} {figures['rps']:>8.0f} "
                  f"{figures['rps'] / anchor:>8.2f} {figures['errors']:>7}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


def uploads(label: str, url: str, args, env: dict) -> None:
    """200 concurrent uploads from 50 teams under a daily limit of 5: accepted count, accepted/s, all scored."""
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.db.models import User
    from arena.server import accounts, competitions

    teams, per_team, limit = 50, [random.Random(t).randint(2, 6) for t in range(50)], 5
    extra = 200 - sum(per_team)
    per_team[0] += extra  # 200 uploads in all; some teams past the limit
    db = Database(url)
    upgrade(db.engine)
    tokens = []
    with db.session() as session, session.begin():
        competitions.host(session, "digits", slug="uploads", daily_limit=limit)
        for t in range(teams):
            user = User(username=f"up{t}", password_hash="!")
            session.add(user)
            session.flush()
            tokens.append(accounts.create_token(session, user, "bench"))
    db.engine.dispose()
    from arena.scoring.datasets import load_task

    task = load_task("digits")
    ids = task.test[task.spec.id_column].to_numpy()
    classes = task.classes
    jobs = []
    for t in range(teams):
        for n in range(per_team[t]):
            rng = random.Random(t * 1000 + n)
            body = "id,label\n" + "".join(f"{i},{rng.choice(classes)}\n" for i in ids)
            jobs.append((tokens[t], body.encode()))
    random.Random(1).shuffle(jobs)
    server, port = start_server(url, args.upload_web, args.threads, env)
    accepted, refused, failed = [], [0], [0]
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def send(token: str, body: bytes) -> None:
        boundary = uuid.uuid4().hex
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\n"
                   f"Content-Type: text/csv\r\n\r\n").encode() + body + f"\r\n--{boundary}--\r\n".encode()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        connection.request("POST", "/api/v1/competitions/uploads/submissions", body=payload,
                           headers={"Authorization": f"Bearer {token}",
                                    "Content-Type": f"multipart/form-data; boundary={boundary}"})
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        with lock:
            if response.status == 201:
                accepted.append(answer["submission"]["id"])
            elif response.status == 400:
                refused[0] += 1
            else:
                failed[0] += 1

    try:
        threads = [threading.Thread(target=send, args=job) for job in jobs]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        allowed = sum(min(n, limit) for n in per_team)
        print(f"\n== {label}: {len(jobs)} concurrent uploads from {teams} teams, daily limit {limit}, "
              f"{args.upload_web} web processes")
        print(f"   accepted {len(accepted)} (allowed {allowed}), refused {refused[0]}, errors {failed[0]}; "
              f"{len(accepted) / elapsed:.0f} accepted uploads/s ({elapsed:.2f} s)", flush=True)
        db = Database(url)
        deadline = time.time() + 600
        from sqlalchemy import func, select

        from arena.db.models import Submission

        while time.time() < deadline:
            with db.session() as session:
                left = session.scalar(select(func.count()).select_from(Submission)
                                      .where(Submission.status.in_(("queued", "scoring"))))
            if not left:
                break
            time.sleep(0.5)
        with db.session() as session:
            scored = session.scalar(select(func.count()).select_from(Submission).where(Submission.status == "scored"))
        print(f"   scored {scored} of {len(accepted)} after {time.perf_counter() - began:.1f} s "
              "(one scoring process)", flush=True)
        db.engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)


def reset_postgres(url: str) -> None:
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--per-team", type=int, default=100)
    parser.add_argument("--web", type=int, default=2, help="web processes for the board figures")
    parser.add_argument("--upload-web", type=int, default=4, help="web processes for the upload figures")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--uploads", action="store_true", help="also run the concurrent-upload figures")
    parser.add_argument("--no-boards", action="store_true", help="skip the board figures")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        from leaderboard.commands import run_gunicorn

        run_gunicorn(wsgi, host="127.0.0.1", port=args.serve, workers=args.web, threads=args.threads)
        return
    home = tempfile.mkdtemp(prefix="arena-bench-")
    env = {**os.environ, "ARENA_HOME": home}
    os.environ["ARENA_HOME"] = home
    from arena.config import installation_secret

    installation_secret()
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        for part in ([] if args.no_boards else ["boards"]) + (["uploads"] if args.uploads else []):
            if kind == "sqlite":
                url = f"sqlite:///{home}/{part}.db"
            else:
                url = os.environ.get("ARENA_TEST_POSTGRES_URL")
                if not url:
                    print("\n== PostgreSQL: skipped (set ARENA_TEST_POSTGRES_URL)")
                    break
                reset_postgres(url)
            (boards if part == "boards" else uploads)("SQLite" if kind == "sqlite" else "PostgreSQL", url, args, env)


if __name__ == "__main__":
    main()
