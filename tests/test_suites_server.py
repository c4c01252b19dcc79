"""Suites on a server: hosting shares the tasks' competitions, a model's version is entered all or nothing through
the API, the worker ranks models on one joint bootstrap, and nothing hidden leaves through a suite's endpoints."""

from __future__ import annotations

import io
import json

import pytest
from conftest import auth, upload
from flask import g, render_template
from helpers import predictions_csv, sample_csv
from sqlalchemy import func, select

from arena.bundles.loading import builtin_task_names
from arena.db.models import AuditEntry, Competition, Submission, SuiteEntry, SuiteModel, User
from arena.server import competitions, organiser_actions, suite_boards
from arena.server.files import path_for
from arena.server.jobs import pending, score_one
from arena.server.suite_install import enter_reference_models
from arena.server.suite_worker import refresh_suites
from arena.suites.spec import SuiteError

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
"""Each test of the rules runs on SQLite and PostgreSQL."""

SUITE = """name = "pair"
title = "Two tasks"
version = {version}
description = "Digits and ListOps."

[[tasks]]
task = "digits"
{extra}
[[tasks]]
task = "listops"
"""


def card(name: str, *, extra: bool = False, on_test: bool = False) -> str:
    return (
        f'name = "{name}"\nversion = "1"\nparameters = 1234\nframework = "numpy"\nlicence = "MIT"\n'
        f'code_url = "none"\nextra_training_data = {str(extra).lower()}\n'
        f"trained_on_test_inputs = {str(on_test).lower()}\n"
    )


@pytest.fixture
def pair(app, tmp_path):
    """The suite 'pair' (digits and listops) hosted on the app's database; returns its folder."""
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE.format(version=1, extra=""))
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))
    return folder


def enter(client, token: str, files: dict[str, str | bytes], card_text: str | bytes | None, **form):
    data = {key: (io.BytesIO(v.encode() if isinstance(v, str) else v), f"{key}.csv") for key, v in files.items()}
    if card_text is not None:
        raw = card_text.encode() if isinstance(card_text, str) else card_text
        data["card"] = (io.BytesIO(raw), "card.toml")
    return client.post(
        "/api/v1/suites/pair/entries",
        data={**data, **form},
        headers=auth(token),
        content_type="multipart/form-data",
    )


def good_files(digits: float = 0.9, listops: float = 0.6, seed: int = 0) -> dict[str, str]:
    return {"digits": predictions_csv("digits", digits, seed), "listops": predictions_csv("listops", listops, seed)}


def count(app, model) -> int:
    with app.extensions["arena_db"].session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def board_json(client, **args) -> dict:
    response = client.get("/api/v1/suites/pair/leaderboard", query_string=args)
    assert response.status_code == 200, response.data
    return response.get_json()


@BOTH
def test_hosting_shares_the_builtin_competitions_and_hosting_again_changes_nothing(app, pair):
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        again = organiser_actions.host_suite(session, None, str(pair))
        assert not again.changed and again.hosted == []
        described = suite_boards.describe_suite(session, "pair")
    assert [(t.key, t.competition) for t in described.tasks] == [("digits", "digits"), ("listops", "listops")]
    assert count(app, Competition) == len(builtin_task_names())  # the built-in benchmarks only: nothing hosted twice
    assert 0 < described.tasks[0].floor < described.tasks[0].ceiling == 1.0  # the floor measured at hosting


@BOTH
def test_a_new_suite_version_updates_the_suite_and_a_changed_file_under_the_same_version_is_refused(app, pair):
    db = app.extensions["arena_db"]
    (pair / "suite.toml").write_text(SUITE.format(version=1, extra="weight = 3\n"))
    with db.session() as session, session.begin(), pytest.raises(SuiteError, match="Raise 'version' to 2"):
        organiser_actions.host_suite(session, None, str(pair))
    (pair / "suite.toml").write_text(SUITE.format(version=2, extra="weight = 3\n"))
    with db.session() as session, session.begin():
        result = organiser_actions.host_suite(session, None, str(pair))
        assert result.changed and result.suite.version == 2
    with db.session() as session:
        assert [t.weight for t in suite_boards.describe_suite(session, "pair").tasks] == [3.0, 1.0]
        logged = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "suite")).all()
    assert "task 'digits' of suite 'pair' version 2" in logged


