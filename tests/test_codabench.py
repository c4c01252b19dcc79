"""Codabench and CodaLab bundles: competition.yaml read, the scoring program run in the sandbox, hosted as stages.

The bundles are written here, in Codabench's format: a tiny accuracy program in
Python, a reference table, and competition.yaml in version 2 (Codabench) or 1
(CodaLab, with zipped program and reference data).
"""

from __future__ import annotations

import io
import json
import random
import shutil
import time
import zipfile
from pathlib import Path

import pytest
from conftest import auth, require_in_ci, upload

from arena.errors import BundleError, SubmissionError

ACCURACY_PROGRAM = """\
import json, os, sys
inp, out = sys.argv[1], sys.argv[2]
def rows(path):
    return dict(line.strip().split(",") for line in open(path).read().splitlines()[1:] if line.strip())
ref = rows(os.path.join(inp, "ref", "truth.csv"))
sub = rows(os.path.join(inp, "res", "truth.csv"))
right = sum(sub.get(k) == v for k, v in ref.items())
json.dump({"accuracy": right / len(ref), "errors": len(ref) - right}, open(os.path.join(out, "scores.json"), "w"))
print("scored", right)
"""

YAML_V2 = """\
version: 2
title: Tiny Labels
description: Guess each row's label.
tasks:
  - index: 0
    name: Development task
    reference_data: dev_ref/
    scoring_program: scoring_program/
  - index: 1
    name: Final task
    reference_data: final_ref/
    scoring_program: scoring_program/
phases:
  - index: 0
    name: Development
    start: 1-1-2026
    max_submissions_per_day: 3
    execution_time_limit: {time_limit}
    tasks: [0]
  - index: 1
    name: Final
    start: 2027-01-01
    end: 2027-02-01
    max_submissions: 2
    tasks: [1]
leaderboards:
  - title: Results
    key: main
    columns:
      - title: Errors
        key: errors
        index: 1
        sorting: asc
      - title: Accuracy
        key: accuracy
        index: 0
        sorting: desc
"""


def truth_rows(n: int = 40, seed: int = 1) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [(f"r{i}", rng.choice("abc")) for i in range(n)]


def table(rows) -> str:
    return "id,label\n" + "".join(f"{i},{label}\n" for i, label in rows)


def write_v2(
    folder: Path,
    *,
    program: str = ACCURACY_PROGRAM,
    time_limit: int = 60,
    metadata: str = "command: python3 $program/score.py $input $output\n",
    yaml_text: str | None = None,
) -> Path:
    (folder / "scoring_program").mkdir(parents=True)
    (folder / "scoring_program" / "score.py").write_text(program)
    (folder / "scoring_program" / "metadata").write_text(metadata)
    for name, seed in (("dev_ref", 1), ("final_ref", 2)):
        (folder / name).mkdir()
        (folder / name / "truth.csv").write_text(table(truth_rows(seed=seed)))
    (folder / "competition.yaml").write_text(yaml_text or YAML_V2.format(time_limit=time_limit))
    return folder


def zip_folder(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, path.relative_to(folder).as_posix())
    return archive


def submission_zip(rows, path: Path, name: str = "truth.csv") -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr(name, table(rows))
    return path


def with_mistakes(rows, every: int):
    return [
        (i, "a" if n % every == 0 and label != "a" else ("b" if n % every == 0 else label))
        for n, (i, label) in enumerate(rows)
    ]


def expected_accuracy(rows, predicted) -> float:
    return sum(a == b for a, b in zip(rows, predicted)) / len(rows)


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


# --- competition.yaml ----------------------------------------------------------------


def test_version_2_phases_dates_limits_and_columns(tmp_path):
    from arena.codabench.bundle import load_competition

    bundle = load_competition(write_v2(tmp_path / "b", time_limit=45))
    assert bundle.yaml_version == 2 and bundle.title == "Tiny Labels"
    dev, final = bundle.phases
    assert (dev.name, dev.starts_at.isoformat(), dev.daily_limit, dev.total_limit, dev.time_limit) == (
        "Development",
        "2026-01-01T00:00:00",
        3,
        100,  # Codabench's max_submissions when a phase names none
        45,
    )
    assert dev.ends_at == final.starts_at  # a phase without an end runs until the next begins
    assert (final.total_limit, final.ends_at.isoformat(), final.tasks) == (2, "2027-02-01T00:00:00", (1,))
    assert [(c.key, c.higher_is_better) for c in bundle.columns] == [("accuracy", True), ("errors", False)]
    assert bundle.tasks[1].reference_data == (tmp_path / "b" / "final_ref").resolve()


