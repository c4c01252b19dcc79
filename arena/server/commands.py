"""The server's commands: ``arena setup``, ``arena db``, ``arena host``, ``arena organiser``, ``arena worker``,
``arena suite host`` and ``arena suite release``.

Registered through the ``arena.commands`` entry point (``arena suite ...`` through ``arena.suite_commands``). The database parts are
imported inside each command, so ``arena --help`` works without the server extra.
"""

from __future__ import annotations

import argparse
import getpass
import os
from datetime import datetime


def _database(url: str | None, *, create: bool = False):
    """The installation's database, named on the output and brought to the newest schema first (a no-op when it is
    current). A database that does not exist yet is made only with ``create``: a command run with another
    ``ARENA_HOME`` or URL than the server's would otherwise report success into a database no server reads."""
    from arena.db.database import Database, database_url
    from arena.db.migrate import upgrade

    target = url or database_url()
    _refuse_a_new_database(target, create)
    db = Database(target)
    upgrade(db.engine)
    return db


def _refuse_a_new_database(url: str, create: bool) -> None:
    """Print which database a command uses; raise (unless ``create``) where it holds no Arena schema yet."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    from arena.errors import ArenaError

    parsed = make_url(url)
    print(f"database: {parsed.render_as_string(hide_password=True)}")
    if create:
        return
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        new = path not in ("", ":memory:") and (not os.path.exists(path) or os.path.getsize(path) == 0)
    else:
        engine = create_engine(parsed)
        try:
            new = "alembic_version" not in inspect(engine).get_table_names()
        finally:
            engine.dispose()
    if new:
        raise ArenaError(
            f"there is no Arena database at {parsed.render_as_string(hide_password=True)}. The server you mean "
            "reads another one: run this with the server's ARENA_HOME or ARENA_DATABASE_URL (or --database URL); "
            "to start a new installation there, run `arena setup` or pass --create."
        )


def cmd_worker(args: argparse.Namespace) -> int:
    from arena.config import require_secret
    from arena.server.jobs import run_redis_worker

    create = args.create_secret or os.environ.get("ARENA_CREATE_SECRET", "") in ("1", "true", "yes")
    require_secret(create=create, who="arena worker")
    if args.database:
        os.environ["ARENA_DATABASE_URL"] = args.database
    from arena.db.database import database_url

    _refuse_a_new_database(database_url(), create=False)  # a worker never makes the server's database
    run_redis_worker(args.redis, burst=args.burst, kinds=args.kinds)
    return 0


def cmd_host(args: argparse.Namespace) -> int:
    """Host a bundle on this server's database (run it on the server machine)."""
    from arena.server.organiser_actions import host

    settings = {
        key: getattr(args, key)
        for key in (
            "title",
            "starts_at",
            "ends_at",
            "daily_limit",
            "total_limit",
            "team_size",
            "final_selections",
            "public_fraction",
            "submission_kind",
        )
        if getattr(args, key) is not None
    }
    db = _database(args.database, create=args.create)
    with db.session() as session, session.begin():
        competition = host(session, None, args.task, slug=args.slug, **settings)  # logged as the command line's
        kind = "a competition" if competition.ends_at else "a standing benchmark"
        print(f"hosted '{competition.slug}' ({competition.title}) as {kind}: /c/{competition.slug}")
    return 0


def cmd_suite_host(args: argparse.Namespace) -> int:
    """Host a suite on this server's database (run it on the server machine): its tasks as standing benchmarks."""
    from arena.server.organiser_actions import host_suite
    from arena.server.suites import suite_tasks

    db = _database(args.database, create=args.create)
    with db.session() as session, session.begin():
        result = host_suite(session, None, args.suite)
        suite = result.suite
        if not result.changed:
            print(f"suite '{suite.name}' version {suite.version} is hosted already; nothing changed.")
            return 0
        hosted = {competition.id for competition in result.hosted}
        print(f"hosted suite '{suite.name}' version {suite.version} ({suite.title}): /s/{suite.name}")
        for task, competition in suite_tasks(session, suite):
            how = "hosted" if competition.id in hosted else "shares"
            print(
                f"  {task.key}: {how} /c/{competition.slug}; weight {task.weight:g}, "
                f"floor {task.floor:g}, ceiling {task.ceiling:g}"
            )
    return 0


