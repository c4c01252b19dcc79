"""Each organiser action is one call in the server layer that writes its own audit entry; views only parse and show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import auth, upload
from helpers import predictions_csv

from arena.db.models import AuditEntry, Submission
from arena.server import accounts, competitions, organiser_actions

LEADERBOARD = Path(__file__).resolve().parent.parent / "leaderboard"


def test_no_view_writes_the_audit_log_itself():
    writers = [
        f"{path.name}:{number}"
        for path in sorted(LEADERBOARD.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"audit\.record\b", line)
    ]
    assert writers == []


@pytest.fixture
def db(app):
    return app.extensions["arena_db"]


def log_of(session, slug: str) -> list[tuple[str, str, str]]:
    return [
        (entry.username, entry.action, entry.detail)
        for entry in session.query(AuditEntry).filter_by(competition_slug=slug).order_by(AuditEntry.id)
    ]


def test_hosting_closing_rescoring_and_revealing_each_write_their_entry(db):
    with db.session() as session, session.begin():
        org = accounts.register(session, "org", "plum-orbit-canyon-42", organiser=True)
        competition = organiser_actions.host(session, org, "digits", slug="round-1", state="draft")
        organiser_actions.set_open(session, competition, org, True)
        organiser_actions.set_open(session, competition, org, False)
        queued = organiser_actions.rescore(session, competition, org)
        organiser_actions.reveal(session, competition, org)
        assert log_of(session, "round-1") == [
            ("org", "host", "digits as draft"),
            ("org", "open", ""),
            ("org", "close", ""),
            ("org", "rescore", f"{queued} submissions queued"),
            ("org", "reveal", ""),
        ]


def test_a_refused_action_writes_no_entry(db):
    with db.session() as session, session.begin():
        org = accounts.register(session, "org", "plum-orbit-canyon-42", organiser=True)
        competition = organiser_actions.host(session, org, "digits", slug="round-2")
    with pytest.raises(competitions.CompetitionError), db.session() as session, session.begin():
        competition = competitions.get(session, "round-2")
        organiser_actions.delete_draft(session, competition, session.merge(org))  # only a draft can be deleted
    with db.session() as session:
        assert [action for _, action, _ in log_of(session, "round-2")] == ["host"]


def test_disqualifying_and_restoring_a_team_are_logged_by_name(app, client, people, db):
    upload(client, people.token("ada"), "digits", predictions_csv("digits", 0.9))
    with db.session() as session, session.begin():
        org = accounts.register(session, "org", "plum-orbit-canyon-42", organiser=True)
        competition = competitions.get(session, "digits")
        team_id = session.query(Submission).one().team_id
        team = organiser_actions.disqualify_team(session, competition, org, team_id)
        assert team.disqualified
        organiser_actions.disqualify_team(session, competition, org, team_id, False)
        assert log_of(session, "digits")[-2:] == [
            ("org", "disqualify", f"team {team.name}"),
            ("org", "restore", f"team {team.name}"),
        ]


def test_the_admin_pages_clear_button_lets_a_team_upload_again_and_is_logged(app, client, people, db):
    upload(client, people.token("ada"), "digits", predictions_csv("digits", 0.9))
    with db.session() as session:
        team_id = session.query(Submission).one().team_id
    people.token("org", organiser=True)
    people.login("org")
    cleared = client.post("/c/digits/admin/clear-failures", data={"csrf_token": people.csrf(), "team_id": team_id})
    assert cleared.status_code == 302
    with db.session() as session:
        assert [action for _, action, _ in log_of(session, "digits")] == ["clear-failures"]


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/c/digits/admin/team-limit", {"team_id": "x", "daily_limit": "3"}, "&#39;team_id&#39; must be a number."),
        ("/c/digits/admin/task", {"task_ref": "digits"}, "tick &#39;every submission is rescored&#39; to confirm"),
        (
            "/host/build",
            {"name": "t", "public_fraction": "a third"},
            "&#39;public_fraction&#39; must be a number; got &#39;a third&#39;.",
        ),
    ],
)
def test_a_bad_organiser_form_says_which_field_to_fix(client, people, path, form, message):
    people.token("org", organiser=True)
    people.login("org")
    refused = client.post(path, data={"csrf_token": people.csrf(), **form})
    assert refused.status_code == 400 and message in refused.get_data(as_text=True)


def test_the_api_and_the_page_write_the_same_entry(client, people, db):
    org = people.token("org", organiser=True)
    assert client.post("/api/v1/competitions/digits/close", headers=auth(org)).status_code == 200
    people.login("org")
    client.post("/c/digits/admin/open", data={"csrf_token": people.csrf()})
    with db.session() as session:
        assert log_of(session, "digits") == [("org", "close", ""), ("org", "open", "")]
