"""Suite entries run as code: for a task whose task.toml declares code, a model's version may give its program
instead of predictions. Arena runs it in the sandbox on the task's test inputs, scores what it wrote, and
what it measured (wall time, CPU time, peak memory) feeds the suite's costs; a version whose every task Arena ran
is entered at the reproduced tier.

Every run here is real, under bubblewrap, through the server's own queue. No test asserts how long a run took: only
that what the database holds for the runs is what the board, the utility view and the CSV show.
"""

from __future__ import annotations

import csv
import io
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import auth
from sqlalchemy import func, select
from test_code_competitions import COPY_SAMPLE, LEAKER, TOKEN, code_bundle, need_bwrap

from arena.db.models import Submission, SuiteEntry, SuiteModel
from arena.server import organiser_actions
from arena.server.files import files_dir

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
"""Each test of the rules runs on SQLite and PostgreSQL."""

PROGRAM = f"import shutil\ndef predict(i, o):\n    {COPY_SAMPLE}\n"
CARD = (
    'name = "{name}"\nversion = "1"\nparameters = 5000\nframework = "numpy"\nlicence = "MIT"\ncode_url = "none"\n'
    "extra_training_data = false\ntrained_on_test_inputs = false\ntraining_seconds = 30\n"
)
CARD_COSTS = CARD + "inference_seconds_per_1000_rows = 7.5\npeak_memory_mb = 900\n"


def task_bundle(folder: Path, name: str, *, code: bool = True) -> Path:
    """The tiny code task of the code competitions' tests under another name; without ``code``, the same task
    taking predictions files only."""
    code_bundle(folder)
    toml = (folder / "task.toml").read_text().replace('name = "tiny-code"', f'name = "{name}"')
    if not code:
        toml = toml.replace('kind = "code"\n', "").replace(
            "[submission.limits]\nwall_seconds = 60\nmemory_mb = 1024\n", ""
        )
        assert "limits" not in toml
    (folder / "task.toml").write_text(toml)
    return folder


def host(app, tmp_path: Path, *, second_code: bool = True) -> None:
    """Suite 'runs': task 'alpha' (declares code) and task 'beta' (declares code, or files only)."""
    suite = tmp_path / "suite"
    suite.mkdir()
    alpha = task_bundle(tmp_path / "alpha", "alpha")
    beta = task_bundle(tmp_path / "beta", "beta", code=second_code)
    (suite / "suite.toml").write_text(
        f'name = "runs"\nversion = 1\n\n[[tasks]]\ntask = "{alpha}"\nfloor = 0.3\nceiling = 1.0\n\n'
        f'[[tasks]]\ntask = "{beta}"\nfloor = 0.3\nceiling = 1.0\n'
    )
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(suite))


def predictions(tmp_path: Path, key: str) -> str:
    """The task's sample submission: a valid predictions file."""
    test = (tmp_path / key / "test.csv").read_text().splitlines()[1:]
    return "id,label\n" + "".join(f"{line.split(',')[0]},a\n" for line in test)


def enter(client, token: str, parts: dict[str, tuple[str, str]], card: str):
    data = {key: (io.BytesIO(body.encode()), name) for key, (name, body) in parts.items()}
    data["card"] = (io.BytesIO(card.encode()), "card.toml")
    return client.post(
        "/api/v1/suites/runs/entries", data=data, headers=auth(token), content_type="multipart/form-data"
    )


def row_of(client, model: str, path: str = "/api/v1/suites/runs/leaderboard") -> dict:
    answer = client.get(path)
    assert answer.status_code == 200, answer.data
    [row] = [row for row in answer.get_json()["rows"] if row["model"] == model]
    return row


def stored_runs(app) -> dict[str, tuple[float, float, float]]:
    """What the database holds of each task's code run: wall seconds, CPU seconds, peak memory."""
    with app.extensions["arena_db"].session() as session:
        return {
            name.split(" ")[0]: (s.wall_seconds, s.cpu_seconds, s.peak_memory_mb)
            for name, s in (
                (s.file_name, s) for s in session.scalars(select(Submission).where(Submission.run_status.is_not(None)))
            )
        }


