"""Suites attacked as a hostile participant would: limits, ownership, hostile cards and files, hidden labels, the
board, the reference account, and odd input, through the API, the pages and the client, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import io
import json

import pytest
from conftest import auth, upload
from helpers import predictions_csv, race
from sqlalchemy import func, select

from arena.db.models import Submission, SuiteEntry, SuiteEntryFile, SuiteModel, User
from arena.server import competitions, organiser_actions, submissions
from arena.server.files import files_dir, path_for

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)

SUITE = """name = "pair"
version = 1

[[tasks]]
task = "digits"

[[tasks]]
task = "listops"
"""

REQUIRED = (
    'version = "1"\nparameters = 1234\nframework = "numpy"\nlicence = "MIT"\ncode_url = "none"\n'
    "extra_training_data = false\ntrained_on_test_inputs = false\n"
)


def card(name: str, extra: str = "") -> str:
    return f'name = "{name}"\n{REQUIRED}{extra}'


def json_card(name: str, **fields) -> bytes:
    return json.dumps(
        {
            "name": name,
            "version": "1",
            "parameters": 1234,
            "framework": "numpy",
            "licence": "MIT",
            "code_url": "none",
            "extra_training_data": False,
            "trained_on_test_inputs": False,
            **fields,
        }
    ).encode()


@pytest.fixture
def pair(app, tmp_path):
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE)
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))
    return folder


def files_for(digits: float = 0.9, listops: float = 0.6, seed: int = 0) -> dict[str, str]:
    return {"digits": predictions_csv("digits", digits, seed), "listops": predictions_csv("listops", listops, seed)}


def post(client, token: str, parts: list[tuple[str, bytes | str, str]], suite: str = "pair", **form):
    """An entry of raw parts: (part name, bytes, file name), in order, repeats allowed."""
    from werkzeug.datastructures import MultiDict

    data = MultiDict()
    for name, content, file_name in parts:
        raw = content.encode() if isinstance(content, str) else content
        data.add(name, (io.BytesIO(raw), file_name))
    for key, value in form.items():
        data.add(key, value)
    return client.post(
        f"/api/v1/suites/{suite}/entries", data=data, headers=auth(token), content_type="multipart/form-data"
    )


def enter(client, token: str, files: dict[str, str | bytes], card_text: str | bytes, card_name="card.toml", **form):
    parts = [("card", card_text, card_name)] + [(key, value, f"{key}.csv") for key, value in files.items()]
    return post(client, token, parts, **form)


def problems(response) -> str:
    return "\n".join(response.get_json()["problems"])


def count(app, model) -> int:
    with app.extensions["arena_db"].session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def nothing_stored(app, *texts: str | bytes) -> bool:
    return count(app, Submission) == count(app, SuiteEntry) == count(app, SuiteModel) == count(
        app, SuiteEntryFile
    ) == 0 and not any(path_for(_sha(text)).exists() for text in texts)


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def board(client, **args) -> dict:
    response = client.get("/api/v1/suites/pair/leaderboard", query_string=args)
    assert response.status_code == 200, response.data
    return response.get_json()


# --- limits ------------------------------------------------------------------------------


@BOTH
def test_n_concurrent_entries_against_a_limit_of_n_keep_exactly_n(app, client, people, pair):
    token = people.token("ada")
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.update_settings(competitions.get(session, "digits"), daily_limit=2)

    def work(i: int):
        local = app.test_client()
        return enter(local, token, files_for(0.5 + i / 20, 0.5 + i / 20, seed=40 + i), card(f"m{i}")).status_code

    codes = race(5, work)
    assert sorted(codes) == [202, 202, 400, 400, 400], codes
    assert count(app, SuiteEntry) == count(app, SuiteModel) == 2 and count(app, Submission) == 4


@BOTH
def test_a_team_at_its_failure_limit_on_one_task_cannot_enter(app, client, people, pair, monkeypatch):
    monkeypatch.setenv("ARENA_FAILURE_LIMIT", "1")
    token = people.token("ada")
    assert upload(client, token, "listops", predictions_csv("listops", 0.5, seed=50)).status_code == 202
    with app.extensions["arena_db"].session() as session, session.begin():
        failed = session.scalars(select(Submission)).one()
        failed.status, failed.failure_kind = "failed", "timeout"  # a free failure, as a kill for time is
    files = files_for(seed=51)
    response = enter(client, token, files, card("after-failure"))
    assert response.status_code == 400 and "could not be scored" in problems(response)
    assert count(app, SuiteEntry) == count(app, SuiteModel) == 0 and count(app, Submission) == 1
    assert not path_for(_sha(files["digits"])).exists()


@BOTH
def test_a_refused_entry_leaves_every_slot_free(app, client, people, pair):
    token = people.token("ada")
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.update_settings(competitions.get(session, "listops"), daily_limit=1)
    assert enter(client, token, files_for(seed=60), card("first")).status_code == 202
    refused = enter(client, token, files_for(seed=61), card("second"))
    assert refused.status_code == 400 and "task 'listops'" in problems(refused)
    slots = client.get("/api/v1/competitions/digits/submissions", headers=auth(token)).get_json()["slots_left"]
    assert slots == 4  # the first entry's digits file only: the refused one ate none
    assert count(app, SuiteModel) == 1


@BOTH
def test_copies_of_one_model_under_new_names_are_refused(app, client, people, pair):
    """A new model whose every file is already entered under another of the owner's models costs no slot (each
    file is a duplicate), so it would let one account fill the board with copies for free."""
    token = people.token("ada")
    files = files_for(seed=70)
    assert enter(client, token, files, card("original")).status_code == 202
    copy = enter(client, token, files, card("copy"))
    assert copy.status_code == 400
    assert "already entered as model 'original' version 1" in problems(copy)
    assert count(app, SuiteModel) == count(app, SuiteEntry) == 1
    again = enter(client, token, files, card("original"))  # the same files as a new version of itself: allowed
    assert again.status_code == 202 and again.get_json()["version"] == 2


# --- ownership ----------------------------------------------------------------------------


@BOTH
def test_two_accounts_racing_for_one_new_model_name_get_one_model(app, client, people, pair):
    tokens = [people.token(f"racer{i}") for i in range(4)]

    def work(i: int):
        local = app.test_client()
        return enter(local, tokens[i], files_for(seed=80 + i), card("Contested" if i % 2 else "contested"))

    responses = race(4, work)
    assert sorted(r.status_code for r in responses) == [202, 400, 400, 400]
    for refused in (r for r in responses if r.status_code == 400):
        assert "another account" in problems(refused) or "belongs to another account" in problems(refused)
    assert count(app, SuiteModel) == count(app, SuiteEntry) == 1 and count(app, Submission) == 2


@BOTH
def test_concurrent_versions_of_one_model_get_distinct_numbers(app, client, people, pair):
    token = people.token("ada")

    def work(i: int):
        return enter(app.test_client(), token, files_for(0.6 + i / 20, 0.6, seed=85 + i), card("busy"))

    responses = race(4, work)
    assert [r.status_code for r in responses] == [202] * 4
    assert sorted(r.get_json()["version"] for r in responses) == [1, 2, 3, 4]
    assert count(app, SuiteModel) == 1 and count(app, SuiteEntry) == 4


@BOTH
def test_a_disqualified_team_s_model_is_shown_unranked(app, client, people, pair):
    ada, bob = people.token("ada"), people.token("bob")
    assert enter(client, ada, files_for(1.0, 1.0, seed=90), card("cheat")).status_code == 202
    assert enter(client, bob, files_for(0.6, 0.5, seed=91), card("honest")).status_code == 202
    people.drain()
    with app.extensions["arena_db"].session() as session, session.begin():
        competition = competitions.get(session, "digits")
        user = session.scalars(select(User).where(User.username == "ada")).one()
        from arena.server.teams import team_of

        submissions.disqualify_team(session, team_of(session, competition, user))
    people.drain()
    rows = {row["model"]: row for row in board(client)["rows"]}
    assert (
        rows["cheat"]["scores"]["digits"]["status"] == "disqualified"
        and rows["cheat"]["scores"]["digits"]["score"] is None
    )
    assert not rows["cheat"]["ranked"] and rows["cheat"]["rank"] is None and rows["cheat"]["aggregate"] is None
    assert rows["honest"]["rank"] == 1
    refused = enter(client, ada, files_for(0.9, 0.9, seed=92), card("cheat"))
    assert refused.status_code == 400 and "disqualified" in problems(refused)


# --- hostile cards -------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("depth", [40, 600, 5000])
def test_a_deeply_nested_card_is_refused_with_a_message(app, client, people, pair, depth):
    raw = json_card("deep")[:-1] + b', "run": {"x": ' + b"[" * depth + b"]" * depth + b"}}"
    files = files_for(seed=100 + depth)
    response = enter(client, people.token("ada"), files, raw, "card.json")
    assert response.status_code == 400, response.data[:300]
    assert "card.json" in problems(response)
    assert nothing_stored(app, *files.values())


@BOTH
@pytest.mark.parametrize(
    "run",
    [
        {"tasks": 5},
        {"tasks": {"digits": 1}},
        {"tasks": {"digits": {"version": 1}, "listops": "fine"}},
        {"tasks": {"digits": []}},
    ],
)
def test_a_run_record_whose_tasks_are_not_tables_is_refused(app, client, people, pair, run):
    """The model page lays ``run.tasks`` out as a table of tables: anything else is refused at entry."""
    response = enter(client, people.token("ada"), files_for(seed=110), json_card("odd-run", run=run), "card.json")
    assert response.status_code == 400 and "[run]" in problems(response)
    assert count(app, SuiteModel) == 0


@BOTH
@pytest.mark.parametrize("text", ["nul\x00byte", "bell\x07", "esc\x1b[31mred", "rtl\u202etxt.exe", "zero\u200bwidth"])
def test_control_and_invisible_characters_in_a_card_are_refused(app, client, people, pair, text):
    for field in ("framework", "notes", "version"):
        response = enter(
            client,
            people.token(f"u{abs(hash((text, field))) % 10**6}"),
            files_for(seed=120),
            json_card("ctrl", **{field: text}),
            "card.json",
        )
        assert response.status_code == 400, (field, response.data[:300])
        assert f"[{field}]" in problems(response) and "control or invisible" in problems(response)
    assert count(app, SuiteModel) == 0


@BOTH
def test_html_in_every_card_field_is_escaped_and_urls_never_become_links(app, client, people, pair):
    script = "<script>alert(1)</script>"
    hostile = json_card(
        "xss",
        version=script,
        framework=script,
        licence=script,
        code_url="javascript:alert(1)",
        paper_url="JaVaScRiPt:alert(document.cookie)",
        commit=script,
        hardware=f'"><img src=x onerror=alert(1)>{script}',
        training_time=script,
        notes=f"[click](javascript:alert(1)) {script}",
        software={script: script},
        run={script: script, "tasks": {"digits": {script: script}}},
    )
    assert enter(client, people.token("ada"), files_for(seed=130), hostile, "card.json").status_code == 202
    people.drain()
    for path in ("/s/pair/models/xss", "/s/pair", "/s"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert 'href="javascript' not in page.lower() and "href='javascript" not in page.lower(), path
    assert "&lt;script&gt;" in client.get("/s/pair/models/xss").get_data(as_text=True)
    csv_text = client.get("/s/pair/leaderboard.csv").get_data(as_text=True)
    assert "javascript:alert(1)" in csv_text  # a CSV is data: shown as text there, never a link


@BOTH
@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "a/b", "..", ".hidden", "con\\aux", "ｔｉｎｙ", "tiny cnn", "x" * 65, "", "%2e%2e"]
)
def test_model_names_that_are_paths_or_not_ascii_are_refused(app, client, people, pair, name):
    response = enter(client, people.token("ada"), files_for(seed=140), json_card(name), "card.json")
    assert response.status_code == 400 and "[name]" in problems(response)
    assert count(app, SuiteModel) == 0


@BOTH
@pytest.mark.parametrize(
    "literal, field",
    [
        ('"parameters": NaN', "parameters"),
        ('"parameters": 1e400', "parameters"),
        ('"parameters": -1', "parameters"),
        ('"run": {"seconds": Infinity}', "run"),
        ('"run": {"seconds": -Infinity}', "run"),
        ('"software": {"numpy": 2}', "software"),
        ('"parameters": ' + "9" * 5000, None),
        ('"extra_training_data": "false"', "extra_training_data"),
    ],
)
def test_nan_inf_and_huge_numbers_in_a_card_are_refused(app, client, people, pair, literal, field):
    raw = json_card("numbers")[:-1] + b", " + literal.encode() + b"}"
    response = enter(client, people.token("ada"), files_for(seed=150), raw, "card.json")
    assert response.status_code == 400, response.data[:300]
    if field:
        assert f"[{field}]" in problems(response)
    assert count(app, SuiteModel) == 0


# --- hostile files -------------------------------------------------------------------------


@BOTH
def test_two_cards_two_files_for_one_task_and_unknown_parts_are_refused(app, client, people, pair):
    token = people.token("ada")
    files = files_for(seed=160)
    parts = [("card", card("twice"), "card.toml"), ("card", card("other"), "card.toml")]
    parts += [(k, v, f"{k}.csv") for k, v in files.items()]
    response = post(client, token, parts)
    assert response.status_code == 400 and "card" in problems(response) and "more than once" in problems(response)
    parts = [("card", card("twice"), "card.toml"), ("digits", files["digits"], "a.csv")]
    parts += [("digits", predictions_csv("digits", 0.3, 161), "b.csv"), ("listops", files["listops"], "l.csv")]
    response = post(client, token, parts)
    assert response.status_code == 400 and "digits" in problems(response)
    parts = [("card", card("extra"), "card.toml"), *((k, v, f"{k}.csv") for k, v in files.items())]
    parts += [("../../etc/passwd", "id,label\n", "../../x.csv"), ("DIGITS", files["digits"], "D.csv")]
    response = post(client, token, parts)
    assert response.status_code == 400
    assert "there is no task '../../etc/passwd'" in problems(response) and "there is no task 'DIGITS'" in problems(
        response
    )
    assert nothing_stored(app, *files.values())


@BOTH
def test_file_names_with_paths_and_control_characters_are_stored_as_plain_names(app, client, people, pair):
    files = files_for(seed=170)
    parts = [("card", card("named"), "../../card.toml")]
    parts += [
        ("digits", files["digits"], "C:\\Users\\evil\x00\u202e.csv"),
        ("listops", files["listops"], "/etc/x\x07.csv"),
    ]
    response = post(client, people.token("ada"), parts)
    assert response.status_code == 202, response.data
    names = {key: s["file_name"] for key, s in response.get_json()["submissions"].items()}
    assert names["listops"] == "x.csv" and names["digits"].endswith("evil.csv"), names
    assert not any(ch in name for name in names.values() for ch in "/\\\x00\u202e"), names


@BOTH
def test_a_gzip_bomb_for_one_task_fails_that_task_and_nothing_else(app, client, people, pair):
    bomb = gzip.compress(b"id,label\n" + b"0" * (256 * 2**20), compresslevel=9)
    assert len(bomb) < 2**20
    files = files_for(seed=180)
    parts = [
        ("card", card("bomb"), "card.toml"),
        ("digits", bomb, "digits.csv.gz"),
        ("listops", files["listops"], "l.csv"),
    ]
    assert post(client, people.token("ada"), parts).status_code == 202
    assert enter(client, people.token("bob"), files_for(0.7, 0.7, seed=181), card("fine")).status_code == 202
    people.drain()
    rows = {row["model"]: row for row in board(client)["rows"]}
    assert rows["bomb"]["scores"]["digits"]["status"] == "failed" and not rows["bomb"]["ranked"]
    assert rows["fine"]["rank"] == 1
    model = client.get("/api/v1/suites/pair/models/bomb").get_json()
    assert "problems" not in json.dumps(model)


def test_an_entry_over_the_request_limit_is_refused_and_leaves_nothing(people_factory, database_url, tmp_path):
    app, client, people = people_factory(DATABASE_URL=database_url, MAX_UPLOAD_BYTES=200_000)
    folder = tmp_path / "pair"
    folder.mkdir()
    (folder / "suite.toml").write_text(SUITE)
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))
    token = people.token("ada")
    before = {p for p in files_dir().rglob("*") if p.is_file()}
    huge = "id,label\n" + "1,2\n" * 100_000
    response = enter(client, token, {"digits": huge, "listops": huge}, card("huge"))
    assert response.status_code in (400, 413), response.status_code
    assert "larger than the limit" in problems(response)
    assert {p for p in files_dir().rglob("*") if p.is_file()} <= before | {
        p for p in files_dir().rglob("*") if p.is_file() and "suites" in p.parts
    }
    assert count(app, Submission) == 0


# --- hidden labels --------------------------------------------------------------------------


@BOTH
def test_errors_and_pages_of_a_suite_name_no_stored_path_or_row(app, client, people, pair, arena_home):
    token = people.token("ada")
    response = enter(client, token, {"digits": b"\x00\xff" * 10, "listops": "id,label\n"}, card("junk"))
    assert response.status_code == 202
    people.drain()
    texts = [
        client.get("/api/v1/suites/pair/models/junk").get_data(as_text=True),
        client.get("/s/pair/models/junk").get_data(as_text=True),
        client.get("/s/pair").get_data(as_text=True),
        client.get("/s/pair/leaderboard.csv").get_data(as_text=True),
        board(client) and json.dumps(board(client)),
    ]
    for text in texts:
        assert str(arena_home) not in text and "Traceback" not in text


# --- the board -------------------------------------------------------------------------------


@BOTH
def test_a_model_missing_a_task_after_a_new_version_is_shown_unranked_never_zero(app, client, people, pair):
    ada, bob = people.token("ada"), people.token("bob")
    assert enter(client, ada, files_for(0.9, 0.9, seed=200), card("flaky")).status_code == 202
    assert enter(client, bob, files_for(0.2, 0.2, seed=201), card("weak")).status_code == 202
    people.drain()
    assert board(client)["rows"][0]["model"] == "flaky"
    broken = {"digits": b"not,a\ncsv,file,at,all\n", "listops": predictions_csv("listops", 0.9, 202)}
    assert enter(client, ada, broken, card("flaky")).get_json()["version"] == 2
    people.drain()
    rows = {row["model"]: row for row in board(client)["rows"]}
    assert rows["flaky"]["version"] == 2 and rows["flaky"]["missing"] == ["digits"]
    assert rows["flaky"]["rank"] is None and rows["flaky"]["aggregate"] is None
    assert rows["flaky"]["scores"]["digits"]["score"] is None
    assert rows["weak"]["rank"] == 1
    history = client.get("/api/v1/suites/pair/models/flaky").get_json()["versions"]
    assert [v["number"] for v in history] == [2, 1] and history[1]["scores"]["digits"]["status"] == "scored"


# --- the reference account ---------------------------------------------------------------------


@BOTH
def test_a_participant_named_like_the_reference_account_gets_nothing_in_arena_s_name(app, client, people, caplog):
    from arena.server.suite_install import prepare_builtin_suites

    token = people.token("Arena-Reference")
    assert prepare_builtin_suites(app.extensions["arena_db"]) == []
    with app.extensions["arena_db"].session() as session:
        user = session.scalars(select(User).where(User.username == "Arena-Reference")).one()
        assert not user.is_organiser
        assert session.scalar(select(func.count()).select_from(User)) == 1
    assert client.get("/api/v1/suites/core/leaderboard").get_json()["rows"] == []
    assert token


# --- odd input -------------------------------------------------------------------------------------


@BOTH
def test_odd_requests_get_a_clear_answer_never_a_crash(app, client, people, pair):
    token = people.token("ada")
    odd = [
        client.post("/api/v1/suites/pair/entries", headers=auth(token)),
        client.post("/api/v1/suites/pair/entries", headers=auth(token), json={"card": "x"}),
        client.post("/api/v1/suites/pair/entries", headers=auth(token), data=b"\x00" * 100, content_type="text/csv"),
        post(client, token, [("card", b"\xff\xfe\x00", "card.toml")]),
        post(client, token, [("card", card("nosuite"), "card.toml")], suite="nope"),
        post(client, token, [("card", card("x"), "card.toml")], suite="..%2f..%2fetc"),
        post(client, token, [("card", b"", "")]),
        post(client, token, [("card", b"[]", "card.json")]),
        post(client, token, [("card", b'"text"', "card.json")]),
        post(client, token, [("card", card("x"), "card.toml"), ("", b"id\n", "")]),
        client.post("/api/v1/suites/pair/entries", data={"card": (io.BytesIO(card("x").encode()), "c.toml")}),
        client.get("/s/<script>"),
        client.get("/api/v1/suites/pair/models/" + "x" * 5000),
        client.get("/api/v1/suites/pair/leaderboard?hide_extra_data=%00"),
        client.get("/s/pair?hide_trained_on_test=2"),
    ]
    for response in odd:
        assert response.status_code < 500, (response.status_code, response.data[:300])
    assert b"<script>" not in client.get("/s/<script>").data
    assert nothing_stored(app)


@BOTH
@pytest.mark.parametrize("path", ["/s/pair/models/a%00b", "/api/v1/suites/pair/models/%00", "/api/v1/suites/p%00"])
def test_a_nul_in_a_suite_or_model_name_is_not_found(app, client, people, pair, path):
    """PostgreSQL refuses a NUL in a query's text: such a name is looked up nowhere."""
    response = client.get(path)
    assert response.status_code == 404, response.data[:300]


