"""Profiles at /u/NAME (and /api/v1/users/NAME): a user's teams, competitions, ranks and entries, showing only
what the boards the viewer may see already show, tried as someone looking for more would."""

from __future__ import annotations

import json

from conftest import auth, upload
from helpers import predictions_csv
from sqlalchemy import update

from arena.db.models import Competition, User

ACCURACIES = {"ada": 0.62, "bob": 0.6, "carl": 0.61, "dan": 0.59, "eve": 0.6}


def _board(client, token: str | None = None, board: str = "") -> dict[str, int]:
    url = "/api/v1/competitions/mnist1d/leaderboard" + (f"?board={board}" if board else "")
    rows = client.get(url, headers=auth(token) if token else {}).get_json()["rows"]
    return {row["team"]: row["rank"] for row in rows}


def _field(people, client):
    """Five teams of one whose public and private ranks differ; ada's teammate is fred."""
    org = people.token("org", organiser=True)
    tokens = {name: people.token(name) for name in ACCURACIES}
    invite = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Owls"}, headers=auth(tokens["ada"]))
    fred = people.token("fred")
    client.post("/api/v1/competitions/mnist1d/teams/join", json=invite.get_json(), headers=auth(fred))
    for seed, (name, accuracy) in enumerate(ACCURACIES.items()):
        assert upload(client, tokens[name], "mnist1d", predictions_csv("mnist1d", accuracy, seed)).status_code == 202
    people.drain()
    return org, tokens


def _profile(client, name: str, token: str | None = None, query: str = ""):
    return client.get(f"/api/v1/users/{name}{query}", headers=auth(token) if token else {})


def test_a_profile_lists_teams_teammates_ranks_and_entries_linked_on_its_page(client, people):
    _field(people, client)
    public = _board(client)
    shown = _profile(client, "ada").get_json()
    assert shown["username"] == "ada"
    (entry,) = shown["competitions"]
    assert (entry["slug"], entry["team"], entry["teammates"], entry["entries"]) == ("mnist1d", "Owls", ["fred"], 1)
    assert (entry["board"], entry["rank"], entry["teams_on_board"]) == ("public", public["Owls"], len(public))
    page = client.get("/u/fred").get_data(as_text=True)
    assert 'href="/u/ada"' in page and 'href="/c/mnist1d"' in page and "Owls" in page
    assert client.get("/u/nobody").status_code == 404 and _profile(client, "nobody").status_code == 404


def test_no_private_rank_or_score_shows_before_the_reveal_and_the_final_rank_after(client, people):
    org, tokens = _field(people, client)
    public, private = _board(client), _board(client, org, "private")
    moved = [name for name in ACCURACIES if name != "ada" and public[name] != private[name]]
    assert moved, "the field must have a team whose private rank differs from its public one"
    name = moved[0]
    for query in ("", "?board=private", "?private=1"):  # asking for more changes nothing
        for viewer in (None, tokens[name]):  # neither a stranger nor the team itself sees a private rank early
            body = _profile(client, name, viewer, query).get_data(as_text=True)
            entry = json.loads(body)["competitions"][0]
            assert (entry["board"], entry["rank"]) == ("public", public[name])
            assert "private" not in body and "score" not in body
    assert "(public board)" in client.get(f"/u/{name}?board=private").get_data(as_text=True)
    client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org))
    final = _board(client)
    entry = _profile(client, name).get_json()["competitions"][0]
    assert (entry["board"], entry["rank"]) == ("final", final[name])


def test_drafts_broken_competitions_and_accounts_waiting_for_approval_stay_hidden(app, client, people):
    org, tokens = _field(people, client)
    with app.extensions["arena_db"].session() as session, session.begin():
        session.execute(update(Competition).where(Competition.slug == "mnist1d").values(lifecycle="draft"))
    for viewer in (None, tokens["bob"], tokens["ada"]):  # a stranger, a rival and the user themself
        assert _profile(client, "ada", viewer).get_json()["competitions"] == []
    assert "mnist1d" not in client.get("/u/ada").get_data(as_text=True)
    assert [e["slug"] for e in _profile(client, "ada", org).get_json()["competitions"]] == ["mnist1d"]
    with app.extensions["arena_db"].session() as session, session.begin():
        session.execute(
            update(Competition).where(Competition.slug == "mnist1d").values(lifecycle="published", broken="gone")
        )
        session.execute(update(User).where(User.username == "eve").values(approved=False))
    assert _profile(client, "ada").get_json()["competitions"] == []
    assert _profile(client, "eve").status_code == 404 and client.get("/u/eve").status_code == 404
    assert _profile(client, "eve", org).status_code == 200
