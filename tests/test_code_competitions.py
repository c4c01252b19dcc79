"""Code competitions on the server: hosting, downloads, uploads, real runs, dry runs, and the attacks on them.

Every run here is real: the participant's program runs under bubblewrap through the server's own queue. The hidden
test rows each carry a unique token; a program that prints every test row into its output must not get one of them
onto any page or API answer a participant can fetch, while the organisers' view shows the output.
"""

from __future__ import annotations

import shutil
import textwrap
import uuid
from pathlib import Path

import pytest
from conftest import auth, require_in_ci, upload

from arena.code.failures import MESSAGES, TIME
from arena.server.code_runs import SHOWN_LOG_CHARS
from arena.server.submissions import OUR_FAILURE

TOKEN = "HIDDENROW"
COPY_SAMPLE = "shutil.copy(i + '/sample_submission.csv', o + '/submission.csv')"
LEAKER = f"""
import shutil
def predict(i, o):
    print(open(i + '/test.csv').read())
    {COPY_SAMPLE}
"""


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


def code_bundle(folder: Path, wall_seconds: int = 60) -> Path:
    """A tiny code task whose every hidden test row holds a unique token in its text feature."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.toml").write_text(
        textwrap.dedent(
            f"""
            name = "tiny-code"
            version = 1
            kind = "classification"
            [data]
            train = "train.csv"
            test = "test.csv"
            answers = "answers.csv"
            [metrics]
            primary = "accuracy"
            [submission]
            prediction = "label"
            kind = "code"
            [submission.limits]
            wall_seconds = {wall_seconds}
            memory_mb = 1024
            [competition]
            daily_limit = 3
            feedback = "rounded"
            """
        )
    )
    rows = range(40)
    (folder / "train.csv").write_text(
        "id,note,x,label\n" + "".join(f"{i},train{i},{i % 7},{'ab'[i % 2]}\n" for i in rows)
    )
    secret = {100 + i: f"{TOKEN}{uuid.uuid4().hex[:12]}" for i in rows}
    (folder / "test.csv").write_text("id,note,x\n" + "".join(f"{i},{v},{i % 5}\n" for i, v in secret.items()))
    (folder / "answers.csv").write_text("id,label\n" + "".join(f"{i},{'ab'[i % 3 == 0]}\n" for i in secret))
    return folder


@pytest.fixture
def code_competition(client, people, tmp_path):
    """A code competition hosted through the API, and two participants in teams of their own."""
    organiser = people.token("orga", organiser=True)
    bundle = code_bundle(tmp_path / "bundle", wall_seconds=3)
    hosted = client.post(
        "/api/v1/competitions",
        json={"task": str(bundle), "slug": "tiny-code", "submission_kind": "code"},
        headers=auth(organiser),
    )
    assert hosted.status_code == 201, hosted.get_json()
    assert hosted.get_json()["submission_kind"] == "code"
    return {"slug": "tiny-code", "organiser": organiser, "ada": people.token("ada"), "bob": people.token("bob")}


def program(source: str) -> str:
    return textwrap.dedent(source).lstrip()


def slots_left(client, token: str, slug: str) -> int:
    return client.get(f"/api/v1/competitions/{slug}/submissions", headers=auth(token)).get_json()["slots_left"]


def test_code_submissions_are_offered_only_for_a_task_that_declares_code(client, people):
    organiser = people.token("orga", organiser=True)
    refused = client.post(
        "/api/v1/competitions",
        json={"task": "digits", "slug": "digits-code", "submission_kind": "code"},
        headers=auth(organiser),
    )
    assert refused.status_code == 400
    assert "declares no code submissions" in " ".join(refused.get_json()["problems"])
    wrong = client.post(
        "/api/v1/competitions",
        json={"task": "digits", "slug": "digits-x", "submission_kind": "notebook"},
        headers=auth(organiser),
    )
    assert wrong.status_code == 400 and "must be one of: file, code" in " ".join(wrong.get_json()["problems"])


def test_a_code_task_hosts_as_files_unless_the_organiser_chooses_code(client, people, tmp_path):
    organiser = people.token("orga", organiser=True)
    bundle = code_bundle(tmp_path / "bundle")
    hosted = client.post("/api/v1/competitions", json={"task": str(bundle), "slug": "plain"}, headers=auth(organiser))
    assert hosted.get_json()["submission_kind"] == "file"
    assert any(path.endswith("/test.csv") for path in hosted.get_json()["data"])


def test_test_inputs_are_refused_through_every_route_of_a_code_competition(client, people, code_competition):
    slug, ada = code_competition["slug"], code_competition["ada"]
    listed = client.get(f"/api/v1/competitions/{slug}").get_json()["data"]
    assert not any(path.endswith("test.csv") for path in listed)
    people.login("ada")
    for path in (f"/api/v1/competitions/{slug}/data/test.csv", f"/c/{slug}/data/test.csv"):
        for headers in ({}, auth(ada), auth(code_competition["organiser"])):
            refused = client.get(path, headers=headers)
            assert refused.status_code == 404
            assert TOKEN not in refused.get_data(as_text=True)
            assert "no test.csv to download" in refused.get_data(as_text=True)
    page = client.get(f"/c/{slug}").get_data(as_text=True)
    assert "public_sample.csv" in page and "data/test.csv" not in page
    for name in ("public_sample.csv", "sample_submission.csv", "train.csv"):
        got = client.get(f"/api/v1/competitions/{slug}/data/{name}")
        assert got.status_code == 200 and TOKEN not in got.get_data(as_text=True)
    sample_ids = [
        line.split(",")[0]
        for line in client.get(f"/c/{slug}/data/sample_submission.csv").get_data(as_text=True).split()[1:]
    ]
    assert sample_ids and all(int(i) < 100 for i in sample_ids)  # training rows' ids: no hidden test id


def test_an_upload_that_cannot_run_is_refused_and_costs_no_slot(client, code_competition):
    slug, ada = code_competition["slug"], code_competition["ada"]
    before = slots_left(client, ada, slug)
    refused = upload(client, ada, slug, "id,label\n100,a\n", name="predictions.csv")
    assert refused.status_code == 400
    assert ".zip or a single .py" in " ".join(refused.get_json()["problems"])
    no_entry = upload(client, ada, slug, "def run(i, o):\n    pass\n", name="main.py")
    assert no_entry.status_code == 400 and "predict" in " ".join(no_entry.get_json()["problems"])
    assert slots_left(client, ada, slug) == before


def test_a_real_run_that_prints_the_test_inputs_shows_them_on_no_participant_route(client, people, code_competition):
    need_bwrap()
    slug, ada = code_competition["slug"], code_competition["ada"]
    sent = upload(client, ada, slug, program(LEAKER), name="main.py")
    assert sent.status_code == 202, sent.get_json()
    submission_id = sent.get_json()["submission"]["id"]
    assert sent.get_json()["submission"]["run"]["status"] == "queued"
    people.drain()
    mine = client.get(f"/api/v1/submissions/{submission_id}", headers=auth(ada)).get_json()
    assert mine["status"] == "scored" and mine["public"] is not None
    assert mine["run"]["status"] == "scored" and mine["run"]["wall_seconds"] is not None
    people.login("ada")
    routes = [
        f"/api/v1/submissions/{submission_id}",
        f"/api/v1/competitions/{slug}/submissions",
        f"/api/v1/competitions/{slug}/dry-runs",
        f"/api/v1/competitions/{slug}/leaderboard",
        f"/api/v1/competitions/{slug}",
        f"/c/{slug}",
        f"/c/{slug}/submissions",
        f"/c/{slug}/submissions/{submission_id}",
        f"/c/{slug}/leaderboard.csv",
    ]
    for route in routes:
        answer = client.get(route, headers=auth(ada))
        assert answer.status_code == 200, route
        assert TOKEN not in answer.get_data(as_text=True), route
    organisers = client.get(f"/api/v1/competitions/{slug}/all-submissions", headers=auth(code_competition["organiser"]))
    assert TOKEN in organisers.get_json()[0]["run_log"]  # the program did print them: only organisers see it


def test_a_program_past_its_time_limit_fails_with_neutral_words_and_uses_its_slot(client, people, code_competition):
    need_bwrap()
    slug, ada = code_competition["slug"], code_competition["ada"]
    before = slots_left(client, ada, slug)
    slow = "import time\ndef predict(i, o):\n    print(open(i + '/test.csv').read())\n    time.sleep(60)\n"
    submission_id = upload(client, ada, slug, slow, name="main.py").get_json()["submission"]["id"]
    people.drain()
    failed = client.get(f"/api/v1/submissions/{submission_id}", headers=auth(ada)).get_json()
    assert failed["status"] == "failed" and failed["run"] == {**failed["run"], "status": "failed", "failure": TIME}
    assert failed["problems"] == [MESSAGES[TIME]]
    assert TOKEN not in str(failed)
    assert slots_left(client, ada, slug) == before - 1  # the program's failure: charged, as on other platforms


def test_a_failure_on_our_side_is_retried_and_never_charged(client, people, code_competition, monkeypatch):
    slug, ada = code_competition["slug"], code_competition["ada"]
    before = slots_left(client, ada, slug)
    monkeypatch.setenv("ARENA_CODE_WALL_SECONDS", "not-a-number")  # the installation's setting is broken: ours
    submission_id = upload(client, ada, slug, program(LEAKER), name="main.py").get_json()["submission"]["id"]
    people.drain()
    failed = client.get(f"/api/v1/submissions/{submission_id}", headers=auth(ada)).get_json()
    assert failed["status"] == "failed" and failed["problems"] == [OUR_FAILURE]
    assert failed["run"]["failure"] is None
    assert slots_left(client, ada, slug) == before
    admin = client.get(f"/api/v1/competitions/{slug}/all-submissions", headers=auth(code_competition["organiser"]))
    assert admin.get_json()[0]["failure_kind"] == "ours"
    monkeypatch.delenv("ARENA_CODE_WALL_SECONDS")
    again = upload(client, ada, slug, program(LEAKER), name="main.py")  # the same program, once we are fixed
    assert again.status_code == 202 and again.get_json()["duplicate"] is False


def test_a_dry_run_shows_its_output_uses_no_slot_and_is_its_teams_alone(client, people, code_competition):
    need_bwrap()
    slug, ada, bob = code_competition["slug"], code_competition["ada"], code_competition["bob"]
    before = slots_left(client, ada, slug)
    noisy = f"import shutil\ndef predict(i, o):\n    print('x' * 9000)\n    print('sample-rows', open(i + '/test.csv').read().count(chr(10)))\n    {COPY_SAMPLE}\n"
    asked = upload(client, ada, slug, noisy, name="main.py", dry_run="true")
    assert asked.status_code == 202, asked.get_json()
    dry_id = asked.get_json()["dry_run"]["id"]
    people.drain()
    done = client.get(f"/api/v1/dry-runs/{dry_id}", headers=auth(ada)).get_json()
    assert done["status"] == "done" and done["problems"] == []
    assert "sample-rows 21" in done["log"] and len(done["log"]) <= SHOWN_LOG_CHARS + 1  # the end, truncated
    assert slots_left(client, ada, slug) == before
    assert client.get(f"/api/v1/competitions/{slug}/submissions", headers=auth(ada)).get_json()["submissions"] == []
    assert client.get(f"/api/v1/competitions/{slug}/leaderboard").get_json()["rows"] == []
    other = client.get(f"/api/v1/dry-runs/{dry_id}", headers=auth(bob))
    assert other.status_code == 403 and "sample-rows" not in other.get_data(as_text=True)
    assert client.get(f"/api/v1/competitions/{slug}/dry-runs", headers=auth(bob)).get_json()["dry_runs"] == []
    broken = upload(
        client,
        ada,
        slug,
        "def predict(i, o):\n    print('step one')\n    raise ValueError('no model yet')\n",
        name="main.py",
        dry_run="true",
    )
    people.drain()
    failed = client.get(f"/api/v1/dry-runs/{broken.get_json()['dry_run']['id']}", headers=auth(ada)).get_json()
    assert failed["status"] == "failed" and failed["failure"] == "error"
    assert "no model yet" in failed["log"]  # the sample's output: the participant's to read
    third = upload(client, ada, slug, noisy + "\n# again\n", name="main.py", dry_run="true")
    assert third.status_code == 202  # the daily limit is 3: as many dry runs a day
    cap = upload(client, ada, slug, noisy + "\n# and again\n", name="main.py", dry_run="true")
    assert cap.status_code in (400, 429) and "dry runs" in " ".join(cap.get_json()["problems"])
    assert client.get("/").status_code == 200  # the server stays up


def test_dry_runs_are_refused_in_a_file_competition(client, people):
    refused = upload(
        client, people.token("ada"), "digits", "def predict(i, o):\n    pass\n", name="main.py", dry_run="1"
    )
    assert refused.status_code == 400 and "code competitions" in " ".join(refused.get_json()["problems"])


def test_an_organiser_sees_a_real_runs_output_on_the_submission_page_and_a_participant_does_not(
    client, people, code_competition
):
    need_bwrap()
    slug, ada = code_competition["slug"], code_competition["ada"]
    submission_id = upload(client, ada, slug, program(LEAKER), name="main.py").get_json()["submission"]["id"]
    people.drain()
    people.login("ada")
    page = client.get(f"/c/{slug}/submissions/{submission_id}").get_data(as_text=True)
    assert 'id="run-status">scored' in page and TOKEN not in page
    client.get("/logout")
    people.login("orga")
    assert TOKEN in client.get(f"/c/{slug}/submissions/{submission_id}").get_data(as_text=True)
