"""Shared fixtures: every test session gets its own ARENA_HOME, so nothing touches ~/.arena."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_SESSION_HOME = tempfile.mkdtemp(prefix="arena-test-home-")
os.environ["ARENA_HOME"] = _SESSION_HOME

from arena.config import installation_secret  # noqa: E402

installation_secret()  # the tests' installation is set up, as `arena setup` leaves one: its secret exists


@pytest.fixture(scope="session")
def arena_home() -> Path:
    return Path(_SESSION_HOME)


@pytest.fixture
def write_bundle(tmp_path: Path):
    """Write a task bundle (task.toml text and data files) and return its folder."""

    def write(toml: str, files: dict[str, str] | None = None, name: str = "bundle") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "task.toml").write_text(toml)
        for filename, text in (files or {}).items():
            (folder / filename).write_text(text)
        return folder

    return write


def require_in_ci(reason: str) -> None:
    """Skip with a clear reason locally; fail under CI=true, where every part must be present."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this part must be installed; see .ci/services.sh)")
    pytest.skip(reason)


# --- leaderboard fixtures ------------------------------------------------------------

import io  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from sqlalchemy import create_engine  # noqa: E402


def postgres_url() -> str | None:
    return os.environ.get("ARENA_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each store test runs on SQLite and, where a server is available, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.db'}"
    url = postgres_url()
    if not url:
        require_in_ci("no PostgreSQL server: set ARENA_TEST_POSTGRES_URL (.ci/services.sh starts one)")
    empty_postgres(url)
    return url


def empty_postgres(url: str) -> None:
    """Drop every table, Alembic's bookkeeping included, so each test starts from an empty database."""
    from sqlalchemy import MetaData

    engine = create_engine(url)
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()


def make_app(**config):
    """An app as ``arena serve`` prepares it (schema, built-in benchmarks), its queue not started."""
    from arena.server.installation import prepare
    from leaderboard import create_app

    app = create_app({"SECRET_KEY": "test", "TESTING": True, **config})
    prepare(app.extensions["arena_db"])
    return app


def app_database(request, tmp_path) -> str:
    """The app fixture's database: SQLite unless a test file parametrises ``app`` indirectly, e.g.
    ``pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)``."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'arena.db'}"
    url = postgres_url()
    if not url:
        require_in_ci("no PostgreSQL server: set ARENA_TEST_POSTGRES_URL (.ci/services.sh starts one)")
    empty_postgres(url)
    return url


@pytest.fixture
def app(request, tmp_path):
    app = make_app(DATABASE_URL=app_database(request, tmp_path))
    yield app
    app.extensions["arena_db"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# Every account the helpers make has this password: strong enough for the strength check.
PASSWORD = "plum-orbit-canyon-42"


def form_csrf(client, path: str = "/login") -> str:
    """The CSRF token of a real form, read from the page as a browser would."""
    import re

    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, f"no CSRF token in the form at {path}"
    return found.group(1)


class People:
    """Creates accounts and API tokens, and logs the test client in through the real form."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def token(self, username: str, *, organiser: bool = False) -> str:
        from arena.server import accounts

        db = self.app.extensions["arena_db"]
        with db.session() as session, session.begin():
            user = accounts.register(session, username, PASSWORD, organiser=organiser)
            return accounts.create_token(session, user)

    def login(self, username: str, password: str = PASSWORD) -> None:
        response = self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": form_csrf(self.client)}
        )
        assert response.status_code == 302, response.data

    def csrf(self) -> str:
        """A valid CSRF token for this client's session (Flask-WTF's, from a real form)."""
        return form_csrf(self.client)

    def drain(self) -> None:
        self.app.extensions["arena_queue"].drain()


@pytest.fixture
def people(app, client):
    return People(app, client)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def upload(client, token: str, slug: str, content: bytes | str, name: str = "sub.csv", **form):
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content), name), **form}
    return client.post(
        f"/api/v1/competitions/{slug}/submissions", data=data, headers=auth(token), content_type="multipart/form-data"
    )


@pytest.fixture
def people_factory():
    """An app with custom settings, its test client and a People helper."""
    made = []

    def make(**config):
        app = make_app(**config)
        made.append(app)
        client = app.test_client()
        return app, client, People(app, client)

    yield make
    for app in made:
        app.extensions["arena_db"].engine.dispose()


@dataclass
class LiveServer:
    """A real HTTP server on a free loopback port, scoring in its own queue as ``arena serve`` does."""

    url: str
    app: object
    client: object
    people: People


@pytest.fixture
def live_server(tmp_path):
    """Start real servers: ``live_server(**config)``; each is stopped, with its queue, after the test."""
    import threading

    from werkzeug.serving import make_server

    running = []

    def start(**config) -> LiveServer:
        config.setdefault("DATABASE_URL", f"sqlite:///{tmp_path / 'arena.db'}")
        app = make_app(**config)
        queue = app.extensions["arena_queue"].start()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running.append((server, queue, app))
        client = app.test_client()
        return LiveServer(f"http://127.0.0.1:{server.server_port}", app, client, People(app, client))

    yield start
    for server, queue, app in running:
        server.shutdown()
        if hasattr(queue, "stop"):
            queue.stop()
        app.extensions["arena_db"].engine.dispose()


# --- the browser (Playwright driving Debian's Chromium) ----------------------------------

SHOTS = Path(__file__).resolve().parent.parent / "screenshots"


def chromium_path() -> str | None:
    return os.environ.get("ARENA_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_in_ci("playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if not executable:
        require_in_ci("Debian's chromium is not installed (apt-get install chromium; .ci/services.sh does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


def wait_until_scored(page) -> None:
    """Reload a "My submissions" page until its newest upload shows as scored (30 s at most)."""
    for _ in range(60):
        if "scored" in page.inner_text("#submissions"):
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "scored" in page.inner_text("#submissions"), page.inner_text("#submissions")


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


ORGANISER = ("organiser", "organiser-pass-7781")


@pytest.fixture
def site(live_server) -> str:
    """A live server with an organiser account (``ORGANISER``); returns its URL."""
    from arena.server.accounts import register

    server = live_server()
    with server.app.extensions["arena_db"].session() as session, session.begin():
        register(session, *ORGANISER, organiser=True)
    return server.url


# --- Redis, for the scale-out workers --------------------------------------------------------


def redis_database(number: int = 0) -> str:
    """The URL of an empty Redis database (``number`` keeps a test's jobs apart from others'), or a skip."""
    url = os.environ.get("ARENA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + f"/{number}"
    try:
        from redis import Redis

        client = Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except Exception:
        require_in_ci(f"no Redis server at {url} (.ci/services.sh starts one)")
    client.flushdb()
    return url


@pytest.fixture
def redis_url() -> str:
    return redis_database()
