"""Whole answers kept for visitors with no cookie and no token (leaderboard/kept_responses.py): a kept answer
costs one query, is never stale, and is never anyone else's."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

from conftest import auth, upload
from helpers import predictions_csv

ANONYMOUS_ROUTES = [
    "/",
    "/c/mnist1d",
    "/c/mnist1d/leaderboard.csv",
    "/api/v1/competitions/mnist1d/leaderboard",
    "/api/v1/competitions/mnist1d/leaderboard?format=csv",
    "/api/v1/competitions",
]


def _selects(app) -> list[str]:
    """Every SELECT the app's database runs from now on."""
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(
        app.extensions["arena_db"].engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_rest: (
            seen.append(statement) if statement.lstrip().upper().startswith("SELECT") else None
        ),
    )
    return seen


def test_a_kept_answer_costs_one_query_and_a_change_shows_on_the_very_next_request(database_url, people_factory):
    """A second web process writes (a score, a new title); the reader's next anonymous request shows it."""
    app, reader, people = people_factory(DATABASE_URL=database_url)
    _, writer, _ = people_factory(DATABASE_URL=database_url)
    ada, org = people.token("ada"), people.token("org", organiser=True)
    for path in ANONYMOUS_ROUTES:
        assert reader.get(path).status_code == 200  # made and kept
    selects = _selects(app)
    for path in ANONYMOUS_ROUTES:
        before = len(selects)
        assert reader.get(path).status_code == 200
        assert len(selects) - before == 1, (path, selects[before:])  # only the version the answer was kept under

    upload(writer, ada, "mnist1d", predictions_csv("mnist1d", 0.8))
    people.drain()
    for path in ANONYMOUS_ROUTES[1:5]:
        assert "ada" in reader.get(path).get_data(as_text=True), path
    assert re.search(r'href="/c/mnist1d".*?1 team ranked', reader.get("/").get_data(as_text=True), re.S)

    title = "Renamed while kept"
    assert writer.patch("/api/v1/competitions/mnist1d", json={"title": title}, headers=auth(org)).status_code == 200
    for path in ("/", "/c/mnist1d", "/api/v1/competitions"):
        assert title in reader.get(path).get_data(as_text=True), path


def test_a_kept_answer_is_never_made_from_nor_sent_to_a_signed_in_person(database_url, people_factory):
    """Kept answers are the anonymous ones only: a signed-in organiser's page (their name, the Admin tab, a CSRF
    token, the private board) is never kept for others, and an anonymous page kept first is never sent to them."""
    app, organiser, people = people_factory(DATABASE_URL=database_url)
    anonymous = app.test_client()
    token = people.token("org", organiser=True)
    people.login("org")

    assert anonymous.get("/c/mnist1d").status_code == 200  # an anonymous page kept first
    mine = organiser.get("/c/mnist1d").get_data(as_text=True)
    assert "Log out" in mine and ">Admin</a>" in mine and "csrf_token" in mine
    assert "(private rows)" in organiser.get("/c/mnist1d?board=private").get_data(as_text=True)
    for _ in range(2):  # the organiser's page was not kept: the anonymous one, made and then kept
        page = anonymous.get("/c/mnist1d?board=private").get_data(as_text=True)
        assert (
            "(public rows)" in page and "Log out" not in page and ">Admin</a>" not in page and "csrf_token" not in page
        )
        page = anonymous.get("/c/mnist1d").get_data(as_text=True)
        assert "Log out" not in page and "csrf_token" not in page

    path = "/api/v1/competitions/mnist1d/leaderboard?board=private"
    assert json.loads(anonymous.get(path, headers=auth(token)).data)["board"] == "private"
    assert json.loads(anonymous.get(path).data)["board"] == "public"
    assert json.loads(anonymous.get(path, headers=auth(token)).data)["board"] == "private"  # after one was kept
    assert anonymous.get(path, headers=auth("arena_revoked")).status_code == 401  # a bad token is still refused


def test_a_kept_answer_keeps_its_headers_and_failures_are_never_kept(people_factory):
    app, client, _ = people_factory()
    made, kept = (
        client.get("/api/v1/competitions/mnist1d/leaderboard"),
        client.get("/api/v1/competitions/mnist1d/leaderboard"),
    )
    assert kept.data == made.data and kept.headers["Content-Type"] == "application/json"
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert kept.headers[header] == made.headers[header]
    for _ in range(2):
        assert client.get("/c/no-such-competition").status_code == 404
    assert not [key for key in app.extensions["arena_kept"].kept if "no-such" in key[1]]


