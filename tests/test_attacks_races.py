"""Races: requests released together by one barrier, on SQLite and PostgreSQL, through the API and the web forms."""

from __future__ import annotations

import io

import pytest
from conftest import PASSWORD, People, auth, upload
from helpers import predictions_csv, race


def _crowd(people_factory, database_url):
    app, client, people = people_factory(DATABASE_URL=database_url)

    def person(name: str, *, organiser: bool = False, web: bool = False):
        token = people.token(name, organiser=organiser)
        own = app.test_client()
        helper = People(app, own)
        if web:
            helper.login(name)
        return token, own, helper

    return app, client, people, person


@pytest.mark.parametrize("route", ["api", "web"])
def test_concurrent_joins_never_overfill_a_team(people_factory, database_url, route):
    app, client, people, person = _crowd(people_factory, database_url)
    org, ada = people.token("org", organiser=True), people.token("ada")
    client.patch("/api/v1/competitions/mnist1d", json={"team_size": 2}, headers=auth(org))
    code = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Pair"}, headers=auth(ada)).get_json()[
        "invite_code"
    ]
    joiners = [person(f"joiner{i}", web=route == "web") for i in range(8)]
    csrfs = [helper.csrf() for _, _, helper in joiners]

    def join(i: int) -> int:
        token, own, helper = joiners[i]
        if route == "api":
            return own.post(
                "/api/v1/competitions/mnist1d/teams/join", json={"invite_code": code}, headers=auth(token)
            ).status_code
        return own.post(
            "/c/mnist1d/team", data={"csrf_token": csrfs[i], "action": "join", "invite_code": code}
        ).status_code

    statuses = race(len(joiners), join)
    assert 500 not in statuses, statuses
    members = client.get("/api/v1/competitions/mnist1d/team", headers=auth(ada)).get_json()["team"]["members"]
    assert len(members) == 2 and sum(status in (200, 302) for status in statuses) == 1, statuses


@pytest.mark.parametrize("route", ["api", "web"])
def test_concurrent_final_choices_never_pass_the_limit(people_factory, database_url, route):
    app, client, people, person = _crowd(people_factory, database_url)
    token, own, helper = person("ada", web=route == "web")
    ids = [
        upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.5, seed)).get_json()["submission"]["id"]
        for seed in range(5)
    ]
    people.drain()
    csrf = helper.csrf()

    def choose(i: int) -> int:
        if route == "api":
            return own.post(
                f"/api/v1/submissions/{ids[i]}/select", json={"selected": True}, headers=auth(token)
            ).status_code
        return own.post(
            f"/c/mnist1d/submissions/{ids[i]}/select", data={"csrf_token": csrf, "selected": "1"}
        ).status_code

    statuses = race(len(ids), choose)
    assert 500 not in statuses, statuses
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()["submissions"]
    assert sum(s["selected"] for s in mine) == 2 and statuses.count(400) == 3, statuses  # mnist1d's final_selections


@pytest.mark.parametrize("route", ["api", "web"])
def test_concurrent_first_uploads_make_one_team_and_no_error(people_factory, database_url, route):
    app, client, people, person = _crowd(people_factory, database_url)
    token, own, helper = person("ada", web=route == "web")
    files = [predictions_csv("mnist1d", 0.5, seed) for seed in range(6)]
    csrf = helper.csrf()

    def first_upload(i: int) -> int:
        if route == "api":
            return upload(own, token, "mnist1d", files[i]).status_code
        return own.post(
            "/c/mnist1d/submissions",
            data={"csrf_token": csrf, "file": (io.BytesIO(files[i].encode()), "s.csv")},
            content_type="multipart/form-data",
        ).status_code

    statuses = race(len(files), first_upload)
    assert 500 not in statuses, statuses
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()
    assert mine["team"] == "ada" and len(mine["submissions"]) == 5, statuses  # mnist1d's daily limit, in one team
    assert [
        r["team"]
        for r in client.get(
            "/api/v1/competitions/mnist1d/all-submissions", headers=auth(people.token("org", organiser=True))
        ).get_json()
    ].count("ada") == 5


def test_one_invite_code_admits_one_person_under_concurrency(people_factory, database_url):
    app, client, people = people_factory(DATABASE_URL=database_url, REGISTRATION_LIMIT_PER_ADDRESS="100 per hour")
    org = people.token("org", organiser=True)
    client.put("/api/v1/installation/registration", json={"policy": "invite"}, headers=auth(org))
    code = client.post("/api/v1/installation/invites", headers=auth(org)).get_json()["invite_code"]
    clients = [app.test_client() for _ in range(6)]
    statuses = race(
        len(clients),
        lambda i: (
            clients[i]
            .post("/api/v1/auth/register", json={"username": f"racer{i}", "password": PASSWORD, "invite_code": code})
            .status_code
        ),
    )
    assert sorted(statuses) == [201] + [400] * 5, statuses
