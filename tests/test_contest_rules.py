"""Contest rules a Kaggle participant expects: reference models on the board, each upload's time, the split the
rules state, accepting the rules, late submissions, the reason for a disqualification, and a draft's label."""

from __future__ import annotations

import csv
import io
import threading
from datetime import datetime, timedelta

import pytest
from conftest import auth, upload
from helpers import predictions_csv
from sqlalchemy import func, select

from arena.db.models import RulesAcceptance, Submission

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


def board(client, query: str = "") -> list[dict]:
    answer = client.get(f"/api/v1/competitions/mnist1d/leaderboard{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["rows"]


def patch(client, token: str, **settings):
    answer = client.patch("/api/v1/competitions/mnist1d", json=settings, headers=auth(token))
    assert answer.status_code == 200, answer.get_json()


# --- reference models -----------------------------------------------------------------------------------


@BOTH
def test_each_reference_model_is_its_own_unranked_row_named_by_the_model(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    cnn = upload(client, org, "mnist1d", predictions_csv("mnist1d", 1.0, 1), baseline="1", baseline_model="cnn")
    mlp = upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.4, 2), baseline="1", baseline_model="mlp")
    assert cnn.status_code == mlp.status_code == 202
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.75, 3))
    people.drain()
    rows = board(client)
    assert [(r["team"], r["rank"]) for r in rows] == [("baseline: cnn", None), ("ada", 1), ("baseline: mlp", None)]
    cnn_row, mlp_row = rows[0], rows[2]
    assert cnn_row["score"] > rows[1]["score"] > mlp_row["score"]  # the CNN's and the MLP's scores stay apart
    assert cnn_row["is_baseline"] and cnn_row["rank_interval"] is None
    table = list(csv.DictReader(io.StringIO(client.get("/c/mnist1d/leaderboard.csv").get_data(as_text=True))))
    assert [(r["team"], r["rank"]) for r in table] == [("baseline: cnn", ""), ("ada", "1"), ("baseline: mlp", "")]
    ranked = board(client, "?view=baselines-ranked")
    assert [(r["team"], r["rank"]) for r in ranked] == [("baseline: cnn", 1), ("ada", 2), ("baseline: mlp", 3)]
    assert board(client) == rows  # the view is a view: the board itself still ranks ada first
    assert client.get("/api/v1/competitions/mnist1d/leaderboard?view=nonsense").status_code == 400


def test_only_organisers_name_a_reference_model_and_names_are_checked(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    refused = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9), baseline_model="cnn")
    assert refused.status_code == 400 and "only organisers" in refused.get_json()["problems"][0]
    bad = upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.9), baseline="1", baseline_model="=cmd|x")
    assert bad.status_code == 400 and "model name" in bad.get_json()["problems"][0]
    named = upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.9), baseline_model="resnet-18")
    assert named.status_code == 202 and named.get_json()["submission"]["is_baseline"]  # a model name is a baseline


def test_the_board_shows_the_ranked_upload_s_time_and_the_latest_one_s(client, people, app):
    ada = people.token("ada")
    best = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.95, 1)).get_json()["submission"]["id"]
    worse = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.6, 2)).get_json()["submission"]["id"]
    people.drain()
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        session.get(Submission, best).created_at = datetime(2026, 3, 1, 9, 30)
        session.get(Submission, worse).created_at = datetime(2026, 3, 2, 17, 45)
        from arena.db.generations import touch

        touch(session, session.get(Submission, best).competition_id)
    (row,) = board(client)
    assert row["submission_id"] == best
    assert (row["submitted_at"], row["last_submitted_at"]) == ("2026-03-01 09:30", "2026-03-02 17:45")
    page = client.get("/c/mnist1d").get_data(as_text=True)
    assert "2026-03-01 09:30" in page and "2026-03-02 17:45" in page


# --- accepting the rules --------------------------------------------------------------------------------


def _every_route_refused(client, people, ada: str) -> None:
    """Downloads (web, API), uploads (web, API as the CLI sends them) and dry runs, each refused with the way on."""
    refused = client.get("/api/v1/competitions/mnist1d/data/test.csv", headers=auth(ada))
    assert refused.status_code == 403 and "accept the rules" in refused.get_json()["problems"][0]
    api = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9))
    assert api.status_code == 403 and "accept the rules" in api.get_json()["problems"][0]
    dry = client.post(
        "/api/v1/competitions/mnist1d/dry-runs",
        data={"file": (io.BytesIO(b"def predict(i, o):\n    pass\n"), "main.py")},
        headers=auth(ada),
        content_type="multipart/form-data",
    )
    assert dry.status_code == 403 and "accept the rules" in dry.get_json()["problems"][0]
    people.login("ada")
    web = client.post(
        "/c/mnist1d/submissions",
        data={"csrf_token": people.csrf(), "file": (io.BytesIO(predictions_csv("mnist1d", 0.9).encode()), "p.csv")},
        content_type="multipart/form-data",
    )
    assert web.status_code == 403 and b"accept the rules" in web.data
    download = client.get("/c/mnist1d/data/train.csv")
    assert download.status_code == 403 and b"accept the rules" in download.data
    anonymous = client.application.test_client().get("/c/mnist1d/data/train.csv")
    assert anonymous.status_code == 403 and b"log in" in anonymous.data


