"""A suite's frozen boards and its models' verification: a release stores the board whole and its downloads never
change a byte (new models, rescoring, a new task version); it is refused while the statistics are pending; a new
task version freezes the old suite version's board first; organisers alone set tiers, flag and release, and every
change is in the suite's audit log."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re

import pytest
from conftest import PASSWORD, auth

from arena.db.models import AuditEntry, Competition, SuiteEntry, User
from arena.server import accounts, organiser_actions, suite_releases
from arena.server.installation import prepare
from arena.server.jobs import pending, score_one
from arena.server.suite_verification import initial_tier
from arena.server.suite_worker import refresh_suites

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
"""Each test of the rules runs on SQLite and PostgreSQL."""
TRAIN, TEST = 60, 120  # rows of each small task


def task_files(name: str, version: int = 1, flip: bool = False) -> dict[str, str]:
    """A two-class bundle: the label is the parity of x's index (flipped in a later version's answer key)."""
    label = lambda i: (i % 2) ^ int(flip)
    ids = range(TRAIN, TRAIN + TEST)
    return {
        "task.toml": f'name = "{name}"\ntitle = "Parity {name}"\nversion = {version}\nkind = "classification"\n\n'
        '[data]\ntrain = "train.csv"\ntest = "test.csv"\nanswers = "answers.csv"\nid = "id"\ntarget = "label"\n\n'
        '[metrics]\nprimary = "accuracy"\n\n[submission]\nprediction = "label"\n',
        "train.csv": "id,x,label\n" + "".join(f"{i},{i * 1.5},{label(i)}\n" for i in range(TRAIN)),
        "test.csv": "id,x\n" + "".join(f"{i},{i * 1.5}\n" for i in ids),
        "answers.csv": "id,label\n" + "".join(f"{i},{label(i)}\n" for i in ids),
    }


def write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def right_on(share: float, seed: int = 0) -> str:
    """Predictions right on about ``share`` of the test rows of version 1 (which rows are wrong depends on seed)."""
    ids = list(range(TRAIN, TRAIN + TEST))
    wrong = set(ids[seed % 7 :: max(1, round(1 / max(1e-9, 1 - share)))]) if share < 1 else set()
    return "id,label\n" + "".join(f"{i},{(i % 2) ^ int(i in wrong)}\n" for i in ids)


SUITE = 'name = "duo"\ntitle = "{title}"\nversion = 1\n\n[[tasks]]\ntask = "{a}"\n\n[[tasks]]\ntask = "{b}"\n'
CARD = (
    'name = "{name}"\nversion = "1"\nparameters = 1234\nframework = "numpy"\nlicence = "MIT"\ncode_url = "none"\n'
    'extra_training_data = false\ntrained_on_test_inputs = false\nnotes = "{notes}"\n'
)


@pytest.fixture
def duo(app, tmp_path):
    """The suite 'duo' of two small bundle tasks, hosted; returns the bundles' folders."""
    folders = {key: write(tmp_path / key, task_files(key)) for key in ("left", "right")}
    suite = tmp_path / "duo"
    suite.mkdir()
    title = "Duo & {friends}_100%"
    (suite / "suite.toml").write_text(SUITE.format(title=title, a=folders["left"], b=folders["right"]))
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(suite))
    return folders


def enter(client, token: str, name: str, left: str, right: str, notes: str = "") -> None:
    data = {
        "left": (io.BytesIO(left.encode()), "left.csv"),
        "right": (io.BytesIO(right.encode()), "right.csv"),
        "card": (io.BytesIO(CARD.format(name=name, notes=notes).encode()), "card.toml"),
    }
    response = client.post(
        "/api/v1/suites/duo/entries", data=data, headers=auth(token), content_type="multipart/form-data"
    )
    assert response.status_code == 202, response.get_json()


def score_all(app, statistics: bool = True) -> None:
    """What the worker does: score every queued submission, then (unless told not to) the suite's statistics."""
    db, queue = app.extensions["arena_db"], app.extensions["arena_queue"]
    while queued := pending(db):
        for submission_id in queued:
            score_one(db, submission_id, queue.slots[0])
    if statistics:
        refresh_suites(db)