def cmd_suite_release(args: argparse.Namespace) -> int:
    """Freeze a suite's board as its next release (run it on the server machine): the statistics are computed
    first if the worker has not yet, so the release is never refused for being early."""
    from arena.server.suite_releases import make_release
    from arena.server.suite_worker import refresh_suites

    db = _database(args.database)
    refresh_suites(db)  # what the worker would do next: then the board's statistics are there
    with db.session() as session, session.begin():
        view = make_release(session, args.suite, None, args.note)
    print(
        f"suite '{view.suite}' release {view.number} (suite version {view.suite_version}) is frozen: /s/{view.suite}/releases/{view.number}"
    )
    for suffix, sha256 in view.files.items():
        print(f"  {view.suite}-release-{view.number}.{suffix}  sha256 {sha256}")
    return 0


def register_suite(suite_commands: argparse._SubParsersAction) -> None:
    """``arena suite host`` and ``arena suite release``: registered under ``arena suite`` through the
    ``arena.suite_commands`` entry point."""
    hosting = suite_commands.add_parser(
        "host", help="host a suite on this server's database: each task a standing benchmark (or an existing one)"
    )
    hosting.add_argument("suite", help="a built-in suite name, a folder holding suite.toml, or the file")
    hosting.add_argument("--database", help="SQLAlchemy URL (default: ARENA_DATABASE_URL or SQLite under ARENA_HOME)")
    hosting.add_argument(
        "--create",
        action="store_true",
        help="make the database if it does not exist yet (without it, a command aimed at a missing database stops)",
    )
    hosting.set_defaults(func=cmd_suite_host)
    releasing = suite_commands.add_parser(
        "release",
        help="freeze a suite's board as its next citable release: JSON, CSV, LaTeX, Markdown and Parquet that "
        "never change",
    )
    releasing.add_argument("suite", help="the hosted suite's name")
    releasing.add_argument("--note", default="", help="a note shown with the release (what it is for)")
    releasing.add_argument("--database", help="SQLAlchemy URL (default: ARENA_DATABASE_URL or SQLite under ARENA_HOME)")
    releasing.set_defaults(func=cmd_suite_release)


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    wrong = [kind for kind in kinds if kind not in ("score", "code")]
    if wrong or not kinds:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a list of job kinds: use score, code or score,code (got {', '.join(wrong) or 'none'})."
        )
    return kinds