BUNDLE = """
name = "halves"
version = 1
kind = "regression"
[data]
file = "all.csv"
target = "y"
[metrics]
primary = "mae"
[submission]
prediction = "value"
[competition]
feedback = "ladder"
"""


@BOTH
def test_a_bundle_task_gets_a_standing_competition_of_its_own_with_rounded_feedback(app, tmp_path, write_bundle):
    bundle = write_bundle(BUNDLE, {"all.csv": "id,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(40))})
    folder = tmp_path / "own"
    folder.mkdir()
    (folder / "suite.toml").write_text(f'name = "own"\nversion = 1\n[[tasks]]\ntask = "{bundle}"\n')
    with app.extensions["arena_db"].session() as session, session.begin():
        [competition] = organiser_actions.host_suite(session, None, str(folder)).hosted
        assert competition.slug == "own-halves" and competitions.is_benchmark(competition)
        assert competition.feedback == "rounded"  # a suite shows every score with its interval, never the Ladder's
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.competition_id == competition.id)).all() == [
            "host",
            "suite",
        ]


@BOTH
def test_every_problem_of_an_entry_is_listed_at_once_and_nothing_is_kept(app, client, people, pair):
    token = people.token("ada")
    files = {"digits": predictions_csv("digits", 0.9, seed=12), "nope": "id,label\n1,2\n"}
    response = enter(client, token, files, 'name = "tiny"\nparameters = "many"\n')
    assert response.status_code == 400
    problems = "\n".join(response.get_json()["problems"])
    assert "there is no task 'nope' in suite 'pair'" in problems
    assert "no predictions file for task 'listops'" in problems
    assert "[licence]" in problems and "[parameters]" in problems  # the card's problems, beside the files'
    assert count(app, Submission) == count(app, SuiteEntry) == count(app, SuiteModel) == 0
    slots = client.get("/api/v1/competitions/digits/submissions", headers=auth(token)).get_json()["slots_left"]
    assert slots == 5  # no daily slot eaten
    assert not path_for(_sha(files["digits"])).exists()


@BOTH
def test_an_entry_without_a_card_or_with_a_huge_one_is_refused(app, client, people, pair):
    token = people.token("ada")
    assert "no model card" in "".join(enter(client, token, good_files(), None).get_json()["problems"])
    huge = card("big") + 'notes = """' + "x" * 100_000 + '"""\n'
    response = enter(client, token, good_files(), huge)
    assert response.status_code == 400 and "must be under" in "".join(response.get_json()["problems"])
    assert count(app, Submission) == 0


@BOTH
def test_another_account_cannot_add_versions_to_your_model(app, client, people, pair):
    ada, bob = people.token("ada"), people.token("bob")
    assert enter(client, ada, good_files(), card("tiny-cnn")).status_code == 202
    for name in ("tiny-cnn", "TINY-CNN"):
        response = enter(client, bob, good_files(seed=1), card(name))
        assert response.status_code == 400
        assert "belongs to another account" in "".join(response.get_json()["problems"])
    assert count(app, SuiteEntry) == 1 and count(app, Submission) == 2


@BOTH
def test_a_team_at_its_daily_limit_on_one_task_refuses_the_whole_entry(app, client, people, pair):
    token = people.token("ada")
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.update_settings(competitions.get(session, "listops"), daily_limit=1)
    assert upload(client, token, "listops", predictions_csv("listops", 0.5, seed=7)).status_code == 202
    files = good_files(seed=11)  # files of their own: another test's may be in the store
    response = enter(client, token, files, card("tiny-cnn"))
    assert response.status_code == 400
    assert "task 'listops': team 'ada' has used all 1 submissions" in "".join(response.get_json()["problems"])
    assert count(app, Submission) == 1 and count(app, SuiteEntry) == 0 and count(app, SuiteModel) == 0
    assert not path_for(_sha(files["digits"])).exists()  # the accepted task's file was not kept either