@pytest.fixture
def two_models(app, client, people, duo):
    """ada's 'alpha' and bob's 'beta' entered and scored, statistics computed; returns an organiser's token."""
    enter(client, people.token("ada"), "alpha", right_on(0.9), right_on(0.8))
    enter(client, people.token("bob"), "beta", right_on(0.7, 3), right_on(0.75, 2))
    score_all(app)
    return people.token("org", organiser=True)


def downloads(client, release: dict) -> dict[str, bytes]:
    found = {}
    for suffix, url in release["downloads"].items():
        response = client.get(url)
        assert response.status_code == 200, (suffix, response.data)
        found[suffix] = response.data
    return found


def new_task_version(app, folder, key: str) -> None:
    """An organiser replaces the task with a version whose labels are flipped (every submission is rescored)."""
    write(folder, task_files(key, version=2, flip=True))
    with app.extensions["arena_db"].session() as session, session.begin():  # as the organiser's page and API do
        competition = session.query(Competition).filter_by(slug=f"duo-{key}").one()
        organiser = session.query(User).filter_by(is_organiser=True).first() or accounts.register(
            session, "replacer", PASSWORD, organiser=True
        )
        organiser_actions.replace_task(session, competition, organiser, str(folder))


# --- releases ------------------------------------------------------------------------------------


@BOTH
def test_a_release_stores_the_whole_board_and_its_downloads_never_change_a_byte(app, client, people, duo, two_models):
    made = client.post("/api/v1/suites/duo/releases", json={"note": "for the paper"}, headers=auth(two_models))
    assert made.status_code == 201, made.get_json()
    release = made.get_json()
    assert (release["number"], release["suite_version"], release["kind"]) == (1, 1, "release")
    assert set(release["downloads"]) == {"json", "csv", "tex", "md", "parquet"}
    first = downloads(client, release)
    for suffix, data in first.items():
        assert hashlib.sha256(data).hexdigest() == release["files"][suffix]
    assert release["json_sha256"] == release["files"]["json"] and release["csv_sha256"] == release["files"]["csv"]
    document = json.loads(first["json"])
    live = client.get("/api/v1/suites/duo/leaderboard").get_json()
    assert document["board"] == live  # the board as it stood: scores, intervals, aggregates and ranks
    assert [row["rank"] for row in document["board"]["rows"]] == [1, 2] and document["board"]["pending"] is False
    assert {m["model"]: (m["tier"], m["card"]["framework"]) for m in document["models"]} == {
        "alpha": ("reported", "numpy"),
        "beta": ("reported", "numpy"),
    }
    assert [(t["key"], t["task_version"]) for t in document["tasks"]] == [("left", 1), ("right", 1)]
    with app.extensions["arena_db"].session() as session:
        left = session.query(Competition).filter_by(slug="duo-left").one()
        assert document["tasks"][0]["answer_key_commitment"] == left.commitment
        assert left.answer_sha256 not in first["json"].decode()  # the unsalted hash is never published
    assert document["suite"]["version"] == 1 and document["note"] == "for the paper"
    assert "aggregate" in document["marks"] and document["marks"]["aggregate"]["alpha"] == "best"
    assert first["csv"].decode().splitlines()[1].startswith("1,alpha,")
    assert "alpha" in first["tex"].decode() and "alpha" in first["md"].decode() and first["parquet"][:4] == b"PAR1"

    enter(client, people.token("cyd"), "gamma", right_on(1.0), right_on(1.0))  # a new model, best of all
    score_all(app)
    with app.extensions["arena_db"].session() as session, session.begin():  # every submission scored again
        organiser_actions.rescore(session, session.query(Competition).filter_by(slug="duo-right").one(), None)
    score_all(app)
    new_task_version(app, duo["left"], "left")  # and a new version of a task: every model rescored on it
    score_all(app)
    flagged = client.post("/api/v1/suites/duo/models/beta/flag", json={"reason": "late"}, headers=auth(two_models))
    assert flagged.status_code == 200  # and a flag
    now = client.get("/api/v1/suites/duo/leaderboard").get_json()
    assert now["version"] == 2 and "gamma" in [row["model"] for row in now["rows"]]  # the live board moved on
    assert downloads(client, release) == first
    again = client.get("/api/v1/suites/duo/releases/1").get_json()
    assert again["document"] == document and again["files"] == release["files"]
    page = client.get("/s/duo/releases/1").get_data(as_text=True)
    assert 'data-model="gamma"' not in page and 'data-model="alpha"' in page