def test_a_kept_page_is_made_again_when_the_competition_opens(database_url, people_factory):
    """Opening or closing at a set time changes the page without changing any row: an answer is kept only
    until the next start or end of the competitions it shows."""
    from arena.db.models import utcnow

    app, client, people = people_factory(DATABASE_URL=database_url)
    org = people.token("org", organiser=True)
    opens = utcnow() + timedelta(seconds=1.5)
    assert (
        client.patch(
            "/api/v1/competitions/mnist1d", json={"starts_at": opens.isoformat()}, headers=auth(org)
        ).status_code
        == 200
    )
    state = lambda: re.search(r'id="state" class="tag">(\w+)<', client.get("/c/mnist1d").get_data(as_text=True)).group(
        1
    )
    listed = lambda: {c["slug"]: c["state"] for c in client.get("/api/v1/competitions").get_json()}["mnist1d"]
    assert state() == listed() == "scheduled"
    assert state() == listed() == "scheduled"  # kept
    while utcnow() <= opens:
        time.sleep(0.1)
    assert state() == listed() == "open"


def test_a_page_kept_as_a_competition_ends_never_shows_it_open_after_the_end(people_factory, monkeypatch):
    """The page's state and the moment its answer is kept until come from one reading of the clock: an end that
    passes while the page is made (a thread switch, a pause) cannot leave a kept page saying it is still open."""
    from arena.db.models import utcnow
    from leaderboard import web

    app, client, people = people_factory()
    org = people.token("org", organiser=True)
    ends = utcnow() + timedelta(seconds=1)
    assert (
        client.patch("/api/v1/competitions/mnist1d", json={"ends_at": ends.isoformat()}, headers=auth(org)).status_code
        == 200
    )
    siblings = web.stages.siblings

    def slow_siblings(session, competition):  # the end passes while the page is being made
        while utcnow() <= ends:
            time.sleep(0.05)
        return siblings(session, competition)

    monkeypatch.setattr(web.stages, "siblings", slow_siblings)
    made = client.get("/c/mnist1d").get_data(as_text=True)
    monkeypatch.setattr(web.stages, "siblings", siblings)
    assert re.search(r'id="state" class="tag">open<', made) and "accepting submissions" in made  # as it was then
    page = client.get("/c/mnist1d").get_data(as_text=True)
    assert re.search(r'id="state" class="tag">closed<', page) and "accepting submissions" not in page


def test_made_up_query_arguments_are_never_kept_and_kept_bytes_are_capped(people_factory, monkeypatch):
    """Only the arguments the pages know are kept (``?board=public&&`` is ``?board=public``): a stream of made-up
    ones neither grows memory nor pushes out what every visitor asks for; all kept answers fit a byte cap."""
    from leaderboard import kept_responses

    app, client, _ = people_factory()
    kept = app.extensions["arena_kept"].kept
    board = "/api/v1/competitions/mnist1d/leaderboard"
    assert client.get(board + "?board=public").status_code == 200
    for junk in ("junk=1", "board=nonsense", "board=public&board=private", "teams=every", "format=xml"):
        for _ in range(2):
            assert client.get(f"{board}?{junk}").status_code == 200
    assert [key[2] for key in kept] == [(("board", "public"),)]
    for same in ("board=public&&", "&board=public", "board=%70ublic"):
        assert client.get(f"{board}?{same}").status_code == 200
    assert len(kept) == 1

    size = len(client.get(board).data)
    monkeypatch.setattr(kept_responses, "MAX_KEPT_BYTES", 2 * size + 1)  # two of these answers fit, not three
    app, client, _ = people_factory()
    keeper = app.extensions["arena_kept"]
    for query in ("", "?board=public", "?board=private"):
        assert client.get(board + query).status_code == 200
    assert len(client.get("/").data) > kept_responses.MAX_KEPT_BYTES  # too large to keep at all
    assert keeper.kept_bytes == sum(len(answer.body) for answer in keeper.kept.values()) <= 2 * size + 1
    assert [key[2] for key in keeper.kept] == [(("board", "public"),), (("board", "private"),)]  # the oldest went