@BOTH
def test_only_organisers_enter_baselines(app, client, people, pair):
    response = enter(client, people.token("ada"), good_files(), card("tiny"), baseline="1")
    assert response.status_code == 400 and "only organisers" in "".join(response.get_json()["problems"])
    assert (
        enter(client, people.token("boss", organiser=True), good_files(), card("ref"), baseline="1").status_code == 202
    )
    assert board_json(client)["rows"][0]["is_baseline"] is True


@BOTH
def test_hostile_bytes_in_a_task_file_fail_that_task_and_leave_the_model_shown_and_unranked(app, client, people, pair):
    ada, bob = people.token("ada"), people.token("bob")
    hostile = b"\x1f\x8b\x08\x00" + bytes(range(256)) * 64  # a gzip header over garbage
    assert (
        enter(client, ada, {"digits": hostile, "listops": predictions_csv("listops", 0.6)}, card("broken")).status_code
        == 202
    )
    assert enter(client, bob, good_files(), card("fine")).status_code == 202
    people.drain()
    rows = {row["model"]: row for row in board_json(client)["rows"]}
    assert rows["broken"]["scores"]["digits"]["status"] == "failed" and rows["broken"]["missing"] == ["digits"]
    assert not rows["broken"]["ranked"] and rows["broken"]["rank"] is None and rows["broken"]["aggregate"] is None
    assert rows["fine"]["ranked"] and rows["fine"]["rank"] == 1
    assert [row["model"] for row in board_json(client)["rows"]] == ["fine", "broken"]


@BOTH
def test_a_new_version_replaces_the_model_on_the_board_and_the_first_stays_in_its_history(app, client, people, pair):
    token = people.token("ada")
    assert enter(client, token, good_files(0.7, 0.5), card("tiny-cnn")).get_json()["version"] == 1
    assert enter(client, token, good_files(0.95, 0.7, seed=3), card("tiny-cnn")).get_json()["version"] == 2
    people.drain()
    [row] = board_json(client)["rows"]
    assert row["version"] == 2
    model = client.get("/api/v1/suites/pair/models/tiny-cnn").get_json()
    assert [version["number"] for version in model["versions"]] == [2, 1]
    first, second = model["versions"][1]["scores"]["digits"], model["versions"][0]["scores"]["digits"]
    assert first["status"] == second["status"] == "scored" and first["score"] < second["score"]
    assert row["scores"]["digits"] == second


@BOTH
def test_an_identical_file_in_a_new_version_is_the_same_submission(app, client, people, pair):
    token = people.token("ada")
    files = good_files()
    enter(client, token, files, card("tiny-cnn"))
    answer = enter(client, token, files, card("tiny-cnn")).get_json()
    assert answer["version"] == 2 and all(s["duplicate"] for s in answer["submissions"].values())
    assert count(app, Submission) == 2


@BOTH
def test_the_worker_ranks_models_and_identical_predictions_share_a_rank_and_an_interval(app, client, people, pair):
    files = good_files(0.8, 0.6)
    for name in ("ada", "bob"):
        assert enter(client, people.token(name), files, card(f"{name}-model")).status_code == 202
    assert enter(client, people.token("cyd"), good_files(0.95, 0.8, seed=2), card("cyd-model")).status_code == 202
    assert board_json(client)["pending"] is True
    people.drain()
    board = board_json(client)
    assert board["pending"] is False
    rows = {row["model"]: row for row in board["rows"]}
    assert [row["model"] for row in board["rows"]][0] == "cyd-model" and rows["cyd-model"]["rank"] == 1
    ada, bob = rows["ada-model"], rows["bob-model"]
    assert ada["aggregate"] == bob["aggregate"] and ada["aggregate_ci"] == bob["aggregate_ci"]
    assert ada["rank"] == bob["rank"] == 2 and ada["rank_interval"] == bob["rank_interval"]
    low, high = ada["aggregate_ci"]
    assert low <= ada["aggregate"] <= high and 0 <= ada["p_best"] <= 1


