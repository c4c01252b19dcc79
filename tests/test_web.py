"""Every page for every role (anonymous, participant, member of another team, organiser), and the forms."""

from __future__ import annotations

import io

import pytest
from conftest import auth, upload
from helpers import predictions_csv, sample_csv

# The web and API suites run on SQLite and on PostgreSQL (which must be there under CI=true).
pytestmark = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def world(app, client, people):
    """Ada's team has a scored submission; Bob is in another team; Org organises."""
    tokens = {name: people.token(name, organiser=(name == "org")) for name in ("ada", "bob", "org")}
    ada_sub = upload(client, tokens["ada"], "mnist1d", predictions_csv("mnist1d", 0.8)).get_json()["submission"]["id"]
    upload(client, tokens["bob"], "mnist1d", sample_csv("mnist1d"))
    people.drain()
    return {"tokens": tokens, "ada_sub": ada_sub}


PAGES = [
    # path, anonymous, participant, organiser
    ("/", 200, 200, 200),
    ("/c/mnist1d", 200, 200, 200),
    ("/c/mnist1d/data/train.csv", 200, 200, 200),
    ("/c/mnist1d/data/answers.csv", 404, 404, 404),
    ("/c/mnist1d/leaderboard.csv", 200, 200, 200),
    ("/c/mnist1d/team", 302, 200, 200),
    ("/c/mnist1d/submissions", 302, 200, 200),
    ("/c/mnist1d/admin", 302, 403, 200),
    ("/host", 302, 403, 200),
    ("/account", 302, 200, 200),
    ("/login", 200, 200, 200),
    ("/register", 200, 200, 200),
    ("/c/nope", 404, 404, 404),
]


@pytest.mark.slow
@pytest.mark.parametrize("path, anonymous, participant, organiser", PAGES)
def test_page_status_by_role(world, client, people, path, anonymous, participant, organiser):
    assert client.get(path).status_code == anonymous
    people.login("ada")
    assert client.get(path).status_code == participant
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("org")
    assert client.get(path).status_code == organiser


API = [
    # method, path, anonymous, ada (owner), bob (other team), organiser
    ("GET", "/api/v1/competitions/mnist1d/leaderboard", 200, 200, 200, 200),
    ("GET", "/api/v1/competitions/mnist1d/submissions", 401, 200, 200, 200),
    ("GET", "/api/v1/submissions/{ada_sub}", 401, 200, 403, 200),
    ("POST", "/api/v1/submissions/{ada_sub}/select", 401, 200, 403, 200),
    ("POST", "/api/v1/submissions/{ada_sub}/disqualify", 401, 403, 403, 400),  # without "confirm": true
    ("POST", "/api/v1/competitions/mnist1d/teams/999999/disqualify", 401, 403, 403, 400),  # no such team
    ("GET", "/api/v1/competitions/mnist1d/all-submissions", 401, 403, 403, 200),
    ("POST", "/api/v1/competitions/mnist1d/rescore", 401, 403, 403, 200),
    ("PATCH", "/api/v1/competitions/mnist1d", 401, 403, 403, 200),
    ("GET", "/api/v1/me", 401, 200, 200, 200),
    ("GET", "/api/v1/competitions/nope", 404, 404, 404, 404),
    ("GET", "/api/v1/competitions", 200, 200, 200, 200),
    ("GET", "/api/v1/competitions/mnist1d", 200, 200, 200, 200),
    ("GET", "/api/v1/competitions/mnist1d/data/test.csv", 200, 200, 200, 200),
    ("GET", "/api/v1/competitions/mnist1d/data/answers.csv", 404, 404, 404, 404),
    ("GET", "/api/v1/competitions/mnist1d/team", 401, 200, 200, 200),
    ("GET", "/api/v1/openapi.json", 200, 200, 200, 200),
    ("POST", "/api/v1/competitions", 401, 403, 403, 400),  # the organiser's empty body names no task
    ("PUT", "/api/v1/competitions/mnist1d/task", 401, 403, 403, 400),
    ("POST", "/api/v1/competitions/mnist1d/teams", 401, 400, 400, 400),  # already in a team / no name
    ("POST", "/api/v1/competitions/mnist1d/teams/join", 401, 400, 400, 400),
    ("POST", "/api/v1/competitions/mnist1d/submissions", 401, 400, 400, 400),  # no file attached
    ("POST", "/api/v1/competitions/mnist1d/open", 401, 403, 403, 200),
    ("POST", "/api/v1/competitions/mnist1d/close", 401, 403, 403, 200),
    ("POST", "/api/v1/competitions/mnist1d/reveal", 401, 403, 403, 400),  # without "confirm": true
]


@pytest.mark.slow
@pytest.mark.parametrize("method, path, anonymous, owner, other, organiser", API)
def test_api_status_by_role(world, client, method, path, anonymous, owner, other, organiser):
    path = path.format(ada_sub=world["ada_sub"])
    tokens = world["tokens"]
    for token, expected in (
        (None, anonymous),
        (tokens["ada"], owner),
        (tokens["bob"], other),
        (tokens["org"], organiser),
    ):
        response = client.open(path, method=method, json={}, headers=auth(token) if token else {})
        assert response.status_code == expected, (token, response.get_json())
        if expected >= 400:
            assert response.get_json()["problems"], "every refusal says why"


