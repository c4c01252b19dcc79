"""Attacks on the final ranking: final choices, baselines, reveals, frozen splits, the answer key's commitment."""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import auth, upload
from helpers import predictions_csv

from arena.bundles.loading import answer_key_csv
from arena.bundles.splits import split_scope
from arena.cli import main
from arena.db.models import Competition, Submission
from arena.scoring.score import public_rows, score_submission
from arena.tasks import load_task


def test_a_final_choice_is_locked_by_its_own_competition_whatever_the_url(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    chosen = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    other = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.7, 1)).get_json()["submission"]["id"]
    people.drain()
    assert (
        client.post(f"/api/v1/submissions/{chosen}/select", json={"selected": True}, headers=auth(ada)).status_code
        == 200
    )
    assert (
        client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    )
    people.login("ada")
    for slug in ("digits", "mnist1d"):  # digits is not revealed: its lock must not decide for mnist1d's submission
        for submission_id, value in ((other, "1"), (chosen, "0")):
            response = client.post(
                f"/c/{slug}/submissions/{submission_id}/select", data={"csrf_token": people.csrf(), "selected": value}
            )
            assert response.status_code in (400, 404)
    mine = {
        s["id"]: s["selected"]
        for s in client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()["submissions"]
    }
    assert mine == {chosen: True, other: False}


def test_only_organisers_may_mark_an_upload_as_a_baseline(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    refused = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9), baseline="1")
    assert refused.status_code == 400 and "only organisers" in refused.get_json()["problems"][0]
    assert client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()["submissions"] == []
    accepted = upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.9), baseline="true")
    assert accepted.status_code == 202 and accepted.get_json()["submission"]["is_baseline"]


@pytest.mark.parametrize("false", ["false", "0", "no", "off"])
def test_a_false_form_boolean_means_false(client, people, false):
    org, ada = people.token("org", organiser=True), people.token("ada")
    submission_id = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    selected = client.post(f"/api/v1/submissions/{submission_id}/select", json={"selected": false}, headers=auth(ada))
    assert selected.status_code == 200 and selected.get_json()["selected"] is False
    kept = client.post(
        f"/api/v1/submissions/{submission_id}/disqualify",
        json={"disqualified": false, "confirm": True},
        headers=auth(org),
    )
    assert kept.status_code == 200 and kept.get_json()["disqualified"] is False
    plain = upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.8, 2), baseline=false)
    assert plain.status_code == 202 and not plain.get_json()["submission"]["is_baseline"]
    people.login("ada")
    client.post(f"/c/mnist1d/submissions/{submission_id}/select", data={"csrf_token": people.csrf(), "selected": false})
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()["submissions"]
    assert not mine[0]["selected"]


def test_an_unclear_form_boolean_is_refused_with_the_reason(client, people):
    ada = people.token("ada")
    submission_id = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    response = client.post(f"/api/v1/submissions/{submission_id}/select", json={"selected": "maybe"}, headers=auth(ada))
    assert response.status_code == 400 and "'selected' must be true or false" in response.get_json()["problems"][0]


def test_two_competitions_on_one_task_have_independent_splits(client, people, tmp_path, capsys):
    org, ada = people.token("org", organiser=True), people.token("ada")
    for slug in ("twin-a", "twin-b"):
        assert (
            client.post("/api/v1/competitions", json={"task": "digits", "slug": slug}, headers=auth(org)).status_code
            == 201
        )
    content = predictions_csv("digits", 0.6, 5)
    ids = [upload(client, ada, slug, content).get_json()["submission"]["id"] for slug in ("twin-a", "twin-b")]
    people.drain()
    task = load_task("digits")
    db = client.application.extensions["arena_db"]
    with db.session() as session:
        keys = {
            c.slug: c.split_key for c in session.query(Competition).filter(Competition.slug.in_(["twin-a", "twin-b"]))
        }
        scores = [session.get(Submission, i).score for i in ids]
    assert all(len(key) == 32 for key in keys.values()) and keys["twin-a"] != keys["twin-b"]
    a, b = (public_rows(task, 0.3, split_key=keys[slug]) for slug in ("twin-a", "twin-b"))
    both = (a & b).mean()
    assert abs(both - a.mean() * b.mean()) < 0.05 and (a != b).mean() > 0.2  # independent, not shared
    # each worker scored on its own competition's split
    path = tmp_path / "predictions.csv"
    path.write_text(content)
    for slug, recorded in zip(("twin-a", "twin-b"), scores):
        assert (
            recorded["public"]
            == score_submission(task, path, public_fraction=0.3, split_key=keys[slug]).to_dict()["public"]
        )
    # `arena score` on the command line keeps working: the installation secret and the task name, no competition
    assert main(["score", "digits", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["public"] == score_submission(task, path).to_dict()["public"]
    assert split_scope("digits") == "digits" and not (public_rows(task, 0.3) == a).all()


def test_a_reveal_is_final(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9))
    people.drain()
    assert (
        client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    )
    for action in ("open", "rescore"):
        refused = client.post(f"/api/v1/competitions/mnist1d/{action}", headers=auth(org))
        assert refused.status_code == 400 and "a reveal is final" in refused.get_json()["problems"][0], action
    replaced = client.put(
        "/api/v1/competitions/mnist1d/task", json={"task": "digits", "confirm": True}, headers=auth(org)
    )
    assert replaced.status_code == 400 and "a reveal is final" in replaced.get_json()["problems"][0]
    people.login("org")
    reopened = client.post("/c/mnist1d/admin/open", data={"csrf_token": people.csrf()})
    assert reopened.status_code == 400 and b"a reveal is final" in reopened.data
    competition = client.get("/api/v1/competitions/mnist1d").get_json()
    assert competition["revealed"] and not competition["accepting_submissions"]
    late = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 1.0))
    assert late.status_code == 400 and "revealed" in late.get_json()["problems"][0]


