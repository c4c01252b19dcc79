"""create_app: configuration, database, scoring worker, blueprints. Nothing happens at import time."""

from __future__ import annotations

import html
import os
import secrets
from typing import Any

import markdown
from flask import Flask, g, jsonify, render_template, request
from markupsafe import Markup

from arena.config import arena_home
from arena.errors import ArenaError
from arena.jobs import InProcessWorker, RedisQueue, pending
from arena.store import competitions
from arena.store.db import Database
from arena.submissions import DEFAULT_MAX_BYTES

from . import api, auth, web


def _secret_key() -> str:
    path = arena_home() / "flask-secret"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings (DATABASE_URL, START_WORKER, ...)."""
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("ARENA_SECRET_KEY") or _secret_key(),
        DATABASE_URL=os.environ.get("ARENA_DATABASE_URL"),
        REDIS_URL=os.environ.get("ARENA_REDIS_URL"),
        MAX_UPLOAD_BYTES=DEFAULT_MAX_BYTES,
        START_WORKER=True,
        HOST_BUILTINS=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.from_mapping(test_config)
    # Flask refuses bodies past this before a view runs; the store also stops at MAX_UPLOAD_BYTES.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + 64 * 1024

    db = Database(app.config["DATABASE_URL"])
    app.extensions["arena_db"] = db
    if app.config["HOST_BUILTINS"]:
        host_builtin_benchmarks(db)
    with db.session() as session, session.begin():
        competitions.sync_task_versions(session)
    if app.config["REDIS_URL"]:
        queue: Any = RedisQueue(app.config["REDIS_URL"])
        for submission_id in pending(db):  # restart: re-announce what the database says is pending
            queue.notify(submission_id)
    else:
        queue = InProcessWorker(db)
        if app.config["START_WORKER"]:
            queue.start()
    app.extensions["arena_queue"] = queue

    app.add_template_filter(render_markdown, "markdown")
    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    _register_error_handlers(app)

    @app.teardown_appcontext
    def close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app


def render_markdown(text: str) -> Markup:
    """A task README as HTML. Raw HTML in the README is escaped first, so a bundle cannot inject markup."""
    return Markup(markdown.markdown(html.escape(text, quote=False), extensions=["tables", "fenced_code"]))


def host_builtin_benchmarks(db: Database) -> None:
    """Every built-in task is hosted as a standing benchmark (no end date) under its own name."""
    from arena.datasets import builtin_task_names

    with db.session() as session, session.begin():
        existing = {c.slug for c in competitions.list_all(session)}
        for name in builtin_task_names():
            if name not in existing:
                competitions.host(session, name)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ArenaError)
    def arena_error(exc: ArenaError):
        status = 400
        if _wants_json():
            return jsonify(error=exc.headline, problems=exc.messages()), status
        return render_template("error.html", title=exc.headline, problems=exc.messages()), status

    @app.errorhandler(413)
    def too_large(_exc):
        limit = app.config["MAX_UPLOAD_BYTES"] / 2**20
        message = (f"the upload is larger than the limit of {limit:.0f} MiB. "
                   "Compress it (.csv.gz) or write Parquet, which are much smaller.")
        if _wants_json():
            return jsonify(error="Upload too large", problems=[message]), 413
        return render_template("error.html", title="Upload too large", problems=[message]), 413

    for status, title in ((400, "Bad request"), (401, "Log in first"), (403, "Not allowed"), (404, "Not found"), (405, "Method not allowed")):
        app.register_error_handler(status, _simple_handler(status, title))

    @app.errorhandler(500)
    def internal(_exc):
        message = "something went wrong on our side; nothing you uploaded was lost. Please try again."
        if _wants_json():
            return jsonify(error="Server error", problems=[message]), 500
        return render_template("error.html", title="Server error", problems=[message]), 500


def _simple_handler(status: int, title: str):
    def handler(exc):
        message = getattr(exc, "description", "") or title
        if _wants_json():
            return jsonify(error=title, problems=[message]), status
        return render_template("error.html", title=title, problems=[message]), status

    return handler
