"""Hostile participants and careless organisers: each break an attack campaign found, tried again.

Every test here failed before its fix. Sections follow the report: integrity of the
final ranking, probing the hidden rows, resources, accounts and sessions, pages and
exports and names, workers.
"""

from __future__ import annotations

# --- integrity of the final ranking -------------------------------------------------

import hashlib as _hashlib  # noqa: E402
import threading as _threading  # noqa: E402

import pytest as _pytest  # noqa: E402


def _integrity_upload(client, token, slug, content, **form):
    from conftest import upload

    return upload(client, token, slug, content, **form)


def _integrity_race(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; returns what each returned."""
    barrier, results = _threading.Barrier(count), [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [_threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_final_choice_is_locked_by_its_own_competition_whatever_the_url(client, people):
    from conftest import auth
    from helpers import predictions_csv

    org, ada = people.token("org", organiser=True), people.token("ada")
    chosen = _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    other = _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.7, 1)).get_json()["submission"]["id"]
    people.drain()
    assert client.post(f"/api/v1/submissions/{chosen}/select", json={"selected": True}, headers=auth(ada)).status_code == 200
    assert client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    people.login("ada")
    for slug in ("digits", "mnist1d"):  # digits is not revealed: its lock must not decide for mnist1d's submission
        for submission_id, value in ((other, "1"), (chosen, "0")):
            response = client.post(f"/c/{slug}/submissions/{submission_id}/select",
                                   data={"csrf_token": people.csrf(), "selected": value})
            assert response.status_code in (400, 404)
    mine = {s["id"]: s["selected"] for s in
            client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()["submissions"]}
    assert mine == {chosen: True, other: False}


def test_only_organisers_may_mark_an_upload_as_a_baseline(client, people):
    from conftest import auth
    from helpers import predictions_csv

    org, ada = people.token("org", organiser=True), people.token("ada")
    refused = _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9), baseline="1")
    assert refused.status_code == 400 and "only organisers" in refused.get_json()["problems"][0]
    assert client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()["submissions"] == []
    accepted = _integrity_upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.9), baseline="true")
    assert accepted.status_code == 202 and accepted.get_json()["submission"]["is_baseline"]


@_pytest.mark.parametrize("false", ["false", "0", "no", "off"])
def test_a_false_form_boolean_means_false(client, people, false):
    from conftest import auth
    from helpers import predictions_csv

    org, ada = people.token("org", organiser=True), people.token("ada")
    submission_id = _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    selected = client.post(f"/api/v1/submissions/{submission_id}/select", json={"selected": false}, headers=auth(ada))
    assert selected.status_code == 200 and selected.get_json()["selected"] is False
    kept = client.post(f"/api/v1/submissions/{submission_id}/disqualify", json={"disqualified": false, "confirm": True},
                       headers=auth(org))
    assert kept.status_code == 200 and kept.get_json()["disqualified"] is False
    plain = _integrity_upload(client, org, "mnist1d", predictions_csv("mnist1d", 0.8, 2), baseline=false)
    assert plain.status_code == 202 and not plain.get_json()["submission"]["is_baseline"]
    people.login("ada")
    client.post(f"/c/mnist1d/submissions/{submission_id}/select", data={"csrf_token": people.csrf(), "selected": false})
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(ada)).get_json()["submissions"]
    assert not mine[0]["selected"]


def test_an_unclear_form_boolean_is_refused_with_the_reason(client, people):
    from conftest import auth
    from helpers import predictions_csv

    ada = people.token("ada")
    submission_id = _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9)).get_json()["submission"]["id"]
    people.drain()
    response = client.post(f"/api/v1/submissions/{submission_id}/select", json={"selected": "maybe"}, headers=auth(ada))
    assert response.status_code == 400 and "'selected' must be true or false" in response.get_json()["problems"][0]


def test_two_competitions_on_one_task_have_independent_splits(client, people, tmp_path, capsys):
    from conftest import auth
    from helpers import predictions_csv

    import json

    from arena.cli import main
    from arena.db.models import Competition, Submission
    from arena.scoring.datasets import load_task
    from arena.scoring.score import public_rows, score_submission
    from arena.scoring.splits import split_scope

    org, ada = people.token("org", organiser=True), people.token("ada")
    for slug in ("twin-a", "twin-b"):
        assert client.post("/api/v1/competitions", json={"task": "digits", "slug": slug}, headers=auth(org)).status_code == 201
    content = predictions_csv("digits", 0.6, 5)
    ids = [_integrity_upload(client, ada, slug, content).get_json()["submission"]["id"] for slug in ("twin-a", "twin-b")]
    people.drain()
    task = load_task("digits")
    db = client.application.extensions["arena_db"]
    with db.session() as session:
        keys = {c.slug: c.split_key for c in session.query(Competition).filter(Competition.slug.in_(["twin-a", "twin-b"]))}
        scores = [session.get(Submission, i).score for i in ids]
    assert all(len(key) == 32 for key in keys.values()) and keys["twin-a"] != keys["twin-b"]
    a, b = (public_rows(task, 0.3, split_key=keys[slug]) for slug in ("twin-a", "twin-b"))
    both = (a & b).mean()
    assert abs(both - a.mean() * b.mean()) < 0.05 and (a != b).mean() > 0.2  # independent, not shared
    # each worker scored on its own competition's split
    path = tmp_path / "predictions.csv"
    path.write_text(content)
    for slug, recorded in zip(("twin-a", "twin-b"), scores):
        assert recorded["public"] == score_submission(task, path, public_fraction=0.3, split_key=keys[slug]).to_dict()["public"]
    # `arena score` on the command line keeps working: the installation secret and the task name, no competition
    assert main(["score", "digits", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["public"] == score_submission(task, path).to_dict()["public"]
    assert split_scope("digits") == "digits" and not (public_rows(task, 0.3) == a).all()


def test_a_reveal_is_final(client, people):
    from conftest import auth
    from helpers import predictions_csv

    org, ada = people.token("org", organiser=True), people.token("ada")
    _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9))
    people.drain()
    assert client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    for action in ("open", "rescore"):
        refused = client.post(f"/api/v1/competitions/mnist1d/{action}", headers=auth(org))
        assert refused.status_code == 400 and "a reveal is final" in refused.get_json()["problems"][0], action
    replaced = client.put("/api/v1/competitions/mnist1d/task", json={"task": "digits", "confirm": True}, headers=auth(org))
    assert replaced.status_code == 400 and "a reveal is final" in replaced.get_json()["problems"][0]
    people.login("org")
    reopened = client.post("/c/mnist1d/admin/open", data={"csrf_token": people.csrf()})
    assert reopened.status_code == 400 and b"a reveal is final" in reopened.data
    competition = client.get("/api/v1/competitions/mnist1d").get_json()
    assert competition["revealed"] and not competition["accepting_submissions"]
    late = _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 1.0))
    assert late.status_code == 400 and "revealed" in late.get_json()["problems"][0]


def test_the_split_is_frozen_once_a_submission_is_scored(client, people):
    from conftest import auth
    from helpers import predictions_csv

    org, ada = people.token("org", organiser=True), people.token("ada")
    assert client.patch("/api/v1/competitions/mnist1d", json={"public_fraction": 0.4}, headers=auth(org)).status_code == 200
    _integrity_upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.9))
    people.drain()
    refused = client.patch("/api/v1/competitions/mnist1d", json={"public_fraction": 0.5}, headers=auth(org))
    assert refused.status_code == 400 and "split is frozen at 0.4" in refused.get_json()["problems"][0]
    people.login("org")
    form = client.post("/c/mnist1d/admin/settings", data={"csrf_token": people.csrf(), "public_fraction": "0.2"})
    assert form.status_code == 400 and b"split is frozen" in form.data
    unchanged = client.patch("/api/v1/competitions/mnist1d", json={"public_fraction": 0.4, "daily_limit": 9}, headers=auth(org))
    assert unchanged.status_code == 200 and unchanged.get_json()["rules"]["public_fraction"] == 0.4


def test_the_answer_key_commitment_is_salted_and_checkable_after_the_reveal(client, people):
    from conftest import auth

    from arena.scoring.datasets import answer_key_csv, load_task

    org = people.token("org", organiser=True)
    task = load_task("mnist1d")
    unsalted = task.answer_key.sha256
    before = client.get("/api/v1/competitions/mnist1d").get_json()
    page = client.get("/c/mnist1d").get_data(as_text=True)
    commitment = before["answer_key_commitment"]
    assert len(commitment) == 64 and commitment in page and before["commitment_salt"] is None
    everything = client.get("/api/v1/competitions").get_data(as_text=True) + page
    assert unsalted not in everything  # the brute-forceable hash is gone
    client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org))
    after = client.get("/api/v1/competitions/mnist1d").get_json()
    salt = after["commitment_salt"]
    assert after["answer_key_commitment"] == commitment and len(salt) == 32
    assert _hashlib.sha256(f"{salt}\n".encode() + answer_key_csv(task.answers, task.spec)).hexdigest() == commitment
    assert after["commitment_holds"] is True
    revealed = client.get("/c/mnist1d").get_data(as_text=True)
    assert salt in revealed and "matches the commitment" in revealed


def test_each_competition_commits_with_its_own_salt(client, people):
    from conftest import auth

    org = people.token("org", organiser=True)
    client.post("/api/v1/competitions", json={"task": "mnist1d", "slug": "again"}, headers=auth(org))
    first, second = (client.get(f"/api/v1/competitions/{slug}").get_json()["answer_key_commitment"] for slug in ("mnist1d", "again"))
    assert first != second  # same answer key, different salts


@_pytest.mark.parametrize("slug", ["../../escape-{}", "/tmp/escape-{}"])
def test_hosting_checks_the_short_name_before_unpacking_anything(client, people, arena_home, slug):
    import io
    import secrets
    import zipfile
    from pathlib import Path

    from arena.scoring.datasets import find_bundle

    people.token("org", organiser=True)
    people.login("org")
    slug = slug.format(secrets.token_hex(4))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in find_bundle("sunspots").iterdir():
            if path.is_file():
                bundle.write(path, f"sunspots/{path.name}")
    archive.seek(0)
    response = client.post("/host", data={"csrf_token": people.csrf(), "slug": slug, "bundle": (archive, "sunspots.zip")},
                           content_type="multipart/form-data")
    assert response.status_code == 400 and b"short name" in response.data
    assert not (arena_home / "bundles" / slug).resolve().exists() and not Path(slug).exists()


def test_a_disqualified_team_cannot_rank_again_with_a_re_upload(client, people):
    from conftest import auth
    from helpers import predictions_csv

    org, ada, bob = people.token("org", organiser=True), people.token("ada"), people.token("bob")
    content = predictions_csv("mnist1d", 0.95)
    _integrity_upload(client, ada, "mnist1d", content)
    _integrity_upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.5, 3))
    people.drain()
    rows = client.get("/api/v1/competitions/mnist1d/all-submissions", headers=auth(org)).get_json()
    team_id = next(r["team_id"] for r in rows if r["team"] == "ada")
    out = client.post(f"/api/v1/competitions/mnist1d/teams/{team_id}/disqualify", json={"confirm": True}, headers=auth(org))
    assert out.status_code == 200 and out.get_json()["disqualified"]
    again = _integrity_upload(client, ada, "mnist1d", content + "\n")
    assert again.status_code == 400 and "disqualified" in again.get_json()["problems"][0]
    people.drain()
    board = lambda: [r["team"] for r in client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]]
    assert board() == ["bob"]
    assert client.post(f"/api/v1/competitions/mnist1d/teams/{team_id}/disqualify", json={"confirm": True}, headers=auth(ada)).status_code == 403
    people.login("org")
    assert b"Disqualify team" in client.get("/c/mnist1d/admin").data
    restored = client.post("/c/mnist1d/admin/disqualify-team", data={"csrf_token": people.csrf(), "team_id": team_id, "undo": "1"})
    assert restored.status_code == 302 and board() == ["ada", "bob"]
    client.post("/c/mnist1d/admin/disqualify-team", data={"csrf_token": people.csrf(), "team_id": team_id, "confirm": "1"})
    assert board() == ["bob"]


# The races: threads released by one barrier, on SQLite and PostgreSQL, through the API and the web forms.


def _integrity_people(people_factory, database_url):
    from conftest import People

    app, client, people = people_factory(DATABASE_URL=database_url)

    def person(name: str, *, organiser: bool = False, web: bool = False):
        token = people.token(name, organiser=organiser)
        own = app.test_client()
        helper = People(app, own)
        if web:
            helper.login(name)
        return token, own, helper

    return app, client, people, person


@_pytest.mark.parametrize("route", ["api", "web"])
def test_concurrent_joins_never_overfill_a_team(people_factory, database_url, route):
    from conftest import auth

    app, client, people, person = _integrity_people(people_factory, database_url)
    org, ada = people.token("org", organiser=True), people.token("ada")
    client.patch("/api/v1/competitions/mnist1d", json={"team_size": 2}, headers=auth(org))
    code = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Pair"}, headers=auth(ada)).get_json()["invite_code"]
    joiners = [person(f"joiner{i}", web=route == "web") for i in range(8)]
    csrfs = [helper.csrf() for _, _, helper in joiners]

    def join(i: int) -> int:
        token, own, helper = joiners[i]
        if route == "api":
            return own.post("/api/v1/competitions/mnist1d/teams/join", json={"invite_code": code}, headers=auth(token)).status_code
        return own.post("/c/mnist1d/team", data={"csrf_token": csrfs[i], "action": "join", "invite_code": code}).status_code

    statuses = _integrity_race(len(joiners), join)
    assert 500 not in statuses, statuses
    members = client.get("/api/v1/competitions/mnist1d/team", headers=auth(ada)).get_json()["team"]["members"]
    assert len(members) == 2 and sum(status in (200, 302) for status in statuses) == 1, statuses


@_pytest.mark.parametrize("route", ["api", "web"])
def test_concurrent_final_choices_never_pass_the_limit(people_factory, database_url, route):
    from conftest import auth
    from helpers import predictions_csv

    app, client, people, person = _integrity_people(people_factory, database_url)
    token, own, helper = person("ada", web=route == "web")
    ids = [_integrity_upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.5, seed)).get_json()["submission"]["id"]
           for seed in range(5)]
    people.drain()
    csrf = helper.csrf()

    def choose(i: int) -> int:
        if route == "api":
            return own.post(f"/api/v1/submissions/{ids[i]}/select", json={"selected": True}, headers=auth(token)).status_code
        return own.post(f"/c/mnist1d/submissions/{ids[i]}/select", data={"csrf_token": csrf, "selected": "1"}).status_code

    statuses = _integrity_race(len(ids), choose)
    assert 500 not in statuses, statuses
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()["submissions"]
    assert sum(s["selected"] for s in mine) == 2 and statuses.count(400) == 3, statuses  # mnist1d's final_selections


@_pytest.mark.parametrize("route", ["api", "web"])
def test_concurrent_first_uploads_make_one_team_and_no_error(people_factory, database_url, route):
    import io

    from conftest import auth
    from helpers import predictions_csv

    app, client, people, person = _integrity_people(people_factory, database_url)
    token, own, helper = person("ada", web=route == "web")
    files = [predictions_csv("mnist1d", 0.5, seed) for seed in range(6)]
    csrf = helper.csrf()

    def first_upload(i: int) -> int:
        if route == "api":
            return _integrity_upload(own, token, "mnist1d", files[i]).status_code
        return own.post("/c/mnist1d/submissions", data={"csrf_token": csrf, "file": (io.BytesIO(files[i].encode()), "s.csv")},
                        content_type="multipart/form-data").status_code

    statuses = _integrity_race(len(files), first_upload)
    assert 500 not in statuses, statuses
    mine = client.get("/api/v1/competitions/mnist1d/submissions", headers=auth(token)).get_json()
    assert mine["team"] == "ada" and len(mine["submissions"]) == 5, statuses  # mnist1d's daily limit, in one team
    assert [r["team"] for r in client.get("/api/v1/competitions/mnist1d/all-submissions",
                                          headers=auth(people.token("org", organiser=True))).get_json()].count("ada") == 5


# --- probing the hidden rows ---------------------------------------------------------

# --- resources -----------------------------------------------------------------------

import os as _os  # noqa: E402
import subprocess as _subprocess  # noqa: E402
import sys as _sys  # noqa: E402
import threading as _rthreading  # noqa: E402
import time as _time  # noqa: E402

import pytest as _rpytest  # noqa: E402

_RSS_SCRIPT = """
import json, resource, sys, tempfile, os
from arena.errors import SubmissionError
from arena.scoring.datasets import load_task
from arena.scoring.score import score_submission
task = load_task("mnist1d")
key = task.answer_key
key_bytes = sum(a.nbytes for a in (key.ids, key.truth, key.classes, key.usage_public, key.ignored) if a is not None)
sample = os.path.join(tempfile.mkdtemp(), "sample.csv")
task.sample_submission().to_csv(sample, index=False)
score_submission(task, sample)  # warm: every library loaded, the split cached
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
answers = {}
for path in sys.argv[1:]:
    try:
        score_submission(task, path)
        answers[path] = "scored"
    except SubmissionError as exc:
        answers[path] = exc.messages()
growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps({"key_bytes": key_bytes, "growth": growth, "answers": answers}))
"""


def _resources_bombs(folder) -> list:
    """A gzip bomb of rows, a gzip bomb of one endless field, a Parquet of 30 million rows, a Parquet whose
    dictionary turns a 100 kB string into 100 MB: each well under 1 MB on disk."""
    import gzip

    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows, field = folder / "rows.csv.gz", folder / "field.csv.gz"
    block = gzip.compress(b"4000,1\n" * (1 << 17), 9)
    with open(rows, "wb") as out:
        out.write(gzip.compress(b"id,label\n"))
        out.writelines([block] * 220)  # about 200 MB of rows
    with open(field, "wb") as out:
        out.write(gzip.compress(b"id,label\n4000,"))
        out.writelines([gzip.compress(b"7" * (1 << 20), 9)] * 300)  # one 300 MB field
    many = folder / "rows.parquet"
    table = pa.table({"id": np.full(1 << 20, 4000), "label": np.ones(1 << 20, dtype=np.int64)})
    with pq.ParquetWriter(many, table.schema, compression="zstd") as writer:
        for _ in range(30):
            writer.write_table(table)
    wide = folder / "dictionary.parquet"
    label = pa.DictionaryArray.from_arrays(pa.array(np.zeros(1000, dtype=np.int32)), pa.array(["1" * 100_000]))
    pq.write_table(pa.table({"id": np.arange(4000, 5000), "label": label}), wide, compression="zstd")
    return [rows, field, many, wide]


def test_hostile_files_cost_bounded_memory_when_scored(tmp_path):
    """Item 9: scoring bombs grows a fresh process by at most 4x the answer key plus 200 MB (peak RSS)."""
    import json

    bombs = _resources_bombs(tmp_path)
    assert all(path.stat().st_size < 1 << 20 for path in bombs)
    result = _subprocess.run([_sys.executable, "-c", _RSS_SCRIPT, *map(str, bombs)], capture_output=True, text=True,
                             timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    for path in map(str, bombs):
        answer = measured["answers"][path]
        assert answer != "scored" and ("more than 1,000 rows" in answer[0] or "of text once decompressed" in answer[0]), answer
    assert measured["growth"] <= 4 * measured["key_bytes"] + 200 * 2**20, measured


def _resources_store_with(database_url):
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.server import accounts, competitions

    db = Database(database_url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        competition = competitions.host(session, "mnist1d")
        user = accounts.register(session, "ada", "correct horse battery staple")
        return db, competition.id, user.id


def _resources_dead_worker() -> str:
    import socket

    gone = _subprocess.run([_sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{gone.stdout.strip()}:gone"


def test_a_file_that_kills_its_scorer_stops_at_the_attempt_limit_across_restarts(database_url):
    """Item 9: each restart (a sweep) requeues a job whose scorer died, until MAX_ATTEMPTS; then it fails,
    says why, and costs no slot. Before, every restart requeued it: the server crash-looped."""
    import io

    from helpers import sample_csv

    from arena.db.models import Submission
    from arena.server import jobs, submissions, uploads

    db, competition_id, user_id = _resources_store_with(database_url)
    with db.session() as session, session.begin():
        from arena.db.models import User

        submission_id = uploads.submit_stream(session, "mnist1d", session.get(User, user_id),
                                              io.BytesIO(sample_csv("mnist1d").encode()), "bomb.csv").submission.id
    for attempt in range(1, submissions.MAX_ATTEMPTS + 1):
        with db.session() as session, session.begin():
            assert submissions.claim(session, submission_id, _resources_dead_worker())  # ... and the scorer dies
        requeued = jobs.sweep(db)  # what every start of a server or worker does first
        with db.session() as session:
            row = session.get(Submission, submission_id)
            assert row.attempts == attempt
            if attempt < submissions.MAX_ATTEMPTS:
                assert requeued == [submission_id] and row.status == "queued"
    assert requeued == [] and row.status == "failed"
    assert "stopped 3 times before it finished" in row.problems[0] and "did not use a submission slot" in row.problems[0]
    assert jobs.sweep(db) == [] and jobs.pending(db) == []
    db.engine.dispose()


def _resources_store_files() -> set:
    from arena.server.files import files_dir

    return {p.relative_to(files_dir()) for p in files_dir().rglob("*") if p.is_file()}


@_rpytest.mark.parametrize("route", ["api", "web"])
@_rpytest.mark.parametrize("refusal", ["ended", "limit", "not admitted"])
def test_a_refused_upload_leaves_nothing_in_the_store(app, client, people, route, refusal):
    """Item 10: the store holds accepted submissions' files only; a refused upload's bytes are gone."""
    import io
    from datetime import timedelta

    from conftest import auth
    from helpers import predictions_csv

    from arena.db.models import Competition, utcnow

    token = people.token("ada")
    db = app.extensions["arena_db"]
    first = client.post("/api/v1/competitions/mnist1d/submissions", headers=auth(token),
                        data={"file": (io.BytesIO(predictions_csv("mnist1d", 0.5).encode()), "first.csv")})
    assert first.status_code == 202
    with db.session() as session, session.begin():
        competition = session.query(Competition).filter_by(slug="mnist1d").one()
        if refusal == "ended":
            competition.ends_at = utcnow() - timedelta(minutes=1)
        elif refusal == "limit":
            competition.daily_limit = 1
        else:
            competition.join_needs_approval = True
    if refusal == "not admitted":
        people.token("bob")
    uploader = "ada" if refusal != "not admitted" else "bob"
    before = _resources_store_files()
    content = io.BytesIO(predictions_csv("mnist1d", 0.7, seed=3).encode())
    if route == "api":
        from arena.server import accounts

        with db.session() as session, session.begin():
            from arena.db.models import User

            bearer = token if uploader == "ada" else accounts.create_token(
                session, session.query(User).filter_by(username="bob").one())
        refused = client.post("/api/v1/competitions/mnist1d/submissions", headers=auth(bearer),
                              data={"file": (content, "second.csv")})
    else:
        people.login(uploader)
        refused = client.post("/c/mnist1d/submissions", data={"csrf_token": people.csrf(), "file": (content, "second.csv")})
    assert refused.status_code == 400, refused.data
    assert _resources_store_files() == before
    from arena.server.files import incoming_dir

    assert list(incoming_dir().iterdir()) == []


def test_the_store_tidies_files_no_submission_references(app, people):
    """Item 10: a crash between keeping a file and recording its row leaves a file no row names; it goes."""
    import io

    from arena.server import files

    sha, _ = files.store_stream(io.BytesIO(b"id,label\n4000,1\n"), 1000)
    old = _time.time() - 7200
    _os.utime(files.path_for(sha), (old, old))
    fresh, _ = files.store_stream(io.BytesIO(b"id,label\n4000,2\n"), 1000)  # an upload being recorded right now
    from arena.server.jobs import tidy_store

    assert tidy_store(app.extensions["arena_db"]) >= 1
    assert not files.path_for(sha).exists() and files.path_for(fresh).exists()
    files.path_for(fresh).unlink()


def _resources_slow_post(url: str, path: str, headers: dict, fields: dict, content: bytes, pause: float, sent):
    """POST multipart form data over a raw socket, pausing mid-file for ``pause`` seconds; returns the status."""
    import socket
    from urllib.parse import urlsplit

    boundary = "arena-slow-upload"
    body = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
                    for k, v in fields.items())
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.csv\"\r\n"
             "Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    parts = urlsplit(url)
    head = {"Host": parts.netloc, "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(body)), "Connection": "close", **headers}
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\n".encode() + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode()
                     + b"\r\n" + body[: len(body) // 2])
        sent.set()
        _time.sleep(pause)
        sock.sendall(body[len(body) // 2:])
        return int(sock.makefile("rb").readline().split()[1])


@_rpytest.mark.parametrize("route", ["api", "web"])
def test_a_slow_upload_does_not_block_another_requests_write(live_server, route):
    """Item 11, on SQLite: while an upload's bytes trickle in, no transaction is open, so another
    person's write goes through at once. Before, it waited for the whole upload."""
    import re

    import requests
    from helpers import predictions_csv

    server = live_server()
    if route == "api":
        headers, fields = {"Authorization": f"Bearer {server.people.token('ada')}"}, {}
        path = "/api/v1/competitions/mnist1d/submissions"
    else:
        server.people.token("ada")
        browser = requests.Session()
        page = browser.get(f"{server.url}/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        from conftest import PASSWORD

        logged = browser.post(f"{server.url}/login", data={"username": "ada", "password": PASSWORD,
                                                            "csrf_token": csrf}, allow_redirects=False)
        assert logged.status_code == 302
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{server.url}/c/mnist1d/submissions").text).group(1)
        headers = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.cookies), "Referer": server.url + "/"}
        fields, path = {"csrf_token": csrf}, "/c/mnist1d/submissions"
    bob = server.people.token("bob")
    sent, status = _rthreading.Event(), []
    upload = _rthreading.Thread(target=lambda: status.append(_resources_slow_post(
        server.url, path, headers, fields, predictions_csv("mnist1d", 0.8).encode() * 3, 4.0, sent)))
    upload.start()
    assert sent.wait(10)
    _time.sleep(0.5)  # the server is now inside the upload request, waiting for the rest of the bytes
    started = _time.monotonic()
    made = requests.post(f"{server.url}/api/v1/competitions/digits/teams", json={"name": "Quick"},
                         headers={"Authorization": f"Bearer {bob}"}, timeout=30)
    took = _time.monotonic() - started
    upload.join(30)
    assert made.status_code == 201 and took < 2.0, (made.status_code, took)
    assert status and status[0] in (202, 302, 400), status  # the upload itself is answered (three copies: bad rows)


