"""create_app: configuration, database, scoring queue, blueprints.

Nothing happens at import time, and ``create_app`` does no heavy work: the schema,
the built-in benchmarks and task versions are ``arena setup``'s job (which
``arena serve`` runs first), and the scoring thread is started by ``arena serve``
alone, so several web processes never score side by side.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable
from typing import Any

import markdown
import nh3
from flask import Config, Flask, g, has_request_context, jsonify, render_template, request, url_for
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix

from arena.config import installation_secret, require_secret
from arena.db.database import Database
from arena.errors import ArenaError
from arena.scoring.validation import DEFAULT_MAX_BYTES
from arena.server.jobs import InProcessWorker, RedisQueue

from . import answers_file as _answers_file  # noqa: F401  (adds the revealed answers file's routes)
from . import api, api_accounts, api_suites, auth, web, web_organiser, web_suites  # noqa: F401  (api_accounts, api_suites add routes)
from . import api_notifications as _notification_api  # noqa: F401  (adds the notification settings' API routes)
from . import api_suite_exports as _export_api  # noqa: F401  (adds the board export's API route)
from . import api_suite_releases as _release_api  # noqa: F401  (adds the releases' and verification's API routes)
from . import api_suite_utility as _utility_api  # noqa: F401  (adds the utility view's API route)
from . import web_notifications as _notification_pages  # noqa: F401  (adds live status and notification settings)
from . import web_suite_exports as export_pages
from . import web_suite_releases as release_pages
from . import web_suite_utility as utility_pages
from .kept_responses import KeptResponses


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` overrides settings (DATABASE_URL, REDIS_URL, ...).

    The scoring queue is made but not started: ``app.extensions["arena_queue"].start()``
    is called by ``arena serve`` only.
    """
    app = Flask(__name__)
    app.config.from_mapping(
        DATABASE_URL=None,
        REDIS_URL=None,
        MAX_UPLOAD_BYTES=DEFAULT_MAX_BYTES,
        CREATE_SECRET=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Rate-limit counters live in memory (one process); several processes share them in Redis.
        RATELIMIT_STORAGE_URI="memory://",
        # How many proxies in front set X-Forwarded-For/-Proto: the client address that limits count by.
        PROXY_COUNT=0,
    )
    _settings_from_environment(app)
    if test_config:
        app.config.from_mapping(test_config)
    app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    if app.config["PROXY_COUNT"]:
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    # Flask refuses bodies past this before a view runs; the store also stops at MAX_UPLOAD_BYTES.
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_UPLOAD_BYTES"] + 64 * 1024

    # A web process never makes up the installation secret: a new one would move every public/private split.
    require_secret(create=app.config["CREATE_SECRET"], who="The web process")
    db = Database(app.config["DATABASE_URL"])
    app.extensions["arena_db"] = db
    # Anonymous GETs of the board pages get a kept answer while its board generation holds (one query).
    app.wsgi_app = app.extensions["arena_kept"] = KeptResponses(app.wsgi_app, db)
    app.extensions["arena_queue"] = (
        RedisQueue(app.config["REDIS_URL"], db) if app.config["REDIS_URL"] else InProcessWorker(db)
    )

    app.add_template_filter(render_markdown, "markdown")
    app.jinja_env.globals["url_for"] = _links_of(app)
    app.before_request(_receive_upload_first)  # before any hook that reads the database
    app.register_blueprint(auth.bp)
    app.register_blueprint(web.bp)
    app.register_blueprint(web_organiser.bp)
    app.register_blueprint(web_suites.bp)
    app.register_blueprint(export_pages.bp)
    app.register_blueprint(utility_pages.bp)
    app.register_blueprint(release_pages.bp)
    app.register_blueprint(api.bp)
    auth.init_security(app)
    _register_error_handlers(app)
    auth.register_error_pages(app, _error_response)

    @app.teardown_appcontext
    def close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app


YES = ("1", "true", "yes")
"""What turns a yes/no setting on (ARENA_CREATE_SECRET, ARENA_SECURE_COOKIES); anything else leaves it off."""