@BOTH
def test_a_model_entered_as_programs_is_run_scored_measured_and_reproduced(client, app, people, tmp_path):
    need_bwrap()
    host(app, tmp_path)
    ada = people.token("ada")
    sent = enter(
        client, ada, {"alpha": ("alpha.py", PROGRAM), "beta": ("beta.py", PROGRAM)}, CARD_COSTS.format(name="coder")
    )
    assert sent.status_code == 202, sent.get_json()
    for submission in sent.get_json()["submissions"].values():
        assert submission["run"]["status"] == "queued"  # a code run, in a competition that takes files
    people.drain()

    row = row_of(client, "coder")
    assert {key: score["status"] for key, score in row["scores"].items()} == {"alpha": "scored", "beta": "scored"}
    assert row["tier"] == "reproduced" and "Arena ran" in row["tier_note"]

    ran = stored_runs(app)
    assert set(ran) == {"alpha.py", "beta.py"} and all(wall is not None for wall, _, _ in ran.values())
    runs = row["runs"]
    assert runs["complete"] is True and (runs["measured"], runs["tasks"]) == (2, 2)
    assert runs["wall_seconds"] == pytest.approx(sum(round(w, 3) for w, _, _ in ran.values()), abs=2e-3)
    assert runs["cpu_seconds"] == pytest.approx(sum(round(c, 3) for _, c, _ in ran.values()), abs=2e-3)
    assert runs["peak_memory_mb"] == pytest.approx(max(round(m, 1) for _, _, m in ran.values()), abs=0.1)
    costs = row["efficiency"]
    rows = 80  # 40 hidden test rows per task
    assert costs["inference"] == {"value": pytest.approx(1000 * runs["wall_seconds"] / rows), "source": "measured"}
    assert costs["memory"] == {"value": runs["peak_memory_mb"], "source": "measured"}  # not the card's 900 MB
    assert costs["parameters"] == {"value": 5000.0, "source": "reported"}  # a run says nothing of these
    assert costs["training"] == {"value": 30.0, "source": "reported"}

    utility = client.get("/api/v1/suites/runs/utility?accuracy=1&memory=1").get_json()
    [weighed] = [r for r in utility["rows"] if r["model"] == "coder"]
    assert weighed["efficiency"]["memory"]["source"] == "measured" and weighed["runs"]["complete"]
    page = client.get("/s/runs").get_data(as_text=True)
    assert "measured on 2 of 2 tasks" in page and "runs-complete" in page
    assert "measured on 2 of 2 tasks" in client.get("/s/runs/utility?accuracy=1").get_data(as_text=True)
    model_page = client.get("/s/runs/models/coder").get_data(as_text=True)
    assert 'class="muted task-run" data-task="alpha"' in model_page and "Arena's runs of version 1" in model_page
    [exported] = list(csv.DictReader(io.StringIO(client.get("/s/runs/leaderboard.csv").get_data(as_text=True))))
    assert exported["runs_measured"] == "2/2" and exported["runs_complete"] == "True"
    assert float(exported["run_wall_s"]) == runs["wall_seconds"]

    reproduced = client.get("/api/v1/suites/runs/leaderboard?tier=reproduced").get_json()
    assert [r["model"] for r in reproduced["rows"]] == ["coder"]  # the tier filter keeps it


@BOTH
def test_a_mixed_entry_keeps_the_cards_costs_and_says_its_measurements_are_partial(client, app, people, tmp_path):
    need_bwrap()
    host(app, tmp_path)
    ada = people.token("ada")
    program = io.BytesIO()
    with zipfile.ZipFile(program, "w") as zipped:
        zipped.writestr("main.py", PROGRAM)
    data = {
        "alpha": (io.BytesIO(program.getvalue()), "alpha.zip"),
        "beta": (io.BytesIO(predictions(tmp_path, "beta").encode()), "beta.csv"),
        "card": (io.BytesIO(CARD_COSTS.format(name="half").encode()), "card.toml"),
    }
    sent = client.post("/api/v1/suites/runs/entries", data=data, headers=auth(ada), content_type="multipart/form-data")
    assert sent.status_code == 202, sent.get_json()
    answered = sent.get_json()["submissions"]
    assert "run" in answered["alpha"] and "run" not in answered["beta"]  # only the program is a code run
    people.drain()

    row = row_of(client, "half")
    assert {key: score["status"] for key, score in row["scores"].items()} == {"alpha": "scored", "beta": "scored"}
    assert row["tier"] == "reported"  # Arena made one task's predictions, not every one
    runs = row["runs"]
    assert runs["complete"] is False and (runs["measured"], runs["tasks"]) == (1, 2)
    assert row["efficiency"]["inference"] == {"value": 7.5, "source": "reported"}  # the card's, not a partial sum
    assert row["efficiency"]["memory"] == {"value": 900.0, "source": "reported"}
    page = client.get("/s/runs").get_data(as_text=True)
    assert "measured on 1 of 2 tasks (partial: the card&#39;s costs stand)" in page and "runs-partial" in page
    [exported] = list(
        csv.DictReader(io.StringIO(client.get("/api/v1/suites/runs/leaderboard.csv").get_data(as_text=True)))
    )
    assert exported["runs_measured"] == "1/2" and exported["runs_complete"] == "False"