@BOTH
def test_the_release_page_says_how_to_cite_it(app, client, people, duo, two_models):
    release = client.post("/api/v1/suites/duo/releases", json={}, headers=auth(two_models)).get_json()
    page = client.get("/s/duo/releases/1").get_data(as_text=True)
    url = "http://localhost/s/duo/releases/1"
    date = release["created_at"][:10]
    cite = re.search(r'<p id="cite-text">(.*?)</p>', page, re.S).group(1)
    assert "Duo &amp; {friends}_100%, release 1" in cite and date in cite and url in cite
    assert release["json_sha256"] in cite and "suite version 1" in cite
    bibtex = re.search(r'<pre id="cite-bibtex">(.*?)</pre>', page, re.S).group(1)
    assert bibtex.startswith("@misc{arena-duo-release-1,")
    assert r"title = {{Duo \&amp; \{friends\}\_100\%}: release 1}," in bibtex  # LaTeX-escaped, then HTML-escaped
    assert f"year = {{{date[:4]}}}" in bibtex and url in bibtex and release["json_sha256"] in bibtex
    for suffix in ("json", "csv", "tex", "md", "parquet"):
        assert f'href="/s/duo/releases/1.{suffix}"' in page and release["files"][suffix] in page
    listed = client.get("/s/duo/releases").get_data(as_text=True)
    assert 'href="/s/duo/releases/1"' in listed and release["json_sha256"] in listed
    api = client.get("/api/v1/suites/duo/releases").get_json()
    assert [r["number"] for r in api] == [1] and api[0]["url"] == url
    assert client.get("/api/v1/suites/duo/releases/1").get_json()["citation"]["bibtex"].startswith("@misc{")


@BOTH
def test_releases_are_numbered_per_suite_and_a_missing_one_is_404(app, client, people, duo, two_models):
    for number in (1, 2):
        made = client.post("/api/v1/suites/duo/releases", json={}, headers=auth(two_models)).get_json()
        assert made["number"] == number
    assert client.get("/s/duo/releases/3").status_code == 404
    missing = client.get("/api/v1/suites/duo/releases/3")
    assert missing.status_code == 404 and "releases: 1, 2" in missing.get_json()["problems"][0]
    assert client.get("/s/duo/releases/1.exe").status_code == 404
    assert client.get("/s/nothing/releases").status_code == 404
    assert client.get("/api/v1/suites/nothing/releases").status_code == 404


@BOTH
def test_a_release_is_refused_while_the_statistics_are_pending_and_the_command_line_computes_them(
    app, client, people, duo, capsys
):
    org = people.token("org", organiser=True)
    empty = client.post("/api/v1/suites/duo/releases", json={}, headers=auth(org))
    assert empty.status_code == 400 and "no model is entered" in empty.get_json()["problems"][0]
    enter(client, people.token("ada"), "alpha", right_on(0.9), right_on(0.8))
    score_all(app, statistics=False)
    refused = client.post("/api/v1/suites/duo/releases", json={}, headers=auth(org))
    assert refused.status_code == 400
    problem = refused.get_json()["problems"][0]
    assert "still being computed" in problem and "try again in a minute" in problem
    assert client.get("/api/v1/suites/duo/releases").get_json() == []
    from arena.server.commands import register_suite

    parser = argparse.ArgumentParser()
    register_suite(parser.add_subparsers())
    url = app.extensions["arena_db"].engine.url.render_as_string(hide_password=False)
    args = parser.parse_args(["release", "duo", "--note", "first", "--database", url])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "suite 'duo' release 1 (suite version 1) is frozen: /s/duo/releases/1" in printed
    [release] = client.get("/api/v1/suites/duo/releases").get_json()
    assert release["note"] == "first" and release["json_sha256"] in printed and release["created_by"] is None
    with app.extensions["arena_db"].session() as session:
        logged = session.query(AuditEntry).filter_by(action="release").one()
        assert logged.username == "(command line)" and logged.competition_id is None