def test_a_non_utf8_header_fails_as_the_participants_error_with_no_retry(client, people):
    """Item 23: reported as the participant's to fix, once; not retried as a failure of ours."""
    import io

    from conftest import auth

    token = people.token("ada")
    sent = client.post("/api/v1/competitions/mnist1d/submissions", headers=auth(token),
                       data={"file": (io.BytesIO(b"id,lab\xe9l\n4000,1\n"), "latin1.csv")})
    people.drain()
    answer = client.get(f"/api/v1/submissions/{sent.get_json()['submission']['id']}", headers=auth(token)).get_json()
    assert answer["status"] == "failed"
    assert "the header is not UTF-8 text" in answer["problems"][0] and "our side" not in str(answer["problems"])
    from arena.db.models import Submission

    with people.app.extensions["arena_db"].session() as session:
        assert session.get(Submission, answer["id"]).attempts == 1


def test_a_corrupt_parquet_error_shows_no_server_path(client, people, arena_home):
    """Item 23: the stored file's path (ARENA_HOME/files/ab/abab...) never reaches the participant."""
    import io

    from conftest import auth

    token = people.token("ada")
    sent = client.post("/api/v1/competitions/mnist1d/submissions", headers=auth(token),
                       data={"file": (io.BytesIO(b"PAR1" + bytes(range(256)) * 8 + b"PAR1"), "broken.parquet")})
    people.drain()
    answer = client.get(f"/api/v1/submissions/{sent.get_json()['submission']['id']}", headers=auth(token)).get_json()
    text = str(answer["problems"])
    assert answer["status"] == "failed" and "cannot be read as a Parquet file" in text
    assert str(arena_home) not in text and "files" not in text.split("Parquet file", 1)[1].split(".")[0]


