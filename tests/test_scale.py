"""Scale-out: the server queues in Redis, separate ``arena worker`` processes score; ``arena submit`` uploads."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import auth, upload
from helpers import predictions_csv


@pytest.mark.slow
def test_redis_workers_score_what_the_server_queued(tmp_path, redis_url, people_factory):
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=redis_url)
    token = people.token("ada")
    submission_id = upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.75)).get_json()["submission"]["id"]
    status = lambda: client.get(f"/api/v1/submissions/{submission_id}", headers=auth(token)).get_json()["status"]
    assert status() == "queued"  # no in-process worker: the job waits in Redis
    result = subprocess.run(
        [sys.executable, "-m", "arena.cli", "worker", "--redis", redis_url, "--database", database, "--burst"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert status() == "scored"


@pytest.mark.slow
def test_arena_submit_uploads_to_a_running_server(tmp_path, live_server):
    server = live_server()
    token = server.people.token("ada")
    path = tmp_path / "predictions.csv"
    path.write_text(predictions_csv("mnist1d", 0.9))
    command = [
        sys.executable,
        "-m",
        "arena.cli",
        "submit",
        "mnist1d",
        str(path),
        "--server",
        server.url,
        "--token",
        token,
        "--wait",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"submission #\d+ queued\.\nscored: public accuracy \d\.\d{4} \(95% CI \[\d\.\d{4}, \d\.\d{4}\]\)",
        result.stdout,
    )
    bad = subprocess.run(command[:-3] + ["--token", "arena_wrong"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "token is not valid" in bad.stderr


# --- boards at scale: kept per board generation, never stale; reads never take SQLite's write lock ----------------


def _board(client, token=None, which=None):
    query = f"?board={which}" if which else ""
    rows = client.get(
        f"/api/v1/competitions/mnist1d/leaderboard{query}", headers=auth(token) if token else {}
    ).get_json()["rows"]
    return {row["team"]: row["score"] for row in rows}


def _page(client, which=None):
    return client.get("/c/mnist1d" + (f"?board={which}" if which else "")).get_data(as_text=True)


def test_a_board_is_never_stale_in_any_web_process(database_url, people_factory):
    """Two web processes (two apps, one database, each keeping its own boards): whatever one changes, the
    other shows on its very next request: a new score, a better one, a disqualification, final choices, a reveal."""
    first, reader, people = people_factory(DATABASE_URL=database_url)
    _, writer, _ = people_factory(DATABASE_URL=database_url)
    ada, org = people.token("ada"), people.token("org", organiser=True)
    assert _board(reader) == {} and "No scored submissions yet" in _page(reader)  # both kept now
    worse = upload(writer, ada, "mnist1d", predictions_csv("mnist1d", 0.6)).get_json()["submission"]["id"]
    people.drain()
    assert list(_board(reader)) == ["ada"] and "ada" in _page(reader)
    low = _board(reader)["ada"]
    better = upload(writer, ada, "mnist1d", predictions_csv("mnist1d", 0.9, seed=1)).get_json()["submission"]["id"]
    people.drain()
    assert _board(reader)["ada"] > low and f"{_board(reader)['ada']:.4f}" in _page(reader)
    assert (
        writer.post(f"/api/v1/submissions/{better}/disqualify", json={"confirm": True}, headers=auth(org)).status_code
        == 200
    )
    assert _board(reader)["ada"] == low  # the disqualified best left the board at once
    private_before = _board(reader, org, "private")["ada"]
    assert (
        writer.post(f"/api/v1/submissions/{worse}/select", json={"selected": True}, headers=auth(ada)).status_code
        == 200
    )
    assert _board(reader, org, "private")["ada"] == private_before  # the chosen final is the one judged
    assert (
        writer.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    )
    assert reader.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["board"] == "private"
    assert "(private rows)" in _page(reader)


def test_an_announcement_shows_on_the_next_page_view_in_every_process(database_url, people_factory):
    """The page keeps its announcements beside its board: posting or removing one raises the board generation."""
    from arena.db.models import Announcement

    app, writer, people = people_factory(DATABASE_URL=database_url)
    _, reader, _ = people_factory(DATABASE_URL=database_url)
    people.token("org", organiser=True)
    people.login("org")
    assert 'id="announcements"' not in _page(reader)  # kept now, with no announcement
    writer.post("/c/mnist1d/admin/announce", data={"csrf_token": people.csrf(), "body": "New **data** tomorrow."})
    assert "<strong>data</strong>" in _page(reader)
    with app.extensions["arena_db"].session() as session:
        posted = session.query(Announcement).one().id
    writer.post(
        "/c/mnist1d/admin/unannounce", data={"csrf_token": people.csrf(), "announcement_id": posted, "confirm": "1"}
    )
    assert 'id="announcements"' not in _page(reader)


def test_threads_that_miss_the_same_board_compute_it_once(database_url, people_factory):
    """A crowd's requests in one process, all missing a board whose generation just moved, compute it once: one
    thread computes, the others wait for its value. If that computation fails, the others compute their own."""
    import threading
    import time

    from arena.server import board_cache, competitions

    app, _, _ = people_factory(DATABASE_URL=database_url)
    db = app.extensions["arena_db"]
    calls: list[int] = []

    def crowd(compute, name: str, size: int = 6) -> list:
        barrier, values = threading.Barrier(size), []

        def visitor() -> None:
            with db.read_session() as session:
                competition = competitions.get(session, "mnist1d")
                barrier.wait()
                try:
                    values.append(board_cache.cached(session, competition, ("crowd", name), compute))
                except ValueError as exc:
                    values.append(str(exc))

        threads = [threading.Thread(target=visitor) for _ in range(size)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return values

    def slow_board() -> str:
        calls.append(1)
        time.sleep(0.3)  # long enough for every other visitor to arrive and miss
        return f"board #{len(calls)}"

    assert crowd(slow_board, "first") == ["board #1"] * 6 and len(calls) == 1

    def failing_first() -> str:
        calls.append(1)
        time.sleep(0.3)
        if len(calls) == 2:
            raise ValueError("the first computation failed")
        return "board"

    values = crowd(failing_first, "second")
    assert sorted(values) == ["board"] * 5 + ["the first computation failed"]


def test_a_transaction_reads_the_board_generation_once_and_the_next_reads_it_again(database_url, people_factory):
    """A page checks every kept thing against the one generation its transaction read with the competition's
    row; a later transaction reads it again, so nothing kept under an older generation is served."""
    from sqlalchemy import event

    from arena.db import generations
    from arena.server import competitions

    app, _, _ = people_factory(DATABASE_URL=database_url)
    db = app.extensions["arena_db"]
    statements = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with db.read_session() as session:
        competition_id = competitions.get(session, "mnist1d").id
        before = len(statements)
        first = generations.generation(session, competition_id)
        assert generations.generation(session, competition_id) == first and len(statements) == before
        session.rollback()
        with db.session() as writer, writer.begin():
            generations.touch(writer, competition_id)
        assert generations.generation(session, competition_id) == first + 1  # a new transaction reads again


def test_a_write_can_be_the_first_thing_a_new_process_does(database_url, people_factory):
    """A web process's first request may be a login form, a write before any read. On PostgreSQL the server's
    isolation level, which a write in a read session goes back to, is known only once a connection was made:
    the write must not fail for want of it (it answered 500 to every login until some page had been read)."""
    from sqlalchemy import select

    from arena.db.database import Database, begin_write
    from arena.db.models import User
    from arena.server import accounts

    people_factory(DATABASE_URL=database_url)
    fresh = Database(database_url)  # a new process: its engine never connected
    try:
        with fresh.read_session() as session, session.begin():
            begin_write(session)
            accounts.register(session, "first-write", "a long enough password 1")
        with fresh.read_session() as session:
            assert session.scalar(select(User.username).where(User.username == "first-write")) == "first-write"
    finally:
        fresh.engine.dispose()


def test_a_change_made_while_reading_is_never_written(database_url, people_factory):
    """A request's read session (autocommit on PostgreSQL, no write lock on SQLite) never writes on its own: what
    it changed is discarded when it closes, unless a write transaction commits it."""
    from arena.server import competitions

    app, _, _ = people_factory(DATABASE_URL=database_url)
    db = app.extensions["arena_db"]
    with db.read_session() as session:
        competitions.get(session, "mnist1d").title = "changed while reading"
        assert competitions.get(session, "mnist1d").title == "changed while reading"  # another query: no flush
    with db.read_session() as session:
        assert competitions.get(session, "mnist1d").title != "changed while reading"


def test_a_postgresql_connection_closed_while_idle_is_replaced_before_a_request_gets_it(monkeypatch):
    """Pooled connections are pinged only after idling (not on every checkout): one the server closed meanwhile
    (a restart, an idle timeout) is replaced, and the request never sees it."""
    import time

    from conftest import postgres_url, require_in_ci
    from sqlalchemy import create_engine, text

    from arena.db import database

    url = postgres_url()
    if not url:
        require_in_ci("no PostgreSQL server: set ARENA_TEST_POSTGRES_URL (.ci/services.sh starts one)")
    db = database.Database(url)

    def backend() -> int:
        with db.engine.connect() as connection:
            return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()

    first = backend()
    assert backend() == first  # in steady use the pooled connection is reused without a ping
    monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)  # every checkout now counts as after an idle spell
    killer = create_engine(url)
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        for _ in range(100):  # the server ends the backend asynchronously
            if not connection.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": first}).first():
                break
            time.sleep(0.05)
    killer.dispose()
    assert backend() != first
    db.engine.dispose()


def test_the_home_page_counts_teams_without_stale_counts(database_url, people_factory):
    _, client, people = people_factory(DATABASE_URL=database_url)
    _, other, _ = people_factory(DATABASE_URL=database_url)
    count = lambda: re.search(r'href="/c/mnist1d".*?(\d+) teams?', client.get("/").get_data(as_text=True), re.S)
    before = count()
    for name in ("ada", "bob"):
        upload(other, people.token(name), "mnist1d", predictions_csv("mnist1d", 0.7))
    people.drain()
    assert int(before.group(1)) == 0 and int(count().group(1)) == 2  # the count kept before the scores moved on


def test_reads_do_not_wait_for_a_sqlite_writer(tmp_path, people_factory):
    """A writer holding SQLite's write lock does not hold up pages and the API: reads begin a plain
    transaction (with BEGIN IMMEDIATE they would wait for the lock and fail with 'database is locked')."""
    from arena.db.models import InstallationSetting

    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    token = people.token("ada")
    upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.8))
    people.drain()
    db = app.extensions["arena_db"]
    with db.session() as writer, writer.begin():
        writer.add(InstallationSetting(key="held", value="the write lock"))
        writer.flush()  # BEGIN IMMEDIATE: this transaction holds the write lock until the block ends
        for path in ("/", "/c/mnist1d", "/api/v1/competitions/mnist1d/leaderboard", "/c/mnist1d/leaderboard.csv"):
            assert client.get(path).status_code == 200, path
        assert client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).status_code == 200


def test_an_answer_key_is_hashed_once_and_its_hash_stored(write_bundle, monkeypatch):
    """A large answer key costs its hash once, when the task is first loaded (hosted): another process
    (here: an emptied memory cache) reads the stored hash instead of hashing the key again."""
    from arena.bundles import loading as datasets
    from arena.tasks import load_task

    rows = "".join(f"{i},{i % 3},{i * 0.5}\n" for i in range(60))
    folder = write_bundle(
        'name = "hashed"\ntitle = "Hashed"\nversion = 1\nkind = "classification"\n[data]\nfile = "all.csv"\n'
        'id = "id"\ntarget = "label"\ntest_fraction = 0.5\nseed = 1\n[metrics]\nprimary = "accuracy"\n'
        '[submission]\nprediction = "label"\n',
        {"all.csv": "id,label,x\n" + rows},
    )
    first = load_task(folder).answer_key.sha256
    datasets._memory.clear()

    def hashing_again(*_args):
        raise AssertionError("the answer key was hashed again")

    monkeypatch.setattr(datasets, "answer_sha256", hashing_again)
    assert load_task(folder).answer_key.sha256 == first


# --- uploads at scale: 200 at once from 50 teams under a daily limit of 5 ------------------------------------------


@pytest.mark.slow
def test_200_concurrent_uploads_from_50_teams_accept_exactly_the_daily_limit_and_all_get_scored(
    database_url, people_factory
):
    """Released together by one barrier, half the teams through the web form and half through the API: each
    team gets exactly min(sent, 5) accepted, every other upload is refused with the limit's message, and every
    accepted upload ends scored."""
    import io
    import threading

    from conftest import People, form_csrf
    from sqlalchemy import func, select

    from arena.db.models import Competition, Submission, User

    app, client, people = people_factory(DATABASE_URL=database_url)
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        session.scalar(select(Competition).where(Competition.slug == "mnist1d")).daily_limit = 5
    sent = [10 if t < 10 else 2 if t < 30 else 3 for t in range(50)]  # 200 uploads; the first 10 teams send 10
    assert sum(sent) == 200
    names = [f"team{t:02d}" for t in range(50)]
    tokens = [people.token(name) for name in names]
    cookies = {}
    for t in range(0, 50, 2):  # even teams upload through the web form, with their own logged-in session
        browser = app.test_client()
        People(app, browser).login(names[t])
        csrf = form_csrf(browser, "/c/mnist1d/submissions")  # the page keeps the form's secret in the session
        cookies[t] = (browser.get_cookie("session").value, csrf)
    jobs = [(t, n) for t in range(50) for n in range(sent[t])]
    barrier, lock, answers = threading.Barrier(len(jobs)), threading.Lock(), []

    def send(t: int, n: int) -> None:
        body = predictions_csv("mnist1d", 0.5 + n / 40, seed=t * 100 + n)
        mine = app.test_client()
        if t in cookies:
            mine.set_cookie("session", cookies[t][0])
            barrier.wait()
            response = mine.post(
                "/c/mnist1d/submissions",
                content_type="multipart/form-data",
                data={"csrf_token": cookies[t][1], "file": (io.BytesIO(body.encode()), f"{n}.csv")},
            )
            accepted = response.status_code == 302
        else:
            barrier.wait()
            response = upload(mine, tokens[t], "mnist1d", body)
            accepted = response.status_code == 202  # queued for scoring
        with lock:
            answers.append((t, accepted, response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=send, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 200
    for t in range(50):
        mine = [answer for answer in answers if answer[0] == t]
        assert sum(accepted for _, accepted, _, _ in mine) == min(sent[t], 5), (names[t], mine)
        assert all("has used all 5 submissions" in text for _, accepted, _, text in mine if not accepted), mine
    people.drain()
    with db.session() as session:
        per_team = dict(
            session.execute(
                select(User.username, func.count(Submission.id))
                .join(Submission, Submission.user_id == User.id)
                .group_by(User.username)
            ).all()
        )
        statuses = dict(session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all())
    assert per_team == {name: min(n, 5) for name, n in zip(names, sent)}
    assert statuses == {"scored": 150}


@pytest.mark.slow
def test_the_competition_page_shows_the_first_teams_and_links_to_every_team(monkeypatch, people_factory, tmp_path):
    """The page's table (rendered once per board generation) holds the first BOARD_PAGE teams and says how many
    there are; ?teams=all shows every team, and a new score shows on the next request in both."""
    from leaderboard import web

    monkeypatch.setattr(web, "BOARD_PAGE", 1)
    _, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    for name, accuracy in (("ada", 0.9), ("bob", 0.6)):
        upload(client, people.token(name), "mnist1d", predictions_csv("mnist1d", accuracy))
    people.drain()
    page, everyone = _page(client), client.get("/c/mnist1d?teams=all").get_data(as_text=True)
    assert "<td>ada</td>" in page and "<td>bob</td>" not in page and "The first 1 of 2 teams." in page
    assert "<td>ada</td>" in everyone and "<td>bob</td>" in everyone and 'id="more-teams"' not in everyone
    upload(client, people.token("cyd"), "mnist1d", predictions_csv("mnist1d", 1.0))
    people.drain()
    assert "<td>cyd</td>" in _page(client) and "The first 1 of 3 teams." in _page(client)
    assert "<td>cyd</td>" in client.get("/c/mnist1d?teams=all").get_data(as_text=True)