def _utc(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date and time like 2026-12-31T23:59") from None


def cmd_organiser(args: argparse.Namespace) -> int:
    """Create an organiser or reset one's password; promoting a participant needs --promote."""
    from arena.server.accounts import make_organiser

    password = args.password_value or getpass.getpass(f"New password for {args.username}: ")
    db = _database(None, create=args.create)
    with db.session() as session, session.begin():
        _, done = make_organiser(session, args.username, password, promote=args.promote)
    print(done)
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from arena.config import installation_secret
    from arena.server.installation import prepare

    installation_secret()  # the one-time set-up creates the installation secret (if this is a new installation)
    db = _database(args.database, create=True)  # setting up an installation makes its database
    rescored = prepare(db, host_builtins=not args.no_builtins)
    if not args.no_builtins:
        from arena.server.suite_install import prepare_builtin_suites

        prepare_builtin_suites(db)
    print(
        f"the database is at the newest schema; {'built-in tasks and suites hosted; ' if not args.no_builtins else ''}"
        + (f"new task versions adopted and rescoring: {', '.join(rescored)}." if rescored else "every task is current.")
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from arena.db.database import Database, database_url
    from arena.db.migrate import current_revision, head_revision, upgrade

    _refuse_a_new_database(args.database or database_url(), args.create)
    db = Database(args.database)
    before = current_revision(db.engine)
    upgrade(db.engine)
    after = current_revision(db.engine)
    print(
        f"database schema: {before or 'none'} -> {after}"
        if before != after
        else f"database schema is current ({after})."
    )
    return 0 if after == head_revision() else 1


def register(commands: argparse._SubParsersAction) -> None:
    setup = commands.add_parser(
        "setup", help="prepare the installation once: schema, built-in benchmarks, task versions"
    )
    setup.add_argument("--database", help="SQLAlchemy URL (default: ARENA_DATABASE_URL or SQLite under ARENA_HOME)")
    setup.add_argument("--no-builtins", action="store_true", help="do not host the built-in tasks")
    setup.set_defaults(func=cmd_setup)

    database = commands.add_parser("db", help="database schema migrations").add_subparsers(
        dest="db_command", required=True
    )
    upgrade = database.add_parser("upgrade", help="bring the database to the newest schema revision")
    upgrade.add_argument("--database", help="SQLAlchemy URL (default: ARENA_DATABASE_URL or SQLite under ARENA_HOME)")
    upgrade.add_argument(
        "--create",
        action="store_true",
        help="make the database if it does not exist yet (without it, a command aimed at a missing database stops)",
    )
    upgrade.set_defaults(func=cmd_db_upgrade)

    worker = commands.add_parser("worker", help="score submissions taken from Redis (scale-out)")
    worker.add_argument("--redis", required=True, help="e.g. redis://127.0.0.1:6379/0")
    worker.add_argument("--database", help="the server's SQLAlchemy URL")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.add_argument(
        "--kinds",
        type=_kinds,
        default=("score", "code"),
        help="the jobs this worker takes, comma-separated: 'score' (predictions files) and 'code' (participants' "
        "programs to run, and their dry runs); default both. Run code on machines of its own with --kinds code.",
    )
    worker.add_argument(
        "--create-secret",
        action="store_true",
        help="create the installation secret if ARENA_HOME has none (only for a brand-new "
        "installation: otherwise copy the file 'secret' from the server)",
    )
    worker.set_defaults(func=cmd_worker)

    hosting = commands.add_parser("host", help="host a task bundle as a competition on this server's database")
    hosting.add_argument("task", help="a built-in task name or a bundle folder")
    hosting.add_argument("--slug", help="the short name in URLs (default: the task's name)")
    hosting.add_argument("--database", help="SQLAlchemy URL (default: ARENA_DATABASE_URL or SQLite under ARENA_HOME)")
    hosting.add_argument("--title")
    hosting.add_argument("--starts-at", type=_utc, help="UTC, e.g. 2026-12-01T00:00")
    hosting.add_argument("--ends-at", type=_utc, help="UTC; without it the competition is a standing benchmark")
    for flag, kind in (
        ("--daily-limit", int),
        ("--total-limit", int),
        ("--team-size", int),
        ("--final-selections", int),
        ("--public-fraction", float),
    ):
        hosting.add_argument(flag, type=kind)
    hosting.add_argument(
        "--submission-kind",
        choices=("file", "code"),
        help="what participants upload: predictions files (default) or code that Arena runs on the hidden test "
        "inputs (only for a task whose task.toml declares code)",
    )
    hosting.add_argument(
        "--create",
        action="store_true",
        help="make the database if it does not exist yet (without it, a command aimed at a missing database stops)",
    )
    hosting.set_defaults(func=cmd_host)

    organiser = commands.add_parser(
        "organiser",
        help="create an organiser, reset an organiser's password, or (with --promote) make a participant an organiser",
    )
    organiser.add_argument("username")
    organiser.add_argument(
        "--password",
        dest="password_value",
        nargs="?",
        const="",
        default="",
        help="the new password (prompted for when omitted)",
    )
    organiser.add_argument(
        "--promote", action="store_true", help="allow making an existing participant an organiser (refused without it)"
    )
    organiser.add_argument(
        "--create",
        action="store_true",
        help="make the database if it does not exist yet (without it, a command aimed at a missing database stops)",
    )
    organiser.set_defaults(func=cmd_organiser)
