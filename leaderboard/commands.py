"""``arena serve``: registered by this package through the ``arena.commands`` entry point.

It prepares the installation once (schema, built-in benchmarks and suites, task versions),
then serves, and it alone starts the scoring queue.
"""

from __future__ import annotations

import argparse
import os
import sys


def cmd_serve(args: argparse.Namespace) -> int:
    if args.database:
        os.environ["ARENA_DATABASE_URL"] = args.database
    if args.redis:
        os.environ["ARENA_REDIS_URL"] = args.redis
    from arena.config import arena_home
    from arena.server.accounts import ensure_organiser
    from arena.server.installation import prepare
    from arena.server.suite_install import prepare_builtin_suites
    from leaderboard import create_app

    if args.workers and not _has_gunicorn():
        print("arena serve --workers needs gunicorn: pip install 'arena[scale]'", file=sys.stderr)
        return 2
    app = create_app({"CREATE_SECRET": True})  # the first start of an installation creates its secret
    db = app.extensions["arena_db"]
    prepare(db)
    prepare_builtin_suites(db)  # after the built-in tasks: the built-in suite shares their competitions
    with db.session() as session, session.begin():
        organiser, password = ensure_organiser(session, password=os.environ.get("ARENA_ADMIN_PASSWORD"))
    url = f"http://{args.host}:{args.port}/"
    print(
        f"Arena is serving at {url}  (data in {arena_home()}, database {db.engine.url.render_as_string(hide_password=True)})"
    )
    if password:
        print(f"First organiser created: log in as '{organiser.username}' with password: {password}")
        print("  (shown once; change it with: arena organiser admin --password)")
    else:
        print(
            f"Organisers log in as '{organiser.username}' (reset with: arena organiser {organiser.username} --password)"
        )
    print("Participants register at " + url + "register")
    sys.stdout.flush()
    if not args.workers:
        app.extensions["arena_queue"].start()
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
        return 0
    db.engine.dispose()  # the web processes open their own connections
    scorer = None if app.config["REDIS_URL"] else start_scoring_process(app.config["DATABASE_URL"])
    print(
        f"{args.workers} web processes (gunicorn, {args.threads} threads each); scoring in "
        + ("'arena worker' processes (Redis)" if scorer is None else "one scoring process")
    )
    sys.stdout.flush()
    try:
        run_gunicorn(create_app, host=args.host, port=args.port, workers=args.workers, threads=args.threads)
    finally:
        if scorer is not None:
            scorer.terminate()
    return 0


def start_scoring_process(database_url: str | None):
    """The one in-process worker of a gunicorn installation without Redis: its own process, never one per web process."""
    import multiprocessing

    process = multiprocessing.get_context("spawn").Process(
        target=_score_forever, args=(database_url,), name="arena-scoring", daemon=True
    )
    process.start()
    return process


def _score_forever(database_url: str | None) -> None:
    """The scoring process: the in-process worker, polling the database each second (web processes cannot wake it)."""
    import multiprocessing
    import threading

    from arena.db.database import Database
    from arena.server.jobs import InProcessWorker

    # Daemonic to the server (it ends with it), but a parent of its own scoring slots, which leave with it.
    multiprocessing.current_process().daemon = False
    InProcessWorker(Database(database_url), poll_seconds=1.0).start()
    threading.Event().wait()


def run_gunicorn(make_app, *, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Serve ``make_app()`` with gunicorn: ``workers`` processes of ``threads`` threads, each process building
    its own app (and its own database connections) after the fork."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,
                "keepalive": 5,
                "graceful_timeout": 10,
            }.items():
                self.cfg.set(key, value)
            if "control_socket_disable" in self.cfg.settings:  # one shared ~/.gunicorn socket would clash
                self.cfg.set("control_socket_disable", True)  # between servers on one machine

        def load(self):
            return make_app()

    Server().run()


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the leaderboard (built-in tasks hosted as benchmarks)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--database", help="SQLAlchemy URL (default: SQLite under ARENA_HOME)")
    serve.add_argument("--redis", help="Redis URL: score in 'arena worker' processes instead of in-process")
    serve.add_argument(
        "--workers",
        type=int,
        default=0,
        help="serve with gunicorn in this many web processes (production); scoring stays in one "
        "process of its own, or in 'arena worker' processes with --redis",
    )
    serve.add_argument("--threads", type=int, default=4, help="threads per web process (with --workers)")
    serve.set_defaults(func=cmd_serve)


def _has_gunicorn() -> bool:
    import importlib.util

    return importlib.util.find_spec("gunicorn") is not None