def _settings_from_environment(app: Flask) -> None:
    """``ARENA_X`` in the environment sets the setting ``X``: ARENA_SECRET_KEY, ARENA_DATABASE_URL, ARENA_REDIS_URL,
    ARENA_RATELIMIT_STORAGE_URI, ARENA_PROXY_COUNT, the throttling limits (``auth.LIMIT_DEFAULTS``), ...

    Values are taken as text, never parsed (a secret key of digits stays text), and a blank one counts as unset.
    """
    environment = Config(app.root_path)
    environment.from_prefixed_env("ARENA", loads=str)
    app.config.update({key: value for key, value in environment.items() if value != ""})
    config = app.config
    config["SECRET_KEY"] = config["SECRET_KEY"] or installation_secret("flask-secret").hex()
    config["CREATE_SECRET"] = config["CREATE_SECRET"] is True or config["CREATE_SECRET"] in YES
    # Behind TLS, ARENA_SECURE_COOKIES=1 keeps the session cookie off plain HTTP.
    config["SESSION_COOKIE_SECURE"] = config.get("SECURE_COOKIES") in YES
    config["PROXY_COUNT"] = int(config["PROXY_COUNT"])
    if "LOGIN_LIMIT_PER_ACCOUNT" in config and "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS" not in config:
        # The earlier name of the per-account limit: an installation that set it keeps its number, now counted
        # per account and address (a limit per account alone would let anyone lock the owner out).
        config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] = config["LOGIN_LIMIT_PER_ACCOUNT"]


# What rendered Markdown may hold: its own structure, links and images over http(s) or on this site.
MARKDOWN_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
MARKDOWN_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
    "code": {"class"},
}


@functools.lru_cache(maxsize=256)  # a task's description is rendered once per text, not on every page view
def render_markdown(text: str) -> Markup:
    """A task README or description as HTML, safe to show: raw HTML in the text is escaped first, and the
    result passes nh3's allow-list (no scripts, no ``javascript:`` or ``data:`` links or images)."""
    rendered = markdown.markdown(html.escape(text or "", quote=False), extensions=["tables", "fenced_code"])
    return Markup(
        nh3.clean(
            rendered,
            tags=MARKDOWN_TAGS,
            attributes=MARKDOWN_ATTRIBUTES,
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer nofollow",
        )
    )


def _links_of(app: Flask) -> Callable[..., str]:
    """``url_for`` for templates, building each link once: a page view links the same dozen routes every time.

    A link depends only on its endpoint, its values and the request's script root (a relative URL),
    so it is kept under those; links relative to the current blueprint (``.name``), external ones and
    any with other options (``_anchor``, ...) are built as usual on every call.
    """

    @functools.lru_cache(maxsize=4096)
    def build(script_root: str, endpoint: str, values: tuple) -> str:
        return app.url_for(endpoint, **dict(values))

    def link(endpoint: str, **values: Any) -> str:
        if endpoint.startswith(".") or not has_request_context() or any(name.startswith("_") for name in values):
            return url_for(endpoint, **values)
        try:
            return build(request.script_root, endpoint, tuple(sorted(values.items())))
        except TypeError:  # a value that cannot be a key (a list): build it as usual
            return url_for(endpoint, **values)

    return link


def _receive_upload_first() -> None:
    """Take in an upload's whole body before the request reads the database, so no transaction (on SQLite,
    the write lock) is open while a slow client sends its bytes; werkzeug spools them to a temporary file."""
    if request.method == "POST" and request.mimetype == "multipart/form-data":
        request.files  # noqa: B018 -- parsing is the point


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _error_response(status: int, title: str, message: str):
    """An error as JSON under /api/, as a page elsewhere."""
    if _wants_json():
        return jsonify(error=title, problems=[message]), status
    return render_template("error.html", title=title, problems=[message]), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ArenaError)
    def arena_error(exc: ArenaError):
        status = getattr(exc, "status", 400)  # 400 unless the error names its own (403: rules not accepted)
        if _wants_json():
            return jsonify(error=exc.headline, problems=exc.messages()), status
        return render_template("error.html", title=exc.headline, problems=exc.messages()), status

    @app.errorhandler(413)
    def too_large(_exc):
        limit = app.config["MAX_UPLOAD_BYTES"] / 2**20
        message = (
            f"the upload is larger than the limit of {limit:.0f} MiB (a suite's entry: all its files together). "
            "Compress it (.csv.gz) or write Parquet, which are much smaller."
        )
        if _wants_json():
            return jsonify(error="Upload too large", problems=[message]), 413
        return render_template("error.html", title="Upload too large", problems=[message]), 413

    for status, title in (
        (400, "Bad request"),
        (401, "Log in first"),
        (403, "Not allowed"),
        (404, "Not found"),
        (405, "Method not allowed"),
    ):
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