def test_the_split_is_frozen_once_a_submission_is_scored(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    assert (
        client.patch("/api/v1/competitions/mnist1d", json={"public_fraction": 0.4}, headers=auth(org)).status_code
        == 200
    )
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9))
    people.drain()
    refused = client.patch("/api/v1/competitions/mnist1d", json={"public_fraction": 0.5}, headers=auth(org))
    problem = refused.get_json()["problems"][0]
    assert refused.status_code == 400 and "submissions have been scored on it" in problem and "40% public" in problem
    people.login("org")
    form = client.post("/c/mnist1d/admin/settings", data={"csrf_token": people.csrf(), "public_fraction": "0.2"})
    assert form.status_code == 400 and b"split stays at 40% public" in form.data
    unchanged = client.patch(
        "/api/v1/competitions/mnist1d", json={"public_fraction": 0.4, "daily_limit": 9}, headers=auth(org)
    )
    assert unchanged.status_code == 200 and unchanged.get_json()["rules"]["public_fraction"] == 0.4


def test_the_answer_key_commitment_is_salted_and_checkable_after_the_reveal(client, people):
    org = people.token("org", organiser=True)
    task = load_task("mnist1d")
    unsalted = task.answer_key.sha256
    before = client.get("/api/v1/competitions/mnist1d").get_json()
    page = client.get("/c/mnist1d").get_data(as_text=True)
    commitment = before["answer_key_commitment"]
    assert len(commitment) == 64 and commitment in page and before["commitment_salt"] is None
    everything = client.get("/api/v1/competitions").get_data(as_text=True) + page
    assert unsalted not in everything  # the brute-forceable hash is gone
    client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org))
    after = client.get("/api/v1/competitions/mnist1d").get_json()
    salt = after["commitment_salt"]
    assert after["answer_key_commitment"] == commitment and len(salt) == 32
    assert hashlib.sha256(f"{salt}\n".encode() + answer_key_csv(task.answers, task.spec)).hexdigest() == commitment
    assert after["commitment_holds"] is True
    revealed = client.get("/c/mnist1d").get_data(as_text=True)
    assert salt in revealed and "matches the commitment" in revealed


def test_each_competition_commits_with_its_own_salt(client, people):
    org = people.token("org", organiser=True)
    client.post("/api/v1/competitions", json={"task": "mnist1d", "slug": "again"}, headers=auth(org))
    first, second = (
        client.get(f"/api/v1/competitions/{slug}").get_json()["answer_key_commitment"] for slug in ("mnist1d", "again")
    )
    assert first != second  # same answer key, different salts


def test_a_disqualified_team_cannot_rank_again_with_a_re_upload(client, people):
    org, ada, bob = people.token("org", organiser=True), people.token("ada"), people.token("bob")
    content = predictions_csv("mnist1d", 0.95)
    upload(client, ada, "mnist1d", content)
    upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.5, 3))
    people.drain()
    rows = client.get("/api/v1/competitions/mnist1d/all-submissions", headers=auth(org)).get_json()
    team_id = next(r["team_id"] for r in rows if r["team"] == "ada")
    out = client.post(
        f"/api/v1/competitions/mnist1d/teams/{team_id}/disqualify", json={"confirm": True}, headers=auth(org)
    )
    assert out.status_code == 200 and out.get_json()["disqualified"]
    again = upload(client, ada, "mnist1d", content + "\n")
    assert again.status_code == 400 and "disqualified" in again.get_json()["problems"][0]
    people.drain()
    board = lambda: [r["team"] for r in client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]]
    assert board() == ["bob"]
    assert (
        client.post(
            f"/api/v1/competitions/mnist1d/teams/{team_id}/disqualify", json={"confirm": True}, headers=auth(ada)
        ).status_code
        == 403
    )
    people.login("org")
    assert b"Disqualify team" in client.get("/c/mnist1d/admin").data
    restored = client.post(
        "/c/mnist1d/admin/disqualify-team", data={"csrf_token": people.csrf(), "team_id": team_id, "undo": "1"}
    )
    assert restored.status_code == 302 and board() == ["ada", "bob"]
    client.post(
        "/c/mnist1d/admin/disqualify-team", data={"csrf_token": people.csrf(), "team_id": team_id, "confirm": "1"}
    )
    assert board() == ["bob"]
