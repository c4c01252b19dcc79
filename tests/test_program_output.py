"""Nothing a scoring program writes reaches a participant; the organiser sees all of it.

Each program below writes its own secret into the channels it can: its output
(stdout and stderr), the keys and values of scores.json, a NaN-valued key, a
malformed scores.json, its exit status, or a run past the time limit. Each is
hosted as a Codabench bundle, a participant uploads a file and the queue is
drained; then no page, board or API answer the participant can reach holds the
secret, and the organiser's admin page does.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import People, auth, require_in_ci, upload

from arena.codabench.programs import FAILED_ON_OUR_SIDE, FILE_NOT_SCORED, TIME_LIMIT

pytestmark = pytest.mark.slow  # a Codabench program run in the sandbox: about 20 s

YAML = """\
version: 2
title: Secret Keeper {slug}
tasks:
  - index: 0
    name: Only task
    reference_data: ref/
    scoring_program: program/
phases:
  - index: 0
    name: Only phase
    start: 1-1-2020
    max_submissions_per_day: 5
    execution_time_limit: {time_limit}
    tasks: [0]
leaderboards:
  - title: Results
    key: main
    columns:
      - title: Accuracy
        key: accuracy
        index: 0
        sorting: desc
"""

PRELUDE = """\
import json, sys
SECRET = {secret!r}
print("stdout " + SECRET, flush=True)
print("stderr " + SECRET, file=sys.stderr, flush=True)
out = open("/app/output/scores.json", "w")
"""

# name -> (the program after PRELUDE, the one message a participant sees)
VARIANTS = {
    "exit": (
        'json.dump({"accuracy": 0.5, SECRET: 1, "note": SECRET}, out); out.close()\nsys.exit(77)\n',
        FILE_NOT_SCORED,
    ),
    "nan": ('json.dump({"accuracy": 0.5, SECRET: float("nan")}, out); out.close()\n', FAILED_ON_OUR_SIDE),
    "malformed": ('out.write("{\\"accuracy\\": " + SECRET); out.close()\n', FAILED_ON_OUR_SIDE),
    "no-primary": ('json.dump({SECRET: 0.5, "note": SECRET}, out); out.close()\n', FAILED_ON_OUR_SIDE),
    "traceback": ('out.close()\nraise RuntimeError("reference row 7 is " + SECRET)\n', FILE_NOT_SCORED),
    "time": ("out.close()\nimport time\ntime.sleep(30)\n", TIME_LIMIT),
}


def bundle(folder: Path, slug: str, body: str, secret: str, time_limit: int) -> Path:
    (folder / "program").mkdir(parents=True)
    (folder / "program" / "metadata").write_text("command: python3 $program/score.py $input $output\n")
    (folder / "program" / "score.py").write_text(PRELUDE.format(secret=secret) + body)
    (folder / "ref").mkdir()
    (folder / "ref" / "truth.csv").write_text("id,label\nr0,a\nr1,b\n")
    (folder / "competition.yaml").write_text(YAML.format(slug=slug, time_limit=time_limit))
    return folder


def upload_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("truth.csv", "id,label\nr0,a\nr1,a\n")
    return buffer.getvalue()


def test_no_program_output_reaches_a_participant_and_the_organiser_sees_it_all(people_factory, tmp_path):
    from arena.server import competitions

    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")
    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    secrets = {name: f"SECRET-{name}-5f1c9a" for name in VARIANTS}
    secrets["scored"] = "SECRET-scored-5f1c9a"
    programs = {**VARIANTS, "scored": ('json.dump({"accuracy": 0.5, SECRET: 1, "note": SECRET}, out)\n', None)}
    db = app.extensions["arena_db"]
    for name, (body, _) in programs.items():
        folder = bundle(tmp_path / name, name, body, secrets[name], time_limit=2 if name == "time" else 60)
        with db.session() as session, session.begin():
            competition = competitions.host(session, str(folder), slug=name)
            competition.starts_at, competition.ends_at = None, None

    token = people.token("ada")
    people.login("ada")
    ids = {}
    for name in programs:
        answer = upload(client, token, name, upload_zip(), name="sub.zip")
        assert answer.status_code == 202, answer.data
        ids[name] = answer.get_json()["submission"]["id"]
    people.drain()

    organiser = People(app, app.test_client())
    organiser.token("org", organiser=True)
    organiser.login("org")
    missing_detail = []
    for name, (_, message) in programs.items():
        secret, sid = secrets[name], ids[name]
        submission = client.get(f"/api/v1/submissions/{sid}", headers=auth(token)).get_json()
        if message is None:
            assert submission["status"] == "scored", submission
        else:
            assert submission["status"] == "failed", submission
            assert submission["problems"][0] == message, submission["problems"]
            assert len(submission["problems"]) <= 2
        seen = {
            "submission API": client.get(f"/api/v1/submissions/{sid}", headers=auth(token)).get_data(as_text=True),
            "submissions API": client.get(f"/api/v1/competitions/{name}/submissions", headers=auth(token)).get_data(
                as_text=True
            ),
            "board API": client.get(f"/api/v1/competitions/{name}/leaderboard").get_data(as_text=True),
            "competition API": client.get(f"/api/v1/competitions/{name}").get_data(as_text=True),
            "competition page": client.get(f"/c/{name}").get_data(as_text=True),
            "submissions page": client.get(f"/c/{name}/submissions").get_data(as_text=True),
            "submission page": client.get(f"/c/{name}/submissions/{sid}").get_data(as_text=True),
            "board CSV": client.get(f"/c/{name}/leaderboard.csv").get_data(as_text=True),
        }
        for where, text in seen.items():
            assert "SECRET" not in text, (name, where)
            assert "exit status" not in text and "not valid JSON" not in text and "finite" not in text, (name, where)
        if message is not None:
            admin = organiser.client.get(f"/c/{name}/admin").get_data(as_text=True)
            if secret not in admin:
                missing_detail.append(name)
    assert not missing_detail, f"the organiser's admin page lacks the program's output for {missing_detail}"
