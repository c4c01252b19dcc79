"""`arena validate` and `arena data` on a text task: what a participant learns of their answers (never of the
references), what an organiser learns of how the references were read, and a sample submission that validates."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest

from arena.bundles.spec import load_spec
from arena.bundles.text_report import comparison_lines
from arena.cli import main

SECRET = "Zanzibar-kept-hidden"
ANSWERS = [
    f'["{SECRET}", "Zanzibar town"]',  # two references
    "[Paris, 'France']",  # meant as a list, but not JSON: one reference, as written
    " Lima",  # a space left after the comma
    "",  # an empty reference
    "Oslo",
    "Oslo",
]
METRICS = """
[metrics]
primary = "exact_match"
others = ["token_f1", "cer"]
normalise = "none"
"""


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def text_bundle(tmp_path: Path, train_answer: str = "Oslo", metrics: str = METRICS) -> Path:
    bundle = tmp_path / "capitals"
    bundle.mkdir()
    train = [[100 + i, f"q{i}", train_answer if i % 3 else f"other {i}"] for i in range(9)]
    write_csv(bundle / "train.csv", ["id", "question", "answer"], train)
    write_csv(bundle / "test.csv", ["id", "question"], [[i, f"question {i}"] for i in range(len(ANSWERS))])
    write_csv(bundle / "answers.csv", ["id", "answer"], [[i, a] for i, a in enumerate(ANSWERS)])
    (bundle / "task.toml").write_text(
        textwrap.dedent(
            """
            name = "capitals"
            version = 1
            kind = "text"

            [data]
            train = "train.csv"
            test = "test.csv"
            answers = "answers.csv"
            id = "id"
            target = "answer"

            [submission]
            prediction = "text"
            """
        )
        + metrics
    )
    return bundle


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def line(out: str, label: str) -> str:
    """The report line that starts with ``label:``."""
    found = [text.strip() for text in out.splitlines() if text.strip().startswith(label + ":")]
    assert found, f"no line '{label}:' in:\n{out}"
    return found[0]


def test_validate_reports_the_answers_without_a_word_of_the_references(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ARENA_MAX_ANSWER_CHARS", "50")
    bundle = text_bundle(tmp_path)
    answers = ["Oslo", "", "   ", "x" * 42, "Lima", ""]
    upload = write_csv(tmp_path / "sub.csv", ["id", "answer"], [[i, a] for i, a in enumerate(answers)])
    code, out, _ = run(capsys, "validate", str(bundle), str(upload))
    assert code == 0 and "valid submission for capitals (6 rows)" in out
    assert line(out, "answer column") == "answer column:  answer, one text per row, kept exactly as written"
    assert line(out, "rows") == "rows:           6"
    assert line(out, "empty answers").startswith("empty answers:  2; 1 more answer of spaces only")
    assert "42 characters (id 3)" in line(out, "longest answer") and "up to 50 " in line(out, "longest answer")
    assert line(out, "text in all").startswith("text in all:    53 bytes; a file may hold ")
    compared = "\n".join(text for text in out.splitlines() if "compared:" in text)
    assert "every accepted reference of its row, the best counting (exact_match, token_f1)" in compared
    assert "first reference of its row only (cer)" in compared
    assert line(out, "normalise") == "normalise:      none (exact_match, token_f1): answers compared exactly as written"
    for hidden in (SECRET, "Zanzibar", "Paris", "several", "references:"):
        assert hidden not in out


def test_a_file_that_is_not_valid_prints_no_report(capsys, tmp_path) -> None:
    bundle = text_bundle(tmp_path)
    upload = write_csv(tmp_path / "sub.csv", ["id", "answer"], [[0, "Oslo"], [0, "Oslo"]])
    code, out, err = run(capsys, "validate", str(bundle), str(upload))
    assert code == 1 and out == "" and "The submission file is not valid" in err
    assert SECRET not in err


def test_validating_the_bundle_shows_the_organiser_how_references_were_read(capsys, tmp_path) -> None:
    code, out, _ = run(capsys, "validate", str(text_bundle(tmp_path)))
    assert code == 0 and "a valid task bundle (capitals)" in out
    assert (
        line(out, "references") == "references:     answers.csv, 6 rows: 5 with one reference, 1 with several (up to 2)"
    )
    assert line(out, "empty") == "empty:          1 row with an empty reference (an empty answer matches it)"
    example = line(out, "e.g. id 0")
    assert example.endswith(f'read as 2 references: ["{SECRET}", "Zanzibar town"]')
    checks = [text.strip() for text in out.splitlines() if text.strip().startswith("check:")]
    assert len(checks) == 2
    assert "1 cell written like a list but not a JSON list" in checks[0] and "id 1" in checks[0]
    assert "id 1: [Paris, 'France'])" in checks[0] and '["Paris", "paris, France"]' in checks[0]
    assert "1 row with a reference with spaces at either end (e.g. id 2" in checks[1]


def test_validating_a_bundle_with_an_unusable_list_names_its_line(capsys, tmp_path) -> None:
    bundle = text_bundle(tmp_path)
    rows = [[i, a] for i, a in enumerate(ANSWERS)]
    rows[4][1] = "[]"
    write_csv(bundle / "answers.csv", ["id", "answer"], rows)
    code, out, err = run(capsys, "validate", str(bundle))
    assert code == 1 and out == ""
    assert "The task bundle is not valid" in err and "line 6: the list [] gives no reference" in err


def test_references_given_as_real_lists_in_json_lines_read_the_same(capsys, tmp_path) -> None:
    bundle = text_bundle(tmp_path)
    (bundle / "answers.csv").unlink()
    rows = [{"id": i, "answer": [f"city {i}", f"City {i}"][: 1 + i % 2]} for i in range(len(ANSWERS))]
    (bundle / "answers.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    toml = (bundle / "task.toml").read_text().replace("answers.csv", "answers.jsonl")
    (bundle / "task.toml").write_text(toml)
    code, out, _ = run(capsys, "validate", str(bundle))
    assert code == 0
    assert "answers.jsonl, 6 rows: 3 with one reference, 3 with several (up to 2)" in line(out, "references")
    assert line(out, "e.g. id 1").endswith('read as 2 references: ["city 1", "City 1"]')
    assert "check:" not in out


@pytest.mark.parametrize("answer", ["Oslo", 'Oslo, "the capital"\nof Norway', "  spaced  ", "[not, a list]"])
def test_the_sample_submission_validates_and_the_json_lines_form_too(capsys, tmp_path, answer) -> None:
    bundle = text_bundle(tmp_path, train_answer=answer)
    out_dir = tmp_path / "data"
    code, out, _ = run(capsys, "data", str(bundle), "--out", str(out_dir))
    assert code == 0 and "'answer' (text, kept exactly as written" in out
    example = out.splitlines()[-1]
    assert example.startswith("JSON Lines (.jsonl, .jsonl.gz) is accepted too, one object per line: ")
    first = json.loads(example.split("one object per line: ", 1)[1])
    assert first == {"id": 0, "answer": answer}
    code, out, _ = run(capsys, "validate", str(bundle), str(out_dir / "sample_submission.csv"))
    assert code == 0 and "valid submission for capitals (6 rows)" in out
    assert f"{len(answer)} characters" in line(out, "longest answer")
    jsonl = tmp_path / "sub.jsonl"
    jsonl.write_text("".join(json.dumps({**first, "id": i}) + "\n" for i in range(len(ANSWERS))))
    assert run(capsys, "validate", str(bundle), str(jsonl))[0] == 0


def test_the_comparison_names_how_each_metric_reads_references(tmp_path) -> None:
    metrics = """
    [metrics]
    primary = "token_f1"
    others = ["bleu", "wer", "rougeL"]
    normalise = "numeric"
    tolerance = 0.01
    stemming = true
    """
    spec = load_spec(text_bundle(tmp_path, metrics=textwrap.dedent(metrics)))
    lines = [text.strip() for text in comparison_lines(spec)]
    assert lines == [
        "compared:       each answer against every accepted reference of its row, the best counting (token_f1, rougeL)",
        "compared:       each answer against all references of its row at once (bleu)",
        "compared:       each answer against the first reference of its row only (wer)",
        "normalise:      numeric (token_f1): answers read as numbers where they are, equal within the tolerance "
        "(tolerance 0.01; other texts as squad)",
        "stemming:       on (rougeL)",
    ]


def test_a_json_lines_train_of_numbers_gives_a_sample_answer_written_as_text(capsys, tmp_path) -> None:
    bundle = text_bundle(tmp_path)
    (bundle / "train.csv").unlink()
    rows = [{"id": 100 + i, "question": f"q{i}", "answer": 42 if i % 3 else 7} for i in range(9)]
    (bundle / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (bundle / "task.toml").write_text((bundle / "task.toml").read_text().replace("train.csv", "train.jsonl"))
    out_dir = tmp_path / "data"
    assert run(capsys, "data", str(bundle), "--out", str(out_dir))[0] == 0
    sample = (out_dir / "sample_submission.csv").read_text().splitlines()
    assert sample[:2] == ["id,answer", "0,42"]
    code, out, _ = run(capsys, "validate", str(bundle), str(out_dir / "sample_submission.csv"))
    assert code == 0 and line(out, "empty answers").startswith("empty answers:  0 ")
