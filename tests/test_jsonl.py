"""JSON Lines everywhere: submissions of every kind and bundle data files, with line-numbered errors and bounded
memory against hostile files."""

from __future__ import annotations

import gzip
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arena.errors import SubmissionError
from arena.scoring.score import score_submission
from arena.scoring.validation import Caps, read_submission
from arena.tasks import load_task

N = 40


def bundle(tmp_path: Path, kind: str, suffix: str = ".csv") -> Path:
    """A small task of ``kind`` (classification with text labels, regression or text) with its data in ``suffix``
    files."""
    folder = tmp_path / f"{kind}{suffix.replace('.', '-')}"
    folder.mkdir()
    rng = np.random.default_rng(3)
    ids = np.arange(2 * N)
    x = rng.normal(size=2 * N)
    target = {
        "classification": np.where(x > 0, "yes", "no"),
        "regression": np.round(3 * x, 3),
        "text": np.array([f"answer {i % 5}" for i in ids], dtype=object),
    }[kind]
    frame = pd.DataFrame({"id": ids, "x": x, "target": target})
    train, test = frame.iloc[:N], frame.iloc[N:]
    parts = {"train": train, "test": test.drop(columns="target"), "answers": test[["id", "target"]]}
    for name, part in parts.items():
        path = folder / f"{name}{suffix}"
        if suffix.startswith(".jsonl"):
            text = part.to_json(orient="records", lines=True)
            path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
        else:
            part.to_csv(path, index=False)
    metric, prediction = {
        "classification": ("accuracy", "label"),
        "regression": ("mae", "value"),
        "text": ("exact_match", "text"),
    }[kind]
    (folder / "task.toml").write_text(
        textwrap.dedent(
            f"""
            name = "{kind}"
            version = 1
            kind = "{kind}"
            [data]
            train = "train{suffix}"
            test = "test{suffix}"
            answers = "answers{suffix}"
            target = "target"
            [metrics]
            primary = "{metric}"
            [submission]
            prediction = "{prediction}"
            """
        )
    )
    return folder


def lines(path: Path, rows: list[object], *, compress: bool = False) -> Path:
    text = "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)
    path.write_bytes(gzip.compress(text.encode()) if compress else text.encode())
    return path


def answers_of(task) -> list[dict]:
    return task.answers.sort_values("id").to_dict(orient="records")


@pytest.mark.parametrize("kind", ["classification", "regression", "text"])
def test_a_jsonl_submission_scores_as_its_csv_does(tmp_path: Path, kind: str) -> None:
    task = load_task(bundle(tmp_path, kind))
    rows = answers_of(task)
    for row in rows[::3]:  # some wrong answers, so the score is not trivially perfect
        row["target"] = {"classification": "yes", "regression": 0.5, "text": "wrong"}[kind]
    csv_path = tmp_path / "sub.csv"
    pd.DataFrame(rows).to_csv(csv_path, index=False)
    from_csv = score_submission(task, csv_path, split_key="k")
    from_jsonl = score_submission(task, lines(tmp_path / "sub.jsonl", rows), split_key="k")
    from_gz = score_submission(task, lines(tmp_path / "sub.jsonl.gz", rows[::-1], compress=True), split_key="k")
    assert from_jsonl.public == from_csv.public == from_gz.public
    assert from_jsonl.private == from_csv.private


def test_bad_lines_are_named_by_their_line_number(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "classification"))
    rows = answers_of(task)
    broken = [*rows[:2], '{"id": 42, "target": "yes"', *rows[3:]]
    with pytest.raises(SubmissionError, match=r"line 3 is not valid JSON"):
        read_submission(task, lines(tmp_path / "a.jsonl", broken))
    not_object = [*rows[:4], "[1, 2]", *rows[5:]]
    with pytest.raises(SubmissionError, match=r"line 5 holds a list, not an object"):
        read_submission(task, lines(tmp_path / "b.jsonl", not_object))
    missing = [*rows[:6], {"id": rows[6]["id"]}, *rows[7:]]
    with pytest.raises(SubmissionError, match=r"1 rows have an empty label \(lines 7\)"):
        read_submission(task, lines(tmp_path / "c.jsonl", missing))
    twice = [*rows[:-1], rows[0]]
    with pytest.raises(SubmissionError, match=rf"repeats at lines {N}"):
        read_submission(task, lines(tmp_path / "d.jsonl", twice))
    no_target = [{"id": row["id"]} for row in rows]
    with pytest.raises(SubmissionError, match=r'missing keys: target. Each line must be an object like \{"id"'):
        read_submission(task, lines(tmp_path / "e.jsonl", no_target))