def test_arena_home_private_parts_are_owner_only(tmp_path, monkeypatch):
    """Item 24: the secret, the database, the answer-key cache and the file store are 0600/0700; an
    installation made before is tightened as it is used."""
    import io
    import stat

    from arena import config
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.server import files

    home = tmp_path / "home"
    monkeypatch.setenv("ARENA_HOME", str(home))
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    (home / "cache").mkdir(parents=True, mode=0o755)
    (home / "cache").chmod(0o755)  # an older installation's folder
    config.installation_secret()
    db = Database()
    upgrade(db.engine)
    db.engine.dispose()
    files.store_stream(io.BytesIO(b"id,label\n"), 100)
    mode = lambda path: stat.S_IMODE(path.stat().st_mode)  # noqa: E731
    assert mode(config.cache_dir()) == 0o700
    assert mode(home / "secret") == 0o600 and mode(home / "arena.db") == 0o600
    assert all(mode(p) == 0o700 for p in [files.files_dir(), files.incoming_dir(), *files.files_dir().glob("*")])
    fresh = tmp_path / "new-home"
    monkeypatch.setenv("ARENA_HOME", str(fresh))
    assert mode(config.arena_home()) == 0o700


# --- accounts and sessions -----------------------------------------------------------

import pytest as _accounts_pytest  # noqa: E402


