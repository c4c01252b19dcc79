"""Attacks on accounts and sessions: redirects, throttles, passwords, tokens, registration, joining, forged forms."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import PASSWORD, People, auth, form_csrf, require_in_ci, upload
from helpers import app_of_its_own, sample_csv, sqlite_url
from sqlalchemy import select

from arena.cli import main
from arena.db.database import Database
from arena.db.migrate import upgrade
from arena.db.models import ApiToken, User, utcnow
from arena.server import accounts


def _login(client, username: str, password: str, next_: str | None = None):
    path = "/login" if next_ is None else f"/login?next={next_}"
    return client.post(path, data={"username": username, "password": password, "csrf_token": form_csrf(client)})


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "/%5Cevil.com",
        "//evil.com",
        "https://evil.com/",
        "/%0a/evil.example",
        "/%5C%5Cevil.com",
        "javascript:alert(1)",
        "%2F%2Fevil.com",
    ],
)
@pytest.mark.slow
def test_login_never_sends_the_browser_off_site(client, people, target):
    people.token("ada")
    response = _login(client, "ada", PASSWORD, next_=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/" and not urlsplit(location).netloc, location


def test_login_still_returns_to_a_page_on_this_site(client, people):
    people.token("ada")
    assert (
        _login(client, "ada", PASSWORD, next_="/c/mnist1d/submissions").headers["Location"] == "/c/mnist1d/submissions"
    )


@pytest.mark.parametrize("first", ["web", "api"])
def test_wrong_passwords_are_throttled_per_account_and_address_on_both_routes(people_factory, first):
    app, client, people = app_of_its_own(people_factory, LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute")
    people.token("ada")
    people.token("bob")

    def attempt(route: str, username: str, password: str) -> object:
        if route == "web":
            return _login(client, username, password)
        return client.post("/api/v1/auth/token", json={"username": username, "password": password})

    other = "api" if first == "web" else "web"
    statuses = [attempt(route, "ada", "not-the-password").status_code for route in (first, other, first)]
    assert statuses == [401, 401, 401]
    for route in (first, other):  # the page and the API share the pair's bucket; even the right password waits
        refused = attempt(route, "ada", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Retry-After" in (refused.get_json() or {"problems": [refused.get_data(as_text=True)]})["problems"][0]
    assert attempt(first, "bob", PASSWORD).status_code in (200, 201, 302)  # another account is not locked out


def test_wrong_passwords_are_throttled_per_client_address(people_factory):
    app, client, people = app_of_its_own(people_factory, LOGIN_LIMIT_PER_ADDRESS="4 per minute")
    statuses = [
        client.post("/api/v1/auth/token", json={"username": f"guess{i}", "password": "nope-nope-nope"}).status_code
        for i in range(6)
    ]
    assert statuses == [401] * 4 + [429] * 2


def test_successful_logins_are_not_counted_against_anyone(people_factory):
    app, client, people = app_of_its_own(people_factory, LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="2 per minute")
    people.token("ada")
    assert {_login(client, "ada", PASSWORD).status_code for _ in range(5)} == {302}


def test_rate_limits_are_shared_by_processes_through_redis(people_factory):
    url = os.environ.get("ARENA_TEST_REDIS_URL")
    if not url:
        require_in_ci("no Redis server: set ARENA_TEST_REDIS_URL (.ci/services.sh starts one)")
    config = {
        "RATELIMIT_STORAGE_URI": url,
        "RATELIMIT_KEY_PREFIX": "arena-test-" + secrets.token_hex(4),
        "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "2 per minute",
    }
    database = sqlite_url()
    (_, first, people), (_, second, _) = (
        people_factory(DATABASE_URL=database, **config),
        people_factory(DATABASE_URL=database, **config),
    )
    people.token("ada")
    guess = {"username": "ada", "password": "not-the-password"}
    assert [client.post("/api/v1/auth/token", json=guess).status_code for client in (first, second)] == [401, 401]
    assert first.post("/api/v1/auth/token", json=guess).status_code == 429
    assert second.post("/api/v1/auth/token", json=guess).status_code == 429


def test_account_creation_is_rate_limited_per_address_on_both_routes(people_factory):
    app, client, people = app_of_its_own(people_factory, REGISTRATION_LIMIT_PER_ADDRESS="2 per hour")
    web = client.post(
        "/register", data={"username": "throwaway1", "password": PASSWORD, "csrf_token": form_csrf(client, "/register")}
    )
    api = client.post("/api/v1/auth/register", json={"username": "throwaway2", "password": PASSWORD})
    assert (web.status_code, api.status_code) == (302, 201)
    client.post("/logout", data={"csrf_token": form_csrf(client)})
    for response in (
        client.post("/api/v1/auth/register", json={"username": "throwaway3", "password": PASSWORD}),
        client.post(
            "/register",
            data={"username": "throwaway4", "password": PASSWORD, "csrf_token": form_csrf(client, "/register")},
        ),
    ):
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert client.post("/api/v1/auth/token", json={"username": "throwaway3", "password": PASSWORD}).status_code == 401


def test_unknown_usernames_cost_as_much_time_as_known_ones(app):
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        accounts.register(session, "ada", PASSWORD)

    def seconds(username: str) -> float:
        times = []
        for _ in range(7):
            with db.session() as session:
                start = time.perf_counter()
                with pytest.raises(accounts.AccountError, match="wrong username or password"):
                    accounts.authenticate(session, username, "not-the-password")
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    known, unknown = seconds("ada"), seconds("nobody-here")
    assert unknown > 0.5 * known, (known, unknown)


def _weak_passwords():
    return ["password", "12345678", "ada-lovelace", "qwertyuiop"]


@pytest.mark.parametrize("password", _weak_passwords())
def test_guessable_passwords_are_refused_on_every_route(client, people, password):
    username = "ada-lovelace"
    web = client.post(
        "/register", data={"username": username, "password": password, "csrf_token": form_csrf(client, "/register")}
    )
    assert web.status_code == 400 and "too easy to guess" in web.get_data(as_text=True)
    api = client.post("/api/v1/auth/register", json={"username": username, "password": password})
    assert api.status_code == 400 and any("password" in p for p in api.get_json()["problems"])
    token = people.token("grace")
    change = client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": password}, headers=auth(token)
    )
    assert change.status_code == 400
    people.login("grace")
    page = client.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": password, "csrf_token": people.csrf()}
    )
    assert page.status_code == 400
    people.login("grace")  # the old password still works: nothing was changed


def test_the_username_itself_is_not_a_password(client):
    response = client.post("/api/v1/auth/register", json={"username": "hopper1906", "password": "hopper1906"})
    assert response.status_code == 400 and "too easy to guess" in response.get_json()["problems"][0]


def test_passwords_hashed_before_argon2_still_log_in_and_are_upgraded(app, client, people):
    salt = secrets.token_bytes(16)
    legacy = f"scrypt${salt.hex()}${hashlib.scrypt(PASSWORD.encode(), salt=salt, dklen=32, n=2**14, r=8, p=1).hex()}"
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        session.add(User(username="oldtimer", password_hash=legacy))
    people.login("oldtimer")
    with db.session() as session:
        assert session.scalar(select(User.password_hash).where(User.username == "oldtimer")).startswith("$argon2id$")
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("oldtimer")


def test_api_tokens_have_names_expiry_a_list_and_a_revoke(app, client, people):
    first = people.token("ada")
    made = client.post("/api/v1/me/tokens", json={"name": "laptop", "expires_in_days": 30}, headers=auth(first))
    assert made.status_code == 201
    laptop = made.get_json()["token"]
    listed = {t["name"]: t for t in client.get("/api/v1/me/tokens", headers=auth(laptop)).get_json()["tokens"]}
    assert listed["laptop"]["expires_at"] and not listed["laptop"]["expired"] and "token" not in listed["laptop"]
    assert (
        client.post("/api/v1/me/tokens", json={"name": "x", "expires_in_days": "soon"}, headers=auth(first)).status_code
        == 400
    )
    assert (
        client.post("/api/v1/me/tokens", json={"name": "x", "expires_in_days": 0}, headers=auth(first)).status_code
        == 400
    )

    other = people.token("bob")
    assert client.delete(f"/api/v1/me/tokens/{listed['laptop']['id']}", headers=auth(other)).status_code == 400
    assert client.delete(f"/api/v1/me/tokens/{listed['laptop']['id']}", headers=auth(first)).status_code == 200
    assert client.get("/api/v1/me", headers=auth(laptop)).status_code == 401

    short = client.post(
        "/api/v1/auth/token", json={"username": "ada", "password": PASSWORD, "name": "ci", "expires_in_days": 1}
    ).get_json()["token"]
    assert client.get("/api/v1/me", headers=auth(short)).status_code == 200
    with app.extensions["arena_db"].session() as session, session.begin():
        for row in session.query(ApiToken).filter(ApiToken.label == "ci"):
            row.expires_at = utcnow() - timedelta(seconds=1)
    expired = client.get("/api/v1/me", headers=auth(short))
    assert expired.status_code == 401 and "expired" in expired.get_json()["problems"][0]


def test_tokens_are_named_listed_and_revoked_on_the_account_page(client, people):
    people.token("ada")
    people.login("ada")
    page = client.post("/account", data={"csrf_token": people.csrf(), "name": "workstation", "expires_in_days": "7"})
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    listing = client.get("/account").get_data(as_text=True)
    assert "workstation" in listing and token not in listing  # the secret is shown once, never listed
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', listing).group(1)
    assert client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": people.csrf()}).status_code == 302
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    assert (
        client.post("/account", data={"csrf_token": people.csrf(), "name": "x", "expires_in_days": "-3"}).status_code
        == 400
    )


def test_a_session_cookie_stops_working_after_logout_everywhere(app, people):
    people.token("ada")
    here, there = app.test_client(), app.test_client()
    People(app, here).login("ada")
    People(app, there).login("ada")
    stolen = here.get_cookie("session").value
    assert here.post("/logout", data={"csrf_token": People(app, here).csrf()}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/account").status_code == 302  # the cookie from before the logout is dead
    assert there.get("/account").status_code == 302  # and so is the other session


@pytest.mark.parametrize("route", ["web", "api"])
def test_a_password_change_ends_other_sessions_and_every_token(app, client, people, route):
    token = people.token("ada")
    people.login("ada")
    elsewhere = app.test_client()
    People(app, elsewhere).login("ada")
    new_password = "velvet-quasar-harbour-88"
    if route == "web":
        response = client.post(
            "/account/password",
            data={"csrf_token": people.csrf(), "current_password": PASSWORD, "new_password": new_password},
        )
        assert response.status_code == 302 and client.get("/account").status_code == 200  # this session goes on
    else:
        response = client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": new_password},
            headers=auth(token),
        )
        assert response.status_code == 200
        assert client.get("/api/v1/me", headers=auth(response.get_json()["token"])).status_code == 200
    assert elsewhere.get("/account").status_code == 302
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    wrong = client.post("/api/v1/auth/token", json={"username": "ada", "password": "velvet-quasar-harbour-88x"})
    assert wrong.status_code == 401


def test_a_password_change_needs_the_current_password(client, people):
    token = people.token("ada")
    refused = client.post(
        "/api/v1/me/password",
        json={"current_password": "guess-guess-guess", "new_password": "velvet-quasar-harbour-88"},
        headers=auth(token),
    )
    assert refused.status_code == 400 and "current password is wrong" in refused.get_json()["problems"][0]
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200


def test_arena_submit_reads_its_token_from_the_environment(live_server, monkeypatch, capsys):
    server = live_server()
    token = server.people.token("ada")

    path = Path(tempfile.mkdtemp()) / "sample.csv"
    path.write_text(sample_csv("mnist1d"))
    monkeypatch.delenv("ARENA_TOKEN", raising=False)
    assert main(["submit", "mnist1d", str(path), "--server", server.url]) != 0
    assert "ARENA_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("ARENA_TOKEN", token)
    assert main(["submit", "mnist1d", str(path), "--server", server.url]) == 0
    assert "queued" in capsys.readouterr().out


def test_the_organiser_command_promotes_only_when_told(monkeypatch, capsys):
    url = sqlite_url()
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    db = Database(url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        accounts.register(session, "ada", PASSWORD)
    new = "velvet-quasar-harbour-88"
    assert main(["organiser", "ada", "--password", new]) != 0
    assert "--promote" in capsys.readouterr().err
    with db.session() as session:
        ada = session.scalar(select(User).where(User.username == "ada"))
        assert not ada.is_organiser and accounts.check_password(PASSWORD, ada.password_hash)
    assert main(["organiser", "ada", "--password", new, "--promote"]) == 0
    assert "promoted the participant 'ada' to organiser" in capsys.readouterr().out
    assert main(["organiser", "grace", "--password", new]) == 0
    assert "created the organiser 'grace'" in capsys.readouterr().out
    with db.session() as session:
        assert all(session.scalars(select(User.is_organiser).where(User.username.in_(["ada", "grace"]))))
    db.engine.dispose()


def test_a_weak_password_is_refused_by_the_organiser_command(monkeypatch, capsys):
    monkeypatch.setenv("ARENA_DATABASE_URL", sqlite_url())
    assert main(["organiser", "grace", "--password", "password", "--create"]) != 0
    assert "too easy to guess" in capsys.readouterr().err


@pytest.mark.parametrize("route", ["web", "api"])
def test_registration_approved_by_an_organiser(client, people, route):
    org = people.token("org", organiser=True)
    assert (
        client.put("/api/v1/installation/registration", json={"policy": "approval"}, headers=auth(org)).status_code
        == 200
    )
    if route == "web":
        response = client.post(
            "/register", data={"username": "newbie", "password": PASSWORD, "csrf_token": form_csrf(client, "/register")}
        )
        assert response.status_code == 302 and client.get("/account").status_code == 302  # not logged in
    else:
        response = client.post("/api/v1/auth/register", json={"username": "newbie", "password": PASSWORD})
        assert response.status_code == 202 and response.get_json()["token"] is None
    waiting = client.post("/api/v1/auth/token", json={"username": "newbie", "password": PASSWORD})
    assert waiting.status_code == 401 and "approval" in waiting.get_json()["problems"][0]
    assert _login(client, "newbie", PASSWORD).status_code == 401
    assert client.get("/api/v1/installation/registration", headers=auth(org)).get_json()["pending"] == ["newbie"]
    if route == "web":
        people.login("org")
        assert (
            client.post(
                "/account/registration/approve", data={"csrf_token": people.csrf(), "username": "newbie"}
            ).status_code
            == 302
        )
        client.post("/logout", data={"csrf_token": people.csrf()})
    else:
        assert client.post("/api/v1/users/newbie/approve", headers=auth(people.token("bob"))).status_code == 403
        assert client.post("/api/v1/users/newbie/approve", headers=auth(org)).status_code == 200
    assert _login(client, "newbie", PASSWORD).status_code == 302


@pytest.mark.parametrize("route", ["web", "api"])
def test_invite_only_registration(client, people, route):
    org = people.token("org", organiser=True)
    if route == "web":
        people.login("org")
        client.post("/account/registration/policy", data={"csrf_token": people.csrf(), "policy": "invite"})
        page = client.post("/account/registration/invite", data={"csrf_token": people.csrf()}).get_data(as_text=True)
        code = re.search(r'id="new-invite">([^<]+)<', page).group(1)
        client.post("/logout", data={"csrf_token": people.csrf()})
    else:
        assert (
            client.put("/api/v1/installation/registration", json={"policy": "closed"}, headers=auth(org)).status_code
            == 400
        )
        client.put("/api/v1/installation/registration", json={"policy": "invite"}, headers=auth(org))
        code = client.post("/api/v1/installation/invites", headers=auth(org)).get_json()["invite_code"]

    def register(username: str, invite: str | None):
        if route == "web":
            return client.post(
                "/register",
                data={
                    "username": username,
                    "password": PASSWORD,
                    "invite_code": invite or "",
                    "csrf_token": form_csrf(client, "/register"),
                },
            )
        return client.post(
            "/api/v1/auth/register", json={"username": username, "password": PASSWORD, "invite_code": invite}
        )

    for invite in (None, "invite_made-up"):
        refused = register("sneaky", invite)
        assert refused.status_code == 400 and "invite code" in refused.get_data(as_text=True)
    assert register("invited", code).status_code in (201, 302)
    if route == "web":
        client.post("/logout", data={"csrf_token": form_csrf(client)})
    assert register("second", code).status_code == 400  # each code works once


@pytest.mark.parametrize("route", ["web", "api"])
def test_joining_a_competition_can_need_an_organisers_approval(client, people, route):
    org, ada = people.token("org", organiser=True), people.token("ada")
    if route == "web":
        people.login("org")
        saved = client.post(
            "/c/mnist1d/admin/settings", data={"csrf_token": people.csrf(), "join_needs_approval": "true"}
        )
        assert saved.status_code == 302
        client.post("/logout", data={"csrf_token": people.csrf()})
    else:
        assert (
            client.patch(
                "/api/v1/competitions/mnist1d", json={"join_needs_approval": True}, headers=auth(org)
            ).status_code
            == 200
        )
    refused = upload(client, ada, "mnist1d", sample_csv("mnist1d"))
    assert refused.status_code == 400 and "approval" in refused.get_json()["problems"][0]
    assert (
        client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Early"}, headers=auth(ada)).status_code == 400
    )
    if route == "web":
        people.login("ada")
        assert b"Ask to join" in client.get("/c/mnist1d").data
        assert client.post("/c/mnist1d/join-request", data={"csrf_token": people.csrf()}).status_code == 302
        client.post("/logout", data={"csrf_token": people.csrf()})
        people.login("org")
        assert b"Requests to join" in client.get("/c/mnist1d/admin").data
        assert (
            client.post("/c/mnist1d/admin/admit", data={"csrf_token": people.csrf(), "username": "ada"}).status_code
            == 302
        )
    else:
        assert client.post("/api/v1/competitions/mnist1d/join-request", headers=auth(ada)).status_code == 202
        assert (
            client.post("/api/v1/competitions/mnist1d/join-requests/ada/approve", headers=auth(ada)).status_code == 403
        )
        assert (
            client.post("/api/v1/competitions/mnist1d/join-requests/ada/approve", headers=auth(org)).status_code == 200
        )
    assert upload(client, ada, "mnist1d", sample_csv("mnist1d")).status_code == 202
    assert upload(client, people.token("bob"), "digits", sample_csv("digits")).status_code == 202  # others stay open


def test_a_forged_form_with_another_sessions_token_is_refused(app, client, people):
    people.token("ada")
    people.login("ada")
    attacker = app.test_client()
    foreign = People(app, attacker).csrf()
    response = client.post("/c/mnist1d/team", data={"csrf_token": foreign, "action": "create", "name": "Forged"})
    assert response.status_code == 400 and b"reload the page" in response.data