@BOTH
def test_the_filters_leave_models_out_and_rank_the_others(app, client, people, pair):
    enter(client, people.token("ada"), good_files(1.0, 1.0), card("big-data", extra=True))
    enter(client, people.token("bob"), good_files(0.85, 0.75, seed=1), card("peeker", on_test=True))
    enter(client, people.token("cyd"), good_files(0.6, 0.4, seed=2), card("honest"))
    people.drain()
    assert [r["model"] for r in board_json(client)["rows"]] == ["big-data", "peeker", "honest"]
    shown = board_json(client, hide_extra_data="1")
    assert [(r["model"], r["rank"]) for r in shown["rows"]] == [("peeker", 1), ("honest", 2)]
    shown = board_json(client, hide_extra_data="1", hide_trained_on_test="true")
    assert [(r["model"], r["rank"]) for r in shown["rows"]] == [("honest", 1)]
    assert client.get("/api/v1/suites/pair/leaderboard?hide_extra_data=maybe").status_code == 400


@BOTH
def test_the_api_shows_the_domain_s_numbers_as_json_and_csv(app, client, people, pair):
    enter(client, people.token("ada"), good_files(0.9, 0.7), card("one"))
    enter(client, people.token("bob"), good_files(0.8, 0.6, seed=1), card("-2-3"))
    people.drain()
    with app.extensions["arena_db"].read_session() as session, session.begin():
        board = suite_boards.suite_board(session, "pair")
    assert board_json(client) == json.loads(json.dumps(board.to_dict()))
    csv_text = client.get("/api/v1/suites/pair/leaderboard.csv").get_data(as_text=True)
    assert csv_text == client.get("/api/v1/suites/pair/leaderboard?format=csv").get_data(as_text=True)
    assert csv_text == suite_boards.suite_board_csv(board)
    assert ",'-2-3," in csv_text  # a model name a spreadsheet would compute is text there
    listed = client.get("/api/v1/suites").get_json()
    assert [(s["name"], s["models"]) for s in listed] == [("pair", 2)]


@BOTH
def test_unknown_suites_and_models_are_404(app, client, pair):
    assert client.get("/api/v1/suites/nope").status_code == 404
    assert client.get("/api/v1/suites/nope/leaderboard").status_code == 404
    assert client.get("/api/v1/suites/pair/models/nobody").status_code == 404


@BOTH
def test_no_hidden_label_leaves_through_a_suite_s_endpoints(app, client, people, pair):
    """Before a reveal only public scores show (no private score, no per-row data, no file hash); after the
    reveal of one task's competition, that task shows its private score."""
    enter(client, people.token("ada"), good_files(0.9, 0.7), card("one"))
    people.drain()
    answers = [
        board_json(client),
        client.get("/api/v1/suites/pair/models/one").get_json(),
        client.get("/api/v1/suites").get_json(),
        client.get("/api/v1/suites/pair").get_json(),
    ]
    keys = set().union(*(_keys(answer) for answer in answers))
    assert not keys & {"private", "private_ci", "private_primary", "rows_sha256", "file_sha256", "problems"}
    assert max(_longest_list(answer) for answer in answers) < 10  # no per-row anything: lists are of tasks, models
    with app.extensions["arena_db"].session() as session, session.begin():
        digits = session.scalars(
            select(Submission).where(Submission.competition_id == competitions.get(session, "digits").id)
        ).one()
        public, private = digits.public_primary, digits.private_primary
    cell = board_json(client)["rows"][0]["scores"]["digits"]
    assert cell["score"] == round(public, 4) and board_json(client)["tasks"][0]["board"] == "public"
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.reveal(competitions.get(session, "digits"))
    people.drain()
    board = board_json(client)
    assert board["tasks"][0]["board"] == "private" and board["rows"][0]["scores"]["digits"]["score"] == round(
        private, 4
    )