def test_version_1_codalab_bundle_with_zipped_program_and_reference(tmp_path):
    from arena.codabench.bundle import load_competition
    from arena.tasks import load_task

    source = write_v2(tmp_path / "src")
    folder = tmp_path / "v1"
    folder.mkdir()
    zip_folder(source / "scoring_program", folder / "scoring_program.zip")
    zip_folder(source / "dev_ref", folder / "reference_data.zip")
    (folder / "competition.yaml").write_text("""\
title: Tiny Labels (CodaLab)
description: the same task, as CodaLab wrote it
phases:
  1:
    phasenumber: 1
    label: Development
    start_date: 2026-01-01
    max_submissions_per_day: 4
    scoring_program: scoring_program.zip
    reference_data: reference_data.zip
leaderboard:
  leaderboards:
    RESULTS: &RESULTS
      label: Results
      rank: 1
  columns:
    accuracy:
      leaderboard: *RESULTS
      label: Accuracy
      rank: 1
      sort: desc
    errors:
      leaderboard: *RESULTS
      label: Errors
      rank: 2
      sort: asc
""")
    bundle = load_competition(folder)
    assert bundle.yaml_version == 1 and bundle.phases[0].daily_limit == 4
    assert [(c.key, c.higher_is_better) for c in bundle.columns] == [("accuracy", True), ("errors", False)]
    task = load_task(folder)
    assert (task.program_dir / "score.py").is_file() and (task.reference_dir / "truth.csv").is_file()
    assert task.spec.kind == "program" and task.spec.competition.daily_limit == 4


def test_every_problem_in_competition_yaml_is_reported_at_once(tmp_path):
    from arena.codabench.bundle import load_competition

    folder = write_v2(
        tmp_path / "b",
        yaml_text="""\
version: 2
tasks:
  - index: 0
    reference_data: ../outside/
    scoring_program: scoring_program/
    ingestion_program: ingestion/
phases:
  - name: Development
    start: the first of May
    tasks: [7]
leaderboards:
  - columns:
      - key: accuracy
        sorting: sideways
""",
    )
    with pytest.raises(BundleError) as caught:
        load_competition(folder)
    report = caught.value.report()
    for expected in (
        "[title]: is required",
        "must lie inside the bundle folder",
        "'ingestion/' does not exist in the bundle",
        "'the first of May' is not a date",
        "tasks that are not in the bundle's tasks list: [7]",
        "must be 'asc' (lower is better) or 'desc'",
    ):
        assert expected in report, report


def test_a_zipped_bundle_loads_as_the_same_task_as_its_folder(tmp_path):
    from arena.tasks import load_task

    folder = write_v2(tmp_path / "b")
    archive = zip_folder(folder, tmp_path / "bundle.zip")
    unpacked, direct = load_task(archive), load_task(folder)
    assert unpacked.answer_key.sha256 == direct.answer_key.sha256
    second = load_task(f"{archive}#phase=2")
    assert second.spec.phase_name == "Final" and second.answer_key.sha256 != direct.answer_key.sha256
    with pytest.raises(BundleError, match="choose #phase=1 to #phase=2"):
        load_task(f"{folder}#phase=3")


def test_a_phase_is_a_task_of_its_own_not_a_bundle_task_with_its_methods_emptied(tmp_path):
    from arena.bundles.loading import Task
    from arena.tasks import load_bundle_task, load_task

    task = load_task(write_v2(tmp_path / "b"))
    assert not isinstance(task, Task)
    assert not hasattr(task, "classes") and not hasattr(task, "feature_columns")
    for name in ("spec", "train", "test", "answers", "name", "answer_key", "prediction_columns", "per_row_results"):
        assert hasattr(task, name), name
    assert task.leaderboard_columns and task.scoring_timeout > task.spec.time_limit
    with pytest.raises(ValueError, match="not a task.toml bundle"):
        load_bundle_task(tmp_path / "b")


# --- the scoring program in the sandbox ----------------------------------------------