@pytest.mark.parametrize("app", ["postgresql"], indirect=True)
@pytest.mark.parametrize("path", ["/s/pa%00ir", "/api/v1/suites/pair%00/leaderboard"])
def test_a_nul_in_a_suite_board_s_name_is_not_found(app, client, pair, path):
    response = client.get(path)
    assert response.status_code == 404, response.data[:300]


@BOTH
def test_a_task_of_a_suite_cannot_be_put_under_the_ladder_later(app, client, people, pair):
    """The suite board shows every task's score with its interval: a Ladder on one of its tasks would hold back
    nothing, so the organiser is told to host the task again instead."""
    token = people.token("ada")
    assert enter(client, token, files_for(0.83, 0.6, seed=210), card("probe")).status_code == 202
    people.drain()
    with app.extensions["arena_db"].session() as session, session.begin():
        competition = competitions.get(session, "digits")
        with pytest.raises(competitions.CompetitionError, match="task of a benchmark suite"):
            competitions.update_settings(competition, feedback="ladder")
        competitions.update_settings(competition, feedback="rounded")  # the mode it has stays allowed
    with app.extensions["arena_db"].session() as session:
        assert competitions.get(session, "digits").feedback == "rounded"


FINE = """name = "fine"
version = 1

[[tasks]]
task = "digits"
floor = 0.9
ceiling = 1.0
"""