def test_a_damaged_release_file_is_never_served(app, client, people, duo, two_models):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: a failure is the error page, not a traceback
    release = client.post("/api/v1/suites/duo/releases", json={}, headers=auth(two_models)).get_json()
    suite_releases._read.clear()  # nothing kept in this process: the store is read
    path = suite_releases.release_path(release["files"]["csv"])
    intact = path.read_bytes()
    path.write_bytes(intact.replace(b"alpha", b"omega"))
    damaged = client.get("/s/duo/releases/1.csv")
    assert damaged.status_code == 500 and b"omega" not in damaged.data
    assert client.get("/s/duo/releases/1.json").status_code == 200
    with app.extensions["arena_db"].session() as session, session.begin():  # the same bytes stored again mend it
        suite_releases._store(intact)
    assert client.get("/s/duo/releases/1.csv").data == intact


# --- a new task version ---------------------------------------------------------------------


@BOTH
def test_a_new_task_version_freezes_the_old_suite_version_and_starts_the_next(app, client, people, duo, two_models):
    release = client.post("/api/v1/suites/duo/releases", json={}, headers=auth(two_models)).get_json()
    before = client.get("/api/v1/suites/duo/leaderboard").get_json()
    new_task_version(app, duo["left"], "left")
    assert client.get("/api/v1/suites/duo").get_json()["version"] == 2
    score_all(app)  # every model rescored on the flipped labels: their left scores fall
    after = client.get("/api/v1/suites/duo/leaderboard").get_json()
    assert after["version"] == 2
    assert {r["model"]: r["scores"]["left"]["score"] for r in after["rows"]} != {
        r["model"]: r["scores"]["left"]["score"] for r in before["rows"]
    }
    page = client.get("/s/duo/versions/1").get_data(as_text=True)
    assert 'id="version-releases"' in page and 'href="/s/duo/releases/1"' in page
    assert "the frozen board of suite version 1 of the Arena benchmark suite" in page
    assert "@misc{arena-duo-version-1," in page and "http://localhost/s/duo/versions/1" in page
    frozen = json.loads(client.get("/s/duo/versions/1.json").data)
    assert frozen["kind"] == "version" and frozen["suite"]["version"] == 1 and frozen["created_by"] is None
    assert frozen["board"]["rows"] == before["rows"]  # the board as it was before the new version, statistics too
    assert [t["task_version"] for t in frozen["tasks"]] == [1, 1]
    assert client.get("/s/duo/versions/2").headers["Location"].endswith("/s/duo")  # the live board's version
    assert client.get("/s/duo/versions/7").status_code == 404
    assert 'href="/s/duo/versions/1"' in client.get("/s/duo/releases").get_data(as_text=True)
    assert client.get("/api/v1/suites/duo/releases/1").get_json()["suite_version"] == 1
    assert client.get(release["downloads"]["json"]).data == client.get("/s/duo/releases/1.json").data
    with app.extensions["arena_db"].session() as session:
        logged = session.query(AuditEntry).filter_by(action="version").one()
        assert logged.username == "Arena" and "suite version 2" in logged.detail


def test_two_tasks_changed_at_one_restart_make_one_new_suite_version(app, client, people, duo, two_models):
    for key in ("left", "right"):
        write(duo[key], task_files(key, version=2, flip=True))
    changed = prepare(app.extensions["arena_db"], host_builtins=False)  # what a restart runs
    assert sorted(changed) == ["duo-left", "duo-right"]
    assert client.get("/api/v1/suites/duo").get_json()["version"] == 2
    assert client.get("/s/duo/versions/1.json").status_code == 200