@BOTH
def test_a_program_for_a_task_that_declares_no_code_is_refused_and_nothing_is_kept(client, app, people, tmp_path):
    host(app, tmp_path, second_code=False)
    ada = people.token("ada")
    before = {path.name for path in files_dir().rglob("*") if path.is_file()}
    sent = enter(
        client,
        ada,
        {"alpha": ("alpha.py", PROGRAM), "beta": ("beta.py", PROGRAM)},
        CARD.format(name="refused"),
    )
    assert sent.status_code == 400
    problems = " ".join(sent.get_json()["problems"])
    assert "task 'beta': beta.py is a program, but this task takes a predictions file only" in problems
    assert "Send its predictions as beta.csv instead" in problems
    with app.extensions["arena_db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0  # no slot eaten
        assert session.scalar(select(func.count()).select_from(SuiteEntry)) == 0
        assert session.scalar(select(func.count()).select_from(SuiteModel)) == 0
    assert {path.name for path in files_dir().rglob("*") if path.is_file()} == before  # no file kept

    broken = enter(
        client,
        ada,
        {"alpha": ("alpha.py", "def main():\n    pass\n"), "beta": ("beta.csv", predictions(tmp_path, "beta"))},
        CARD.format(name="refused"),
    )
    assert broken.status_code == 400  # a program that cannot run: the code competition's own check, nothing kept
    assert "task 'alpha': alpha.py has no predict() function" in " ".join(broken.get_json()["problems"])
    with app.extensions["arena_db"].session() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 0

    slots = client.get("/api/v1/competitions/runs-beta/submissions", headers=auth(ada)).get_json()["slots_left"]
    assert slots == 3  # the task's daily limit, untouched


def test_a_real_runs_output_never_reaches_a_participant(client, app, people, tmp_path):
    """The program prints every hidden test row: its team, and everyone else, sees status, time and memory only."""
    need_bwrap()
    host(app, tmp_path)
    ada, bob = people.token("ada"), people.token("bob")
    organiser = people.token("orga", organiser=True)
    leaker = textwrap.dedent(LEAKER).lstrip()
    sent = enter(client, ada, {"alpha": ("alpha.py", leaker), "beta": ("beta.py", leaker)}, CARD.format(name="leaky"))
    assert sent.status_code == 202, sent.get_json()
    ids = [s["id"] for s in sent.get_json()["submissions"].values()]
    people.drain()
    assert row_of(client, "leaky")["scores"]["alpha"]["status"] == "scored"

    answers = [client.get(f"/api/v1/submissions/{i}", headers=auth(token)) for i in ids for token in (ada, bob)]
    assert [a.status_code for a in answers] == [200, 403, 200, 403]  # the team sees its own; no one else does
    answers += [
        client.get(path, headers=auth(ada))
        for path in (
            "/api/v1/suites/runs/leaderboard",
            "/api/v1/suites/runs/leaderboard.csv",
            "/api/v1/suites/runs/models/leaky",
            "/api/v1/suites/runs/utility",
            "/api/v1/competitions/runs-alpha/submissions",
            "/api/v1/competitions/runs-alpha/leaderboard",
        )
    ]
    people.login("ada")
    answers += [
        client.get(path)
        for path in (
            "/s/runs",
            "/s/runs/models/leaky",
            "/c/runs-alpha/submissions",
            f"/c/runs-alpha/submissions/{ids[0]}",
        )
    ]
    assert all(a.status_code in (200, 403) for a in answers) and sum(a.status_code == 200 for a in answers) == 12
    assert answers[0].get_json()["run"]["status"] == "scored"  # what a team sees of its run: status, time, memory
    seen = [a.get_data(as_text=True) for a in answers]
    assert all(TOKEN not in text for text in seen)
    kept = client.get("/api/v1/competitions/runs-alpha/all-submissions", headers=auth(organiser)).get_json()
    assert TOKEN in kept[0]["run_log"]  # kept for the organisers, who may need it


@BOTH
def test_a_version_run_as_code_starts_reproduced_and_an_organiser_can_still_change_its_tier(
    client, app, people, tmp_path
):
    host(app, tmp_path)
    ada, organiser = people.token("ada"), people.token("orga", organiser=True)
    sent = enter(client, ada, {"alpha": ("alpha.py", PROGRAM), "beta": ("beta.py", PROGRAM)}, CARD.format(name="coder"))
    assert sent.status_code == 202, sent.get_json()
    assert row_of(client, "coder")["tier"] == "reproduced"  # from the moment it is entered: Arena makes its scores

    lowered = client.post(
        "/api/v1/suites/runs/models/coder/tier", json={"tier": "reported", "note": "checking"}, headers=auth(organiser)
    )
    assert lowered.status_code == 200, lowered.get_json()
    assert row_of(client, "coder")["tier"] == "reported"
    refused = client.post("/api/v1/suites/runs/models/coder/tier", json={"tier": "reproduced"}, headers=auth(ada))
    assert refused.status_code == 403  # only organisers change a tier, as before
    again = client.post(
        "/api/v1/suites/runs/models/coder/tier",
        json={"tier": "reproduced", "note": "Arena's runs checked"},
        headers=auth(organiser),
    )
    assert again.status_code == 200 and row_of(client, "coder")["tier"] == "reproduced"


@BOTH
def test_a_suite_never_shares_a_code_competition_and_its_task_takes_files_and_programs(client, app, people, tmp_path):
    """A code competition of the same task is not reused: there, every upload is run as a program, so a model's
    predictions file would be run too."""
    organiser = people.token("orga", organiser=True)
    bundle = task_bundle(tmp_path / "alpha", "alpha")
    hosted = client.post(
        "/api/v1/competitions",
        json={"task": str(bundle), "slug": "alpha-code", "submission_kind": "code"},
        headers=auth(organiser),
    )
    assert hosted.status_code == 201, hosted.get_json()
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.toml").write_text(f'name = "runs"\nversion = 1\n[[tasks]]\ntask = "{bundle}"\nfloor = 0.3\n')
    with app.extensions["arena_db"].session() as session, session.begin():
        [competition] = organiser_actions.host_suite(session, None, str(suite)).hosted
        assert competition.slug == "runs-alpha" and competition.submission_kind == "file"
    ada = people.token("ada")
    as_file = enter(client, ada, {"alpha": ("alpha.csv", predictions(tmp_path, "alpha"))}, CARD.format(name="filed"))
    as_code = enter(client, ada, {"alpha": ("alpha.py", PROGRAM)}, CARD.format(name="coded"))
    assert as_file.status_code == as_code.status_code == 202
    assert (
        "run" not in as_file.get_json()["submissions"]["alpha"] and "run" in as_code.get_json()["submissions"]["alpha"]
    )


def test_a_folder_entered_on_a_server_may_hold_a_program_per_task(tmp_path):
    """``arena suite submit``'s folder: TASK.zip or TASK.py counts as a task's file; two files for one task do not."""
    from arena.suites.folders import prediction_files

    (tmp_path / "alpha.py").write_text(PROGRAM)
    (tmp_path / "beta.csv").write_text("id,label\n")
    found, problems = prediction_files(tmp_path, ["alpha", "beta"], suite="runs", programs=True)
    assert {key: path.name for key, path in found.items()} == {"alpha": "alpha.py", "beta": "beta.csv"} and not problems
    _, scored_here = prediction_files(tmp_path, ["alpha", "beta"], suite="runs")  # arena suite score: predictions
    assert [str(p) for p in scored_here] == [
        "alpha: has no predictions file: expected alpha.csv, alpha.csv.gz or alpha.parquet in " + tmp_path.name + "."
    ]
    (tmp_path / "beta.zip").write_bytes(b"")
    _, twice = prediction_files(tmp_path, ["alpha", "beta"], suite="runs", programs=True)
    assert [p.message for p in twice] == ["is a second file for task 'beta' (with beta.csv): keep one."]


@pytest.mark.slow
def test_arena_suite_submit_enters_a_folder_with_a_program_and_prints_its_run(live_server, tmp_path, capsys):
    """``arena suite submit DIR --wait`` over real HTTP: alpha.py and beta.csv; the program runs on the server."""
    import argparse

    from arena.client import cmd_suite_submit

    need_bwrap()
    server = live_server()
    host(server.app, tmp_path)
    folder = tmp_path / "entry"
    folder.mkdir()
    (folder / "alpha.py").write_text(PROGRAM)
    (folder / "beta.csv").write_text(predictions(tmp_path, "beta"))
    (tmp_path / "card.toml").write_text(CARD.format(name="cli-coder"))
    args = argparse.Namespace(
        suite="runs",
        dir=str(folder),
        model=str(tmp_path / "card.toml"),
        server=server.url,
        token=server.people.token("ada"),
        wait=True,
    )
    assert cmd_suite_submit(args) == 0
    printed = capsys.readouterr().out
    [alpha] = [line for line in printed.splitlines() if line.startswith("  alpha: public")]
    [beta] = [line for line in printed.splitlines() if line.startswith("  beta: public")]
    assert "; ran " in alpha and " MB peak" in alpha and "ran" not in beta  # a program's run; a file has none
