"""The board of a code competition: each team's run's time, CPU time and peak memory beside its score, and an
organiser's choice to rank by a utility of score, time and memory instead of the score alone.

Programs run for real under bubblewrap through the server's own queue. Tests never assert how long a run took:
the utility order is checked against measurements written into the database, which is what the board reads.
"""

from __future__ import annotations

import csv
import io

import pytest
from conftest import auth, upload
from helpers import predictions_csv
from test_code_competitions import COPY_SAMPLE, code_bundle, need_bwrap

from arena.db import generations
from arena.db.models import Submission
from arena.server import audit, competitions

SLUG = "tiny-board"
FAST = f"import shutil\ndef predict(i, o):\n    {COPY_SAMPLE}\n"
SLOW = f"import shutil, time\ndef predict(i, o):\n    time.sleep(0.3)\n    {COPY_SAMPLE}\n"
MEASURED = ("wall_seconds", "cpu_seconds", "peak_memory_mb")


@pytest.fixture
def hosted(client, people, tmp_path):
    """A code competition and two participants, each in a team of their own."""
    organiser = people.token("orga", organiser=True)
    answer = client.post(
        "/api/v1/competitions",
        json={"task": str(code_bundle(tmp_path / "bundle", wall_seconds=20)), "slug": SLUG, "submission_kind": "code"},
        headers=auth(organiser),
    )
    assert answer.status_code == 201, answer.get_json()
    return {"organiser": organiser, "ada": people.token("ada"), "bob": people.token("bob")}


@pytest.fixture
def two_runs(client, people, hosted):
    """Ada's fast program and Bob's slower one, both run and scored: the same predictions, so the same score."""
    need_bwrap()
    ids = {}
    for name, source in (("ada", FAST), ("bob", SLOW)):
        sent = upload(client, hosted[name], SLUG, source, name="main.py")
        assert sent.status_code == 202, sent.get_json()
        ids[name] = sent.get_json()["submission"]["id"]
    people.drain()
    return {**hosted, "ids": ids}


def board(client, slug: str = SLUG) -> dict:
    answer = client.get(f"/api/v1/competitions/{slug}/leaderboard")
    assert answer.status_code == 200
    return answer.get_json()


def teams_of(rows: list[dict]) -> list[str]:
    return [row["team"] for row in rows]


def set_measurements(app, submission_id: int, **values: float) -> None:
    """Write what a run measured, as the worker does, and mark the board changed (as scoring it does)."""
    with app.extensions["arena_db"].session() as session, session.begin():
        submission = session.get(Submission, submission_id)
        for name, value in values.items():
            setattr(submission, name, value)
        generations.touch(session, submission.competition_id)


def patch(client, token: str, **settings):
    return client.patch(f"/api/v1/competitions/{SLUG}", json=settings, headers=auth(token))


def test_a_code_board_shows_each_runs_time_and_memory_and_a_file_board_does_not(client, people, two_runs):
    shown = board(client)
    assert shown["ranked_by"]["rule"] == "score" and shown["ranked_by"]["measured"] is True
    assert len(shown["rows"]) == 2
    for row in shown["rows"]:
        assert all(isinstance(row[name], float) and row[name] >= 0 for name in MEASURED), row
        assert "utility" not in row  # ranked by the score: no utility column
    mine = client.get(f"/api/v1/submissions/{two_runs['ids']['ada']}", headers=auth(two_runs["ada"])).get_json()
    ada_row = next(row for row in shown["rows"] if row["submission_id"] == two_runs["ids"]["ada"])
    assert ada_row["wall_seconds"] == mine["run"]["wall_seconds"]  # the board shows the submission's own run
    table = list(csv.DictReader(io.StringIO(client.get(f"/c/{SLUG}/leaderboard.csv").get_data(as_text=True))))
    assert {name for name in MEASURED} <= set(table[0]) and all(row["peak_memory_mb"] for row in table)
    page = client.get(f"/c/{SLUG}").get_data(as_text=True)
    assert '<th title="wall time of the run">Time</th>' in page and 'class="num memory"' in page
    assert "Ranked by the score" in page

    people.login("ada")  # a file competition's board carries none of it
    sent = upload(client, two_runs["ada"], "digits", predictions_csv("digits", 0.9), name="predictions.csv")
    assert sent.status_code == 202, sent.get_json()
    people.drain()
    files = board(client, "digits")
    assert files["rows"] and files["ranked_by"]["measured"] is False
    assert not set(MEASURED) & set(files["rows"][0]) and "utility" not in files["rows"][0]
    assert not set(MEASURED) & set(
        client.get("/c/digits/leaderboard.csv").get_data(as_text=True).split("\n")[0].split(",")
    )
    digits_page = client.get("/c/digits").get_data(as_text=True)
    assert "wall time of the run" not in digits_page and "Ranked by" not in digits_page