@BOTH
def test_a_competition_that_asks_for_the_rules_opens_nothing_before_they_are_accepted(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    assert client.get("/c/mnist1d/data/train.csv").status_code == 200  # off by default
    patch(client, org, rules_acceptance=True)
    assert (
        client.get("/api/v1/competitions/mnist1d/data/train.csv", headers=auth(org)).status_code == 200
    )  # organisers need not
    _every_route_refused(client, people, ada)
    assert client.get("/api/v1/competitions/mnist1d/rules", headers=auth(ada)).get_json()["accepted_at"] is None
    accepted = client.post("/api/v1/competitions/mnist1d/rules/accept", headers=auth(ada)).get_json()
    assert accepted["required"] and accepted["accepted_at"]
    again = client.post("/api/v1/competitions/mnist1d/rules/accept", headers=auth(ada)).get_json()
    assert again["accepted_at"] == accepted["accepted_at"]  # the first moment is the one kept
    assert client.get("/api/v1/competitions/mnist1d/data/test.csv", headers=auth(ada)).status_code == 200
    assert upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).status_code == 202


@BOTH
def test_two_acceptances_at_once_keep_one_record(client, people, app):
    ada = people.token("ada")
    patch(client, people.token("org", organiser=True), rules_acceptance=True)
    answers: list[int] = []

    def accept() -> None:
        answer = app.test_client().post("/api/v1/competitions/mnist1d/rules/accept", headers=auth(ada))
        answers.append(answer.status_code)

    threads = [threading.Thread(target=accept) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 6
    with app.extensions["arena_db"].session() as session:
        assert session.scalar(select(func.count()).select_from(RulesAcceptance)) == 1


def test_the_page_asks_for_acceptance_and_records_it(client, people):
    patch(client, people.token("org", organiser=True), rules_acceptance=True)
    people.token("ada")
    people.login("ada")
    page = client.get("/c/mnist1d").get_data(as_text=True)
    assert 'id="accept-rules"' in page and 'id="data-needs-rules"' in page
    client.post("/c/mnist1d/rules/accept", data={"csrf_token": people.csrf()})
    page = client.get("/c/mnist1d").get_data(as_text=True)
    assert 'id="rules-accepted"' in page and 'id="accept-rules"' not in page
    assert client.get("/c/mnist1d/data/train.csv").status_code == 200


# --- late submissions -----------------------------------------------------------------------------------


def _ended(client, org: str, **settings) -> None:
    ended = (datetime.now() - timedelta(days=1)).replace(microsecond=0).isoformat()
    patch(client, org, starts_at="", ends_at=ended, **settings)


@BOTH
def test_a_late_submission_is_scored_on_its_own_board_and_never_touches_the_competition_s(client, people):
    org, ada, bob = people.token("org", organiser=True), people.token("ada"), people.token("bob")
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.7, 1))
    people.drain()
    _ended(client, org)
    refused = upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.99, 2))
    assert refused.status_code == 400 and "ended" in refused.get_json()["problems"][0]  # off by default
    before = (
        client.get("/api/v1/competitions/mnist1d/leaderboard").data,
        client.get("/c/mnist1d/leaderboard.csv").data,
        client.get("/api/v1/competitions/mnist1d/leaderboard?board=private", headers=auth(org)).data,
    )
    patch(client, org, late_submissions=True)
    late = upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.99, 2))
    assert late.status_code == 202 and late.get_json()["submission"]["late"]
    people.drain()
    after = (
        client.get("/api/v1/competitions/mnist1d/leaderboard").data,
        client.get("/c/mnist1d/leaderboard.csv").data,
        client.get("/api/v1/competitions/mnist1d/leaderboard?board=private", headers=auth(org)).data,
    )
    assert after == before  # bob's late 0.99 neither joins nor outranks the board
    (row,) = board(client, "?view=late")
    assert row["team"] == "bob" and row["rank"] is None and row["score"] > 0.9
    private = client.get("/api/v1/competitions/mnist1d/leaderboard?board=private&view=late", headers=auth(org))
    assert private.get_json()["rows"][0]["score"] > 0.9  # scored on the private rows too
    html = client.get("/c/mnist1d").get_data(as_text=True)
    main_table = html.split('id="leaderboard"', 2)[-1].split("</table>")[0]
    assert "bob" not in main_table and 'id="late-leaderboard"' in html
    final = client.post(f"/api/v1/submissions/{row['submission_id']}/select", json={}, headers=auth(bob))
    assert final.status_code == 400 and "late submission" in final.get_json()["problems"][0]