@BOTH
def test_a_suite_aggregate_shows_no_more_digits_of_a_score_than_the_task_board(app, client, people, tmp_path):
    folder = tmp_path / "fine"
    folder.mkdir()
    (folder / "suite.toml").write_text(FINE)
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))
    parts = [("card", card("narrow"), "card.toml"), ("digits", predictions_csv("digits", 0.97, 220), "d.csv")]
    assert post(client, people.token("ada"), parts, suite="fine").status_code == 202
    people.drain()
    [row] = client.get("/api/v1/suites/fine/leaderboard").get_json()["rows"]
    with app.extensions["arena_db"].session() as session:
        exact = session.scalars(select(Submission)).one().public_primary
    recovered = 0.9 + row["aggregate"] * 0.1  # the scale is public: the board's task table shows it
    assert abs(recovered - exact) >= abs(row["scores"]["digits"]["score"] - exact) - 1e-12, (recovered, exact)


# --- the reference models' names ----------------------------------------------------------------


@BOTH
def test_a_participant_cannot_take_a_reference_model_s_name_before_arena_enters_it(app, client, people):
    """A reference model shipped in a later release must find its name free: '-reference' names are Arena's."""
    from helpers import sample_csv

    from arena.server.suite_install import enter_reference_models
    from arena.suites.spec import load_suite

    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, "core")  # hosted, its reference models not entered yet
    keys = load_suite("core").keys
    parts = [("card", card("CNN-Reference"), "card.toml")] + [(k, sample_csv(k), f"{k}.csv") for k in keys]
    squat = post(client, people.token("mallory"), parts, suite="core")
    assert squat.status_code == 400 and "kept for Arena's reference models" in problems(squat)
    organiser = post(client, people.token("boss", organiser=True), parts, suite="core", baseline="1")
    assert organiser.status_code == 400 and count(app, SuiteModel) == 0
    assert "cnn-reference" in enter_reference_models(app.extensions["arena_db"], "core")
    rows = client.get("/api/v1/suites/core/leaderboard").get_json()["rows"]
    assert {row["owner"] for row in rows} == {"arena-reference"}