def _accounts_upload(client, token, slug, content, **form):
    from conftest import upload

    return upload(client, token, slug, content, **form)


def _accounts_race(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together by a barrier; returns what each returned."""
    import threading

    barrier, results = threading.Barrier(count), [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results



def _accounts_app(people_factory, **config):
    """An app of its own (its own rate-limit counters) with a client and a People helper."""
    return people_factory(DATABASE_URL=config.pop("DATABASE_URL", None) or _accounts_sqlite(), **config)


def _accounts_sqlite() -> str:
    import tempfile

    return f"sqlite:///{tempfile.mkdtemp(prefix='arena-accounts-')}/arena.db"


def _accounts_login(client, username: str, password: str, next_: str | None = None):
    from conftest import form_csrf

    path = "/login" if next_ is None else f"/login?next={next_}"
    return client.post(path, data={"username": username, "password": password, "csrf_token": form_csrf(client)})


@_accounts_pytest.mark.parametrize("target", ["/%09/evil.example", "/%5Cevil.com", "//evil.com", "https://evil.com/",
                                     "/%0a/evil.example", "/%5C%5Cevil.com", "javascript:alert(1)", "%2F%2Fevil.com"])
def test_login_never_sends_the_browser_off_site(client, people, target):
    from urllib.parse import urlsplit

    from conftest import PASSWORD

    people.token("ada")
    response = _accounts_login(client, "ada", PASSWORD, next_=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location == "/" and not urlsplit(location).netloc, location


def test_login_still_returns_to_a_page_on_this_site(client, people):
    from conftest import PASSWORD

    people.token("ada")
    assert _accounts_login(client, "ada", PASSWORD, next_="/c/mnist1d/submissions").headers["Location"] == "/c/mnist1d/submissions"


@_accounts_pytest.mark.parametrize("first", ["web", "api"])
def test_wrong_passwords_are_throttled_per_account_and_address_on_both_routes(people_factory, first):
    from conftest import PASSWORD

    app, client, people = _accounts_app(people_factory, LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="3 per minute")
    people.token("ada")
    people.token("bob")

    def attempt(route: str, username: str, password: str) -> object:
        if route == "web":
            return _accounts_login(client, username, password)
        return client.post("/api/v1/auth/token", json={"username": username, "password": password})

    other = "api" if first == "web" else "web"
    statuses = [attempt(route, "ada", "not-the-password").status_code for route in (first, other, first)]
    assert statuses == [401, 401, 401]
    for route in (first, other):  # the page and the API share the pair's bucket; even the right password waits
        refused = attempt(route, "ada", PASSWORD)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "Retry-After" in (refused.get_json() or {"problems": [refused.get_data(as_text=True)]})["problems"][0]
    assert attempt(first, "bob", PASSWORD).status_code in (200, 201, 302)  # another account is not locked out


def test_wrong_passwords_are_throttled_per_client_address(people_factory):
    app, client, people = _accounts_app(people_factory, LOGIN_LIMIT_PER_ADDRESS="4 per minute")
    statuses = [client.post("/api/v1/auth/token", json={"username": f"guess{i}", "password": "nope-nope-nope"}).status_code
                for i in range(6)]
    assert statuses == [401] * 4 + [429] * 2


def test_successful_logins_are_not_counted_against_anyone(people_factory):
    from conftest import PASSWORD

    app, client, people = _accounts_app(people_factory, LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS="2 per minute")
    people.token("ada")
    assert {_accounts_login(client, "ada", PASSWORD).status_code for _ in range(5)} == {302}


def test_rate_limits_are_shared_by_processes_through_redis(people_factory):
    import os
    import secrets

    from conftest import require_in_ci

    url = os.environ.get("ARENA_TEST_REDIS_URL")
    if not url:
        require_in_ci("no Redis server: set ARENA_TEST_REDIS_URL (.ci/services.sh starts one)")
    config = {"RATELIMIT_STORAGE_URI": url, "RATELIMIT_KEY_PREFIX": "arena-test-" + secrets.token_hex(4),
              "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "2 per minute"}
    database = _accounts_sqlite()
    (_, first, people), (_, second, _) = (people_factory(DATABASE_URL=database, **config),
                                          people_factory(DATABASE_URL=database, **config))
    people.token("ada")
    guess = {"username": "ada", "password": "not-the-password"}
    assert [client.post("/api/v1/auth/token", json=guess).status_code for client in (first, second)] == [401, 401]
    assert first.post("/api/v1/auth/token", json=guess).status_code == 429
    assert second.post("/api/v1/auth/token", json=guess).status_code == 429


def test_account_creation_is_rate_limited_per_address_on_both_routes(people_factory):
    from conftest import PASSWORD, form_csrf

    app, client, people = _accounts_app(people_factory, REGISTRATION_LIMIT_PER_ADDRESS="2 per hour")
    web = client.post("/register", data={"username": "throwaway1", "password": PASSWORD, "csrf_token": form_csrf(client, "/register")})
    api = client.post("/api/v1/auth/register", json={"username": "throwaway2", "password": PASSWORD})
    assert (web.status_code, api.status_code) == (302, 201)
    client.post("/logout", data={"csrf_token": form_csrf(client)})
    for response in (client.post("/api/v1/auth/register", json={"username": "throwaway3", "password": PASSWORD}),
                     client.post("/register", data={"username": "throwaway4", "password": PASSWORD,
                                                    "csrf_token": form_csrf(client, "/register")})):
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert client.post("/api/v1/auth/token", json={"username": "throwaway3", "password": PASSWORD}).status_code == 401


def test_unknown_usernames_cost_as_much_time_as_known_ones(app):
    import statistics
    import time

    from arena.server import accounts
    from conftest import PASSWORD

    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        accounts.register(session, "ada", PASSWORD)

    def seconds(username: str) -> float:
        times = []
        for _ in range(7):
            with db.session() as session:
                start = time.perf_counter()
                with _accounts_pytest.raises(accounts.AccountError, match="wrong username or password"):
                    accounts.authenticate(session, username, "not-the-password")
                times.append(time.perf_counter() - start)
        return statistics.median(times)

    known, unknown = seconds("ada"), seconds("nobody-here")
    assert unknown > 0.5 * known, (known, unknown)


def _accounts_weak_passwords():
    return ["password", "12345678", "ada-lovelace", "qwertyuiop"]


@_accounts_pytest.mark.parametrize("password", _accounts_weak_passwords())
def test_guessable_passwords_are_refused_on_every_route(client, people, password):
    from conftest import PASSWORD, auth, form_csrf

    username = "ada-lovelace"
    web = client.post("/register", data={"username": username, "password": password,
                                         "csrf_token": form_csrf(client, "/register")})
    assert web.status_code == 400 and "too easy to guess" in web.get_data(as_text=True)
    api = client.post("/api/v1/auth/register", json={"username": username, "password": password})
    assert api.status_code == 400 and any("password" in p for p in api.get_json()["problems"])
    token = people.token("grace")
    change = client.post("/api/v1/me/password", json={"current_password": PASSWORD,
                                                      "new_password": password}, headers=auth(token))
    assert change.status_code == 400
    people.login("grace")
    page = client.post("/account/password", data={"current_password": PASSWORD,
                                                   "new_password": password, "csrf_token": people.csrf()})
    assert page.status_code == 400
    people.login("grace")  # the old password still works: nothing was changed


def test_the_username_itself_is_not_a_password(client):
    response = client.post("/api/v1/auth/register", json={"username": "hopper1906", "password": "hopper1906"})
    assert response.status_code == 400 and "too easy to guess" in response.get_json()["problems"][0]


def test_passwords_hashed_before_argon2_still_log_in_and_are_upgraded(app, client, people):
    import hashlib
    import secrets

    from sqlalchemy import select

    from arena.db.models import User
    from conftest import PASSWORD

    salt = secrets.token_bytes(16)
    legacy = f"scrypt${salt.hex()}${hashlib.scrypt(PASSWORD.encode(), salt=salt, dklen=32, n=2**14, r=8, p=1).hex()}"
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        session.add(User(username="oldtimer", password_hash=legacy))
    people.login("oldtimer")
    with db.session() as session:
        assert session.scalar(select(User.password_hash).where(User.username == "oldtimer")).startswith("$argon2id$")
    client.post("/logout", data={"csrf_token": people.csrf()})
    people.login("oldtimer")


def test_api_tokens_have_names_expiry_a_list_and_a_revoke(app, client, people):
    from datetime import timedelta

    from arena.db.models import ApiToken, utcnow
    from conftest import PASSWORD, auth

    first = people.token("ada")
    made = client.post("/api/v1/me/tokens", json={"name": "laptop", "expires_in_days": 30}, headers=auth(first))
    assert made.status_code == 201
    laptop = made.get_json()["token"]
    listed = {t["name"]: t for t in client.get("/api/v1/me/tokens", headers=auth(laptop)).get_json()["tokens"]}
    assert listed["laptop"]["expires_at"] and not listed["laptop"]["expired"] and "token" not in listed["laptop"]
    assert client.post("/api/v1/me/tokens", json={"name": "x", "expires_in_days": "soon"}, headers=auth(first)).status_code == 400
    assert client.post("/api/v1/me/tokens", json={"name": "x", "expires_in_days": 0}, headers=auth(first)).status_code == 400

    other = people.token("bob")
    assert client.delete(f"/api/v1/me/tokens/{listed['laptop']['id']}", headers=auth(other)).status_code == 400
    assert client.delete(f"/api/v1/me/tokens/{listed['laptop']['id']}", headers=auth(first)).status_code == 200
    assert client.get("/api/v1/me", headers=auth(laptop)).status_code == 401

    short = client.post("/api/v1/auth/token", json={"username": "ada", "password": PASSWORD,
                                                     "name": "ci", "expires_in_days": 1}).get_json()["token"]
    assert client.get("/api/v1/me", headers=auth(short)).status_code == 200
    with app.extensions["arena_db"].session() as session, session.begin():
        for row in session.query(ApiToken).filter(ApiToken.label == "ci"):
            row.expires_at = utcnow() - timedelta(seconds=1)
    expired = client.get("/api/v1/me", headers=auth(short))
    assert expired.status_code == 401 and "expired" in expired.get_json()["problems"][0]


def test_tokens_are_named_listed_and_revoked_on_the_account_page(client, people):
    import re

    from conftest import auth

    people.token("ada")
    people.login("ada")
    page = client.post("/account", data={"csrf_token": people.csrf(), "name": "workstation", "expires_in_days": "7"})
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200
    listing = client.get("/account").get_data(as_text=True)
    assert "workstation" in listing and token not in listing  # the secret is shown once, never listed
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', listing).group(1)
    assert client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": people.csrf()}).status_code == 302
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    assert client.post("/account", data={"csrf_token": people.csrf(), "name": "x", "expires_in_days": "-3"}).status_code == 400


def test_a_session_cookie_stops_working_after_logout_everywhere(app, people):
    from conftest import People

    people.token("ada")
    here, there = app.test_client(), app.test_client()
    People(app, here).login("ada")
    People(app, there).login("ada")
    stolen = here.get_cookie("session").value
    assert here.post("/logout", data={"csrf_token": People(app, here).csrf()}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/account").status_code == 302  # the cookie from before the logout is dead
    assert there.get("/account").status_code == 302  # and so is the other session


@_accounts_pytest.mark.parametrize("route", ["web", "api"])
def test_a_password_change_ends_other_sessions_and_every_token(app, client, people, route):
    from conftest import PASSWORD, People, auth

    token = people.token("ada")
    people.login("ada")
    elsewhere = app.test_client()
    People(app, elsewhere).login("ada")
    new_password = "velvet-quasar-harbour-88"
    if route == "web":
        response = client.post("/account/password", data={"csrf_token": people.csrf(), "current_password": PASSWORD,
                                                          "new_password": new_password})
        assert response.status_code == 302 and client.get("/account").status_code == 200  # this session goes on
    else:
        response = client.post("/api/v1/me/password", json={"current_password": PASSWORD, "new_password": new_password},
                               headers=auth(token))
        assert response.status_code == 200
        assert client.get("/api/v1/me", headers=auth(response.get_json()["token"])).status_code == 200
    assert elsewhere.get("/account").status_code == 302
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 401
    wrong = client.post("/api/v1/auth/token", json={"username": "ada", "password": "velvet-quasar-harbour-88x"})
    assert wrong.status_code == 401


def test_a_password_change_needs_the_current_password(client, people):
    from conftest import auth

    token = people.token("ada")
    refused = client.post("/api/v1/me/password", json={"current_password": "guess-guess-guess",
                                                       "new_password": "velvet-quasar-harbour-88"}, headers=auth(token))
    assert refused.status_code == 400 and "current password is wrong" in refused.get_json()["problems"][0]
    assert client.get("/api/v1/me", headers=auth(token)).status_code == 200


def test_arena_submit_reads_its_token_from_the_environment(live_server, monkeypatch, capsys):
    from arena.cli import main
    from helpers import sample_csv

    server = live_server()
    token = server.people.token("ada")
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "sample.csv"
    path.write_text(sample_csv("mnist1d"))
    monkeypatch.delenv("ARENA_TOKEN", raising=False)
    assert main(["submit", "mnist1d", str(path), "--server", server.url]) != 0
    assert "ARENA_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("ARENA_TOKEN", token)
    assert main(["submit", "mnist1d", str(path), "--server", server.url]) == 0
    assert "queued" in capsys.readouterr().out


def test_the_organiser_command_promotes_only_when_told(monkeypatch, capsys):
    from sqlalchemy import select

    from arena.cli import main
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.db.models import User
    from arena.server import accounts
    from conftest import PASSWORD

    url = _accounts_sqlite()
    monkeypatch.setenv("ARENA_DATABASE_URL", url)
    db = Database(url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        accounts.register(session, "ada", PASSWORD)
    new = "velvet-quasar-harbour-88"
    assert main(["organiser", "ada", "--password", new]) != 0
    assert "--promote" in capsys.readouterr().err
    with db.session() as session:
        ada = session.scalar(select(User).where(User.username == "ada"))
        assert not ada.is_organiser and accounts.check_password(PASSWORD, ada.password_hash)
    assert main(["organiser", "ada", "--password", new, "--promote"]) == 0
    assert "promoted the participant 'ada' to organiser" in capsys.readouterr().out
    assert main(["organiser", "grace", "--password", new]) == 0
    assert "created the organiser 'grace'" in capsys.readouterr().out
    with db.session() as session:
        assert all(session.scalars(select(User.is_organiser).where(User.username.in_(["ada", "grace"]))))
    db.engine.dispose()


def test_a_weak_password_is_refused_by_the_organiser_command(monkeypatch, capsys):
    from arena.cli import main

    monkeypatch.setenv("ARENA_DATABASE_URL", _accounts_sqlite())
    assert main(["organiser", "grace", "--password", "password"]) != 0
    assert "too easy to guess" in capsys.readouterr().err


@_accounts_pytest.mark.parametrize("route", ["web", "api"])
def test_registration_approved_by_an_organiser(client, people, route):
    from conftest import PASSWORD, auth, form_csrf

    org = people.token("org", organiser=True)
    assert client.put("/api/v1/installation/registration", json={"policy": "approval"}, headers=auth(org)).status_code == 200
    if route == "web":
        response = client.post("/register", data={"username": "newbie", "password": PASSWORD,
                                                   "csrf_token": form_csrf(client, "/register")})
        assert response.status_code == 302 and client.get("/account").status_code == 302  # not logged in
    else:
        response = client.post("/api/v1/auth/register", json={"username": "newbie", "password": PASSWORD})
        assert response.status_code == 202 and response.get_json()["token"] is None
    waiting = client.post("/api/v1/auth/token", json={"username": "newbie", "password": PASSWORD})
    assert waiting.status_code == 401 and "approval" in waiting.get_json()["problems"][0]
    assert _accounts_login(client, "newbie", PASSWORD).status_code == 401
    assert client.get("/api/v1/installation/registration", headers=auth(org)).get_json()["pending"] == ["newbie"]
    if route == "web":
        people.login("org")
        assert client.post("/account/registration/approve", data={"csrf_token": people.csrf(), "username": "newbie"}).status_code == 302
        client.post("/logout", data={"csrf_token": people.csrf()})
    else:
        assert client.post("/api/v1/users/newbie/approve", headers=auth(people.token("bob"))).status_code == 403
        assert client.post("/api/v1/users/newbie/approve", headers=auth(org)).status_code == 200
    assert _accounts_login(client, "newbie", PASSWORD).status_code == 302


@_accounts_pytest.mark.parametrize("route", ["web", "api"])
def test_invite_only_registration(client, people, route):
    import re

    from conftest import PASSWORD, auth, form_csrf

    org = people.token("org", organiser=True)
    if route == "web":
        people.login("org")
        client.post("/account/registration/policy", data={"csrf_token": people.csrf(), "policy": "invite"})
        page = client.post("/account/registration/invite", data={"csrf_token": people.csrf()}).get_data(as_text=True)
        code = re.search(r'id="new-invite">([^<]+)<', page).group(1)
        client.post("/logout", data={"csrf_token": people.csrf()})
    else:
        assert client.put("/api/v1/installation/registration", json={"policy": "closed"}, headers=auth(org)).status_code == 400
        client.put("/api/v1/installation/registration", json={"policy": "invite"}, headers=auth(org))
        code = client.post("/api/v1/installation/invites", headers=auth(org)).get_json()["invite_code"]

    def register(username: str, invite: str | None):
        if route == "web":
            return client.post("/register", data={"username": username, "password": PASSWORD, "invite_code": invite or "",
                                                  "csrf_token": form_csrf(client, "/register")})
        return client.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD, "invite_code": invite})

    for invite in (None, "invite_made-up"):
        refused = register("sneaky", invite)
        assert refused.status_code == 400 and "invite code" in refused.get_data(as_text=True)
    assert register("invited", code).status_code in (201, 302)
    if route == "web":
        client.post("/logout", data={"csrf_token": form_csrf(client)})
    assert register("second", code).status_code == 400  # each code works once


def test_one_invite_code_admits_one_person_under_concurrency(people_factory, database_url):
    from conftest import PASSWORD, auth

    app, client, people = people_factory(DATABASE_URL=database_url, REGISTRATION_LIMIT_PER_ADDRESS="100 per hour")
    org = people.token("org", organiser=True)
    client.put("/api/v1/installation/registration", json={"policy": "invite"}, headers=auth(org))
    code = client.post("/api/v1/installation/invites", headers=auth(org)).get_json()["invite_code"]
    clients = [app.test_client() for _ in range(6)]
    statuses = _accounts_race(len(clients), lambda i: clients[i].post(
        "/api/v1/auth/register", json={"username": f"racer{i}", "password": PASSWORD, "invite_code": code}).status_code)
    assert sorted(statuses) == [201] + [400] * 5, statuses


@_accounts_pytest.mark.parametrize("route", ["web", "api"])
def test_joining_a_competition_can_need_an_organisers_approval(client, people, route):
    from conftest import auth
    from helpers import sample_csv

    org, ada = people.token("org", organiser=True), people.token("ada")
    if route == "web":
        people.login("org")
        saved = client.post("/c/mnist1d/admin/settings", data={"csrf_token": people.csrf(), "join_needs_approval": "true"})
        assert saved.status_code == 302
        client.post("/logout", data={"csrf_token": people.csrf()})
    else:
        assert client.patch("/api/v1/competitions/mnist1d", json={"join_needs_approval": True}, headers=auth(org)).status_code == 200
    refused = _accounts_upload(client, ada, "mnist1d", sample_csv("mnist1d"))
    assert refused.status_code == 400 and "approval" in refused.get_json()["problems"][0]
    assert client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Early"}, headers=auth(ada)).status_code == 400
    if route == "web":
        people.login("ada")
        assert b"Ask to join" in client.get("/c/mnist1d").data
        assert client.post("/c/mnist1d/join-request", data={"csrf_token": people.csrf()}).status_code == 302
        client.post("/logout", data={"csrf_token": people.csrf()})
        people.login("org")
        assert b"Requests to join" in client.get("/c/mnist1d/admin").data
        assert client.post("/c/mnist1d/admin/admit", data={"csrf_token": people.csrf(), "username": "ada"}).status_code == 302
    else:
        assert client.post("/api/v1/competitions/mnist1d/join-request", headers=auth(ada)).status_code == 202
        assert client.post("/api/v1/competitions/mnist1d/join-requests/ada/approve", headers=auth(ada)).status_code == 403
        assert client.post("/api/v1/competitions/mnist1d/join-requests/ada/approve", headers=auth(org)).status_code == 200
    assert _accounts_upload(client, ada, "mnist1d", sample_csv("mnist1d")).status_code == 202
    assert _accounts_upload(client, people.token("bob"), "digits", sample_csv("digits")).status_code == 202  # others stay open


def test_a_forged_form_with_another_sessions_token_is_refused(app, client, people):
    from conftest import People

    people.token("ada")
    people.login("ada")
    attacker = app.test_client()
    foreign = People(app, attacker).csrf()
    response = client.post("/c/mnist1d/team", data={"csrf_token": foreign, "action": "create", "name": "Forged"})
    assert response.status_code == 400 and b"reload the page" in response.data


# --- pages, exports, names -----------------------------------------------------------


@_accounts_pytest.mark.parametrize("markdown, forbidden", [
    ("[click](javascript:alert(1))", "javascript:"),
    ("[click](JaVaScRiPt:alert(1))", "javascript:"),
    ("[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "data:"),
    ("![pixel](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)", "data:"),
    ("![x](javascript:alert(1))", "javascript:"),
    ("<img src=x onerror=alert(1)>", "<img"),
    ("[x](vbscript:msgbox(1))", "vbscript:"),
])
def test_rendered_markdown_runs_nothing(markdown, forbidden):
    from leaderboard.app import render_markdown

    rendered = str(render_markdown(f"# Title\n\n{markdown}\n\n[safe](https://example.org/page)\n"))
    assert forbidden not in rendered.lower()
    assert 'href="https://example.org/page"' in rendered and "<h1>Title</h1>" in rendered


def test_a_competition_description_cannot_carry_a_live_link(client, people):
    from conftest import auth

    org = people.token("org", organiser=True)
    hostile = "Read [the rules](javascript:fetch('/account')) and ![logo](data:image/png;base64,AAAA)"
    assert client.patch("/api/v1/competitions/mnist1d", json={"description": hostile}, headers=auth(org)).status_code == 200
    page = client.get("/c/mnist1d").get_data(as_text=True)
    assert "the rules" in page and "javascript:" not in page and "data:image" not in page


def test_pages_forbid_framing_and_foreign_scripts_and_cookies_can_be_secure(people_factory, monkeypatch):
    app, client, people = _accounts_app(people_factory)
    for path in ("/", "/login", "/c/mnist1d", "/api/v1/competitions"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'none'" in policy and "default-src 'self'" in policy
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    people.token("ada")
    people.login("ada")
    assert "Secure" not in client.get("/login").headers.get("Set-Cookie", "Secure-less")  # plain HTTP by default

    monkeypatch.setenv("ARENA_SECURE_COOKIES", "1")
    app, client, people = _accounts_app(people_factory)
    people.token("ada")
    from conftest import PASSWORD, form_csrf

    response = client.post("/login", data={"username": "ada", "password": PASSWORD, "csrf_token": form_csrf(client)},
                           base_url="https://localhost")
    assert "; Secure" in response.headers["Set-Cookie"]


_FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"win\")", "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
             "-2+3+cmd|' /C calc'!A0"]


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised():
    import csv
    import io

    from arena.server.standings import Standing, to_csv

    rows = [Standing(rank=i + 1, team=name, score=-0.5, ci_low=-0.6, ci_high=-0.4, submission_id=i, entries=1,
                     is_baseline=False, submitted_at="2026-01-01 00:00") for i, name in enumerate(_FORMULAS + ["Plain"])]
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [row["team"] for row in parsed] == ["'" + name for name in _FORMULAS] + ["Plain"]
    assert parsed[0]["score"] == "-0.5"  # numbers stay numbers


def test_the_leaderboard_exports_neutralise_formula_team_names(client, people):
    import csv
    import io

    from conftest import auth
    from helpers import sample_csv

    for i, name in enumerate(_FORMULAS):
        token = people.token(f"csv{i}")
        assert client.post("/api/v1/competitions/mnist1d/teams", json={"name": name}, headers=auth(token)).status_code == 201
        assert _accounts_upload(client, token, "mnist1d", sample_csv("mnist1d")).status_code == 202
    people.drain()
    for path in ("/c/mnist1d/leaderboard.csv", "/api/v1/competitions/mnist1d/leaderboard?format=csv"):
        teams = [row["team"] for row in csv.DictReader(io.StringIO(client.get(path).get_data(as_text=True)))]
        assert sorted(teams) == sorted("'" + name for name in _FORMULAS), path
    assert {r["team"] for r in client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]} == set(_FORMULAS)


@_accounts_pytest.mark.parametrize("hidden", ["A\u200bda", "\u202eadA", "Ada\u200d", "A\u2066da\u2069", "Ad\u00ada", "A\u3164da",
                                     "Ada\x07", "Ada\ufeff"])
@_accounts_pytest.mark.parametrize("route", ["web", "api"])
def test_team_names_with_invisible_characters_are_refused(client, people, hidden, route):
    from conftest import auth

    token = people.token("ada")
    if route == "api":
        response = client.post("/api/v1/competitions/mnist1d/teams", json={"name": hidden}, headers=auth(token))
        assert response.status_code == 400 and "invisible" in response.get_json()["problems"][0]
    else:
        people.login("ada")
        response = client.post("/c/mnist1d/team", data={"csrf_token": people.csrf(), "action": "create", "name": hidden})
        assert response.status_code == 400 and "invisible" in response.get_data(as_text=True)
    assert client.get("/api/v1/competitions/mnist1d/team", headers=auth(token)).get_json()["team"] is None


@_accounts_pytest.mark.parametrize("twin", ["ADA Team", "ada team", "\uff21\uff24\uff21 Team", "Ada  Team", "ada\u00a0team"])
@_accounts_pytest.mark.parametrize("route", ["web", "api"])
def test_team_names_that_only_look_different_are_one_name(client, people, twin, route):
    from conftest import auth

    first = people.token("ada")
    assert client.post("/api/v1/competitions/mnist1d/teams", json={"name": "Ada Team"}, headers=auth(first)).status_code == 201
    token = people.token("bob")
    if route == "api":
        response = client.post("/api/v1/competitions/mnist1d/teams", json={"name": twin}, headers=auth(token))
        assert response.status_code == 400 and "is taken" in response.get_json()["problems"][0]
    else:
        people.login("bob")
        response = client.post("/c/mnist1d/team", data={"csrf_token": people.csrf(), "action": "create", "name": twin})
        assert response.status_code == 400 and "is taken" in response.get_data(as_text=True)


def test_a_team_name_is_stored_normalised(client, people):
    from conftest import auth
    from helpers import sample_csv

    token = people.token("ada")
    made = client.post("/api/v1/competitions/mnist1d/teams", json={"name": "  \uff21\uff44\uff41   Lab "}, headers=auth(token))
    assert made.status_code == 201 and made.get_json()["name"] == "Ada Lab"
    other = people.token("ADA-x")
    # a first upload's team of one avoids every look-alike of a taken name as well
    assert client.post("/api/v1/competitions/mnist1d/teams", json={"name": "ada-X"}, headers=auth(people.token("zed"))).status_code == 201
    assert _accounts_upload(client, other, "mnist1d", sample_csv("mnist1d")).status_code == 202
    assert client.get("/api/v1/competitions/mnist1d/team", headers=auth(other)).get_json()["team"]["name"].lower() != "ada-x"


# --- workers -------------------------------------------------------------------------

import os as _wos  # noqa: E402
import subprocess as _wsubprocess  # noqa: E402
import sys as _wsys  # noqa: E402
import time as _wtime  # noqa: E402


def test_a_worker_refuses_to_start_without_the_installation_secret(tmp_path):
    """Item 26: a worker where ARENA_HOME has no secret would score on another split; it refuses instead."""
    env = {**_wos.environ, "ARENA_HOME": str(tmp_path / "elsewhere")}
    env.pop("ARENA_CREATE_SECRET", None)
    result = _wsubprocess.run([_wsys.executable, "-m", "arena.cli", "worker", "--redis", "redis://127.0.0.1:1/0",
                               "--burst"], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 1
    assert "found no file 'secret'" in result.stderr and "copy it from the machine" in result.stderr
    assert not (tmp_path / "elsewhere" / "secret").exists()


def test_a_web_process_refuses_to_start_without_the_secret_unless_told(tmp_path, monkeypatch):
    """Item 26: create_app (what gunicorn calls) refuses; ``arena serve``'s first start (CREATE_SECRET) creates it."""
    from arena.config import MissingSecret
    from leaderboard import create_app

    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "web"))
    monkeypatch.delenv("ARENA_CREATE_SECRET", raising=False)
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}", "SECRET_KEY": "test"}
    with _rpytest.raises(MissingSecret, match="run 'arena setup' \\(or 'arena serve'\\) once first"):
        create_app(config)
    assert not (tmp_path / "web" / "secret").exists()
    create_app({**config, "CREATE_SECRET": True}).extensions["arena_db"].engine.dispose()
    assert (tmp_path / "web" / "secret").exists()
    create_app(config).extensions["arena_db"].engine.dispose()  # the secret is there now: it starts


