"""Participants and organisers through the JSON API: upload, scoring, limits, finals, reveal, rescoring."""

from __future__ import annotations

import pytest
from conftest import auth, upload
from helpers import predictions_csv, sample_csv

# The web and API suites run on SQLite and on PostgreSQL (which must be there under CI=true).
pytestmark = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


def board(client, slug="mnist1d", token=None, which=None):
    query = f"?board={which}" if which else ""
    return client.get(
        f"/api/v1/competitions/{slug}/leaderboard{query}", headers=auth(token) if token else {}
    ).get_json()


def test_builtin_tasks_are_hosted_as_benchmarks(client):
    listed = client.get("/api/v1/competitions").get_json()
    assert {c["slug"] for c in listed} == {"dates", "digits", "listops", "mnist1d", "sunspots"}
    assert all(c["benchmark"] and c["accepting_submissions"] for c in listed)


def test_upload_is_queued_then_scored_and_ranked_with_a_ci(client, people):
    token = people.token("ada")
    response = upload(client, token, "digits", sample_csv("digits"))
    assert response.status_code == 202
    assert response.get_json()["submission"]["status"] == "queued"
    people.drain()
    mine = client.get("/api/v1/competitions/digits/submissions", headers=auth(token)).get_json()
    entry = mine["submissions"][0]
    assert entry["status"] == "scored" and entry["private"] is None  # private scores stay hidden
    low, high = entry["public_ci"]
    assert low <= entry["public"]["accuracy"] <= high
    rows = board(client, "digits")["rows"]
    assert rows[0]["team"] == "ada" and rows[0]["ci_low"] is not None


def test_invalid_file_fails_with_its_report_and_costs_no_slot(client, people):
    token = people.token("bob")
    before = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()["slots_left"]
    upload(client, token, "mnist1d", "id,label\n4000,3\n")
    people.drain()
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()
    assert mine["submissions"][0]["status"] == "failed"
    assert any("999 test ids have no prediction" in p for p in mine["submissions"][0]["problems"])
    assert mine["slots_left"] == before
    assert board(client)["rows"] == []  # a failed submission never shows


def test_daily_limit_counts_valid_uploads_and_says_when_slots_reopen(client, people):
    token = people.token("cyd")
    for seed in range(5):
        assert upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.5, seed)).status_code == 202
    refused = upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.5, 99))
    assert refused.status_code == 400
    assert "has used all 5 submissions" in refused.get_json()["problems"][0]
    assert "New slots open at" in refused.get_json()["problems"][0]


def test_an_identical_file_is_not_counted_twice(client, people):
    token = people.token("deb")
    first = upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.7))
    again = upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.7), name="renamed.csv")
    assert again.status_code == 200 and again.get_json()["duplicate"]
    assert again.get_json()["submission"]["id"] == first.get_json()["submission"]["id"]
    assert client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()["slots_left"] == 4


def test_best_per_team_and_baseline_marked(client, people):
    ada, bob = people.token("ada"), people.token("bob", organiser=True)  # only organisers upload baselines
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.6, 1))
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9, 2))
    upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.8, 3), baseline="1")
    people.drain()
    rows = board(client)["rows"]
    assert [r["team"] for r in rows] == ["ada", "baseline"]  # a baseline is a reference row, not bob's team
    assert rows[0]["entries"] == 2 and rows[1]["is_baseline"] and rows[1]["rank"] is None
    assert rows[0]["score"] > 0.85


def test_finals_reveal_and_private_visibility(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    ids = []
    for accuracy in (0.6, 0.9, 0.7):
        ids.append(
            upload(client, ada, "mnist1d", predictions_csv("mnist1d", accuracy, int(accuracy * 10))).get_json()[
                "submission"
            ]["id"]
        )
    people.drain()
    assert board(client, token=ada, which="private")["board"] == "public"  # participants can't ask for private
    assert board(client, token=org, which="private")["board"] == "private"
    for submission_id in (ids[0], ids[2]):
        assert (
            client.post(
                f"/api/v1/submissions/{submission_id}/select", json={"selected": True}, headers=auth(ada)
            ).status_code
            == 200
        )
    third = client.post(f"/api/v1/submissions/{ids[1]}/select", json={"selected": True}, headers=auth(ada))
    assert third.status_code == 400 and "already chosen 2 final" in third.get_json()["problems"][0]
    assert client.post("/api/v1/competitions/mnist1d/reveal", headers=auth(ada)).status_code == 403
    assert (
        client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    )
    final = board(client)
    assert final["board"] == "private"
    assert final["rows"][0]["submission_id"] == ids[2]  # the best of the chosen finals, not the best overall
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()
    assert all(s["private"] is not None for s in mine["submissions"])
    assert upload(client, ada, "mnist1d", sample_csv("mnist1d")).status_code == 400  # closed after reveal
    locked = client.post(f"/api/v1/submissions/{ids[1]}/select", json={"selected": True}, headers=auth(ada))
    assert "final choices are locked" in locked.get_json()["problems"][0]


def test_disqualified_submission_leaves_the_board(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    submission_id = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    assert len(board(client)["rows"]) == 1
    assert (
        client.post(
            f"/api/v1/submissions/{submission_id}/disqualify", json={"confirm": True}, headers=auth(org)
        ).status_code
        == 200
    )
    assert board(client)["rows"] == []


def test_teams_invite_and_size_limit(client, people):
    org, ada, bob, cy = (people.token(n, organiser=(n == "org")) for n in ("org", "ada", "bob", "cyd"))
    client.patch("/api/v1/competitions/mnist1d", json={"team_size": 2}, headers=auth(org))
    code = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Lovelace"}, headers=auth(ada)).get_json()[
        "invite_code"
    ]
    assert (
        client.post(
            "/api/v1/competitions/mnist1d/teams/join", json={"invite_code": code}, headers=auth(bob)
        ).status_code
        == 200
    )
    full = client.post("/api/v1/competitions/mnist1d/teams/join", json={"invite_code": code}, headers=auth(cy))
    assert full.status_code == 400 and "is full (2 members at most)" in full.get_json()["problems"][0]
    team = client.get("/api/v1/competitions/mnist1d/team", headers=auth(bob)).get_json()["team"]
    assert team["members"] == ["ada", "bob"]
    upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.8))
    people.drain()
    assert board(client)["rows"][0]["team"] == "Lovelace"


