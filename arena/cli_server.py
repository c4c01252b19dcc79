"""``arena serve``, ``arena submit``, ``arena worker``, ``arena organiser``: the server-side commands.

The web app is imported only when ``serve`` runs, so the core never depends on Flask.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from datetime import datetime


def cmd_serve(args: argparse.Namespace) -> int:
    if args.database:
        os.environ["ARENA_DATABASE_URL"] = args.database
    if args.redis:
        os.environ["ARENA_REDIS_URL"] = args.redis
    from leaderboard import create_app

    from .config import arena_home
    from .store.accounts import ensure_organiser

    app = create_app()
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        organiser, password = ensure_organiser(session, password=os.environ.get("ARENA_ADMIN_PASSWORD"))
    url = f"http://{args.host}:{args.port}/"
    print(f"Arena is serving at {url}  (data in {arena_home()}, database {db.engine.url.render_as_string(hide_password=True)})")
    if password:
        print(f"First organiser created: log in as '{organiser.username}' with password: {password}")
        print("  (shown once; change it with: arena organiser admin --password)")
    else:
        print(f"Organisers log in as '{organiser.username}' (reset with: arena organiser {organiser.username} --password)")
    print("Participants register at " + url + "register")
    sys.stdout.flush()
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from .client import submit_file, wait_for_score

    answer = submit_file(args.server, args.token, args.task, args.file, note=args.note, baseline=args.baseline)
    submission = answer["submission"]
    if answer.get("duplicate"):
        print(f"identical to submission #{submission['id']}: not counted again.")
    else:
        print(f"submission #{submission['id']} queued.")
    if args.wait:
        submission = wait_for_score(args.server, args.token, submission["id"])
        if submission["status"] == "failed":
            print("failed:\n" + "\n".join(f"  - {p}" for p in submission["problems"]), file=sys.stderr)
            return 1
        metric = submission["metric"]
        ci = submission["public_ci"]
        print(f"scored: public {metric} {submission['public'][metric]} (95% CI [{ci[0]}, {ci[1]}])")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from .jobs import run_redis_worker

    if args.database:
        os.environ["ARENA_DATABASE_URL"] = args.database
    run_redis_worker(args.redis, burst=args.burst)
    return 0


def cmd_host(args: argparse.Namespace) -> int:
    """Host a bundle on this server's database (run it on the server machine)."""
    from .store.competitions import host
    from .store.db import Database

    settings = {key: getattr(args, key) for key in ("title", "starts_at", "ends_at", "daily_limit", "total_limit",
                                                    "team_size", "final_selections", "public_fraction")
                if getattr(args, key) is not None}
    db = Database(args.database)
    with db.session() as session, session.begin():
        competition = host(session, args.task, slug=args.slug, **settings)
        kind = "a competition" if competition.ends_at else "a standing benchmark"
        print(f"hosted '{competition.slug}' ({competition.title}) as {kind}: /c/{competition.slug}")
    return 0


def _utc(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date and time like 2026-12-31T23:59") from None


def cmd_organiser(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from .store.accounts import register, set_password
    from .store.db import Database
    from .store.models import User

    password = args.password_value or getpass.getpass(f"New password for {args.username}: ")
    db = Database()
    with db.session() as session, session.begin():
        user = session.scalar(select(User).where(User.username == args.username))
        if user is None:
            user = register(session, args.username, password, organiser=True)
        else:
            set_password(session, args.username, password)
            user.is_organiser = True
    print(f"{args.username} is an organiser; the password is set.")
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    try:
        from baselines.run import main
    except ImportError as exc:
        print(f"the baselines need JAX and Flax ({exc.name} is missing): pip install -e '.[baselines]'", file=sys.stderr)
        return 1
    if args.submit and not (args.server and args.token):
        print("--submit needs --server URL and --token TOKEN.", file=sys.stderr)
        return 2
    return main(args)


def add_commands(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the leaderboard (built-in tasks hosted as benchmarks)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--database", help="SQLAlchemy URL (default: SQLite under ARENA_HOME)")
    serve.add_argument("--redis", help="Redis URL: score in 'arena worker' processes instead of in-process")
    serve.set_defaults(func=cmd_serve)

    submit = commands.add_parser("submit", help="upload a predictions file to an Arena server")
    submit.add_argument("task", help="the competition's short name, e.g. digits")
    submit.add_argument("file")
    submit.add_argument("--server", required=True, help="e.g. http://127.0.0.1:5000")
    submit.add_argument("--token", required=True, help="an API token from your account page")
    submit.add_argument("--note", default="")
    submit.add_argument("--baseline", action="store_true", help="mark as a reference baseline")
    submit.add_argument("--wait", action="store_true", help="wait for the score and print it")
    submit.set_defaults(func=cmd_submit)

    worker = commands.add_parser("worker", help="score submissions taken from Redis (scale-out)")
    worker.add_argument("--redis", required=True, help="e.g. redis://127.0.0.1:6379/0")
    worker.add_argument("--database", help="the server's SQLAlchemy URL")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(func=cmd_worker)

    hosting = commands.add_parser("host", help="host a task bundle as a competition on this server's database")
    hosting.add_argument("task", help="a built-in task name or a bundle folder")
    hosting.add_argument("--slug", help="the short name in URLs (default: the task's name)")
    hosting.add_argument("--database", help="SQLAlchemy URL (default: ARENA_DATABASE_URL or SQLite under ARENA_HOME)")
    hosting.add_argument("--title")
    hosting.add_argument("--starts-at", type=_utc, help="UTC, e.g. 2026-12-01T00:00")
    hosting.add_argument("--ends-at", type=_utc, help="UTC; without it the competition is a standing benchmark")
    for flag, kind in (("--daily-limit", int), ("--total-limit", int), ("--team-size", int),
                       ("--final-selections", int), ("--public-fraction", float)):
        hosting.add_argument(flag, type=kind)
    hosting.set_defaults(func=cmd_host)

    organiser = commands.add_parser("organiser", help="create an organiser or reset an organiser's password")
    organiser.add_argument("username")
    organiser.add_argument("--password", dest="password_value", nargs="?", const="", default="",
                           help="the new password (prompted for when omitted)")
    organiser.set_defaults(func=cmd_organiser)

    baseline = commands.add_parser("baseline", help="train a reference baseline (JAX/Flax) and write its predictions")
    baseline.add_argument("task", nargs="?", help="a built-in task name or a bundle folder")
    baseline.add_argument("model", nargs="?", help="cnn, gru, lstm, bigru, transformer or mlp")
    baseline.add_argument("--list", action="store_true", help="show which models fit which tasks")
    baseline.add_argument("--epochs", type=int)
    baseline.add_argument("--seed", type=int)
    baseline.add_argument("--time-budget", type=float, help="stop training after this many seconds")
    baseline.add_argument("--out", help="predictions file to write (default TASK-MODEL-seedS.csv)")
    baseline.add_argument("--no-curves", action="store_true", help="do not save curves and checkpoint")
    baseline.add_argument("--submit", action="store_true", help="upload to a leaderboard, marked as a baseline")
    baseline.add_argument("--server", help="e.g. http://127.0.0.1:5000 (with --submit)")
    baseline.add_argument("--token", help="an API token (with --submit)")
    baseline.set_defaults(func=cmd_baseline)
