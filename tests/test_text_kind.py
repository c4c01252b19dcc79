"""Text tasks (kind = "text"): references in the answers, answers kept exactly as written, their caps and scoring."""

from __future__ import annotations

import csv
import gzip
import io
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.bundles.spec import inspect_spec
from arena.bundles.texts import parse_references
from arena.errors import BundleError, SubmissionError
from arena.scoring.score import public_rows, score_submission
from arena.scoring.validation import read_submission
from arena.tasks import load_task

N = 12
ANSWERS = [
    '["Paris", "paris, France"]',  # two references
    "[citation needed]",  # not a JSON list: one reference, as written
    "",  # an empty reference
    "NA",
    "007",
    "  two  spaces ",
    "Zürich 🚀",
    "null",
    '["a\\nb"]',
    "line one\nline two",
    "42",
    "x",
]
REFERENCES = [
    ("Paris", "paris, France"),
    ("[citation needed]",),
    ("",),
    ("NA",),
    ("007",),
    ("  two  spaces ",),
    ("Zürich 🚀",),
    ("null",),
    ("a\nb",),
    ("line one\nline two",),
    ("42",),
    ("x",),
]
PLUGIN = """
import numpy as np

def first_reference_hits(truth, pred, weight=None):
    assert all(isinstance(refs, tuple) for refs in truth) and all(isinstance(p, str) for p in pred)
    return float(np.average([p in refs for p, refs in zip(pred, truth)], weights=weight))
"""


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def text_bundle(tmp_path: Path, metrics: str = "", answers: list[str] = ANSWERS) -> Path:
    bundle = tmp_path / "qa"
    bundle.mkdir()
    write_csv(bundle / "train.csv", ["id", "question", "answer"], [[100 + i, f"q{i}", f"a{i % 3}"] for i in range(20)])
    write_csv(bundle / "test.csv", ["id", "question"], [[i, f"question {i}"] for i in range(len(answers))])
    write_csv(bundle / "answers.csv", ["id", "answer"], [[i, a] for i, a in enumerate(answers)])
    (bundle / "metrics.py").write_text(PLUGIN)
    (bundle / "task.toml").write_text(
        textwrap.dedent(
            """
            name = "qa"
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
        + (
            metrics
            or textwrap.dedent(
                """
                [metrics]
                primary = "first_reference_hits"
                normalise = "squad"

                [[metrics.plugin]]
                name = "first_reference_hits"
                direction = "max"
                needs = "text"
                """
            )
        )
    )
    return bundle


def submission(tmp_path: Path, answers: list[str], name: str = "sub.csv", ids: list[int] | None = None) -> Path:
    ids = list(range(len(answers))) if ids is None else ids
    return write_csv(tmp_path / name, ["id", "answer"], [[i, a] for i, a in zip(ids, answers)])


def test_references_are_read_exactly_one_or_several_per_cell(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path))
    truth = task.answer_key.truth
    assert truth.dtype == object and truth.shape == (N,)
    assert list(truth) == REFERENCES
    assert task.spec.text.normalise == "squad" and task.spec.text.stemming is False
    shown = "\n".join(task.describe())
    assert '["Paris", "paris, France"]' in shown and "normalise = squad" in shown


def test_a_cell_gives_one_reference_unless_it_is_a_json_list_of_texts() -> None:
    assert parse_references('["a", "b"]') == ("a", "b")
    assert parse_references(' ["a"] ') == ("a",)
    assert parse_references("[not json") == ("[not json",)
    assert parse_references('["[\\"a\\"]"]') == ('["a"]',)
    assert parse_references("") == ("",)
    assert parse_references(["x", "y"]) == ("x", "y")  # a real list (Parquet, JSON Lines)
    for bad in ("[]", "[1, 2]", None):
        with pytest.raises(ValueError):
            parse_references(bad)


def test_answers_without_a_usable_reference_are_named_by_line(tmp_path: Path) -> None:
    bundle = text_bundle(tmp_path, answers=["ok", "[]", "fine", "[1, 2]"] + ["x"] * 4)
    with pytest.raises(BundleError) as caught:
        load_task(bundle)
    text = str(caught.value)
    assert "line 3: the list [] gives no reference" in text
    assert "line 5: the list [1, 2] holds something other than texts" in text


def test_spec_reports_every_text_problem_at_once_with_hints(tmp_path: Path) -> None:
    bundle = text_bundle(
        tmp_path,
        metrics='[metrics]\nprimary = "exact_match"\nnormalise = "squadd"\ntolerance = -1\nstemming = "yes"\n',
    )
    _, problems = inspect_spec(bundle)
    text = "\n".join(str(p) for p in problems)
    assert "Did you mean 'squad'?" in text
    assert "[metrics.tolerance]" in text and "0 or more" in text
    assert "[metrics.stemming]" in text
    toml = (bundle / "task.toml").read_text().replace('kind = "text"', 'kind = "txt"')
    (bundle / "task.toml").write_text(toml)
    _, problems = inspect_spec(bundle)
    assert "Did you mean 'text'?" in "\n".join(str(p) for p in problems)


def test_text_options_belong_to_text_tasks_only(tmp_path: Path) -> None:
    bundle = tmp_path / "cls"
    bundle.mkdir()
    (bundle / "task.toml").write_text(
        'name = "cls"\nversion = 1\nkind = "classification"\n[data]\nsource = "sklearn:digits"\n'
        '[metrics]\nprimary = "accuracy"\nnormalise = "squad"\n[submission]\nprediction = "label"\n'
    )
    _, problems = inspect_spec(bundle)
    assert any("applies to text tasks only" in str(p) for p in problems)


def test_a_csv_submission_keeps_every_answer_exactly(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path))
    written = ["007", "NA", "", "null", "  spaced  ", "Zürich 🚀", "a,b", 'say "hi"', "two\nlines", "N/A", "1e3", "-"]
    predictions = read_submission(task, submission(tmp_path, written))
    assert predictions.texts is not None and predictions.texts.to_pylist() == written
    assert predictions.texts.null_count == 0


def test_empty_answers_score_as_wrong_and_a_missing_id_is_refused(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path))
    exact = [refs[0] for refs in REFERENCES]
    perfect = score_submission(task, submission(tmp_path, exact, "perfect.csv"), split_key="s")
    assert perfect.public["first_reference_hits"] == 1.0 and perfect.private["first_reference_hits"] == 1.0
    blank = ["" for _ in exact]
    scored = score_submission(task, submission(tmp_path, blank, "blank.csv"), split_key="s")
    public = public_rows(task, split_key="s")
    empty_is_right = np.array([refs == ("",) for refs in REFERENCES])
    assert scored.public["first_reference_hits"] == pytest.approx(empty_is_right[public].mean())
    with pytest.raises(SubmissionError, match="1 test ids have no prediction"):
        read_submission(task, submission(tmp_path, exact[:-1], "short.csv"))


def test_exact_match_scores_a_text_task(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path, metrics='[metrics]\nprimary = "exact_match"\n'))
    answers = [refs[-1] for refs in REFERENCES]  # the second reference of row 0 counts too
    score = score_submission(task, submission(tmp_path, answers), split_key="s")
    assert score.public["exact_match"] == 1.0 and score.private["exact_match"] == 1.0
    low, high = score.public_ci
    assert low is not None and high is not None and low <= 1.0 <= high


def test_line_numbers_count_the_line_breaks_inside_answers(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path))
    answers = ["one\ntwo\nthree"] + ["x"] * (N - 1)
    path = submission(tmp_path, answers, ids=list(range(N - 1)) + [0])  # the last row repeats id 0
    with pytest.raises(SubmissionError) as caught:
        read_submission(task, path)
    assert "lines 15" in str(caught.value)  # header, 11 rows, and two line breaks inside the first answer


def test_an_answer_over_the_length_cap_is_named_by_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARENA_MAX_ANSWER_CHARS", "20")
    task = load_task(text_bundle(tmp_path))
    answers = ["short"] * N
    answers[4] = "é" * 21
    with pytest.raises(SubmissionError) as caught:
        read_submission(task, submission(tmp_path, answers))
    assert "longer than 20 characters" in str(caught.value) and "lines 6" in str(caught.value)


def test_the_total_text_cap_stops_reading_a_compressed_flood(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ARENA_MAX_ANSWER_TEXT_MB", "1")
    task = load_task(text_bundle(tmp_path))
    path = tmp_path / "flood.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"id,answer\n0,")  # one answer of 50 MB: a single huge line
        for _ in range(50):
            handle.write(b"y" * 1_000_000)
    with pytest.raises(SubmissionError, match="MiB of text once decompressed"):
        read_submission(task, path)


def test_the_sample_submission_is_a_valid_text_submission(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path))
    sample = task.sample_submission()
    path = tmp_path / "sample.csv"
    sample.to_csv(path, index=False)
    assert read_submission(task, path).texts is not None
    assert set(sample["answer"]) == {"a0"}  # train's most frequent answer, never a test reference


def test_a_text_plugin_gets_reference_tuples_and_answers(tmp_path: Path) -> None:
    task = load_task(text_bundle(tmp_path))
    answers = [refs[0] for refs in REFERENCES]
    answers[0] = "paris, France"
    score = score_submission(task, submission(tmp_path, answers), split_key="s")
    assert score.public["first_reference_hits"] == 1.0


def test_jsonl_data_files_hold_reference_lists(tmp_path: Path) -> None:
    bundle = text_bundle(tmp_path)
    rows = [{"id": i, "answer": list(refs) if len(refs) > 1 else refs[0]} for i, refs in enumerate(REFERENCES)]
    rows[2]["answer"] = [""]
    (bundle / "answers.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    with pytest.raises(BundleError, match="keep one type per key"):  # texts and lists mixed in one key
        load_task(_retarget(bundle, "answers.jsonl"))
    rows = [{"id": i, "answer": list(refs)} for i, refs in enumerate(REFERENCES)]
    (bundle / "answers.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    task = load_task(bundle)
    assert list(task.answer_key.truth) == REFERENCES


def _retarget(bundle: Path, answers: str) -> Path:
    toml = (bundle / "task.toml").read_text().replace('answers = "answers.csv"', f'answers = "{answers}"')
    (bundle / "task.toml").write_text(toml)
    return bundle


SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t"), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(SAFE_TEXT, min_size=N, max_size=N))
def test_any_unicode_answer_round_trips_through_csv_and_jsonl(tmp_path_factory, answers: list[str]) -> None:
    folder = tmp_path_factory.mktemp("round")
    task = load_task(text_bundle(folder))
    frame = pd.DataFrame({"id": range(N), "answer": answers})
    frame.to_csv(folder / "sub.csv", index=False)
    assert read_submission(task, folder / "sub.csv").texts.to_pylist() == answers
    buffer = io.StringIO()
    frame.to_json(buffer, orient="records", lines=True, force_ascii=False)
    (folder / "sub.jsonl").write_text(buffer.getvalue(), encoding="utf-8")
    assert read_submission(task, folder / "sub.jsonl").texts.to_pylist() == answers


def test_the_submission_page_shows_a_few_own_answers_and_neither_a_reference_nor_the_split(
    app, client, people, tmp_path
) -> None:
    from conftest import auth, upload

    from arena.server import competitions

    secret = [f"SECRET-REF-{i}" for i in range(N)]
    folder = text_bundle(tmp_path, answers=secret)
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.host(session, str(folder), slug="qa")
    token = people.token("ada")
    answers = [f"mine {i}" for i in range(N)]
    sent = upload(client, token, "qa", "id,answer\n" + "".join(f"{i},{a}\n" for i, a in enumerate(answers)))
    assert sent.status_code == 202, sent.data
    people.drain()
    submission = client.get(f"/api/v1/submissions/{sent.get_json()['submission']['id']}", headers=auth(token))
    assert submission.get_json()["status"] == "scored"
    people.login("ada")
    page = client.get(f"/c/qa/submissions/{sent.get_json()['submission']['id']}").get_data(as_text=True)
    shown = [i for i in range(N) if f"<pre>mine {i}</pre>" in page]
    assert shown == [0, 1, 2, 3, 4]  # the first rows by id, whichever part each is in: the split stays hidden
    assert "SECRET-REF" not in page and 'id="own-answers"' in page


def test_a_parquet_upload_whose_answers_are_not_utf8_is_refused_with_its_rows(tmp_path: Path) -> None:
    """Parquet's reader does not check that text is UTF-8, and the metrics read the answers' bytes where they lie:
    bytes that are not UTF-8 (a lone continuation byte, a cut-off sequence) must be refused by name and row, never
    reach the compiled loops (which once wrote past their buffer on them and crashed the scorer)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    task = load_task(text_bundle(tmp_path, metrics='[metrics]\nprimary = "chrf"\n'))
    n = len(task.answer_key.ids)
    cells = [b"Paris"] * n
    cells[1], cells[3] = b"\x80" * 4096, b"caf\xc3"
    data = b"".join(cells)
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in cells])]).astype(np.int32)
    answers = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)])
    pq.write_table(pa.table({"id": pa.array(task.answer_key.ids), "answer": answers}), tmp_path / "sub.parquet")
    with pytest.raises(SubmissionError) as refused:
        score_submission(task, tmp_path / "sub.parquet", split_key="s")
    message = str(refused.value)
    assert "2 answers are not UTF-8 text" in message and "UTF-8" in message
    assert "(rows 2, 4)" in message, message


def test_the_compiled_reader_refuses_bytes_that_are_not_utf8_instead_of_running_past_its_buffer() -> None:
    """The last guard, for any caller that hands the text loops an unchecked Arrow column."""
    import pyarrow as pa

    from arena import _fast

    kernels = _fast.text_kernels()
    if kernels is None:  # pragma: no cover
        pytest.skip("numba is not installed: there are no compiled loops to guard")
    offsets = np.array([0, 64], dtype=np.int32)
    column = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"\x80" * 64)])
    with pytest.raises(ValueError, match="not UTF-8"):
        kernels.code_points(column)