def test_ranking_by_utility_puts_the_faster_of_two_equal_scores_first(client, app, two_runs):
    ids = two_runs["ids"]
    set_measurements(app, ids["ada"], wall_seconds=8.0, peak_memory_mb=100.0)  # ada submitted first, but slower
    set_measurements(app, ids["bob"], wall_seconds=0.8, peak_memory_mb=100.0)
    by_score = board(client)["rows"]
    assert by_score[0]["score"] == by_score[1]["score"]
    assert [row["submission_id"] for row in by_score] == [ids["ada"], ids["bob"]]  # a tie: the earlier first
    assert by_score[0]["rank"] == by_score[1]["rank"] == 1

    changed = patch(client, two_runs["organiser"], rank_by="utility", utility_time_weight=0.5)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["ranked_by"]["weights"] == {"time": 0.5, "memory": 0.0}
    shown = board(client)
    assert shown["ranked_by"]["rule"] == "utility"
    rows = shown["rows"]
    assert [row["submission_id"] for row in rows] == [ids["bob"], ids["ada"]]
    assert [row["rank"] for row in rows] == [1, 2]
    assert rows[0]["utility"] > rows[1]["utility"]
    assert all(row["rank_interval"] is None for row in rows)  # a utility has no interval: none is made up
    assert all(row["ci_low"] is not None for row in rows)  # the score keeps its own
    page = client.get(f"/c/{SLUG}").get_data(as_text=True)
    assert "<th>Utility</th>" in page and "Ranked by utility" in page and "has no interval" in page
    table_html = page[page.index('id="leaderboard"') :]
    assert table_html.index(f"<td>{rows[0]['team']}") < table_html.index(f"<td>{rows[1]['team']}")
    table = list(csv.DictReader(io.StringIO(client.get(f"/c/{SLUG}/leaderboard.csv").get_data(as_text=True))))
    assert [int(row["submission_id"]) for row in table] == [ids["bob"], ids["ada"]] and table[0]["utility"]

    set_measurements(app, ids["bob"], wall_seconds=80.0)  # the order follows the recorded values
    assert [row["submission_id"] for row in board(client)["rows"]] == [ids["ada"], ids["bob"]]


def test_only_organisers_choose_the_ranking_and_every_change_is_in_the_audit_log(client, app, people, hosted):
    refused = patch(client, hosted["ada"], rank_by="utility", utility_time_weight=1)
    assert refused.status_code == 403
    changed = patch(client, hosted["organiser"], rank_by="utility", utility_time_weight=0.25)
    assert changed.status_code == 200, changed.get_json()
    with app.extensions["arena_db"].session() as session:
        log = audit.entries(session, competitions.get(session, SLUG))
        settings = [entry for entry in log if entry.action == "settings"]
        assert len(settings) == 1 and settings[0].username == "orga"
        assert "rank_by: score → utility" in settings[0].detail
        assert "utility_time_weight: 0.0 → 0.25" in settings[0].detail
    unchanged = patch(client, hosted["organiser"], rank_by="utility")  # nothing changed: nothing logged
    assert unchanged.status_code == 200
    both_zero = patch(client, hosted["organiser"], utility_time_weight=0)
    assert both_zero.status_code == 400
    assert "give one of them a weight above 0" in " ".join(both_zero.get_json()["problems"])
    negative = patch(client, hosted["organiser"], utility_memory_weight=-1)
    assert negative.status_code == 400 and "from 0 to 1000" in " ".join(negative.get_json()["problems"])
    with app.extensions["arena_db"].session() as session:
        assert len([e for e in audit.entries(session, competitions.get(session, SLUG)) if e.action == "settings"]) == 1
    files = client.patch(
        "/api/v1/competitions/digits",
        json={"rank_by": "utility", "utility_time_weight": 1},
        headers=auth(hosted["organiser"]),
    )
    assert files.status_code == 400 and "only in a code competition" in " ".join(files.get_json()["problems"])
    wrong = patch(client, hosted["organiser"], rank_by="speed")
    assert wrong.status_code == 400 and "must be one of: score, utility" in " ".join(wrong.get_json()["problems"])


def test_the_admin_form_sets_the_ranking_and_logs_it(client, app, people, hosted):
    people.login("orga")
    page = client.get(f"/c/{SLUG}/admin").get_data(as_text=True)
    assert 'id="rank-by"' in page and 'id="utility-time-weight"' in page
    sent = client.post(
        f"/c/{SLUG}/admin/settings",
        data={
            "csrf_token": people.csrf(),
            "rank_by": "utility",
            "utility_time_weight": "0.5",
            "utility_memory_weight": "0.1",
        },
    )
    assert sent.status_code == 302
    log = client.get(f"/c/{SLUG}/admin").get_data(as_text=True)
    assert "rank_by: score → utility" in log
    assert board(client)["ranked_by"] == {
        **board(client)["ranked_by"],
        "rule": "utility",
        "weights": {"time": 0.5, "memory": 0.1},
    }
    assert 'id="rank-by"' not in client.get("/c/digits/admin").get_data(as_text=True)  # a file competition: no choice


def test_a_task_of_a_suite_stays_a_file_competition(client, app, people, tmp_path):
    """A suite's models enter one predictions file per task: its task cannot become a code competition."""
    from arena.server import organiser_actions

    task = code_bundle(tmp_path / "task")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.toml").write_text(
        f'name = "codes"\ntitle = "Codes"\nversion = 1\n\n[[tasks]]\ntask = "{task}"\nfloor = 0.5\nceiling = 1.0\n'
    )
    with app.extensions["arena_db"].session() as session, session.begin():
        hosted = organiser_actions.host_suite(session, None, str(suite))
        [competition] = hosted.hosted
        slug = competition.slug
    refused = client.patch(
        f"/api/v1/competitions/{slug}",
        json={"submission_kind": "code"},
        headers=auth(people.token("orga", organiser=True)),
    )
    assert refused.status_code == 400 and "task of a benchmark suite" in " ".join(refused.get_json()["problems"])
