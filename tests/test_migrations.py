"""Upgrades keep data: a database full of real rows at the first revision comes through every later one.

Rows are written with SQL against the first revision's own tables (not today's
models, which may have moved on), then the database is upgraded to the newest
revision and read back both as raw rows and through the server's own functions.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pytest
from helpers import predictions_csv
from sqlalchemy import MetaData, inspect, select, text

from arena.db.database import Database
from arena.db.migrate import FIRST_REVISION, current_revision, downgrade, head_revision, upgrade
from arena.scoring.score import score_submission
from arena.server import accounts, competitions, standings, submissions, team_changes
from arena.tasks import load_task


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.engine.dispose()


def fill_first_revision(db: Database, tmp_path) -> dict:
    """Two people in one team, an organiser with a token, and a submission scored under two task versions."""
    task = load_task("digits")
    predictions = tmp_path / "predictions.csv"
    predictions.write_text(predictions_csv("digits", 0.9))
    score = json.loads(json.dumps(score_submission(task, predictions, public_fraction=0.3).to_dict()))
    old_score = {**score, "public": {name: value - 0.01 for name, value in score["public"].items()}}
    token = "arena_upgrade-test-token"
    when = datetime(2026, 1, 2, 3, 4, 5)
    tables = MetaData()
    tables.reflect(db.engine)
    t = tables.tables
    with db.engine.begin() as connection:
        insert = lambda table, **row: connection.execute(t[table].insert().values(**row)).inserted_primary_key[0]
        ada = insert(
            "users",
            username="ada",
            password_hash=accounts.hash_password("lovelace-1815"),
            is_organiser=False,
            created_at=when,
        )
        bob = insert(
            "users",
            username="bob",
            password_hash=accounts.hash_password("babbage-1791"),
            is_organiser=False,
            created_at=when,
        )
        org = insert(
            "users",
            username="admin",
            password_hash=accounts.hash_password("organiser-pass"),
            is_organiser=True,
            created_at=when,
        )
        insert(
            "api_tokens",
            user_id=org,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            label="cli",
            created_at=when,
        )
        competition = insert(
            "competitions",
            slug="digits",
            title=task.spec.title,
            task_ref="digits",
            task_version=task.spec.version,
            answer_sha256=task.answer_key.sha256,
            description="",
            starts_at=None,
            ends_at=None,
            is_open=True,
            revealed=False,
            daily_limit=5,
            total_limit=None,
            team_size=4,
            final_selections=2,
            public_fraction=0.3,
            created_at=when,
        )
        team = insert(
            "teams", competition_id=competition, name="Analysts", invite_code="invite-code-1", created_at=when
        )
        for user in (ada, bob):
            insert("memberships", competition_id=competition, team_id=team, user_id=user)
        submission = insert(
            "submissions",
            competition_id=competition,
            team_id=team,
            user_id=ada,
            file_sha256="ab" * 32,
            file_name="predictions.csv",
            file_size=1234,
            note="first try",
            status="scored",
            utc_day="2026-01-02",
            created_at=when,
            scoring_started_at=when,
            attempts=1,
            problems=None,
            score=score,
            public_primary=score["public"][score["primary"]],
            private_primary=score["private"][score["primary"]],
            scored_version=task.spec.version,
            is_baseline=False,
            selected=True,
            disqualified=False,
        )
        for version, recorded in ((0, old_score), (task.spec.version, score)):
            insert(
                "score_records",
                submission_id=submission,
                task_version=version,
                answer_sha256=task.answer_key.sha256,
                score=recorded,
                created_at=when,
            )
    return {"token": token, "submission": submission, "score": score}


def snapshot(db: Database) -> dict[str, list[dict]]:
    """Every row of every table, by column name (Alembic's own table aside)."""
    tables = MetaData()
    tables.reflect(db.engine)
    with db.engine.connect() as connection:
        return {
            name: [dict(row._mapping) for row in connection.execute(select(table).order_by(*table.primary_key))]
            for name, table in tables.tables.items()
            if name != "alembic_version"
        }


def assert_nothing_lost(before: dict, after: dict) -> None:
    for table, rows in before.items():
        assert table in after, f"table {table} is gone"
        assert len(after[table]) == len(rows), f"{table}: {len(rows)} rows before, {len(after[table])} after"
        for old, new in zip(rows, after[table]):
            assert {column: new[column] for column in old} == old, f"{table}: a row changed"


def assert_usable(db: Database, filled: dict) -> None:
    with db.session() as session:
        assert accounts.authenticate(session, "ada", "lovelace-1815").username == "ada"
        assert accounts.user_for_token(session, filled["token"]).username == "admin"
        competition = competitions.get(session, "digits")
        board = standings.best_per_team(session, competition, private=False)
        assert [row.team for row in board] == ["Analysts"]
        submission = submissions.get(session, filled["submission"])
        assert submission.score == filled["score"] and submission.selected
        assert len(submissions.history(session, submission)) == 2
        assert submission.timeouts == 0 and submission.failure_kind is None  # kept rows count no failure
        assert submissions.uncharged_failures(session, submission.team, competition, submission.utc_day) == 0
        # Revision 0013: every kept competition takes predictions files, and no kept submission is a code run.
        assert competition.submission_kind == "file"
        assert submission.run_status is None and submission.code_failure is None and submission.run_log is None
        assert (submission.wall_seconds, submission.cpu_seconds, submission.peak_memory_mb) == (None, None, None)
        assert submissions.slots_left(session, competition, submission.team) == competition.daily_limit
        # Revision 0017: a kept competition has no page of the organiser's yet; its description stays its overview.
        assert (competition.data_page, competition.rules_page, competition.timeline_page) == ("", "", "")
        # Revision 0015: a kept competition takes the default merger deadline, and no merge request waits.
        assert competition.merger_deadline is None and submission.team.name == "Analysts"
        assert team_changes.merge_requests(session, submission.team) == ([], [])
        # Revision 0016: nobody must accept rules, nothing is taken late, no kept upload is a named reference model,
        # late or disqualified with a reason.
        assert not competition.rules_acceptance and not competition.late_submissions
        assert (submission.baseline_model, submission.late, submission.disqualified_reason) == ("", False, "")
        assert submission.team.disqualified_reason == ""
        # Revision 0018: no kept account has an address or asked to be told anything; no competition has a webhook.
        ada = accounts.authenticate(session, "ada", "lovelace-1815")
        assert (ada.email, ada.notify_scores, ada.notify_announcements) == ("", False, False)
        assert (competition.webhook_url, competition.webhook_secret) == ("", "")


def test_a_database_full_of_rows_upgrades_to_the_newest_revision(db, tmp_path):
    upgrade(db.engine, FIRST_REVISION)
    assert current_revision(db.engine) == FIRST_REVISION
    filled = fill_first_revision(db, tmp_path)
    before = snapshot(db)
    upgrade(db.engine)
    assert current_revision(db.engine) == head_revision()
    assert_nothing_lost(before, snapshot(db))
    assert_usable(db, filled)


def test_a_database_made_before_migrations_existed_is_adopted_and_upgraded(db, tmp_path):
    upgrade(db.engine, FIRST_REVISION)
    with db.engine.begin() as connection:  # what create_all left: the tables, no Alembic bookkeeping
        connection.execute(text("DROP TABLE alembic_version"))
    filled = fill_first_revision(db, tmp_path)
    before = snapshot(db)
    upgrade(db.engine)
    assert current_revision(db.engine) == head_revision()
    assert_nothing_lost(before, snapshot(db))
    assert_usable(db, filled)


def test_upgrading_twice_changes_nothing(db):
    upgrade(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    upgrade(db.engine)
    assert set(inspect(db.engine).get_table_names()) == tables and current_revision(db.engine) == head_revision()


def test_arena_db_upgrade_brings_an_old_database_to_head(tmp_path, capsys):
    from arena.cli import main

    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url)
    upgrade(old.engine, FIRST_REVISION)
    assert main(["db", "upgrade", "--database", url]) == 0
    assert current_revision(old.engine) == head_revision()
    assert main(["db", "upgrade", "--database", url]) == 0
    assert "current" in capsys.readouterr().out
    old.engine.dispose()


def test_a_full_database_goes_down_to_the_first_revision_and_up_again(db, tmp_path):
    """Every revision can be undone with rows in place (an upgrade that must be rolled back loses nothing old)."""
    upgrade(db.engine, FIRST_REVISION)
    filled = fill_first_revision(db, tmp_path)
    before = snapshot(db)
    upgrade(db.engine)
    downgrade(db.engine, FIRST_REVISION)
    assert current_revision(db.engine) == FIRST_REVISION
    assert_nothing_lost(before, snapshot(db))
    upgrade(db.engine)
    assert_usable(db, filled)


def test_suites_arrive_beside_a_full_database_and_point_at_its_rows(db, tmp_path):
    """Revision 0011 adds the suite tables: every old row survives, and a suite, a model, its version and the link
    to an existing submission can be written after the upgrade and read back; going down removes only them."""
    from arena.db.models import Suite, SuiteEntry, SuiteEntryFile, SuiteModel, SuiteTask, User

    upgrade(db.engine, FIRST_REVISION)
    filled = fill_first_revision(db, tmp_path)
    before = snapshot(db)
    upgrade(db.engine)
    assert_nothing_lost(before, snapshot(db))
    with db.session() as session, session.begin():
        competition = competitions.get(session, "digits")
        ada = session.scalars(select(User).where(User.username == "ada")).one()
        suite = Suite(
            name="core", title="Core", version=1, description="", method="normalised_mean", spec={}, sha256="0" * 64
        )
        session.add(suite)
        session.flush()
        session.add(
            SuiteTask(
                suite_id=suite.id,
                competition_id=competition.id,
                key="digits",
                weight=1.0,
                floor=0.1,
                ceiling=1.0,
                position=0,
            )
        )
        model = SuiteModel(suite_id=suite.id, user_id=ada.id, name="tiny-cnn", name_key="tiny-cnn")
        session.add(model)
        session.flush()
        entry = SuiteEntry(model_id=model.id, number=1, card={"name": "tiny-cnn"}, user_id=ada.id)
        session.add(entry)
        session.flush()
        session.add(
            SuiteEntryFile(
                entry_id=entry.id, competition_id=competition.id, submission_id=filled["submission"], key="digits"
            )
        )
    after = snapshot(db)
    assert_nothing_lost(before, after)
    assert [row["submission_id"] for row in after["suite_entry_files"]] == [filled["submission"]]
    assert_usable(db, filled)
    downgrade(db.engine, "0010")
    assert "suites" not in inspect(db.engine).get_table_names()
    assert_nothing_lost(before, snapshot(db))


def test_suite_entries_get_a_tier_and_no_flag_and_reference_runs_become_reference(db, tmp_path):
    """Revision 0012: every entry made before it is 'reported' and unflagged, except a baseline's version whose card
    holds a run record (what ``arena baseline`` enters), which is 'reference'; releases, flags and suite lines in
    the audit log can be written after it; going down removes only what it added."""
    from arena.db.models import AuditEntry, SuiteEntry, SuiteRelease

    upgrade(db.engine, "0011")
    filled = fill_first_revision(db, tmp_path)
    tables = MetaData()
    tables.reflect(db.engine)
    t = tables.tables
    when = datetime(2026, 12, 1, 9, 0, 0)
    with db.engine.begin() as connection:
        insert = lambda table, **row: connection.execute(t[table].insert().values(**row)).inserted_primary_key[0]
        ada, admin = (
            connection.execute(select(t["users"].c.id).where(t["users"].c.username == name)).scalar_one()
            for name in ("ada", "admin")
        )
        suite = insert(
            "suites",
            name="core",
            title="Core",
            version=1,
            description="",
            method="normalised_mean",
            spec={},
            sha256="0" * 64,
            created_at=when,
            updated_at=when,
        )
        entries = {}
        for name, owner, baseline, card in (
            ("cnn-reference", admin, True, {"name": "cnn-reference", "run": {"seed": 0, "command": "arena baseline"}}),
            ("hand-made", admin, True, {"name": "hand-made"}),  # a baseline entered by hand: no run record
            ("tiny", ada, False, {"name": "tiny", "run": {"seed": 1}}),  # a participant's run record vouches nothing
        ):
            model = insert(
                "suite_models",
                suite_id=suite,
                user_id=owner,
                name=name,
                name_key=name,
                is_baseline=baseline,
                created_at=when,
            )
            entries[name] = insert("suite_entries", model_id=model, number=1, card=card, user_id=owner, created_at=when)
    before = snapshot(db)
    upgrade(db.engine)
    after = snapshot(db)
    assert_nothing_lost(before, after)
    rows = {row["id"]: row for row in after["suite_entries"]}
    assert {name: rows[entry_id]["tier"] for name, entry_id in entries.items()} == {
        "cnn-reference": "reference",
        "hand-made": "reported",
        "tiny": "reported",
    }
    for row in rows.values():
        assert (row["tier_note"], row["flag_reason"], row["flagged_at"], row["flagged_by"]) == ("", "", None, None)
    assert after["suite_releases"] == [] and all(row["suite_id"] is None for row in after["audit_log"])
    with db.session() as session, session.begin():
        entry = session.get(SuiteEntry, entries["tiny"])
        entry.flag_reason, entry.flagged_at, entry.flagged_by = "trained on test inputs", when, ada
        session.add(
            SuiteRelease(
                suite_id=suite,
                kind="release",
                number=1,
                suite_version=1,
                title="Core",
                json_sha256="1" * 64,
                csv_sha256="2" * 64,
                files={"json": "1" * 64, "csv": "2" * 64},
            )
        )
        session.add(AuditEntry(competition_slug="", suite_id=suite, username="admin", action="flag"))
    assert_usable(db, filled)
    downgrade(db.engine, "0011")
    assert "suite_releases" not in inspect(db.engine).get_table_names()
    assert "tier" not in {column["name"] for column in inspect(db.engine).get_columns("suite_entries")}
    down = snapshot(db)
    assert [row["action"] for row in down["audit_log"]] == ["flag"]  # a line of the log outlives the column
    assert_nothing_lost(before, {**down, "audit_log": []})
