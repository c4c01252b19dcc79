"""A real browser (Playwright driving Debian's Chromium) reads a board with reference models and the rules' split.

An organiser hosts a task whose answer file carries a Kaggle Usage column (24 of 60 test rows
public: 40%) and uploads two reference models; a participant uploads once. The page states the
split that scoring uses, draws each reference model as its own unranked row named by the model,
and ranks them among the teams at the press of a link.
"""

from __future__ import annotations

import io
import time

import pytest
from conftest import auth, shot

pytestmark = pytest.mark.slow  # a real browser against a live server

PUBLIC, PRIVATE = 24, 36


def truth(i: int) -> str:
    return "cat" if i % 2 else "dog"


def write_bundle(folder) -> None:
    """Two classes, 60 test rows of which the answer file's Usage column makes the first 24 public."""
    folder.mkdir()
    ids = range(101, 101 + PUBLIC + PRIVATE)
    (folder / "train.csv").write_text("id,x,label\n" + "".join(f"{i},{i % 7},{truth(i)}\n" for i in range(1, 81)))
    (folder / "test.csv").write_text("id,x\n" + "".join(f"{i},{i % 7}\n" for i in ids))
    (folder / "answers.csv").write_text(
        "id,label,Usage\n"
        + "".join(f"{i},{truth(i)},{'Public' if n < PUBLIC else 'Private'}\n" for n, i in enumerate(ids))
    )
    (folder / "task.toml").write_text(
        'name = "pets"\ntitle = "Pets"\nversion = 1\nkind = "classification"\n[data]\ntrain = "train.csv"\n'
        'test = "test.csv"\nanswers = "answers.csv"\nid = "id"\ntarget = "label"\n[metrics]\nprimary = "accuracy"\n[submission]\nprediction = "label"\n'
    )


def predictions(right: int) -> bytes:
    """Right on the first ``right`` public rows (and every private row), wrong on the other public rows."""
    ids = range(101, 101 + PUBLIC + PRIVATE)
    wrong = {"cat": "dog", "dog": "cat"}
    rows = [f"{i},{truth(i) if n >= PUBLIC or n < right else wrong[truth(i)]}" for n, i in enumerate(ids)]
    return ("id,label\n" + "\n".join(rows) + "\n").encode()


def send(client, token: str, content: bytes, **form) -> int:
    answer = client.post(
        "/api/v1/competitions/pets/submissions",
        data={"file": (io.BytesIO(content), "p.csv"), **form},
        headers=auth(token),
        content_type="multipart/form-data",
    )
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["submission"]["id"]


def test_reference_models_are_rows_of_their_own_and_the_rules_state_the_usage_split(browser, live_server, tmp_path):
    server = live_server()
    org, ada = server.people.token("org", organiser=True), server.people.token("ada")
    write_bundle(tmp_path / "pets")
    hosted = server.client.post(
        "/api/v1/competitions", json={"task": str(tmp_path / "pets"), "slug": "pets"}, headers=auth(org)
    )
    assert hosted.status_code == 201, hosted.get_json()
    ids = [
        send(server.client, org, predictions(24), baseline="1", baseline_model="cnn"),
        send(server.client, org, predictions(6), baseline="1", baseline_model="mlp"),
        send(server.client, ada, predictions(18)),
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses = [server.client.get(f"/api/v1/submissions/{i}", headers=auth(org)).get_json()["status"] for i in ids]
        if all(status == "scored" for status in statuses):
            break
        time.sleep(0.2)
    assert statuses == ["scored"] * 3

    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    page.goto(server.url + "/c/pets")
    split = page.inner_text("#split-rule")
    assert "40% of the scored test rows are public (24 public, 36 private)" in split and "30%" not in split
    rows = [row.inner_text().split("\t")[:2] for row in page.query_selector_all("table#leaderboard tbody tr")]
    assert [[cell.strip() for cell in row] for row in rows] == [
        ["—", "baseline: cnn reference"],
        ["1", "ada"],
        ["—", "baseline: mlp reference"],
    ]
    assert page.query_selector_all("table#leaderboard tr.reference") and "admin" not in page.inner_text("#leaderboard")
    shot(page, "contest-01-reference-rows")
    page.click("#baselines-ranked")
    ranked = [row.inner_text().split("\t")[0].strip() for row in page.query_selector_all("table#leaderboard tbody tr")]
    assert ranked == ["1", "2", "3"]
    shot(page, "contest-02-references-ranked")

    refused = server.client.patch("/api/v1/competitions/pets", json={"public_fraction": 0.5}, headers=auth(org))
    problem = refused.get_json()["problems"][0]
    assert refused.status_code == 400 and "Usage column decides" in problem and "40% public" in problem
