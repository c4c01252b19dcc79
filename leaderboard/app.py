"""create_app: configuration, database, scoring queue, blueprints.

Nothing happens at import time, and ``create_app`` does no heavy work: the schema,
the built-in benchmarks and task versions are ``arena setup``'s job (which
``arena serve`` runs first), and the scoring thread is started by ``arena serve``
alone, so several web processes never score side by side.
"""

from __future__ import annotations

import html
import os
from typing import Any

import markdown
from flask import Flask, g, jsonify, render_template, request
from markupsafe import Markup

from arena.config import installation_secret, require_secret
from arena.errors import ArenaError
from arena.server.jobs import InProcessWorker, RedisQueue
from arena.db.database import Database
from arena.scoring.validation import DEFAULT_MAX_BYTES

from . import api, auth, web


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings (DATABASE_URL, REDIS_URL, ...).

    The scoring queue is made but not started: ``app.extensions["arena_queue"].start()``
    is called by ``arena serve`` only.
    """
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("ARENA_SECRET_KEY") or installation_secret("flask-secret").hex(),
        DATABASE_URL=os.environ.get("ARENA_DATABASE_URL"),
        REDIS_URL=os.environ.get("ARENA_REDIS_URL"),
        MAX_UPLOAD_BYTES=DEFAULT_MAX_BYTES,
        CREATE_SECRET=os.environ.get("ARENA_CREATE_SECRET", "") in ("1", "true", "yes"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config:
        app.config.from_mapping(test_config)
    # Flask refuses bodies past this before a view runs; the store also stops at MAX_UPLOAD_BYTES.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + 64 * 1024

    # A web process never makes up the installation secret: a new one would move every public/private split.
    require_secret(create=app.config["CREATE_SECRET"], who="The web process")
    db = Database(app.config["DATABASE_URL"])
    app.extensions["arena_db"] = db
    app.extensions["arena_queue"] = RedisQueue(app.config["REDIS_URL"], db) if app.config["REDIS_URL"] else InProcessWorker(db)

    app.add_template_filter(render_markdown, "markdown")
    app.before_request(_receive_upload_first)  # before any hook that reads the database
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


def _receive_upload_first() -> None:
    """Take in an upload's whole body before the request reads the database, so no transaction (on SQLite,
    the write lock) is open while a slow client sends its bytes; werkzeug spools them to a temporary file."""
    if request.method == "POST" and request.mimetype == "multipart/form-data":
        request.files  # noqa: B018 -- parsing is the point


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
