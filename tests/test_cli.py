"""The arena command: tasks, data, validate, score, with clear exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from arena.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_tasks_list_and_show(capsys):
    code, out, _ = run(capsys, "tasks", "list")
    assert code == 0 and all(name in out for name in ("digits", "mnist1d", "listops", "sunspots"))
    code, out, _ = run(capsys, "tasks", "show", "digits")
    assert code == 0 and "answer key sha256:" in out and "id,0,1,2" in out


def test_data_validate_and_score_round_trip(capsys, tmp_path):
    code, out, _ = run(capsys, "data", "digits", "--out", str(tmp_path))
    assert code == 0
    assert {p.name for p in tmp_path.iterdir()} == {"train.csv", "test.csv", "sample_submission.csv"}
    test = pd.read_csv(tmp_path / "test.csv")
    assert "label" not in test.columns and len(test) == 539
    sample = tmp_path / "sample_submission.csv"
    assert run(capsys, "validate", "digits", str(sample))[0] == 0
    code, out, _ = run(capsys, "score", "digits", str(sample))
    assert code == 0 and "public" in out and "private" in out and "95% CI [" in out
    code, out, _ = run(capsys, "score", "digits", str(sample), "--json")
    data = json.loads(out)
    assert set(data) >= {"public", "private", "public_ci", "private_ci", "answer_key_sha256"}


def test_a_bad_file_exits_1_with_the_report_on_stderr(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\n1,2\n")
    code, out, err = run(capsys, "validate", "mnist1d", str(bad))
    assert code == 1 and "The submission file is not valid" in err and "Traceback" not in err


def test_a_missing_file_and_an_unknown_task_exit_1(capsys, tmp_path):
    assert run(capsys, "validate", "mnist1d", str(tmp_path / "nope.csv"))[2].startswith("File not found")
    code, _, err = run(capsys, "score", "nosuch", "x.csv")
    assert code == 1 and "Unknown task" in err


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["score"])
    assert info.value.code == 2


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["--help"], ["tasks", "--help"], ["score", "--help"], ["data", "--help"]])
def test_help_everywhere(argv):
    result = subprocess.run([sys.executable, "-m", "arena.cli", *argv], capture_output=True, text=True)
    assert result.returncode == 0 and "usage: arena" in result.stdout


def test_host_a_competition_from_the_command_line(capsys, tmp_path):
    from arena.db.database import Database
    from arena.server import competitions

    url = f"sqlite:///{tmp_path / 'arena.db'}"
    code, out, err = run(capsys, "host", "sunspots", "--slug", "sun-cli", "--database", url)
    assert code == 1 and f"there is no Arena database at {url}" in err and "--create" in err
    assert not (tmp_path / "arena.db").exists()  # nothing made: the command was aimed at the wrong place
    code, out, _ = run(
        capsys,
        "host",
        "sunspots",
        "--slug",
        "sun-cli",
        "--database",
        url,
        "--create",
        "--ends-at",
        "2099-01-01T00:00",
        "--daily-limit",
        "3",
    )
    assert code == 0 and "hosted 'sun-cli'" in out and "a competition" in out and f"database: {url}" in out
    db = Database(url)
    with db.session() as session:
        hosted = competitions.get(session, "sun-cli")
        assert (hosted.daily_limit, hosted.ends_at.year) == (3, 2099)
    code, _, err = run(capsys, "host", "sunspots", "--slug", "sun-cli", "--database", url)
    assert code == 1 and "exists already" in err
    db.engine.dispose()


def test_validate_refuses_a_codabench_phase_and_points_to_score(capsys, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "program").mkdir(parents=True)
    (bundle / "program" / "score.py").write_text("import sys\n")
    (bundle / "program" / "metadata").write_text("command: python3 $program/score.py $input $output\n")
    (bundle / "reference").mkdir()
    (bundle / "reference" / "truth.csv").write_text("id,label\nr1,a\n")
    (bundle / "competition.yaml").write_text(
        "version: 2\ntitle: Tiny\n"
        "tasks:\n  - {index: 0, name: Task, reference_data: reference/, scoring_program: program/}\n"
        "phases:\n  - {index: 0, name: Development, start: 1-1-2026, tasks: [0]}\n"
        "leaderboards:\n  - title: Results\n    key: main\n"
        "    columns:\n      - {title: Accuracy, key: accuracy, index: 0, sorting: desc}\n"
    )
    upload = tmp_path / "predictions.csv"
    upload.write_text("id,label\nr1,a\n")
    code, out, err = run(capsys, "validate", str(bundle), str(upload))
    assert code == 1 and not out and "Traceback" not in err
    assert "checked by its own scoring program" in err and f"arena score {bundle}" in err and f"{upload}`" in err


def test_scores_from_a_server_print_with_four_decimals_as_the_web_shows_them():
    from arena.client import shown

    assert [shown(0.5), shown(1), shown(0.98765), shown(None), shown(True)] == ["0.5000", "1.0000", "0.9877", "-", "-"]
