"""Organisers' real competitions: snapshots, stored task facts, a safe lifecycle, the admin page, hosting from CSVs,
and what participants see of a submission and of the final boards."""

from __future__ import annotations

import io
import shutil
import threading

import pytest
from conftest import auth, upload

from arena.db.models import AuditEntry, Competition, ScoreRecord, Submission

N = 60  # rows of the small organiser's task: 40 train, 20 test


def task_files(version: int = 1, flip: bool = False) -> dict[str, str]:
    """A Kaggle-style bundle: train, test and answers CSVs for a two-class task (labels from x's parity)."""
    label = lambda i: (i % 2) ^ int(flip)
    train = "id,x,label\n" + "".join(f"{i},{i * 1.5},{label(i)}\n" for i in range(40))
    test = "id,x\n" + "".join(f"{i},{i * 1.5}\n" for i in range(40, N))
    answers = "id,label\n" + "".join(f"{i},{label(i)}\n" for i in range(40, N))
    toml = (
        f'name = "parity"\ntitle = "Parity"\nversion = {version}\nkind = "classification"\n\n'
        '[data]\ntrain = "train.csv"\ntest = "test.csv"\nanswers = "answers.csv"\nid = "id"\ntarget = "label"\n\n'
        '[metrics]\nprimary = "accuracy"\n\n[submission]\nprediction = "label"\n'
    )
    return {"task.toml": toml, "train.csv": train, "test.csv": test, "answers.csv": answers}


def write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def right_on(share: float) -> str:
    """Predictions for the parity task, right on about ``share`` of the 20 test rows."""
    wrong = int(round((1 - share) * (N - 40)))
    return "id,label\n" + "".join(f"{i},{(i % 2) ^ int(k < wrong)}\n" for k, i in enumerate(range(40, N)))


@pytest.fixture
def org(people):
    return people.token("org", organiser=True)


