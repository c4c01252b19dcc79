"""``arena serve``: registered by this package through the ``arena.commands`` entry point.

It prepares the installation once (schema, built-in benchmarks, task versions),
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
    from leaderboard import create_app

    app = create_app({"CREATE_SECRET": True})  # the first start of an installation creates its secret
    db = app.extensions["arena_db"]
    prepare(db)
    with db.session() as session, session.begin():
        organiser, password = ensure_organiser(session, password=os.environ.get("ARENA_ADMIN_PASSWORD"))
    app.extensions["arena_queue"].start()
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


def register(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="serve the leaderboard (built-in tasks hosted as benchmarks)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=5000)
    serve.add_argument("--database", help="SQLAlchemy URL (default: SQLite under ARENA_HOME)")
    serve.add_argument("--redis", help="Redis URL: score in 'arena worker' processes instead of in-process")
    serve.set_defaults(func=cmd_serve)