def test_blank_lines_do_not_shift_line_numbers(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "classification"))
    rows = answers_of(task)
    rows[5] = {"id": rows[5]["id"], "target": "maybe"}
    with pytest.raises(SubmissionError, match=r"'maybe' at lines 8"):
        read_submission(task, lines(tmp_path / "s.jsonl", ["", *rows[:3], "", *rows[3:]]))


def test_a_text_answer_must_be_text_and_stays_as_written(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "text"))
    rows = answers_of(task)
    rows[2] = {"id": rows[2]["id"], "target": 7}
    with pytest.raises(SubmissionError, match=r"line 3: 'target' must be text in quotes, got 7"):
        read_submission(task, lines(tmp_path / "t.jsonl", rows))
    rows[2] = {"id": rows[2]["id"], "target": "007"}
    rows[3] = {"id": rows[3]["id"], "target": ""}
    rows[4] = {"id": rows[4]["id"], "target": None}
    with pytest.raises(SubmissionError, match=r'1 rows have no answer \(lines 5\).*write "" for an empty one'):
        read_submission(task, lines(tmp_path / "u.jsonl", rows))
    rows[4] = {"id": rows[4]["id"], "target": "NA"}
    texts = read_submission(task, lines(tmp_path / "v.jsonl", rows)).texts
    assert texts is not None and texts[2:5].to_pylist() == ["007", "", "NA"]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_bundle_data_files_may_be_json_lines(tmp_path: Path, suffix: str) -> None:
    from_jsonl = load_task(bundle(tmp_path, "classification", suffix))
    from_csv = load_task(bundle(tmp_path, "classification"))
    assert from_jsonl.answer_key.sha256 == from_csv.answer_key.sha256
    assert list(from_jsonl.known_classes()) == ["no", "yes"]


def test_a_gzip_bomb_stops_at_the_text_cap(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "classification"))
    line = b'{"id": 1, "target": "yes"}\n'
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        for _ in range(200):
            handle.write(line * 10_000)  # 54 MB once decompressed, a few hundred KB on disk
    assert path.stat().st_size < 2 << 20
    with pytest.raises(SubmissionError, match="MiB of text once decompressed"):
        read_submission(task, path)


def test_one_huge_line_stops_at_the_text_cap(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "classification"))
    path = tmp_path / "long.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'{"id": 1, "target": "')
        for _ in range(40):
            handle.write(b"y" * 1_000_000)
        handle.write(b'"}\n')
    with pytest.raises(SubmissionError, match="MiB of text once decompressed"):
        read_submission(task, path)


def test_deep_nesting_is_refused_without_crashing_the_reader(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "classification"))
    depth = 500_000  # deep enough to crash Arrow's JSON reader, were it to read the line
    rows = answers_of(task)
    nested = '{"id": 1, "target": ' + "[" * depth + "]" * depth + "}"
    path = lines(tmp_path / "deep.jsonl", [nested, *rows[1:]])
    with pytest.raises(SubmissionError, match="line 1 nests lists or objects too deeply"):
        read_submission(task, path, caps=Caps(rows=N, text_bytes=8 << 20))
    shallow = [{"id": rows[0]["id"], "target": ["yes"]}, *rows[1:]]
    with pytest.raises(SubmissionError, match="line 1: 'target' holds a list; write one plain number or text"):
        read_submission(task, lines(tmp_path / "list.jsonl", shallow))


def test_brackets_inside_texts_are_not_nesting(tmp_path: Path) -> None:
    task = load_task(bundle(tmp_path, "text"))
    rows = answers_of(task)
    rows[0] = {"id": rows[0]["id"], "target": "[[{{ not nested }}]]"}
    texts = read_submission(task, lines(tmp_path / "b.jsonl", rows)).texts
    assert texts is not None and texts[0].as_py() == "[[{{ not nested }}]]"
