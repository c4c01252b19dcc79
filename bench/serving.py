"""The benches' web server and clients: gunicorn serving Arena beside a hello-world route, and timed routes.

:class:`Server` starts gunicorn the way ``arena serve --workers N`` starts it, with a
hello-world Flask app beside Arena at ``/hello`` (the anchor); :func:`load` is the
concurrent keep-alive clients that time one route; :func:`warm` and :func:`measure`
print a table of routes, each figure beside hello-world's, measured by the same
clients in the same run; :func:`signed_in_account` and :func:`log_in` make the
participant whose signed-in requests are timed. ``bench/leaderboard.py`` and
``bench/suite_board.py`` share them.

Run as a script, it is the server itself: ``python bench/serving.py --serve PORT
[--web 2] [--threads 4] [--scoring]`` (what :class:`Server` starts).
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HELLO = "/hello/"
BENCH_PASSWORD = "bench-participant-password-1"


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


class Server:
    """The bench's gunicorn (and, with ``scoring``, one scoring process) in a process group of its own.

    Its output goes to a log file, never to an unread pipe (a full pipe would stall every web
    process); :meth:`stop` always ends the whole group, and :meth:`log_tail` shows why it failed.
    """

    def __init__(self, url: str, web: int, threads: int, env: dict, *, scoring: bool = False) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="arena-bench-server-", suffix=".log", delete=False)
        command = [sys.executable, __file__, "--serve", str(self.port), "--web", str(web), "--threads", str(threads)]
        self.process = subprocess.Popen(
            command + (["--scoring"] if scoring else []),
            env={**env, "ARENA_DATABASE_URL": url},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 120
        while time.time() < deadline and self.process.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", HELLO)
                if connection.getresponse().status == 200:
                    return
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        self.stop()
        raise SystemExit("the bench server did not start:\n" + self.log_tail())

    def log_tail(self, size: int = 3000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-size:]

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL to whatever is left after 15 s."""
        import signal

        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the scoring process or a stuck web process, if any
        except ProcessLookupError:
            pass


def get(server: Server, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """One GET on a connection of its own: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read()


def load(port: int, path: str, clients: int, seconds: float, headers: dict | None = None) -> dict:
    """``clients`` threads with keep-alive connections GET ``path`` (with ``headers``) for ``seconds``; latencies in ms."""
    latencies: list[float] = []
    problems: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds
    barrier = threading.Barrier(clients)

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        barrier.wait()
        while time.perf_counter() < stop:
            began = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers or {})
                response = connection.getresponse()
                body = response.read()
                if response.status != 200:
                    with lock:
                        problems.append(f"HTTP {response.status}: {body[:200]!r}")
                    continue
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    problems.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            latencies.extend(mine)

    began = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
    return {
        "n": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": pick(0.5),
        "p99": pick(0.99),
        "errors": len(problems),
        "first_error": problems[0] if problems else "",
    }


def warm(server: Server, routes: list[tuple[str, str, dict]], web: int) -> bool:
    """GET each route of (name, path, headers) ``2 * web`` times (the first request of each process computes and
    keeps what it serves), then load the server for a second; False (with the reason printed) when one failed."""
    for _, path, headers in routes:
        for _ in range(web * 2):
            status, body = get(server, path, headers)
            if status != 200:
                print(f"   {path} answered HTTP {status}: {body[:300]!r}\n{server.log_tail()}")
                return False
    load(server.port, HELLO, 4, 1.0)
    return True


def measure(
    server: Server, routes: list[tuple[str, str, dict]], clients: int, seconds: float, target_ms: float | None = None
) -> dict[str, dict]:
    """Time each route of (name, path, headers) in turn, the first being the anchor, and print a row for each: its
    p50 and p99, its requests per second and their ratio to the anchor's, and, given ``target_ms``, its p99's
    ratio to the anchor's and to that target. Returns the figures by name; a route that failed has errors."""
    head = f"   {'request':<34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'x hello':>8}"
    if target_ms is not None:
        head += f" {'p99 x hello':>12} {f'p99/{target_ms:g}ms':>11}"
    print(head + f" {'errors':>7}", flush=True)
    anchor: dict | None = None
    found: dict[str, dict] = {}
    for name, path, headers in routes:
        figures = found[name] = load(server.port, path, clients, seconds, headers)
        if not figures["n"]:
            figures["errors"] = figures["errors"] or 1
            print(
                f"   {name:<34} no request succeeded in {seconds:.0f} s ({figures['errors']} errors; first: "
                f"{figures['first_error']})\n   server log:\n{server.log_tail()}",
                flush=True,
            )
            continue
        anchor = anchor or figures
        row = (
            f"   {name:<34} {figures['p50']:>8.2f} {figures['p99']:>8.2f} {figures['rps']:>8.0f} "
            f"{figures['rps'] / anchor['rps']:>8.2f}"
        )
        if target_ms is not None:
            row += f" {figures['p99'] / anchor['p99']:>12.2f} {figures['p99'] / target_ms:>11.2f}"
        print(row + f" {figures['errors']:>7}", flush=True)
        if figures["errors"]:
            print(f"   first error: {figures['first_error']}", flush=True)
    return found


def signed_in_account(url: str) -> str:
    """A participant account with a password (for the login form) and an API token; returns the token."""
    from arena.db.database import Database
    from arena.server import accounts

    db = Database(url)
    with db.session() as session, session.begin():
        user = accounts.register(session, "bench-signed-in", BENCH_PASSWORD)
        token = accounts.create_token(session, user, "bench")
    db.engine.dispose()
    return token


def log_in(server: Server) -> str:
    """Log in through the login form, as a browser does; returns the Cookie header that keeps the session."""
    import re
    from http.cookies import SimpleCookie
    from urllib.parse import urlencode

    def cookies_of(response) -> dict:
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        return {name: morsel.value for name, morsel in jar.items()}

    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    form = response.read().decode()
    kept = cookies_of(response)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    cookie = "; ".join(f"{name}={value}" for name, value in kept.items())
    connection.request(
        "POST",
        "/login",
        body=urlencode({"csrf_token": csrf, "username": "bench-signed-in", "password": BENCH_PASSWORD}),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    response = connection.getresponse()
    response.read()
    if response.status != 302:
        raise SystemExit(f"the bench could not log in: HTTP {response.status}\n{server.log_tail()}")
    kept.update(cookies_of(response))
    return "; ".join(f"{name}={value}" for name, value in kept.items())


def reset_postgres(url: str) -> None:
    """Drop every table of the PostgreSQL database at ``url``."""
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()


def serve() -> None:
    """The server :class:`Server` starts: gunicorn (and a scoring process) on the database of the environment."""
    # Run as a script, this folder comes first on sys.path, and bench/leaderboard.py would shadow the package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    from leaderboard.commands import run_gunicorn, start_scoring_process

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", type=int, required=True, metavar="PORT")
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--scoring", action="store_true")
    args = parser.parse_args()
    scorer = start_scoring_process(os.environ["ARENA_DATABASE_URL"]) if args.scoring else None
    try:
        run_gunicorn(wsgi, host="127.0.0.1", port=args.serve, workers=args.web, threads=args.threads)
    finally:
        if scorer is not None:
            scorer.terminate()


if __name__ == "__main__":
    serve()