def _workers_store(database_url):
    import io

    from helpers import sample_csv

    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.db.models import User
    from arena.server import accounts, competitions, uploads

    db = Database(database_url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        competitions.host(session, "mnist1d")
        accounts.register(session, "ada", "correct horse battery staple")
    with db.session() as session, session.begin():
        ada = session.query(User).filter_by(username="ada").one()
        submission = uploads.submit_stream(session, "mnist1d", ada, io.BytesIO(sample_csv("mnist1d").encode()), "s.csv")
        return db, submission.submission.id


def test_a_live_job_is_never_taken_and_a_silent_one_comes_back(database_url):
    """Item 27: a beating worker keeps its job however long it scores; three missed beats, or a dead process
    on this host, and the job is queued again."""
    from datetime import timedelta

    from arena.db.models import Submission, utcnow
    from arena.server import jobs, submissions

    db, submission_id = _workers_store(database_url)
    with db.session() as session, session.begin():
        assert submissions.claim(session, submission_id, "another-host:123:live")
        session.get(Submission, submission_id).scoring_started_at = utcnow() - timedelta(hours=5)  # a long job
    assert jobs.sweep(db) == []
    with db.session() as session, session.begin():
        session.get(Submission, submission_id).heartbeat_at = utcnow() - jobs.HEARTBEAT * (jobs.MISSED_BEATS + 1)
    assert jobs.sweep(db) == [submission_id]
    with db.session() as session, session.begin():
        assert submissions.claim(session, submission_id, _resources_dead_worker())  # beat just now, then killed
    assert jobs.sweep(db) == [submission_id]
    db.engine.dispose()


def test_a_worker_beats_while_it_scores_and_a_stale_result_is_dropped(database_url, monkeypatch):
    """Item 27: the heartbeat advances during a long scoring, sweeps leave the job alone, and a worker whose
    job was taken back (requeued and claimed by another) records nothing."""
    from arena.db.models import Submission
    from arena.server import jobs

    from helpers import InlineSlot

    db, submission_id = _workers_store(database_url)
    monkeypatch.setattr(jobs, "HEARTBEAT", jobs.timedelta(seconds=0.2))
    real = jobs.score_submission
    started = _rthreading.Event()

    def slow(*args, **kwargs):
        started.set()
        _wtime.sleep(2)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "score_submission", slow)
    outcome = []
    worker = _rthreading.Thread(target=lambda: outcome.append(jobs.score_one(db, submission_id, InlineSlot())))
    worker.start()
    assert started.wait(30)
    with db.session() as session:
        first_beat = session.get(Submission, submission_id).heartbeat_at
    for _ in range(8):
        _wtime.sleep(0.2)
        assert jobs.sweep(db) == []  # stale after 0.6 s without beats; it keeps beating
    with db.session() as session:
        assert session.get(Submission, submission_id).heartbeat_at > first_beat
    worker.join(30)
    assert outcome == ["scored"]
    with db.session() as session, session.begin():
        row = session.get(Submission, submission_id)
        assert row.attempts == 1
        row.status = "queued"
    # From here the other worker holds the job: a normal heartbeat, so no sweep (any process's, on a shared
    # database) judges its claim stale during the seconds this takes.
    monkeypatch.setattr(jobs, "HEARTBEAT", jobs.timedelta(seconds=10))
    taken = _rthreading.Thread(target=lambda: outcome.append(jobs.score_one(db, submission_id, InlineSlot())))
    started.clear()
    taken.start()
    assert started.wait(30)
    with db.session() as session, session.begin():  # meanwhile the job was judged lost and another worker has it
        row = session.get(Submission, submission_id)
        row.status, row.worker = "scoring", "another-host:9:other"
    taken.join(30)
    assert outcome[-1] is None
    with db.session() as session:
        assert session.get(Submission, submission_id).worker == "another-host:9:other"
    db.engine.dispose()