@BOTH
def test_reference_models_shipped_with_a_suite_are_entered_once_as_baselines(app, client, pair):
    model = pair / "models" / "reference"
    model.mkdir(parents=True)
    (model / "card.toml").write_text(card("reference"))
    (model / "digits.csv").write_text(sample_csv("digits"))
    (model / "listops.csv").write_text(sample_csv("listops"))
    (pair / "models" / "half").mkdir()
    (pair / "models" / "half" / "card.toml").write_text(card("half"))  # no predictions: left out
    db = app.extensions["arena_db"]
    assert enter_reference_models(db, "pair", pair) == ["reference"]
    assert enter_reference_models(db, "pair", pair) == []  # entered already: nothing again
    [row] = board_json(client)["rows"]
    assert row["model"] == "reference" and row["owner"] == "arena-reference" and row["is_baseline"]
    assert row["tier"] == "reported"  # a baseline without a run record is not a reference run


@BOTH
def test_a_reference_model_that_cannot_read_a_task_is_entered_shown_and_never_ranked_over_fewer_tasks(
    app, client, people, pair
):
    """An image model writes no text: its run record's ``skipped`` names the task it has no file for. It is entered
    with the files it has and shown beside the ranked models with that task missing, never with an aggregate
    over fewer tasks; a folder missing a file its record does not explain is still left out."""
    models = pair / "models"
    for name, files, skipped in (
        ("complete", ["digits", "listops"], []),
        ("imageonly", ["digits"], ["listops"]),
        ("unexplained", ["digits"], []),  # its record trained every task, yet a file is missing
    ):
        (models / name).mkdir(parents=True)
        (models / name / "card.toml").write_text(card(name) + f"\n[run]\nseed = 0\nskipped = {json.dumps(skipped)}\n")
        for key in files:
            (models / name / f"{key}.csv").write_text(predictions_csv(key, 0.8 if name == "complete" else 0.9))
    db = app.extensions["arena_db"]
    assert enter_reference_models(db, "pair", pair) == ["complete", "imageonly"]
    assert enter_reference_models(db, "pair", pair) == []
    people.drain()
    rows = {row["model"]: row for row in board_json(client)["rows"]}
    assert set(rows) == {"complete", "imageonly"}
    partial = rows["imageonly"]
    assert partial["scores"]["digits"]["status"] == "scored" and partial["scores"]["listops"]["status"] == "missing"
    assert partial["missing"] == ["listops"] and partial["is_baseline"]
    assert not partial["ranked"] and partial["rank"] is None and partial["aggregate"] is None
    assert partial["scores"]["digits"]["score"] > rows["complete"]["scores"]["digits"]["score"]  # better, unranked
    assert rows["complete"]["ranked"] and rows["complete"]["rank"] == 1 and rows["complete"]["aggregate"] is not None
    assert [row["model"] for row in board_json(client)["rows"]] == ["complete", "imageonly"]


@BOTH
def test_only_arena_s_reference_models_may_leave_a_task_without_a_file(app, people, pair):
    from arena.server import suites

    db = app.extensions["arena_db"]
    people.token("ada")
    with db.session() as session:
        ada = session.scalar(select(User).where(User.username == "ada"))
        with pytest.raises(SuiteError, match="only Arena's reference models may leave a task without a file"):
            suites.submit_entry(
                session,
                "pair",
                ada,
                load_card_text(card("half")),
                {"digits": (io.BytesIO(predictions_csv("digits", 0.9).encode()), "digits.csv")},
                skipped=["listops"],
            )
    assert count(app, SuiteEntry) == 0 and count(app, Submission) == 0


def load_card_text(text: str):
    from arena.suites.cards import read_card

    return read_card(text.encode(), "card.toml")