def test_arena_score_runs_the_program_like_codabench(tmp_path, capsys):
    from arena.cli import main

    need_bwrap()
    folder = write_v2(tmp_path / "b")
    rows = truth_rows()
    predicted = with_mistakes(rows, 3)
    assert main(["score", str(folder), str(submission_zip(predicted, tmp_path / "sub.zip")), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    accuracy = expected_accuracy(rows, predicted)
    assert out["primary"] == "accuracy" and out["public"]["accuracy"] == pytest.approx(accuracy)
    assert out["public"]["errors"] == round(len(rows) * (1 - accuracy))
    assert out["public_ci"] == [None, None]  # one number from the program: no interval is invented


def test_programs_reading_app_input_and_writing_scores_txt_work(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    program = ACCURACY_PROGRAM.replace("inp, out = sys.argv[1], sys.argv[2]", 'inp, out = "/app/input", "/app/output"')
    program = program.replace(
        'json.dump({"accuracy": right / len(ref), "errors": len(ref) - right}, open(os.path.join(out, "scores.json"), "w"))',
        'open(os.path.join(out, "scores.txt"), "w").write(f"accuracy: {right / len(ref)}\\nerrors: {len(ref) - right}\\nDuration: fast\\n")',
    )
    folder = write_v2(tmp_path / "b", program=program, metadata="")
    (folder / "scoring_program" / "metadata").unlink()
    (folder / "scoring_program" / "metadata.yaml").write_text("command: python3 /app/program/score.py\n")
    rows = truth_rows()
    score = score_submission(load_task(folder), submission_zip(rows, tmp_path / "sub.zip"))
    assert score.public == {"accuracy": 1.0, "errors": 0.0}


def test_the_sandbox_has_no_network_no_arena_home_and_a_read_only_reference(tmp_path, arena_home):
    from arena.codabench.sandbox import run_program

    need_bwrap()
    secret = arena_home / "secret"
    assert secret.is_file()
    program = tmp_path / "program"
    program.mkdir()
    (program / "metadata").write_text("command: python3 $program/probe.py\n")
    (program / "probe.py").write_text(f"""\
import json, os, socket
def fails(action):
    try:
        action()
    except OSError:
        return 1
    return 0
def connect():
    socket.create_connection(("10.255.255.1", 80), timeout=2)
def tamper():
    open("/app/input/ref/truth.csv", "a").write("r99,a\\n")
interfaces = [name for _, name in socket.if_nameindex() if name != "lo"]
json.dump({{"no_network": fails(connect), "interfaces": len(interfaces),
           "secret_hidden": int(not os.path.exists({str(secret)!r})), "ref_read_only": fails(tamper)}},
          open("/app/output/scores.json", "w"))
""")
    ref, res = tmp_path / "ref", tmp_path / "res"
    ref.mkdir()
    res.mkdir()
    (ref / "truth.csv").write_text(table(truth_rows()))
    run = run_program(program, ref, res, time_limit=30)
    assert run.scores == {"no_network": 1, "interfaces": 0, "secret_hidden": 1, "ref_read_only": 1}, run.log
    assert (ref / "truth.csv").read_text() == table(truth_rows())


@pytest.mark.slow
def test_the_phase_time_limit_and_the_memory_limit_stop_a_program(tmp_path):
    from arena.codabench.sandbox import FILE, TIME, ProgramError, run_program

    need_bwrap()
    program = tmp_path / "program"
    program.mkdir()
    (program / "metadata").write_text("command: python3 $program/slow.py\n")
    (program / "slow.py").write_text("import time\ntime.sleep(60)\n")
    started = time.monotonic()
    with pytest.raises(ProgramError, match="time limit of 2 s") as caught:
        run_program(program, tmp_path, tmp_path, time_limit=2)
    assert time.monotonic() - started < 15 and not caught.value.ours and caught.value.verdict == TIME

    (program / "slow.py").write_text("block = bytearray(600 * 1024 * 1024)\nprint(len(block))\n")
    with pytest.raises(ProgramError, match="stopped with an error") as caught:
        run_program(program, tmp_path, tmp_path, time_limit=30, memory_mb=300)
    assert "MemoryError" in caught.value.log and caught.value.verdict == FILE


def test_scores_files_are_read_safely():
    from arena.codabench.sandbox import PROGRAM, ProgramError, read_scores

    def scores(name: str, text: str, tmp: Path) -> dict:
        for old in tmp.iterdir():
            old.unlink()
        (tmp / name).write_text(text)
        return read_scores(tmp)

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        assert scores("scores.txt", "set1_score: 0.75\nDuration: 3.2\nnot a score line\nnote: fine\n", folder) == {
            "set1_score": 0.75,
            "Duration": 3.2,
        }
        assert scores("scores.json", '{"accuracy": "0.5", "label": "x"}', folder) == {"accuracy": 0.5}
        # the exact reasons, for the organiser (a participant sees only a fixed message: see programs.py)
        with pytest.raises(ProgramError, match="finite") as caught:
            scores("scores.json", '{"accuracy": NaN}', folder)
        assert caught.value.verdict == PROGRAM
        with pytest.raises(ProgramError, match="object of scores"):
            scores("scores.json", "[1, 2]", folder)
        with pytest.raises(ProgramError, match="not valid JSON"):
            scores("scores.json", '{"accuracy": ', folder)
        with pytest.raises(ProgramError, match="wrote no output/scores.json"):
            scores("other.txt", "accuracy: 1", folder)


def test_a_submission_zip_that_escapes_its_folder_is_refused(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    folder = write_v2(tmp_path / "b")
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../../escaped.csv", "id,label\n")
    with pytest.raises(SubmissionError, match="must stay inside"):
        score_submission(load_task(folder), archive)
    assert not (tmp_path / "escaped.csv").exists()


def test_a_crashing_program_gives_the_participant_a_neutral_message_and_the_organiser_its_output(tmp_path):
    from arena.codabench.programs import FILE_NOT_SCORED, PARTICIPANT_MESSAGES, ProgramFailed
    from arena.codabench.sandbox import FILE
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    program = (
        ACCURACY_PROGRAM.replace('print("scored", right)', "")
        + "raise RuntimeError('secret reference label r0=' + ref['r0'])\n"
    )
    folder = write_v2(tmp_path / "b", program=program)
    with pytest.raises(ProgramFailed) as caught:
        score_submission(load_task(folder), submission_zip(truth_rows(), tmp_path / "sub.zip"))
    # the organiser's view: the exact reason first, then the program's output
    assert caught.value.log.startswith("reason: the scoring program stopped with an error (exit status 1).")
    assert "secret reference label" in caught.value.log
    # the participant's: one fixed message and its fixed hint
    assert caught.value.messages() == list(PARTICIPANT_MESSAGES[FILE])
    assert caught.value.messages()[0] == FILE_NOT_SCORED
    assert "does not count against your limits" in caught.value.messages()[1]
    assert "exit status" not in str(caught.value)


# --- beyond Codabench: the native metric ---------------------------------------------


def test_the_preview_notices_a_program_that_computes_accuracy_and_scores_it_natively_with_intervals(tmp_path):
    from arena.codabench.native import detect
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    folder = write_v2(tmp_path / "b")
    found = detect(load_task(folder))
    assert found.metric == "accuracy" and found.trials == 3, found.note
    assert "Arena can score it natively" in found.note

    rows = truth_rows()
    predicted = with_mistakes(rows, 4)
    upload_file = submission_zip(predicted, tmp_path / "sub.zip")
    by_program = score_submission(load_task(folder), upload_file)
    native = score_submission(load_task(f"{folder}#phase=1&native=accuracy"), upload_file)
    assert native.public["accuracy"] == pytest.approx(by_program.public["accuracy"])
    low, high = native.public_ci
    assert low < native.public["accuracy"] < high and native.n_public == len(rows)


def test_a_program_that_computes_no_arena_metric_is_not_offered_native_scoring(tmp_path):
    from arena.codabench.native import detect
    from arena.tasks import load_task

    need_bwrap()
    program = ACCURACY_PROGRAM.replace('"accuracy": right / len(ref)', '"accuracy": (right / len(ref)) ** 2')
    found = detect(load_task(write_v2(tmp_path / "b", program=program)))
    assert found.metric is None and "matches none of Arena's metrics" in found.note


def native_phase(tmp_path: Path, name: str, reference: str, metric: str):
    """Phase 1 of a bundle whose reference data is one file, scored by Arena's ``metric`` (no program runs)."""
    from arena.tasks import load_task

    folder = write_v2(tmp_path / "b")
    for old in (folder / "dev_ref").iterdir():
        old.unlink()
    (folder / "dev_ref" / name).write_text(reference)
    return load_task(f"{folder}#phase=1&native={metric}")


VALUES = [(f"r{i}", round(1.5 * i - 7.25, 2)) for i in range(12)]
VALUES_CSV = "id,value\n" + "".join(f"{i},{v}\n" for i, v in VALUES)


def upload_text(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / "upload" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def changed(rows, line: int, value) -> str:
    """The values table with the value on ``line`` (the header is line 1) replaced."""
    return "id,value\n" + "".join(f"{i},{value if n + 2 == line else v}\n" for n, (i, v) in enumerate(rows))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (changed(VALUES, 4, "1e308"), "column 'value' has 1 values larger in magnitude than 1e+18"),
        (changed(VALUES, 5, "-1e19"), "e.g. -1e+19 at lines 5"),
        (changed(VALUES, 6, "nan"), "column 'value' has 1 empty, NaN or infinite values (lines 6)."),
        (changed(VALUES, 7, "inf"), "column 'value' has 1 empty, NaN or infinite values (lines 7)."),
        (changed(VALUES, 3, ""), "empty, NaN or infinite values (lines 3)"),
        (changed(VALUES, 8, "high"), "column 'value' must hold numbers; found text such as"),
        (
            VALUES_CSV.replace("r4,", "r3,"),
            "1 ids appear more than once, e.g. 'r3' (repeats at lines 6). Keep one row per id.",
        ),
        (VALUES_CSV.replace("r5,", "zz,"), "1 ids are not in the test set, e.g. 'zz'"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "this is not a CSV or Parquet file (it looks like a PNG image)"),
        (VALUES_CSV + "r99,1,2\n", "Check that every line has 2 fields separated by commas."),
    ],
)
def test_a_hostile_native_upload_is_refused_by_the_common_reader_naming_its_lines(tmp_path, text, message):
    from arena.scoring.score import score_submission

    task = native_phase(tmp_path, "values.csv", VALUES_CSV, "rmse")
    with pytest.raises(SubmissionError) as caught:
        score_submission(task, upload_text(tmp_path, "values.csv", text))
    assert any(message in problem for problem in caught.value.messages()), caught.value.messages()


def test_a_native_upload_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    from arena.scoring.score import score_submission

    task = native_phase(tmp_path, "values.csv", VALUES_CSV, "rmse")
    with pytest.raises(SubmissionError, match="the limit is 0 MiB"):
        score_submission(task, upload_text(tmp_path, "values.csv", VALUES_CSV), max_bytes=100)


def test_headerless_tab_separated_and_row_ordered_files_score_as_codabench_reads_them(tmp_path):
    import numpy as np

    from arena.scoring.score import score_submission

    # Tab-separated with no header, ids first: the upload's rows in any order, its lines counted from 1.
    reference = "".join(f"{i}\t{v}\n" for i, v in VALUES)
    task = native_phase(tmp_path / "tabs", "truth.txt", reference, "mae")
    guesses = [(i, v + (2.0 if n % 3 == 0 else 0.0)) for n, (i, v) in enumerate(VALUES)]
    upload = upload_text(tmp_path, "truth.txt", "".join(f"{i}\t{v}\n" for i, v in reversed(guesses)))
    score = score_submission(task, upload)
    assert score.public["mae"] == pytest.approx(2.0 * 4 / 12)
    assert score.n_public == 12 and score.public_ci[0] <= score.public["mae"] <= score.public_ci[1]
    nan = upload_text(
        tmp_path, "truth.txt", "".join(f"{i}\t{'nan' if n == 2 else v}\n" for n, (i, v) in enumerate(VALUES))
    )
    with pytest.raises(SubmissionError, match=r"NaN or infinite values \(lines 3\)"):
        score_submission(task, nan)

    # One label per line, no ids (the layout of the wheat seeds example): a row's place is its id; the upload
    # may take another name when it is the only file, and may write 2.0 for the class 2.
    labels = [n % 3 for n in range(30)]
    task = native_phase(tmp_path / "rows", "testing_label", "".join(f"{v}\n" for v in labels), "accuracy")
    guessed = [0 if n % 5 == 0 else v for n, v in enumerate(labels)]
    score = score_submission(task, upload_text(tmp_path, "prediction", "".join(f"{float(v)}\n" for v in guessed)))
    assert score.public["accuracy"] == pytest.approx(np.mean(np.array(guessed) == np.array(labels)))
    with pytest.raises(SubmissionError, match="the file has 29 rows; it needs 30, one for each row of the reference"):
        score_submission(task, upload_text(tmp_path, "prediction", "".join(f"{v}\n" for v in guessed[:-1])))
    with pytest.raises(SubmissionError, match=r"labels are not among the task's classes .* at lines 4"):
        score_submission(
            task, upload_text(tmp_path, "prediction", "".join(f"{7 if n == 3 else v}\n" for n, v in enumerate(guessed)))
        )


# --- hosted on the server ------------------------------------------------------------


@pytest.mark.slow
def test_each_phase_is_hosted_as_a_linked_stage_and_scored_by_the_program(people_factory, database_url, tmp_path):
    from arena.server import competitions, stages

    need_bwrap()
    app, client, people = people_factory(DATABASE_URL=database_url)
    folder = write_v2(tmp_path / "b")
    db = app.extensions["arena_db"]
    with db.session() as session, session.begin():
        first = competitions.host(session, str(folder), slug="tiny")
        linked = stages.siblings(session, first)
        assert [(c.slug, name) for c, name in linked] == [("tiny", "Development"), ("tiny-2", "Final")]
        dev, final = (c for c, _ in linked)
        assert (dev.daily_limit, dev.ends_at, final.total_limit) == (3, final.starts_at, 2)
        assert dev.starts_at.isoformat() == "2026-01-01T00:00:00" and final.ends_at.isoformat() == "2027-02-01T00:00:00"
        for competition in (dev, final):
            competition.starts_at, competition.ends_at = None, None  # open both now

    token = people.token("ada")
    rows = truth_rows()
    predicted = with_mistakes(rows, 5)
    answer = upload(client, token, "tiny", submission_zip(predicted, tmp_path / "sub.zip").read_bytes(), name="sub.zip")
    assert answer.status_code == 202, answer.data
    people.drain()
    board = client.get("/api/v1/competitions/tiny/leaderboard").get_json()
    row = board["rows"][0]
    assert row["score"] == pytest.approx(round(expected_accuracy(rows, predicted), 4))
    assert set(row["values"]) == {"accuracy", "errors"}
    page = client.get("/c/tiny").get_data(as_text=True)
    assert "<th>Errors</th>" in page and 'href="/c/tiny-2"' in page
    csv_text = client.get("/c/tiny/leaderboard.csv").get_data(as_text=True)
    assert csv_text.splitlines()[0].endswith(",accuracy,errors")


def test_a_failed_program_run_keeps_the_participants_slot(people_factory, tmp_path):
    from arena.server import competitions

    need_bwrap()
    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    program = ACCURACY_PROGRAM.replace(
        'rows(os.path.join(inp, "res", "truth.csv"))', 'rows(os.path.join(inp, "res", "missing.csv"))'
    )
    folder = write_v2(tmp_path / "b", program=program)
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.host(session, str(folder), slug="tiny")
    token = people.token("ada")
    before = client.get("/api/v1/competitions/tiny/submissions", headers=auth(token)).get_json()
    answer = upload(
        client, token, "tiny", submission_zip(truth_rows(), tmp_path / "sub.zip").read_bytes(), name="sub.zip"
    )
    people.drain()
    submission = client.get(
        f"/api/v1/submissions/{answer.get_json()['submission']['id']}", headers=auth(token)
    ).get_json()
    assert submission["status"] == "failed"
    assert any("does not count against your limits" in p for p in submission["problems"])
    assert not any("Traceback" in p or "missing.csv" in p for p in submission["problems"])
    after = client.get("/api/v1/competitions/tiny/submissions", headers=auth(token)).get_json()
    assert before["slots_left"] == after["slots_left"] == 3  # the phase allows 3 a day; the failure used none


def test_the_host_page_previews_a_codabench_zip_and_hosts_it_natively(people, client, tmp_path):
    need_bwrap()
    people.token("org", organiser=True)
    people.login("org")
    archive = zip_folder(write_v2(tmp_path / "b"), tmp_path / "bundle.zip")
    page = client.post(
        "/host",
        data={"csrf_token": people.csrf(), "slug": "tiny", "bundle": (io.BytesIO(archive.read_bytes()), "bundle.zip")},
        content_type="multipart/form-data",
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert "Development" in text and "Final" in text and "Arena can score it natively" in text
    assert 'id="host-native"' in text
    import re

    task_ref = re.search(r'name="task_ref" value="([^"]+)"', text).group(1)
    done = client.post(
        "/host", data={"csrf_token": people.csrf(), "slug": "tiny", "task_ref": task_ref, "confirm": "1", "native": "1"}
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    info = client.get("/api/v1/competitions/tiny").get_json()
    assert info["metric"] == "accuracy" and info["kind"] == "program"
    assert client.get("/api/v1/competitions/tiny-2").status_code == 200