def test_late_submissions_keep_the_daily_limit(client, people):
    org, bob = people.token("org", organiser=True), people.token("bob")
    _ended(client, org, late_submissions=True, daily_limit=1)
    assert upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.9, 1)).status_code == 202
    second = upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.8, 2))
    assert second.status_code == 400 and "used all 1 submissions" in second.get_json()["problems"][0]


# --- disqualification with a reason ---------------------------------------------------------------------


def test_a_disqualified_team_is_told_why_and_nobody_else_is(client, people, app):
    org, ada, bob = people.token("org", organiser=True), people.token("ada"), people.token("bob")
    submitted = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    reason = "the predictions were copied from leaked labels"
    answer = client.post(
        f"/api/v1/submissions/{submitted}/disqualify", json={"confirm": True, "reason": reason}, headers=auth(org)
    )
    assert answer.status_code == 200 and answer.get_json()["reason"] == reason
    mine = client.get(f"/api/v1/submissions/{submitted}", headers=auth(ada)).get_json()
    assert mine["disqualified"] and mine["disqualified_reason"] == reason
    assert client.get(f"/api/v1/submissions/{submitted}", headers=auth(bob)).status_code in (403, 404)
    assert reason not in client.get("/c/mnist1d").get_data(as_text=True)
    assert reason not in client.get("/api/v1/competitions/mnist1d/leaderboard").get_data(as_text=True)
    people.login("ada")
    assert reason in client.get("/c/mnist1d/submissions").get_data(as_text=True)
    with app.extensions["arena_db"].session() as session:
        team = {"id": session.get(Submission, submitted).team_id}
    team_reason = "two accounts of one person"
    client.post(
        f"/api/v1/competitions/mnist1d/teams/{team['id']}/disqualify",
        json={"confirm": True, "reason": team_reason},
        headers=auth(org),
    )
    refused = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.8, 4))
    assert refused.status_code == 400 and team_reason in refused.get_json()["problems"][0]
    assert team_reason in client.get("/c/mnist1d/submissions").get_data(as_text=True)
    long = client.post(
        f"/api/v1/submissions/{submitted}/disqualify", json={"confirm": True, "reason": "x" * 501}, headers=auth(org)
    )
    assert long.status_code == 400 and "at most 500" in long.get_json()["problems"][0]


# --- the split the rules state, and a draft's label ------------------------------------------------------


def test_the_split_message_says_why_it_cannot_change(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    assert "About 30% of test rows are public" in client.get("/c/mnist1d").get_data(as_text=True)
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9))
    people.drain()
    refused = client.patch("/api/v1/competitions/mnist1d", json={"public_fraction": 0.5}, headers=auth(org))
    problem = refused.get_json()["problems"][0]
    assert "submissions have been scored on it" in problem and "stays at 30% public" in problem


def test_a_draft_is_never_called_open(client, people):
    org = people.token("org", organiser=True)
    hosted = client.post(
        "/api/v1/competitions", json={"task": "digits", "slug": "drafty", "state": "draft"}, headers=auth(org)
    )
    assert hosted.status_code == 201, hosted.get_json()
    people.login("org")
    page = client.get("/c/drafty/admin").get_data(as_text=True)
    state = page.split('id="admin-state">', 1)[1].split("</p>", 1)[0]
    assert state.startswith("draft</b>") and "Open" not in state and "not open yet" in state


def test_the_admin_page_s_disqualify_button_takes_the_reason_through_its_confirmation(client, people):
    people.token("org", organiser=True)
    ada = people.token("ada")
    submitted = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    people.login("org")
    assert 'placeholder="reason (the team sees it)"' in client.get("/c/mnist1d/admin").get_data(as_text=True)
    form = {"csrf_token": people.csrf(), "submission_id": str(submitted), "reason": "hand-labelled test rows"}
    asked = client.post("/c/mnist1d/admin/disqualify", data=form)
    assert asked.status_code == 200 and b'value="hand-labelled test rows"' in asked.data  # carried to the confirmation
    client.post("/c/mnist1d/admin/disqualify", data={**form, "confirm": "1"})
    mine = client.get(f"/api/v1/submissions/{submitted}", headers=auth(ada)).get_json()
    assert mine["disqualified"] and mine["disqualified_reason"] == "hand-labelled test rows"