# --- the client ------------------------------------------------------------------------------------------


def test_the_client_refuses_a_folder_whose_card_csv_would_pose_as_the_card(tmp_path):
    from arena.client import predictions_in
    from arena.errors import ArenaError

    (tmp_path / "digits.csv").write_text("id,label\n")
    (tmp_path / "card.csv").write_text("id,label\n")
    with pytest.raises(ArenaError, match="card.csv: would be sent as a task named 'card'"):
        predictions_in(tmp_path)


# --- suite.toml ------------------------------------------------------------------------------------------


def test_a_suite_whose_task_is_named_like_the_card_part_is_refused(tmp_path, write_bundle):
    """An entry's 'card' part is the card: a task named so could never get its file, and no model be entered."""
    from arena.suites.spec import SuiteError, load_suite

    name = "card"
    bundle = write_bundle(
        f'name = "{name}"\nversion = 1\nkind = "regression"\n[data]\nfile = "all.csv"\ntarget = "y"\n'
        '[metrics]\nprimary = "mae"\n[submission]\nprediction = "value"\n',
        {"all.csv": "id,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(40))},
    )
    (tmp_path / "suite.toml").write_text(f'name = "odd"\nversion = 1\n[[tasks]]\ntask = "{bundle}"\n')
    with pytest.raises(SuiteError, match=f"names a task '{name}'"):
        load_suite(tmp_path)


# --- NULs and reserved names outside the suites' own routes ---------------------------------------------------


@BOTH
def test_a_nul_in_a_competition_s_name_or_an_upload_s_file_name_is_no_crash(app, client, people):
    """PostgreSQL refuses a NUL in a query's text and in stored text: a competition so named is not found, and an
    upload so named is kept under its name without the NUL."""
    assert client.get("/c/digi%00ts").status_code == 404
    assert client.get("/api/v1/competitions/digi%00ts/leaderboard").status_code == 404
    response = upload(client, people.token("ada"), "digits", predictions_csv("digits", 0.9), name="pre\x00dictions.csv")
    assert response.status_code == 202, response.data[:300]
    with app.extensions["arena_db"].session() as session:
        assert session.scalars(select(Submission.file_name)).one() == "predictions.csv"


def test_nobody_can_register_the_reference_models_account(app):
    from arena.server.accounts import AccountError, self_register

    with app.extensions["arena_db"].session() as session, session.begin():
        for name in ("arena-reference", "Arena-Reference", "ARENA-REFERENCE"):
            with pytest.raises(AccountError, match="kept for Arena's reference models"):
                self_register(session, name, "plum-orbit-canyon-42")


def test_organisers_enter_reference_baselines_of_their_own_suites_and_participants_do_not(app, client, people, pair):
    """'-reference' names are organisers' (their `arena baseline --suite ... --submit`); a participant is refused."""
    squat = enter(client, people.token("mallory"), files_for(0.8, 0.5, seed=230), card("cnn-reference"))
    assert squat.status_code == 400 and "kept for Arena's reference models" in problems(squat)
    own = enter(client, people.token("boss", organiser=True), files_for(0.8, 0.5, seed=231), card("cnn-reference"))
    assert own.status_code == 202, own.get_json()


def test_a_measured_floor_is_measured_on_the_public_rows_its_board_shows_anyway(app, pair):
    """The floor shows on the suite's page: measured on every test row, it would tell something of the private
    labels (a class's share of them); on the public rows, nothing the task's own board does not."""
    from arena.db.models import SuiteTask
    from arena.suites.scales import trivial_score
    from arena.tasks import load_task

    with app.extensions["arena_db"].session() as session:
        competition = competitions.get(session, "digits")
        floor = session.scalars(select(SuiteTask.floor).where(SuiteTask.key == "digits")).one()
        task = load_task("digits")
        public = trivial_score(task, public_fraction=competition.public_fraction, split_key=competition.split_key)
        assert floor == public != trivial_score(task)