def test_redis_rescores_and_retries_are_enqueued_at_once(tmp_path, monkeypatch):
    """Item 27: notify(None) (a rescore, a new task version) enqueues every queued job, and a retry after a
    failure of ours goes back into Redis from the worker itself. Before, both waited for a worker restart."""
    from arena.server import jobs

    from conftest import redis_database

    url = redis_database()
    db, submission_id = _workers_store(f"sqlite:///{tmp_path / 'queue.db'}")
    queue = jobs.RedisQueue(url, db)
    queue.notify(None)
    assert queue.queue.count == 1
    queue.queue.empty()
    monkeypatch.setattr(jobs, "_db", db)
    monkeypatch.setattr(jobs, "_redis_url", url)
    monkeypatch.setattr(jobs, "score_submission", lambda *a, **k: 1 / 0)
    assert jobs.rq_score(submission_id) == "queued"
    assert queue.queue.count == 1
    db.engine.dispose()


_SLOW_WORKER = """
import os, sys, time
from arena.server import jobs
real = jobs.score_submission
def slow(*args, **kwargs):
    time.sleep(float(os.environ["SLOW_SCORING_SECONDS"]))
    return real(*args, **kwargs)
jobs.score_submission = slow
from arena.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_kill_9_of_a_redis_worker_hands_its_job_on_and_a_live_one_is_left_alone(tmp_path, people_factory):
    """Item 27 with real ``arena worker`` processes: while worker A scores (slowly) and beats, worker B
    never takes the job; after kill -9 of A, B scores it within seconds, not after an 11-minute timeout."""
    import signal

    from conftest import upload

    from arena.db.models import Submission
    from helpers import sample_csv

    from conftest import redis_database

    url = redis_database()
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=url)
    submission_id = upload(client, people.token("ada"), "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
    db = app.extensions["arena_db"]

    def row():
        with db.session() as session:
            return session.get(Submission, submission_id)

    env = {**_wos.environ, "ARENA_HEARTBEAT_SECONDS": "1", "SLOW_SCORING_SECONDS": "120"}
    command = ["worker", "--redis", url, "--database", database]
    a = _wsubprocess.Popen([_wsys.executable, "-c", _SLOW_WORKER, *command], env=env, start_new_session=True,
                           stdout=_wsubprocess.DEVNULL, stderr=_wsubprocess.DEVNULL)
    b = held = None
    try:
        deadline = _wtime.monotonic() + 120
        while row().status != "scoring" and _wtime.monotonic() < deadline:
            _wtime.sleep(0.2)
        held = row()
        assert held.status == "scoring", held.status
        b = _wsubprocess.Popen([_wsys.executable, "-m", "arena.cli", *command], env={**env, "SLOW_SCORING_SECONDS": "0"},
                               start_new_session=True, stdout=_wsubprocess.DEVNULL, stderr=_wsubprocess.DEVNULL)
        _wtime.sleep(8)  # B is up and sweeping every second; A beats every second
        still = row()
        assert (still.status, still.worker, still.attempts) == ("scoring", held.worker, 1)
        assert still.heartbeat_at > held.heartbeat_at
        _wos.killpg(a.pid, signal.SIGKILL)  # the worker ...
        _wos.kill(int(held.worker.split(":")[1]), signal.SIGKILL)  # ... and the process scoring for it (RQ's horse)
        a.wait()
        killed = _wtime.monotonic()
        while row().status != "scored" and _wtime.monotonic() - killed < 60:
            _wtime.sleep(0.2)
        assert row().status == "scored" and row().attempts == 2
        assert _wtime.monotonic() - killed < 30
    finally:
        for process in (a, b):
            if process is not None and process.poll() is None:
                _wos.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if held is not None and held.worker:
            try:
                _wos.kill(int(held.worker.split(":")[1]), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_plain_csv_with_more_lines_than_rows_allowed_is_never_parsed_whole(tmp_path, monkeypatch):
    """Tiny rows within the byte cap would cost several times the file once parsed: the line count decides first,
    and the streaming reader stops at the row cap."""
    import pyarrow.csv as pacsv

    from arena.errors import SubmissionError
    from arena.scoring.datasets import load_task
    from arena.scoring.validation import read_submission

    path = tmp_path / "rows.csv"
    path.write_bytes(b"id,label\n" + b"4000,1\n" * 5000)  # five times the 1,000 test ids, well within the text cap

    def whole_read(*args, **kwargs):
        raise AssertionError("parsed whole")

    monkeypatch.setattr(pacsv, "read_csv", whole_read)
    with _rpytest.raises(SubmissionError) as caught:
        read_submission(load_task("mnist1d"), path)
    assert "more than 1,000 rows" in caught.value.messages()[0]


def test_a_ragged_row_is_named_by_its_row_number(tmp_path):
    from arena.errors import SubmissionError
    from arena.scoring.datasets import load_task
    from arena.scoring.validation import read_submission

    task = load_task("mnist1d")
    frame = task.sample_submission()
    lines = frame.to_csv(index=False).splitlines()
    lines[500] += ",7"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    with _rpytest.raises(SubmissionError) as caught:
        read_submission(task, path)
    assert "Row #501" in " ".join(caught.value.messages()), caught.value.messages()  # line 501, the header first