def host(client, token, folder, slug="parity", **body):
    response = client.post(
        "/api/v1/competitions", json={"task": str(folder), "slug": slug, **body}, headers=auth(token)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def competition(app, slug="parity") -> Competition:
    with app.extensions["arena_db"].session() as session:
        found = session.query(Competition).filter_by(slug=slug).one()
        session.expunge(found)
        return found


# --- item 5: snapshots, stored facts, broken bundles ----------------------------------------


def test_hosting_copies_the_bundle_so_moving_the_folder_changes_nothing(app, client, people, org, tmp_path, arena_home):
    folder = write(tmp_path / "organiser" / "parity", task_files())
    hosted = host(client, org, folder)
    assert (
        hosted["metric"] == "accuracy"
        and hosted["higher_is_better"]
        and hosted["sizes"] == {"train_rows": 40, "test_rows": 20}
    )
    stored = competition(app)
    assert stored.task_ref.startswith(str(arena_home / "snapshots")) and stored.snapshot in stored.task_ref
    assert stored.source_ref == str(folder.resolve())
    shutil.move(str(folder), str(tmp_path / "moved"))
    from arena.server.installation import prepare

    assert prepare(app.extensions["arena_db"], host_builtins=False) == []  # a restart adopts nothing, breaks nothing
    for path in ("/", "/c/parity", "/api/v1/competitions", "/c/parity/data/train.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert str(tmp_path) not in response.get_data(as_text=True), path
    ada = people.token("ada")
    assert upload(client, ada, "parity", right_on(1.0)).status_code == 202
    people.drain()
    assert client.get("/api/v1/competitions/parity/leaderboard").get_json()["rows"][0]["score"] == 1.0


def test_a_new_version_in_the_organisers_folder_gets_its_own_snapshot(app, client, org, tmp_path):
    folder = write(tmp_path / "parity", task_files())
    host(client, org, folder)
    first = competition(app)
    write(folder, task_files(version=2, flip=True))
    from arena.server.installation import prepare

    assert prepare(app.extensions["arena_db"], host_builtins=False) == ["parity"]
    second = competition(app)
    assert second.task_version == 2 and second.snapshot != first.snapshot and second.task_ref != first.task_ref
    assert first.task_ref and __import__("pathlib").Path(first.task_ref, "task.toml").is_file()  # the old one stays


def test_pages_never_load_the_task(app, client, people, org, tmp_path, monkeypatch):
    host(client, org, write(tmp_path / "parity", task_files()))
    ada = people.token("ada")
    upload(client, ada, "parity", right_on(0.9))
    people.drain()

    def refuse(*args, **kwargs):
        raise AssertionError("a page loaded the task")

    from arena.server import competitions, snapshots

    monkeypatch.setattr(snapshots, "load_task", refuse)
    monkeypatch.setattr(competitions, "load_task", refuse)
    for path in ("/", "/c/parity", "/api/v1/competitions", "/api/v1/competitions/parity/leaderboard"):
        assert client.get(path).status_code == 200, path


def test_a_broken_bundle_shows_to_organisers_and_leaves_participants_lists(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    host(client, org, write(tmp_path / "other", task_files(version=2)), slug="other")  # a snapshot of its own
    shutil.rmtree(competition(app).task_ref)  # the snapshot itself is gone (a disk restored without it)
    shutil.rmtree(tmp_path / "parity")
    from arena.server.installation import prepare

    prepare(app.extensions["arena_db"], host_builtins=False)
    assert competition(app).broken
    slugs = {c["slug"] for c in client.get("/api/v1/competitions").get_json()}
    assert "other" in slugs and "parity" not in slugs
    index = client.get("/")
    assert index.status_code == 200 and "/c/parity" not in index.get_data(as_text=True)
    listed = {c["slug"]: c for c in client.get("/api/v1/competitions", headers=auth(org)).get_json()}
    assert listed["parity"]["broken"] and str(tmp_path) not in str(listed)
    people.login("org")
    assert b"broken" in client.get("/").data and b'id="broken"' in client.get("/c/parity/admin").data
    assert client.get("/c/other").status_code == 200  # one broken competition takes no other page down


# --- item 6: a job records only the version it started with ------------------------------


def test_a_score_is_not_recorded_when_the_version_changed_while_it_scored(
    app, client, people, org, tmp_path, monkeypatch
):
    host(client, org, write(tmp_path / "parity", task_files()))
    ada = people.token("ada")
    submission_id = upload(client, ada, "parity", right_on(1.0)).get_json()["submission"]["id"]
    from helpers import InlineSlot

    from arena.server import jobs

    real = jobs.score_submission
    db = app.extensions["arena_db"]

    def replaced_meanwhile(*args, **kwargs):
        with db.session() as session, session.begin():  # the bundle is replaced in place while this job scores
            stored = session.query(Competition).filter_by(slug="parity").one()
            stored.task_version, stored.answer_sha256 = 2, "f" * 64
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "score_submission", replaced_meanwhile)
    assert jobs.score_one(db, submission_id, InlineSlot()) == "queued"
    with db.session() as session:
        assert session.query(ScoreRecord).filter_by(submission_id=submission_id).count() == 0
    monkeypatch.setattr(jobs, "score_submission", real)
    assert jobs.score_one(db, submission_id) == "scored"
    with db.session() as session:
        assert [r.task_version for r in session.query(ScoreRecord).filter_by(submission_id=submission_id)] == [2]


# --- item 7: lifecycle ------------------------------------------------------------------------


def test_a_draft_is_for_organisers_until_opened_and_can_be_deleted(app, client, people, org, tmp_path):
    hosted = host(client, org, write(tmp_path / "parity", task_files()), state="draft")
    assert hosted["state"] == "draft" and not hosted["accepting_submissions"]
    ada = people.token("ada")
    assert "parity" not in {c["slug"] for c in client.get("/api/v1/competitions", headers=auth(ada)).get_json()}
    assert client.get("/api/v1/competitions/parity", headers=auth(ada)).status_code == 404
    assert client.get("/c/parity").status_code == 404
    assert "parity" in {c["slug"] for c in client.get("/api/v1/competitions", headers=auth(org)).get_json()}
    refused = upload(client, ada, "parity", right_on(1.0))
    assert refused.status_code == 404 and "draft" not in refused.get_data(as_text=True)  # not even its existence
    assert (
        client.post("/api/v1/competitions/parity/reveal", json={"confirm": True}, headers=auth(org)).status_code == 400
    )
    assert client.delete("/api/v1/competitions/parity", json={}, headers=auth(org)).status_code == 400  # no confirm
    assert client.delete("/api/v1/competitions/parity", json={"confirm": True}, headers=auth(org)).status_code == 200
    assert client.get("/api/v1/competitions/parity", headers=auth(org)).status_code == 404
    with app.extensions["arena_db"].session() as session:
        assert [e.action for e in session.query(AuditEntry).filter_by(competition_slug="parity")] == ["host", "delete"]


def test_opening_a_draft_publishes_it_and_a_published_competition_cannot_be_deleted(client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()), state="draft")
    opened = client.post("/api/v1/competitions/parity/open", headers=auth(org)).get_json()["competition"]
    assert opened["state"] == "open" and opened["accepting_submissions"]
    assert upload(client, people.token("ada"), "parity", right_on(1.0)).status_code == 202
    refused = client.delete("/api/v1/competitions/parity", json={"confirm": True}, headers=auth(org))
    assert refused.status_code == 400 and "only a draft can be deleted" in refused.get_json()["problems"][0]
    still_open = client.post("/api/v1/competitions/parity/archive", json={"confirm": True}, headers=auth(org))
    assert still_open.status_code == 400 and "confirm" not in still_open.get_json()["problems"][0]
    client.post("/api/v1/competitions/parity/close", headers=auth(org))
    unconfirmed = client.post("/api/v1/competitions/parity/archive", json={}, headers=auth(org))
    assert unconfirmed.status_code == 400 and '"confirm": true' in unconfirmed.get_json()["problems"][0]
    confirmed = client.post("/api/v1/competitions/parity/archive", json={"confirm": True}, headers=auth(org))
    archived = confirmed.get_json()["competition"]
    assert archived["state"] == "archived" and "archived" in archived["closed_because"]
    assert client.post("/api/v1/competitions/parity/open", headers=auth(org)).status_code == 400


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/v1/competitions/parity/reveal", {}),
        ("/api/v1/submissions/{sub}/disqualify", {}),
        ("/api/v1/competitions/parity/teams/{team}/disqualify", {}),
    ],
)
def test_the_api_asks_for_confirm_true(app, client, people, org, tmp_path, path, body):
    host(client, org, write(tmp_path / "parity", task_files()))
    sub = upload(client, people.token("ada"), "parity", right_on(1.0)).get_json()["submission"]["id"]
    with app.extensions["arena_db"].session() as session:
        team = session.get(Submission, sub).team_id
    path = path.format(sub=sub, team=team)
    replaced = client.put("/api/v1/competitions/parity/task", json={"task": "digits"}, headers=auth(org))
    assert replaced.status_code == 400 and '"confirm": true' in replaced.get_json()["problems"][0]
    refused = client.post(path, json=body, headers=auth(org))
    assert refused.status_code == 400 and '"confirm": true' in refused.get_json()["problems"][0]
    assert client.post(path, json={**body, "confirm": True}, headers=auth(org)).status_code == 200