@BOTH
def test_the_builtin_suite_is_hosted_over_the_builtin_benchmarks_at_start_up(app, client):
    from arena.server.suite_install import prepare_builtin_suites

    db = app.extensions["arena_db"]
    entered = prepare_builtin_suites(db)
    assert prepare_builtin_suites(db) == []  # a restart enters nothing again
    core = client.get("/api/v1/suites/core").get_json()
    assert [task["competition"] for task in core["tasks"]] == ["digits", "mnist1d", "listops", "sunspots", "dates"]
    assert count(app, Competition) == len(builtin_task_names())
    rows = client.get("/api/v1/suites/core/leaderboard").get_json()["rows"]
    assert sorted(row["model"] for row in rows) == sorted(entered)
    assert {"cnn-reference", "gru-reference", "mlp-reference"} <= set(entered)
    for row in rows:  # the image models write no text: entered without a dates file, shown with dates missing
        assert (row["scores"]["dates"]["status"] == "missing") == (row["model"] in ("cnn-reference", "mlp-reference"))
    assert all(row["is_baseline"] and row["owner"] == "arena-reference" for row in rows)
    assert all(row["tier"] == "reference" for row in rows)  # entered with their run records: measured, vouched for
    assert all(row["efficiency"]["training"]["source"] == "measured" for row in rows)


@BOTH
def test_arena_suite_host_hosts_a_suite_from_the_command_line(app, tmp_path, capsys):
    import argparse

    from arena.server.commands import register_suite

    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE.format(version=1, extra=""))
    parser = argparse.ArgumentParser()
    register_suite(parser.add_subparsers())
    url = app.extensions["arena_db"].engine.url.render_as_string(hide_password=False)
    args = parser.parse_args(["host", str(folder), "--database", url])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "hosted suite 'pair' version 1" in printed and "digits: shares /c/digits" in printed
    assert args.func(args) == 0
    assert "nothing changed" in capsys.readouterr().out


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(set(), *(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(set(), *(_keys(v) for v in value))
    return set()


def _longest_list(value) -> int:
    if isinstance(value, dict):
        return max([0, *(_longest_list(v) for v in value.values())])
    if isinstance(value, list):
        return max([len(value), *(_longest_list(v) for v in value)])
    return 0


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.slow
def test_a_participant_enters_a_folder_of_predictions_with_the_client(live_server, tmp_path, capsys):
    """``arena suite submit`` over real HTTP: a folder of TASK.csv files and a card, then --wait for the board."""
    import argparse

    from arena.client import cmd_suite_submit, submit_suite_frames
    from arena.suites.cards import read_card

    server = live_server()
    folder = tmp_path / "suite"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE.format(version=1, extra=""))
    with server.app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))
    token = server.people.token("ada")
    predictions = tmp_path / "predictions"
    predictions.mkdir()
    for key, text in good_files(0.9, 0.7, seed=21).items():
        (predictions / f"{key}.csv").write_text(text)
    (predictions / "README.md").write_text("not a predictions file: left alone")
    (tmp_path / "card.toml").write_text(card("tiny-cnn"))
    args = argparse.Namespace(
        suite="pair", dir=str(predictions), model=str(tmp_path / "card.toml"), server=server.url, token=token, wait=True
    )
    assert cmd_suite_submit(args) == 0
    printed = capsys.readouterr().out
    assert "model 'tiny-cnn' version 1 entered in suite 'pair'" in printed and "aggregate " in printed
    import pandas as pd

    frames = {key: pd.read_csv(io.StringIO(text)) for key, text in good_files(0.8, 0.6, seed=22).items()}
    answer = submit_suite_frames(server.url, token, "pair", frames, read_card(card("tiny-cnn").encode()))
    assert answer["version"] == 2 and set(answer["submissions"]) == {"digits", "listops"}


def score_queued(app) -> None:
    """Score every queued submission as the worker does, without the statistics pass that follows it."""
    db, queue = app.extensions["arena_db"], app.extensions["arena_queue"]
    while queued := pending(db):
        for submission_id in queued:
            score_one(db, submission_id, queue.slots[0])