def test_an_old_version_whose_statistics_the_worker_never_computed_is_frozen_with_them(app, client, people, duo):
    enter(client, people.token("ada"), "alpha", right_on(0.9), right_on(0.8))
    enter(client, people.token("bob"), "beta", right_on(0.7, 3), right_on(0.75, 2))
    score_all(app, statistics=False)
    assert client.get("/api/v1/suites/duo/leaderboard").get_json()["pending"] is True
    new_task_version(app, duo["left"], "left")
    frozen = json.loads(client.get("/s/duo/versions/1.json").data)
    assert frozen["board"]["pending"] is False and [row["rank"] for row in frozen["board"]["rows"]] == [1, 2]
    assert all(row["aggregate_ci"] for row in frozen["board"]["rows"])


def test_a_suite_without_models_starts_its_next_version_with_nothing_to_freeze(app, client, duo):
    new_task_version(app, duo["left"], "left")
    assert client.get("/api/v1/suites/duo").get_json()["version"] == 2
    assert client.get("/s/duo/versions/1").status_code == 404


# --- tiers and flags -----------------------------------------------------------------------------


def test_only_a_baseline_with_a_run_record_starts_as_reference():
    run = {"run": {"seed": 0, "command": "arena baseline"}}
    assert initial_tier(True, run) == "reference"
    assert initial_tier(True, {"run": "not a record"}) == initial_tier(True, {}) == "reported"
    assert initial_tier(False, run) == initial_tier(False, None) == "reported"


@BOTH
def test_organisers_set_tiers_and_flags_and_every_change_is_in_the_suite_s_log(app, client, people, duo, two_models):
    org = two_models
    post = lambda path, body: client.post(f"/api/v1/suites/duo/models/{path}", json=body, headers=auth(org))
    bad = post("alpha/tier", {"tier": "gold"})
    assert bad.status_code == 400 and "'reported'" in bad.get_json()["problems"][0] and "gold" in bad.data.decode()
    assert post("alpha/tier", {"tier": ["reported"]}).status_code == 400
    no_note = post("alpha/tier", {"tier": "reproduced"})
    assert no_note.status_code == 400 and "say in the note" in no_note.get_json()["problems"][0]
    fake = post("alpha/tier", {"tier": "reference"})
    assert fake.status_code == 400 and "cannot be 'reference'" in fake.get_json()["problems"][0]
    done = post("alpha/tier", {"tier": "reproduced", "note": "re-ran commit abc on 1 GPU: within every interval"})
    assert done.status_code == 200 and done.get_json()["tier"] == "reproduced"
    assert post("nobody/tier", {"tier": "reported"}).status_code == 404
    assert post("alpha/tier", {"tier": "reported", "version": 9}).status_code == 404
    assert post("beta/flag", {"reason": "  "}).status_code == 400
    flagged = post("beta/flag", {"reason": "trained on test inputs"})
    assert flagged.status_code == 200 and flagged.get_json()["flag_reason"] == "trained on test inputs"
    assert flagged.get_json()["flagged_by"] == "org"
    assert client.delete("/api/v1/suites/duo/models/beta/flag", headers=auth(org)).status_code == 200
    again = client.delete("/api/v1/suites/duo/models/beta/flag", headers=auth(org))
    assert again.status_code == 400 and "not flagged" in again.get_json()["problems"][0]
    with app.extensions["arena_db"].session() as session:
        entries = {e.card["name"]: e for e in session.query(SuiteEntry)}
        assert entries["alpha"].tier == "reproduced" and entries["alpha"].tier_note.startswith("re-ran")
        assert entries["beta"].flag_reason == "" and entries["beta"].flagged_at is None
        log = [
            (e.action, e.username, e.competition_id)
            for e in session.query(AuditEntry).filter(AuditEntry.suite_id.isnot(None))
        ]
    assert log == [("tier", "org", None), ("flag", "org", None), ("unflag", "org", None)]


