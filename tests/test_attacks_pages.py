"""Pages, exports and names: markdown that runs nothing, safe headers, spreadsheet formulas, look-alike team names."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import PASSWORD, auth, form_csrf, upload
from helpers import app_of_its_own, sample_csv

from arena.server.standings import Standing, to_csv
from leaderboard.app import render_markdown


@pytest.mark.parametrize(
    "markdown, forbidden",
    [
        ("[click](javascript:alert(1))", "javascript:"),
        ("[click](JaVaScRiPt:alert(1))", "javascript:"),
        ("[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data:"),
        ("![pixel](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)", "data:"),
        ("![x](javascript:alert(1))", "javascript:"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[x](vbscript:msgbox(1))", "vbscript:"),
    ],
)
def test_rendered_markdown_runs_nothing(markdown, forbidden):
    rendered = str(render_markdown(f"# Title\n\n{markdown}\n\n[safe](https://example.org/page)\n"))
    assert forbidden not in rendered.lower()
    assert 'href="https://example.org/page"' in rendered and "<h1>Title</h1>" in rendered


def test_a_competition_description_cannot_carry_a_live_link(client, people):
    org = people.token("org", organiser=True)
    hostile = "Read [the rules](javascript:fetch('/account')) and ![logo](data:image/png;base64,AAAA)"
    assert (
        client.patch("/api/v1/competitions/mnist1d", json={"description": hostile}, headers=auth(org)).status_code
        == 200
    )
    page = client.get("/c/mnist1d").get_data(as_text=True)
    assert "the rules" in page and "javascript:" not in page and "data:image" not in page


def test_pages_forbid_framing_and_foreign_scripts_and_cookies_can_be_secure(people_factory, monkeypatch):
    app, client, people = app_of_its_own(people_factory)
    for path in ("/", "/login", "/c/mnist1d", "/api/v1/competitions"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy and "default-src 'self'" in policy
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    people.token("ada")
    people.login("ada")
    assert "Secure" not in client.get("/login").headers.get("Set-Cookie", "Secure-less")  # plain HTTP by default

    monkeypatch.setenv("ARENA_SECURE_COOKIES", "1")
    app, client, people = app_of_its_own(people_factory)
    people.token("ada")

    response = client.post(
        "/login",
        data={"username": "ada", "password": PASSWORD, "csrf_token": form_csrf(client)},
        base_url="https://localhost",
    )
    assert "; Secure" in response.headers["Set-Cookie"]


_FORMULAS = [
    '=HYPERLINK("http://evil.example","win")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    rows = [
        Standing(
            rank=i + 1,
            team=name,
            score=-0.5,
            ci_low=-0.6,
            ci_high=-0.4,
            submission_id=i,
            entries=1,
            is_baseline=False,
            submitted_at="2026-01-01 00:00",
        )
        for i, name in enumerate(_FORMULAS + ["Plain"])
    ]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [row["team"] for row in parsed] == ["'" + name for name in _FORMULAS] + ["Plain"]
    assert parsed[0]["score"] == "-0.5"  # numbers stay numbers


def test_the_leaderboard_exports_neutralise_formula_team_names(client, people):
    for i, name in enumerate(_FORMULAS):
        token = people.token(f"csv{i}")
        assert (
            client.post("/api/v1/competitions/mnist1d/teams", json={"name": name}, headers=auth(token)).status_code
            == 201
        )
        assert upload(client, token, "mnist1d", sample_csv("mnist1d")).status_code == 202
    people.drain()
    for path in ("/c/mnist1d/leaderboard.csv", "/api/v1/competitions/mnist1d/leaderboard?format=csv"):
        teams = [row["team"] for row in csv.DictReader(io.StringIO(client.get(path).get_data(as_text=True)))]
        assert sorted(teams) == sorted("'" + name for name in _FORMULAS), path
    assert {r["team"] for r in client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]} == set(
        _FORMULAS
    )


@pytest.mark.parametrize(
    "hidden",
    ["A\u200bda", "\u202eadA", "Ada\u200d", "A\u2066da\u2069", "Ad\u00ada", "A\u3164da", "Ada\x07", "Ada\ufeff"],
)
@pytest.mark.parametrize("route", ["web", "api"])
def test_team_names_with_invisible_characters_are_refused(client, people, hidden, route):
    token = people.token("ada")
    if route == "api":
        response = client.post("/api/v1/competitions/mnist1d/teams", json={"name": hidden}, headers=auth(token))
        assert response.status_code == 400 and "invisible" in response.get_json()["problems"][0]
    else:
        people.login("ada")
        response = client.post(
            "/c/mnist1d/team", data={"csrf_token": people.csrf(), "action": "create", "name": hidden}
        )
        assert response.status_code == 400 and "invisible" in response.get_data(as_text=True)
    assert client.get("/api/v1/competitions/mnist1d/team", headers=auth(token)).get_json()["team"] is None


@pytest.mark.parametrize("twin", ["ADA Team", "ada team", "\uff21\uff24\uff21 Team", "Ada  Team", "ada\u00a0team"])
@pytest.mark.parametrize("route", ["web", "api"])
def test_team_names_that_only_look_different_are_one_name(client, people, twin, route):
    first = people.token("ada")
    assert (
        client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Ada Team"}, headers=auth(first)).status_code
        == 201
    )
    token = people.token("bob")
    if route == "api":
        response = client.post("/api/v1/competitions/mnist1d/teams", json={"name": twin}, headers=auth(token))
        assert response.status_code == 400 and "is taken" in response.get_json()["problems"][0]
    else:
        people.login("bob")
        response = client.post("/c/mnist1d/team", data={"csrf_token": people.csrf(), "action": "create", "name": twin})
        assert response.status_code == 400 and "is taken" in response.get_data(as_text=True)


def test_a_team_name_is_stored_normalised(client, people):
    token = people.token("ada")
    made = client.post(
        "/api/v1/competitions/mnist1d/teams", json={"name": "  \uff21\uff44\uff41   Lab "}, headers=auth(token)
    )
    assert made.status_code == 201 and made.get_json()["name"] == "Ada Lab"
    other = people.token("ADA-x")
    # a first upload's team of one avoids every look-alike of a taken name as well
    assert (
        client.post(
            "/api/v1/competitions/mnist1d/teams", json={"name": "ada-X"}, headers=auth(people.token("zed"))
        ).status_code
        == 201
    )
    assert upload(client, other, "mnist1d", sample_csv("mnist1d")).status_code == 202
    assert (
        client.get("/api/v1/competitions/mnist1d/team", headers=auth(other)).get_json()["team"]["name"].lower()
        != "ada-x"
    )