@pytest.mark.parametrize(
    "action", ["settings", "open", "close", "reveal", "rescore", "task", "disqualify", "disqualify-team"]
)
@pytest.mark.slow
def test_admin_forms_are_for_organisers_only(world, client, people, action):
    assert client.post(f"/c/mnist1d/admin/{action}").status_code == 400  # no CSRF token: refused first
    assert client.post(f"/c/mnist1d/admin/{action}", data={"csrf_token": people.csrf()}).status_code == 302  # log in
    people.login("ada")
    assert client.post(f"/c/mnist1d/admin/{action}", data={"csrf_token": people.csrf()}).status_code == 403


def test_a_bad_token_is_refused_with_advice(client):
    response = client.get("/api/v1/me", headers=auth("arena_not-a-token"))
    assert response.status_code == 401 and "create a new one" in response.get_json()["problems"][0]


def test_forms_need_the_csrf_token(world, client, people):
    people.login("ada")
    response = client.post("/c/mnist1d/team", data={"action": "create", "name": "Sneaky"})
    assert response.status_code == 400 and b"reload the page" in response.data


def test_register_login_and_wrong_password(client, people):
    client.get("/register")
    bad = client.post("/register", data={"username": "x", "password": "short", "csrf_token": people.csrf()})
    assert bad.status_code == 400 and b"password must have at least 8 characters" in bad.data
    weak = client.post("/register", data={"username": "newbie", "password": "password123", "csrf_token": people.csrf()})
    assert weak.status_code == 400 and b"too easy to guess" in weak.data
    assert (
        client.post(
            "/register", data={"username": "newbie", "password": "plum-orbit-canyon-42", "csrf_token": people.csrf()}
        ).status_code
        == 302
    )
    client.post("/logout", data={"csrf_token": people.csrf()})
    client.get("/login")
    wrong = client.post("/login", data={"username": "newbie", "password": "not it!!", "csrf_token": people.csrf()})
    assert wrong.status_code == 401 and b"wrong username or password" in wrong.data


def test_web_upload_team_and_final_choice(world, client, people):
    people.login("ada")
    page = client.get("/c/mnist1d/submissions")
    scored = client.get(f"/api/v1/submissions/{world['ada_sub']}", headers=auth(world["tokens"]["ada"])).get_json()
    shown = f"{scored['public']['accuracy']:.4f}"  # the split is the competition's own, so the value varies by run
    assert shown.encode() in page.data and b"Choose" in page.data
    response = client.post(
        "/c/mnist1d/submissions",
        data={
            "csrf_token": people.csrf(),
            "note": "second try",
            "file": (io.BytesIO(predictions_csv("mnist1d", 0.85, 5).encode()), "p.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    people.drain()
    page = client.get("/c/mnist1d/submissions")
    assert b"second try" in page.data and b"<svg" in page.data  # the score-history chart
    chosen = client.post(
        f"/c/mnist1d/submissions/{world['ada_sub']}/select", data={"csrf_token": people.csrf(), "selected": "1"}
    )
    assert chosen.status_code == 302 and "Chosen" in client.get("/c/mnist1d/submissions").get_data(as_text=True)


def test_oversized_upload_is_refused_clearly_and_costs_nothing(app, client, people):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    token = people.token("ada")
    response = upload(client, token, "mnist1d", "id,label\n" + "4000,1\n" * 1000)
    assert response.status_code == 413 and "larger than the limit" in response.get_json()["problems"][0]
    assert client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()["slots_left"] == 5


def test_organiser_admin_actions_through_forms(world, client, people):
    people.login("org")
    page = client.get("/c/mnist1d/admin")
    assert b"Reveal private leaderboard" in page.data
    saved = client.post(
        "/c/mnist1d/admin/settings", data={"csrf_token": people.csrf(), "daily_limit": "7", "ends_at": ""}
    )
    assert saved.status_code == 302
    bad = client.post("/c/mnist1d/admin/settings", data={"csrf_token": people.csrf(), "daily_limit": "lots"})
    assert bad.status_code == 400 and b"&#39;daily_limit&#39; must look like 5" in bad.data
    client.post("/c/mnist1d/admin/reveal", data={"csrf_token": people.csrf(), "confirm": "1"})
    assert b"(private rows)" in client.get("/c/mnist1d").data
    exported = client.get("/c/mnist1d/leaderboard.csv?board=private").get_data(as_text=True)
    assert exported.splitlines()[0].startswith("rank,team,score,ci_low,ci_high")


def test_host_a_competition_from_an_uploaded_bundle(client, people, tmp_path):
    import zipfile

    from arena.bundles.loading import find_bundle

    people.token("org", organiser=True)
    people.login("org")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in find_bundle("sunspots").iterdir():
            if path.is_file():
                bundle.write(path, f"sunspots/{path.name}")
    archive.seek(0)
    response = client.post(
        "/host",
        data={
            "csrf_token": people.csrf(),
            "slug": "sun-2026",
            "ends_at": "2099-01-01T00:00",
            "bundle": (archive, "sunspots.zip"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get("/c/sun-2026").get_data(as_text=True)
    assert "Ends 2099-01-01" in page and "rmse" in page


def test_task_readme_is_rendered_and_html_in_it_is_escaped(app):
    from leaderboard.app import render_markdown

    rendered = str(
        render_markdown("# Title\n\n**bold** <script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    )
    assert "<h1>Title</h1>" in rendered and "<strong>bold</strong>" in rendered and "<table>" in rendered
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
