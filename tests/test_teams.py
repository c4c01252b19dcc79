"""Team changes after a team is formed: leave, merge until the merger deadline, rename; through the API and the
team page's forms, each written to the audit log, and each holding when two requests race (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from conftest import People, auth, upload
from helpers import predictions_csv, race

from arena.db.models import AuditEntry, Competition, utcnow
from arena.server import teams

TEAM = "/api/v1/competitions/mnist1d/team"


def _csv(seed: int) -> str:
    return predictions_csv("mnist1d", 0.5, seed)


def _uploads(client, token: str, count: int, first_seed: int = 0) -> None:
    for seed in range(first_seed, first_seed + count):
        assert upload(client, token, "mnist1d", _csv(seed)).status_code == 202


def _team(client, token: str) -> dict | None:
    return client.get(TEAM, headers=auth(token)).get_json()["team"]


def _ask(client, token: str, into: str):
    return client.post(f"{TEAM}/merge-requests", json={"team": into}, headers=auth(token))


def _answer(client, token: str, request_id: int, answer: str = "accept", confirm: bool = True):
    body = {"confirm": True} if confirm else {}
    return client.post(f"{TEAM}/merge-requests/{request_id}/{answer}", json=body, headers=auth(token))


def _log(app, action: str) -> list[str]:
    with app.extensions["arena_db"].session() as session:
        return [e.detail for e in session.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id)]


def _settings(client, org: str, **settings) -> None:
    response = client.patch("/api/v1/competitions/mnist1d", json=settings, headers=auth(org))
    assert response.status_code == 200, response.get_json()


def _web_post(client, people: People, data: dict):
    return client.post("/c/mnist1d/team", data={"csrf_token": people.csrf(), **data})


# --- leave ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["api", "web"])
def test_a_member_leaves_a_team_without_submissions_and_an_empty_team_is_deleted(client, people, app, route):
    ada, bob = people.token("ada"), people.token("bob")
    code = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Owls"}, headers=auth(ada)).get_json()
    client.post("/api/v1/competitions/mnist1d/teams/join", json={"invite_code": code["invite_code"]}, headers=auth(bob))
    if route == "api":
        assert client.post(f"{TEAM}/leave", headers=auth(bob)).get_json() == {"team": None}
    else:
        people.login("bob")
        assert _web_post(client, people, {"action": "leave"}).status_code == 302
    assert _team(client, bob) is None and _team(client, ada)["members"] == ["ada"]
    assert client.post(f"{TEAM}/leave", headers=auth(ada)).status_code == 200  # the last member: the team goes
    carl = people.token("carl")
    reused = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "owls"}, headers=auth(carl))
    assert reused.status_code == 201  # the name is free again
    assert _log(app, "team-leave") == [
        "bob left team Owls",
        "ada left team Owls; the team had no other member and was deleted",
    ]


@pytest.mark.parametrize("route", ["api", "web"])
def test_nobody_leaves_a_team_that_has_submitted(client, people, route):
    ada = people.token("ada")
    _uploads(client, ada, 1)
    if route == "api":
        refused = client.post(f"{TEAM}/leave", headers=auth(ada))
        assert refused.status_code == 400 and "it has submissions" in refused.get_json()["problems"][0]
    else:
        people.login("ada")
        assert "The team has submissions" in client.get("/c/mnist1d/team").get_data(as_text=True)
        refused = _web_post(client, people, {"action": "leave"})
        assert refused.status_code == 400 and "it has submissions" in refused.get_data(as_text=True)
    assert _team(client, ada)["members"] == ["ada"]


# --- merge ---------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["api", "web"])
def test_a_merge_moves_members_and_submissions_into_the_accepting_team(client, people, app, route):
    ada, bob = people.token("ada"), people.token("bob")
    _uploads(client, ada, 2)
    _uploads(client, bob, 2, first_seed=10)
    people.drain()
    if route == "api":
        asked = _ask(client, ada, "BOB")  # names are matched as they are compared: without regard to case
        assert asked.status_code == 201 and asked.get_json()["to_team"] == "bob"
        received = _team(client, bob)["merge_requests_received"]
        assert [r["from_team"] for r in received] == ["ada"]
        merged = _answer(client, bob, received[0]["id"]).get_json()["team"]
    else:
        people.login("ada")
        assert _web_post(client, people, {"action": "merge-request", "team": "bob"}).status_code == 302
        people.login("bob")
        page = client.get("/c/mnist1d/team").get_data(as_text=True)
        request_id = re.search(r'name="request_id" value="(\d+)"', page).group(1)
        accepted = _web_post(client, people, {"action": "merge-accept", "request_id": request_id, "confirm": "1"})
        assert accepted.status_code == 302
        merged = _team(client, bob)
    assert merged["name"] == "bob" and sorted(merged["members"]) == ["ada", "bob"]
    assert merged["counted_submissions"] == 4 and _team(client, ada)["name"] == "bob"
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()
    assert mine["team"] == "bob" and len(mine["submissions"]) == 4
    board = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()
    assert [row["team"] for row in board["rows"]] == ["bob"] and board["rows"][0]["entries"] == 4
    assert _log(app, "team-merge-request") == ["ada asked to merge team ada into bob"]
    assert _log(app, "team-merge") == [
        "team ada (ada) merged into bob, accepted by bob; 4 counted submissions of 5 allowed so far"
    ]


def test_a_merge_must_fit_the_submissions_one_team_could_have_made_so_far(client, people):
    org, ada, bob = people.token("org", organiser=True), people.token("ada"), people.token("bob")
    _uploads(client, ada, 3)
    _uploads(client, bob, 3, first_seed=10)
    refused = _ask(client, ada, "bob")  # 6 > the daily limit of 5 times 1 day
    assert refused.status_code == 400
    assert "6 counted submissions, more than one team could have made so far (5" in refused.get_json()["problems"][0]
    _settings(client, org, starts_at=(utcnow() - timedelta(days=2)).isoformat())  # three days so far: 15
    assert _ask(client, ada, "bob").status_code == 201
    _settings(client, org, total_limit=5)  # ... but never more than the total limit
    request_id = _team(client, bob)["merge_requests_received"][0]["id"]
    late = _answer(client, bob, request_id)
    assert late.status_code == 400 and "at most the total limit of 5" in late.get_json()["problems"][0]
    _settings(client, org, total_limit="", team_size=1)
    crowded = _answer(client, bob, request_id)
    assert (
        crowded.status_code == 400
        and "more than this competition's team size of 1" in crowded.get_json()["problems"][0]
    )
    assert _team(client, ada)["name"] == "ada" and _team(client, bob)["members"] == ["bob"]


def test_only_the_receiving_team_accepts_and_only_with_a_confirmation(client, people, app):
    ada, bob, eve = people.token("ada"), people.token("bob"), people.token("eve")
    for token, seed in ((ada, 0), (bob, 10), (eve, 20)):
        _uploads(client, token, 1, first_seed=seed)
    request_id = _ask(client, ada, "bob").get_json()["id"]
    for who in (ada, eve):  # the asking team, and a team the request is not for
        stolen = _answer(client, who, request_id)
        assert stolen.status_code == 400 and "no pending merge request" in stolen.get_json()["problems"][0]
    unconfirmed = _answer(client, bob, request_id, confirm=False)
    assert unconfirmed.status_code == 400 and '"confirm": true' in unconfirmed.get_json()["problems"][0]
    people.login("bob")
    forged = client.post(
        "/c/mnist1d/team", data={"action": "merge-accept", "request_id": str(request_id), "confirm": "1"}
    )
    assert forged.status_code == 400  # no CSRF token: a forged form merges nothing
    unticked = _web_post(client, people, {"action": "merge-accept", "request_id": str(request_id)})
    assert unticked.status_code == 400 and "cannot be undone" in unticked.get_data(as_text=True)
    assert _team(client, ada)["name"] == "ada" and _log(app, "team-merge") == []
    assert _answer(client, eve, request_id, "decline").status_code == 400  # nor may an outsider decline it
    assert _answer(client, bob, request_id, "decline").get_json() == {"declined": request_id}
    assert _team(client, ada)["merge_requests_sent"] == [] and _log(app, "team-merge-decline") == [
        "bob declined the request to merge team ada into bob"
    ]


def test_merges_and_joins_stop_at_the_merger_deadline(client, people, app):
    org, ada, bob, carl = (people.token(n, organiser=n == "org") for n in ("org", "ada", "bob", "carl"))
    _settings(client, org, ends_at=(utcnow() + timedelta(days=30)).isoformat())
    competition = client.get("/api/v1/competitions/mnist1d").get_json()
    ends = datetime.fromisoformat(competition["ends_at"])
    assert datetime.fromisoformat(competition["merger_deadline"]) == ends - timedelta(days=7)  # the default
    code = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Owls"}, headers=auth(ada)).get_json()
    _uploads(client, bob, 1)
    request_id = _ask(client, bob, "Owls").get_json()["id"]
    _settings(client, org, merger_deadline=(utcnow() - timedelta(minutes=1)).isoformat())
    for refused in (
        _answer(client, ada, request_id),
        _ask(client, ada, "bob"),
        client.post("/api/v1/competitions/mnist1d/teams/join", json=code, headers=auth(carl)),
    ):
        assert refused.status_code == 400 and "the merger deadline passed" in refused.get_json()["problems"][0]
    assert client.patch(TEAM, json={"name": "Late Owls"}, headers=auth(ada)).get_json() == {"name": "Late Owls"}
    people.login("carl")  # the page offers no join form past the deadline, and says why
    page = client.get("/c/mnist1d/team").get_data(as_text=True)
    assert 'value="join"' not in page and "the merger deadline passed" in page
    people.login("ada")
    page = client.get("/c/mnist1d/team").get_data(as_text=True)
    assert 'value="merge-request"' not in page and "Merging is closed: the merger deadline passed" in page
    too_late = client.patch(
        "/api/v1/competitions/mnist1d",
        json={"merger_deadline": (ends + timedelta(days=1)).isoformat()},
        headers=auth(org),
    )
    assert too_late.status_code == 400 and "must come before the end" in too_late.get_json()["problems"][0]


def test_a_short_competition_gets_its_merger_deadline_halfway_and_a_benchmark_none():
    start = datetime(2030, 1, 1)
    short = Competition(starts_at=start, ends_at=start + timedelta(days=4), created_at=start)
    assert teams.merger_deadline(short) == start + timedelta(days=2)
    long = Competition(starts_at=start, ends_at=start + timedelta(days=60), created_at=start)
    assert teams.merger_deadline(long) == start + timedelta(days=53)
    assert teams.merger_deadline(Competition(created_at=start)) is None


# --- rename --------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["api", "web"])
def test_a_team_is_renamed_to_a_free_valid_name_and_the_board_shows_it(client, people, app, route):
    ada, bob = people.token("ada"), people.token("bob")
    _uploads(client, ada, 1)
    _uploads(client, bob, 1, first_seed=10)
    people.drain()

    def rename(name: str):
        if route == "api":
            return client.patch(TEAM, json={"name": name}, headers=auth(ada))
        return _web_post(client, people, {"action": "rename", "name": name})

    if route == "web":
        people.login("ada")
    for name, why in (("BOB", "is taken"), ("ｂｏｂ", "is taken"), ("a\u200bb", "invisible"), ("x", "2 to 64")):
        refused = rename(name)
        text = refused.get_data(as_text=True)
        assert refused.status_code == 400 and why in text, (name, text)
    assert rename("  Night   Owls ").status_code in (200, 302)
    assert _team(client, ada)["name"] == "Night Owls"
    board = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]
    assert sorted(row["team"] for row in board) == ["Night Owls", "bob"]
    assert _log(app, "team-rename") == ["team ada renamed to Night Owls by ada"]


def test_nobody_renames_a_team_they_are_not_in(client, people):
    eve = people.token("eve")
    refused = client.patch(TEAM, json={"name": "Mine"}, headers=auth(eve))
    assert refused.status_code == 400 and "not in a team" in refused.get_json()["problems"][0]
    assert client.patch(TEAM, json={"name": "Mine"}).status_code == 401


# --- races ---------------------------------------------------------------------------------


def _crowd(people_factory, database_url, names, *, web: bool = False):
    app, client, people = people_factory(DATABASE_URL=database_url)
    crowd = {}
    for name in names:
        token = people.token(name, organiser=name == "org")
        own = app.test_client()
        helper = People(app, own)
        if web and name != "org":
            helper.login(name)
        crowd[name] = (token, own, helper)
    return app, client, crowd


@pytest.mark.parametrize("route", ["api", "web"])
def test_two_merges_into_one_team_at_once_never_overfill_it(people_factory, database_url, route):
    app, client, crowd = _crowd(people_factory, database_url, ["org", "bob", "ada", "carl"], web=route == "web")
    client.patch("/api/v1/competitions/mnist1d", json={"team_size": 2}, headers=auth(crowd["org"][0]))
    for name in ("bob", "ada", "carl"):
        client.post("/api/v1/competitions/mnist1d/teams", json={"name": name.title()}, headers=auth(crowd[name][0]))
    for name in ("ada", "carl"):
        assert _ask(client, crowd[name][0], "Bob").status_code == 201
    ids = [r["id"] for r in _team(client, crowd["bob"][0])["merge_requests_received"]]
    token, own, helper = crowd["bob"]
    csrf = helper.csrf() if route == "web" else ""

    def accept(i: int) -> int:
        if route == "api":
            return _answer(own, token, ids[i]).status_code
        data = {"csrf_token": csrf, "action": "merge-accept", "request_id": str(ids[i]), "confirm": "1"}
        return own.post("/c/mnist1d/team", data=data).status_code

    statuses = race(2, accept)
    assert sorted(statuses) == [200 if route == "api" else 302, 400], statuses
    assert len(_team(client, token)["members"]) == 2
    assert len(_log(app, "team-merge")) == 1


def test_a_merge_and_an_upload_at_the_limit_never_both_pass(people_factory, database_url):
    app, client, crowd = _crowd(people_factory, database_url, ["ada", "bob"])
    (ada, own_ada, _), (bob, own_bob, _) = crowd["ada"], crowd["bob"]
    _uploads(client, ada, 2)
    _uploads(client, bob, 3, first_seed=10)  # 5: the daily limit, so one more upload or the merge, not both
    request_id = _ask(client, ada, "bob").get_json()["id"]

    def act(i: int) -> int:
        if i == 0:
            return upload(own_ada, ada, "mnist1d", _csv(99)).status_code
        return _answer(own_bob, bob, request_id).status_code

    statuses = race(2, act)
    assert 500 not in statuses and sorted(statuses) in ([202, 400], [200, 400]), statuses
    counted = [_team(client, token)["counted_submissions"] for token in (ada, bob)]
    merged = _team(client, ada)["name"] == "bob"
    assert (counted == [5, 5]) if merged else (counted == [3, 3]), (statuses, counted)


def test_two_renames_to_one_name_at_once_leave_one_team_with_it(people_factory, database_url):
    app, client, crowd = _crowd(people_factory, database_url, ["ada", "bob", "carl", "dan"])
    for name, (token, _, _) in crowd.items():
        client.post("/api/v1/competitions/mnist1d/teams", json={"name": f"team {name}"}, headers=auth(token))
    names = list(crowd)

    def rename(i: int) -> int:
        token, own, _ = crowd[names[i]]
        return own.patch(TEAM, json={"name": "Winners" if i % 2 else "WINNERS"}, headers=auth(token)).status_code

    statuses = race(len(names), rename)
    assert sorted(statuses) == [200, 400, 400, 400], statuses
    renamed = [_team(client, token)["name"] for token, _, _ in crowd.values()]
    assert sum(name.casefold() == "winners" for name in renamed) == 1, renamed