@BOTH
def test_participants_and_visitors_change_nothing(app, client, people, duo, two_models):
    ada = people.token("ada-2")
    for method, path, body in (
        ("post", "/api/v1/suites/duo/releases", {}),
        ("post", "/api/v1/suites/duo/models/alpha/tier", {"tier": "reproduced", "note": "trust me"}),
        ("post", "/api/v1/suites/duo/models/beta/flag", {"reason": "rival"}),
        ("delete", "/api/v1/suites/duo/models/beta/flag", {}),
    ):
        assert getattr(client, method)(path, json=body, headers=auth(ada)).status_code == 403, path
        assert getattr(client, method)(path, json=body).status_code == 401, path
    people.login("ada-2")
    assert client.get("/s/duo/manage").status_code == 403
    csrf = people.csrf()
    for path, form in (
        ("/s/duo/manage/release", {}),
        ("/s/duo/manage/models/alpha/tier", {"tier": "reproduced", "note": "x"}),
        ("/s/duo/manage/models/beta/flag", {"reason": "rival"}),
    ):
        assert client.post(path, data={**form, "csrf_token": csrf}).status_code == 403, path
    with app.extensions["arena_db"].session() as session:
        assert {e.tier for e in session.query(SuiteEntry)} == {"reported"}
        assert all(e.flag_reason == "" for e in session.query(SuiteEntry))
        assert session.query(AuditEntry).filter(AuditEntry.suite_id.isnot(None)).count() == 0
    assert client.get("/api/v1/suites/duo/releases").get_json() == []


def test_the_manage_page_works_with_its_csrf_token_and_escapes_what_people_wrote(app, client, people, duo):
    enter(client, people.token("ada"), "alpha", right_on(0.9), right_on(0.8))
    enter(client, people.token("bob"), "beta", right_on(0.7, 3), right_on(0.75, 2))
    score_all(app, statistics=False)
    people.token("boss", organiser=True)
    people.login("boss")
    page = client.get("/s/duo/manage")
    assert page.status_code == 200 and 'data-model="alpha"' in page.get_data(as_text=True)
    hostile = '<script>alert("x")</script>'
    assert client.post("/s/duo/manage/models/beta/flag", data={"reason": hostile}).status_code == 400  # no token
    csrf = people.csrf()
    done = client.post("/s/duo/manage/models/beta/flag", data={"reason": hostile, "csrf_token": csrf})
    assert done.status_code == 302
    client.post("/s/duo/manage/models/alpha/tier", data={"tier": "reproduced", "note": hostile, "csrf_token": csrf})
    shown = client.get("/s/duo/manage").get_data(as_text=True)
    assert hostile not in shown and "&lt;script&gt;" in shown and 'id="audit-log"' in shown
    bad = client.post("/s/duo/manage/models/alpha/tier", data={"tier": "platinum", "csrf_token": csrf})
    assert bad.status_code == 400 and "there is no tier" in bad.get_data(as_text=True)
    early = client.post("/s/duo/manage/release", data={"note": hostile, "csrf_token": csrf})
    assert early.status_code == 400 and "still being computed" in early.get_data(as_text=True)
    refresh_suites(app.extensions["arena_db"])
    made = client.post("/s/duo/manage/release", data={"note": hostile, "csrf_token": csrf})
    assert made.status_code == 302 and made.headers["Location"].endswith("/s/duo/releases/1")
    release = client.get("/s/duo/releases/1").get_data(as_text=True)
    assert hostile not in release and "flagged: &lt;script&gt;" in release and "reproduced" in release
    assert client.post("/s/nothing/manage/release", data={"csrf_token": csrf}).status_code == 404


def test_a_release_of_the_builtin_suite_says_the_reference_runs_used_today_s_answer_keys(app, client, people):
    db = app.extensions["arena_db"]
    from arena.server.suite_install import prepare_builtin_suites

    prepare_builtin_suites(db)
    score_all(app)
    made = client.post("/api/v1/suites/core/releases", json={}, headers=auth(people.token("org", organiser=True)))
    assert made.status_code == 201, made.get_json()
    document = json.loads(client.get(made.get_json()["downloads"]["json"]).data)
    keys = ["digits", "mnist1d", "listops", "sunspots", "dates"]
    text_too = {name: dict.fromkeys(keys, True) for name in ("gru-reference", "transformer-reference")}
    no_text = {name: {**dict.fromkeys(keys, True), "dates": False} for name in ("cnn-reference", "mlp-reference")}
    assert {m["model"]: m["run_matches_answer_key"] for m in document["models"]} == {**text_too, **no_text}
    assert all(m["run"]["command"].startswith("arena baseline") for m in document["models"])