def test_settings_are_validated_with_every_problem(client, people):
    org = people.token("org", organiser=True)
    response = client.patch(
        "/api/v1/competitions/mnist1d", json={"daily_limit": 0, "public_fraction": 2}, headers=auth(org)
    )
    problems = response.get_json()["problems"]
    assert response.status_code == 400 and len(problems) == 2


def test_closed_and_future_competitions_refuse_uploads_with_the_reason(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    client.post("/api/v1/competitions/mnist1d/close", headers=auth(org))
    refused = upload(client, ada, "mnist1d", sample_csv("mnist1d"))
    assert "closed this competition" in refused.get_json()["problems"][0]
    client.post("/api/v1/competitions/mnist1d/open", headers=auth(org))
    client.patch("/api/v1/competitions/mnist1d", json={"starts_at": "2999-01-01T00:00"}, headers=auth(org))
    assert "opens at 2999-01-01" in upload(client, ada, "mnist1d", sample_csv("mnist1d")).get_json()["problems"][0]


def test_new_task_version_rescores_and_keeps_history(client, people, tmp_path):
    import shutil

    from arena.bundles.loading import find_bundle

    org, ada = people.token("org", organiser=True), people.token("ada")
    bundle = tmp_path / "mnist1d"
    shutil.copytree(find_bundle("mnist1d"), bundle)
    created = client.post("/api/v1/competitions", json={"task": str(bundle), "slug": "m1d"}, headers=auth(org))
    assert created.status_code == 201
    submission_id = upload(client, ada, "m1d", predictions_csv("mnist1d", 0.8)).get_json()["submission"]["id"]
    people.drain()
    toml = (bundle / "task.toml").read_text()
    (bundle / "task.toml").write_text(
        toml.replace("version = 1", "version = 2")
        .replace('primary = "accuracy"', 'primary = "balanced_accuracy"')
        .replace('"balanced_accuracy"]', '"accuracy"]')
    )
    replaced = client.put(
        "/api/v1/competitions/m1d/task", json={"task": str(bundle), "confirm": True}, headers=auth(org)
    )
    assert replaced.status_code == 200 and replaced.get_json()["queued"] == 1
    people.drain()
    detail = client.get(f"/api/v1/submissions/{submission_id}", headers=auth(ada)).get_json()
    assert [h["task_version"] for h in detail["history"]] == [1, 2]
    assert detail["metric"] == "balanced_accuracy"


def test_a_bundle_edited_on_disk_is_adopted_and_rescored_at_restart(client, people, tmp_path, people_factory):
    import shutil

    from arena.bundles.loading import find_bundle

    org, ada = people.token("org", organiser=True), people.token("ada")
    bundle = tmp_path / "digits"
    shutil.copytree(find_bundle("digits"), bundle)
    client.post("/api/v1/competitions", json={"task": str(bundle), "slug": "d2"}, headers=auth(org))
    submission_id = upload(client, ada, "d2", predictions_csv("digits", 0.9)).get_json()["submission"]["id"]
    people.drain()
    toml = (bundle / "task.toml").read_text()
    (bundle / "task.toml").write_text(toml.replace("version = 1", "version = 2").replace("seed = 17", "seed = 18"))
    restarted, again, _ = people_factory(DATABASE_URL=client.application.config["DATABASE_URL"])
    assert again.get("/api/v1/competitions/d2").get_json()["task_version"] == 2
    restarted.extensions["arena_queue"].drain()
    detail = again.get(f"/api/v1/submissions/{submission_id}", headers=auth(ada)).get_json()
    assert detail["status"] == "failed"  # a new split: the old file's ids no longer match, and it says so
    assert any("have no prediction" in p or "not in the test set" in p for p in detail["problems"])
    assert [h["task_version"] for h in detail["history"]] == [1]  # the old score stays in the history