@BOTH
def test_a_kept_board_shows_a_new_model_a_new_version_and_a_new_score_on_the_next_request(app, client, people, pair):
    visitor = app.test_client()  # no cookie: the page is the same for every such visitor, and kept whole
    ada = people.token("ada")
    enter(client, ada, good_files(0.8, 0.6), card("first"))
    score_queued(app)
    for _ in range(2):  # the second answers are the kept ones
        assert [row["model"] for row in board_json(client)["rows"]] == ["first"]
        assert "second" not in visitor.get("/s/pair").get_data(as_text=True)
        assert "second" not in client.get("/s/pair/leaderboard.csv").get_data(as_text=True)
        assert [v["number"] for v in client.get("/api/v1/suites/pair/models/first").get_json()["versions"]] == [1]
    enter(client, people.token("bob"), good_files(0.9, 0.7, seed=1), card("second"))  # queued, not scored yet
    rows = {row["model"]: row for row in board_json(client)["rows"]}
    assert rows["second"]["scores"]["digits"]["status"] == "queued"
    assert "second" in visitor.get("/s/pair").get_data(as_text=True)
    assert "second" in client.get("/s/pair/leaderboard.csv").get_data(as_text=True)
    assert enter(client, ada, good_files(0.8, 0.6), card("first")).get_json()["version"] == 2  # the same files
    assert {row["model"]: row["version"] for row in board_json(client)["rows"]}["first"] == 2
    assert [v["number"] for v in client.get("/api/v1/suites/pair/models/first").get_json()["versions"]] == [2, 1]
    score_queued(app)
    rows = {row["model"]: row for row in board_json(client)["rows"]}
    assert rows["second"]["scores"]["digits"]["status"] == "scored"
    assert f"{rows['second']['scores']['digits']['score']:.4f}" in visitor.get("/s/pair").get_data(as_text=True)


@BOTH
def test_statistics_the_worker_stores_show_on_the_next_request(app, client, people, pair):
    visitor = app.test_client()
    enter(client, people.token("ada"), good_files(0.8, 0.6), card("first"))
    enter(client, people.token("bob"), good_files(0.95, 0.8, seed=2), card("second"))
    score_queued(app)
    for _ in range(2):  # kept while the statistics are pending
        assert board_json(client)["pending"] is True
        assert board_json(client, hide_extra_data="1")["pending"] is True
        assert 'id="suite-pending"' in visitor.get("/s/pair").get_data(as_text=True)
        assert client.get("/s/pair/leaderboard.csv").get_data(as_text=True).splitlines()[1].startswith(",")
    assert refresh_suites(app.extensions["arena_db"]) == 1  # no row of the database changes: only the file store
    board = board_json(client)
    assert board["pending"] is False and [(r["model"], r["rank"]) for r in board["rows"]] == [
        ("second", 1),
        ("first", 2),
    ]
    assert board_json(client, hide_extra_data="1")["rows"][0]["rank"] == 1
    page = visitor.get("/s/pair").get_data(as_text=True)
    assert 'id="suite-pending"' not in page and f"{board['rows'][0]['aggregate']:.4f}" in page
    assert client.get("/s/pair/leaderboard.csv").get_data(as_text=True).splitlines()[1].startswith("1,second,")


def main_of(page: str) -> str:
    return page[page.index("<main>") : page.index("</main>")]


@BOTH
def test_a_signed_in_visitor_s_suite_page_is_the_page_rendered_for_them_afresh(app, client, people, pair):
    enter(client, people.token("ada"), good_files(0.8, 0.6), card("first", extra=True))
    enter(client, people.token("bob"), good_files(0.95, 0.8, seed=2), card("second"))
    people.drain()
    people.token("cyd")
    people.login("cyd")
    db = app.extensions["arena_db"]
    for args in ({}, {"hide_extra_data": "1"}):
        for _ in range(2):  # the second answer is made of the kept board part
            page = client.get("/s/pair", query_string=args).get_data(as_text=True)
            assert 'id="account-link">cyd<' in page
        with db.read_session() as session, session.begin(), app.test_request_context("/s/pair", query_string=args):
            g.user = session.scalar(select(User).where(User.username == "cyd"))
            board = suite_boards.suite_board(session, "pair", hide_extra_data=bool(args))
            assert main_of(page) == main_of(render_template("suite.html", board=board))