def test_the_web_asks_before_revealing_disqualifying_or_deleting(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    sub = upload(client, people.token("ada"), "parity", right_on(1.0)).get_json()["submission"]["id"]
    people.drain()
    people.login("org")
    asked = client.post("/c/parity/admin/reveal", data={"csrf_token": people.csrf()})
    assert asked.status_code == 200 and b"A reveal is final" in asked.data and b'name="confirm" value="1"' in asked.data
    assert not competition(app).revealed
    asked = client.post("/c/parity/admin/disqualify", data={"csrf_token": people.csrf(), "submission_id": sub})
    assert asked.status_code == 200 and f'name="submission_id" value="{sub}"'.encode() in asked.data
    no_box = client.post("/c/parity/admin/task", data={"csrf_token": people.csrf(), "task_ref": "digits"})
    assert no_box.status_code == 400 and b"tick" in no_box.data
    done = client.post("/c/parity/admin/reveal", data={"csrf_token": people.csrf(), "confirm": "1"})
    assert done.status_code == 302 and competition(app).revealed


# --- item 9: auto-selection -----------------------------------------------------------------


def _set_scores(app, values: dict[int, tuple[float, float]]) -> None:
    with app.extensions["arena_db"].session() as session, session.begin():
        for sub, (public, private) in values.items():
            row = session.get(Submission, sub)
            row.public_primary, row.private_primary = public, private


def test_a_team_that_chose_no_finals_is_judged_on_its_best_public_ones_up_to_the_limit(
    app, client, people, org, tmp_path
):
    host(client, org, write(tmp_path / "parity", task_files()), final_selections=2)
    ada = people.token("ada")
    subs = [upload(client, ada, "parity", right_on(share)).get_json()["submission"]["id"] for share in (0.9, 0.8, 0.7)]
    people.drain()
    # Best public is the first, but the second-best public one is best on private rows: it is judged.
    _set_scores(app, {subs[0]: (0.95, 0.60), subs[1]: (0.90, 0.85), subs[2]: (0.50, 0.99)})
    rows = client.get("/api/v1/competitions/parity/leaderboard?board=private", headers=auth(org)).get_json()["rows"]
    assert rows[0]["submission_id"] == subs[1] and rows[0]["auto_selected"]
    people.login("ada")
    assert b'id="auto-select"' in client.get("/c/parity/submissions").data


# --- item 10: the admin page ----------------------------------------------------------------


def test_admin_shows_files_notes_uploaders_errors_and_downloads_the_file(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    ada = people.token("ada")
    good = right_on(1.0)
    upload(client, ada, "parity", good, name="mine.csv", note="all right")
    upload(client, ada, "parity", "id,label\n1,0\n", name="broken.csv")
    people.drain()
    sub = client.get("/api/v1/competitions/parity/submissions", headers=auth(ada)).get_json()["submissions"][-1]["id"]
    people.login("ada")
    assert client.get(f"/c/parity/admin/submissions/{sub}/file").status_code == 403
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("org")
    page = client.get("/c/parity/admin").get_data(as_text=True)
    assert "mine.csv" in page and "all right" in page and "broken.csv" in page and ">ada<" in page
    assert 'class="problems"' in page  # the failed file's report
    download = client.get(f"/c/parity/admin/submissions/{sub}/file")
    assert download.status_code == 200 and download.data.decode() == good


def test_a_teams_own_daily_limit_and_the_audit_log(app, client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()), daily_limit=1)
    ada = people.token("ada")
    upload(client, ada, "parity", right_on(1.0))
    assert "all 1 submissions" in upload(client, ada, "parity", right_on(0.9)).get_json()["problems"][0]
    with app.extensions["arena_db"].session() as session:
        team = session.query(Submission).first().team_id
    people.login("org")
    bad = client.post(
        "/c/parity/admin/team-limit", data={"csrf_token": people.csrf(), "team_id": team, "daily_limit": "0"}
    )
    assert bad.status_code == 400
    client.post("/c/parity/admin/team-limit", data={"csrf_token": people.csrf(), "team_id": team, "daily_limit": "3"})
    assert client.get("/api/v1/competitions/parity/submissions", headers=auth(ada)).get_json()["slots_left"] == 2
    assert upload(client, ada, "parity", right_on(0.85)).status_code == 202
    client.post("/c/parity/admin/rescore", data={"csrf_token": people.csrf()})
    client.post("/c/parity/admin/announce", data={"csrf_token": people.csrf(), "body": "New **data** tomorrow."})
    assert b"<strong>data</strong>" in client.get("/c/parity").data
    client.post("/c/parity/admin/reveal", data={"csrf_token": people.csrf(), "confirm": "1"})
    log = client.get("/c/parity/admin").get_data(as_text=True).split('id="audit-log"')[1]
    for action in ("host", "team-limit", "rescore", "announce", "reveal"):
        assert f"<td>{action}</td>" in log, action
    assert "<td>org</td>" in log


def test_a_teams_own_limit_holds_under_concurrent_uploads(people_factory, database_url, tmp_path):
    app, client, people = people_factory(DATABASE_URL=database_url)
    org = people.token("org", organiser=True)
    host(client, org, write(tmp_path / "parity", task_files()), daily_limit=1)
    ada = people.token("ada")
    upload(client, ada, "parity", right_on(1.0))
    with app.extensions["arena_db"].session() as session:
        team_id = session.query(Submission).first().team_id
    from arena.server import submissions

    with app.extensions["arena_db"].session() as session, session.begin():
        submissions.set_team_daily_limit(
            session, submissions.team_in(session, session.query(Competition).filter_by(slug="parity").one(), team_id), 3
        )
    barrier, codes = threading.Barrier(6), []

    def send(k: int) -> None:
        mine = app.test_client()
        barrier.wait()
        codes.append(upload(mine, ada, "parity", right_on(0.5 + k / 20)).status_code)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(codes) == [202, 202, 400, 400, 400, 400]


# --- item 11: host from CSVs ------------------------------------------------------------------


def _csvs(files: dict[str, str]) -> dict:
    return {part: (io.BytesIO(files[f"{part}.csv"].encode()), f"{part}.csv") for part in ("train", "test", "answers")}


def test_host_a_task_built_from_uploaded_csvs_after_a_preview(app, client, people, org, tmp_path, arena_home):
    people.login("org")
    form = {
        "csrf_token": people.csrf(),
        "name": "parity",
        "title": "Parity",
        "kind": "classification",
        "id_column": "id",
        "target": "label",
        "metric": "accuracy",
        "prediction": "label",
        "public_fraction": "0.5",
        "daily_limit": "4",
        "final_selections": "1",
    }
    preview = client.post("/host/build", data={**form, **_csvs(task_files())}, content_type="multipart/form-data")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="task-preview"' in text and "40 train · 20 test" in text
    assert str(arena_home) not in text
    token = text.split('name="token" value="')[1].split('"')[0]
    hosted = client.post(
        "/host/build/host",
        data={
            "csrf_token": people.csrf(),
            "token": token,
            "slug": "parity",
            "state": "draft",
            "public_fraction": "0.5",
        },
    )
    assert hosted.status_code == 302
    made = competition(app)
    assert made.lifecycle == "draft" and made.daily_limit == 4 and made.public_fraction == 0.5 and made.snapshot


def test_building_from_csvs_reports_every_problem_without_server_paths(client, people, org, arena_home):
    people.login("org")
    files = task_files()
    files["answers.csv"] = "id,label\n40,0\n"  # most test ids have no answer
    form = {
        "csrf_token": people.csrf(),
        "name": "parity",
        "id_column": "id",
        "target": "label",
        "metric": "accuracy",
        "prediction": "label",
        "kind": "classification",
    }
    preview = client.post("/host/build", data={**form, **_csvs(files)}, content_type="multipart/form-data")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'id="build-problems"' in text and "test ids have no answer" in text
    assert str(arena_home) not in text
    bad = client.post(
        "/host/build", data={**form, "metric": "nonsense", **_csvs(task_files())}, content_type="multipart/form-data"
    )
    assert bad.status_code == 400 and b"not a metric" in bad.data


# --- item 12: what participants see -----------------------------------------------------------


def test_a_submission_page_shows_metrics_history_and_the_validation_report(app, client, people, org, tmp_path):
    # Rounded feedback: the page shows every public metric with its interval (the Ladder shows its release only).
    host(client, org, write(tmp_path / "parity", task_files()), feedback="rounded")
    ada, bob = people.token("ada"), people.token("bob")
    good = upload(client, ada, "parity", right_on(0.9)).get_json()["submission"]["id"]
    bad = upload(client, ada, "parity", "id,label\n40,0\n", name="short.csv").get_json()["submission"]["id"]
    upload(client, bob, "parity", right_on(0.8))
    people.drain()
    write(tmp_path / "parity", task_files(version=2))
    client.put(
        "/api/v1/competitions/parity/task", json={"task": str(tmp_path / "parity"), "confirm": True}, headers=auth(org)
    )
    people.drain()
    people.login("ada")
    page = client.get(f"/c/parity/submissions/{good}").get_data(as_text=True)
    assert 'id="metrics"' in page and "accuracy" in page and "[" in page and "(public / private)" not in page
    history = page.split('id="history"')[1]
    assert history.count("<tr><td>") == 2  # scored under version 1, then version 2
    failed = client.get(f"/c/parity/submissions/{bad}").get_data(as_text=True)
    assert 'class="problems"' in failed.split('id="validation"')[1]
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("bob")
    assert client.get(f"/c/parity/submissions/{good}").status_code == 403
    client.post("/api/v1/competitions/parity/reveal", json={"confirm": True}, headers=auth(org))
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("ada")
    assert "(public / private)" in client.get(f"/c/parity/submissions/{good}").get_data(as_text=True)


def test_after_the_reveal_both_boards_show_with_each_teams_rank_change(app, client, people, org, tmp_path):
    # Rounded feedback: the public board ranks the public scores set below (the Ladder's would rank its releases).
    host(client, org, write(tmp_path / "parity", task_files()), feedback="rounded")
    a = upload(client, people.token("ada"), "parity", right_on(0.9)).get_json()["submission"]["id"]
    b = upload(client, people.token("bob"), "parity", right_on(0.8)).get_json()["submission"]["id"]
    people.drain()
    _set_scores(app, {a: (0.9, 0.6), b: (0.8, 0.7)})  # ada leads in public, bob in private
    client.post("/api/v1/competitions/parity/reveal", json={"confirm": True}, headers=auth(org))
    page = client.get("/c/parity").get_data(as_text=True)
    final = page.split('id="final-boards"')[1]
    private, public = final.split('id="public-leaderboard"')
    assert private.index("bob") < private.index("ada") and public.index("ada") < public.index("bob")
    assert "+1" in private and "−1" in private


def test_a_closed_competition_says_why_uploads_are_off(client, people, org, tmp_path):
    host(client, org, write(tmp_path / "parity", task_files()))
    people.token("ada")
    client.post("/api/v1/competitions/parity/close", headers=auth(org))
    page = client.get("/c/parity").get_data(as_text=True)
    assert 'id="uploads-off"' in page and "the organisers have closed this competition" in page
    people.login("ada")
    mine = client.get("/c/parity/submissions").get_data(as_text=True)
    assert 'id="uploads-off"' in mine and 'id="upload-form"' not in mine
