"""Login throttling: an attacker's failures throttle the attacker, never the account's owner.

Failed logins count per (account, client address) pair and per address across all accounts; nothing
counts an account's failures across every address, so the right password from an address that has
not failed is always accepted. Each test below tries to break that rule, on the login page and on
``POST /api/v1/auth/token`` (the only other route that takes a password).
"""

from __future__ import annotations

import time

import pytest
from conftest import PASSWORD, form_csrf

ATTACKER, OWNER, PROXY = "203.0.113.66", "198.51.100.7", "10.0.0.2"
ROUTES = ["web", "api"]


@pytest.fixture
def throttled(people_factory, tmp_path):
    """``throttled(**config)``: an app of its own (its own counters) with the organiser 'ada' and the user 'bob'."""

    def make(**config):
        app, _client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}", **config)
        people.token("ada", organiser=True)
        people.token("bob")
        return app

    return make


def client_at(app, address: str, **headers):
    """A browser of its own (cookies, CSRF token) whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    client.environ_base.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()})
    return client


def attempt(client, route: str, username: str, password: str, **headers):
    if route == "web":
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": form_csrf(client)},
            headers=headers,
        )
    return client.post("/api/v1/auth/token", json={"username": username, "password": password}, headers=headers)


def accepted(response) -> bool:
    return response.status_code in (201, 302)


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    assert "Retry-After" in (response.get_json() or {"problems": [response.get_data(as_text=True)]})["problems"][0]


@pytest.mark.parametrize("route", ROUTES)
def test_an_attacker_failing_at_one_address_never_locks_the_owner_out_at_another(throttled, route):
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute")
    attacker, owner = client_at(app, ATTACKER), client_at(app, OWNER)
    statuses = [attempt(attacker, route, "ada", f"guess-{i}-wrong").status_code for i in range(8)]
    assert statuses == [401] * 3 + [429] * 5
    assert accepted(attempt(owner, route, "ada", PASSWORD))
    assert accepted(attempt(owner, "api" if route == "web" else "web", "ada", PASSWORD))


@pytest.mark.parametrize("route", ROUTES)
def test_the_owner_gets_in_under_the_default_limits_after_an_hours_worth_of_failures(throttled, route):
    app = throttled()
    attacker, owner = client_at(app, ATTACKER), client_at(app, OWNER)
    statuses = [attempt(attacker, route, "ada", f"guess-{i}-wrong").status_code for i in range(40)]
    assert statuses.count(401) == 5 and statuses[5:] == [429] * 35  # 5 per minute for the pair
    assert_throttled(attempt(attacker, route, "ada", PASSWORD))
    assert accepted(attempt(owner, route, "ada", PASSWORD))


@pytest.mark.parametrize("route", ROUTES)
def test_the_owner_who_mistypes_at_their_own_address_still_gets_in(throttled, route):
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute")
    attacker, owner = client_at(app, ATTACKER), client_at(app, OWNER)
    assert {attempt(attacker, route, "ada", f"guess-{i}-wrong").status_code for i in range(10)} == {401, 429}
    assert [attempt(owner, route, "ada", "plum-orbit-canyon-24").status_code for _ in range(2)] == [401, 401]
    assert accepted(attempt(owner, route, "ada", PASSWORD))


@pytest.mark.parametrize("route", ROUTES)
def test_the_attackers_address_is_throttled_for_the_account_on_both_routes(throttled, route):
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute")
    attacker = client_at(app, ATTACKER)
    other = "api" if route == "web" else "web"
    statuses = [attempt(attacker, r, "ada", "not-the-password").status_code for r in (route, other, route)]
    assert statuses == [401, 401, 401]  # the page and the API share the pair's budget
    for r in (route, other):
        assert_throttled(attempt(attacker, r, "ada", "not-the-password"))
        assert_throttled(attempt(attacker, r, "ADA ", "not-the-password"))  # case and spaces make no new pair
    assert accepted(attempt(attacker, route, "bob", PASSWORD))  # another account from there is not refused


@pytest.mark.parametrize("route", ROUTES)
def test_spraying_many_accounts_from_one_address_hits_the_address_ceiling(throttled, route):
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute", LOGIN_LIMIT_PER_ADDRESS="6 per minute")
    attacker, owner = client_at(app, ATTACKER), client_at(app, OWNER)
    statuses = [attempt(attacker, route, f"guess{i}", "nope-nope-nope").status_code for i in range(9)]
    assert statuses == [401] * 6 + [429] * 3  # each name is a fresh pair; the address is not
    for username in ("ada", "bob", "someone-new"):  # every account, the right password included, waits there
        assert_throttled(attempt(attacker, route, username, PASSWORD if username != "someone-new" else "x"))
    assert accepted(attempt(owner, route, "ada", PASSWORD))
    assert accepted(
        client_at(app, "198.51.100.8").post("/api/v1/auth/token", json={"username": "bob", "password": PASSWORD})
    )


@pytest.mark.parametrize("route", ROUTES)
def test_right_passwords_use_no_budget_and_do_not_refill_it(throttled, route):
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute", LOGIN_LIMIT_PER_ADDRESS="5 per minute")
    client = client_at(app, ATTACKER)
    assert all(accepted(attempt(client, route, "ada", PASSWORD)) for _ in range(8))
    statuses = [attempt(client, route, "ada", "not-the-password").status_code for _ in range(2)]
    assert accepted(attempt(client, route, "ada", PASSWORD))
    statuses += [attempt(client, route, "ada", "not-the-password").status_code for _ in range(2)]
    assert statuses == [401, 401, 401, 429]


@pytest.mark.slow
@pytest.mark.parametrize("route", ROUTES)
def test_a_throttled_address_learns_nothing_until_the_window_passes(throttled, route):
    """While throttled, even the right password from that address is refused unchecked (no guessing oracle);
    once the window has passed, it logs in."""
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="2 per 2 seconds")
    client = client_at(app, ATTACKER)
    assert [attempt(client, route, "ada", "not-the-password").status_code for _ in range(2)] == [401, 401]
    refused = attempt(client, route, "ada", PASSWORD)
    assert_throttled(refused)
    assert "Set-Cookie" not in refused.headers and not (refused.get_json() or {}).get("token")
    time.sleep(int(refused.headers["Retry-After"]) + 1.2)  # the header counts whole seconds, rounded down
    assert accepted(attempt(client, route, "ada", PASSWORD))


@pytest.mark.parametrize("route", ROUTES)
def test_a_spoofed_forwarded_for_gives_no_fresh_budget_without_a_trusted_proxy(throttled, route):
    app = throttled(LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute", LOGIN_LIMIT_PER_ADDRESS="5 per minute")
    attacker = client_at(app, ATTACKER)
    statuses = [
        attempt(attacker, route, "ada", "not-the-password", **{"X-Forwarded-For": f"192.0.2.{i}"}).status_code
        for i in range(5)
    ]
    assert statuses == [401] * 3 + [429] * 2
    sprayed = [
        attempt(
            attacker, route, f"guess{i}", "nope", **{"X-Forwarded-For": f"192.0.2.{i}", "X-Real-IP": f"192.0.2.{i}"}
        ).status_code
        for i in range(4)
    ]
    assert sprayed == [401, 401, 429, 429]
    # Naming the owner's address spends nothing of the owner's budget either.
    assert accepted(attempt(client_at(app, OWNER), route, "ada", PASSWORD))


@pytest.mark.parametrize("route", ROUTES)
def test_behind_a_trusted_proxy_only_the_address_it_adds_counts(throttled, route):
    """With ARENA_PROXY_COUNT=1 the proxy appends the real client to X-Forwarded-For; what the client put
    before it is not believed, so neither a fresh budget nor the owner's address can be claimed."""
    app = throttled(PROXY_COUNT=1, LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute")
    attacker, owner = client_at(app, PROXY), client_at(app, PROXY)
    statuses = [
        attempt(
            attacker, route, "ada", "not-the-password", **{"X-Forwarded-For": f"192.0.2.{i}, {OWNER}, {ATTACKER}"}
        ).status_code
        for i in range(5)
    ]
    assert statuses == [401] * 3 + [429] * 2
    assert_throttled(attempt(attacker, route, "ada", PASSWORD, **{"X-Forwarded-For": ATTACKER}))
    assert accepted(attempt(owner, route, "ada", PASSWORD, **{"X-Forwarded-For": OWNER}))


def test_the_earlier_setting_name_still_sets_the_limit_per_account_and_address(monkeypatch):
    from conftest import make_app

    monkeypatch.setenv("ARENA_LOGIN_LIMIT_PER_ACCOUNT", "2 per minute")
    monkeypatch.delenv("ARENA_LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", raising=False)
    app = make_app(DATABASE_URL="sqlite://")
    assert app.config["LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"] == "2 per minute"
    app.extensions["arena_db"].engine.dispose()
