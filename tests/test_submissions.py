"""Every bad predictions file gets one clear report; none raises a traceback."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arena.errors import SubmissionError
from arena.scoring.validation import caps_for, read_submission
from arena.tasks import load_task


@pytest.fixture(scope="module")
def mnist():
    return load_task("mnist1d")


@pytest.fixture(scope="module")
def digits():
    return load_task("digits")


def labels_file(task, tmp_path, edit=None, name="sub.csv"):
    frame = task.sample_submission()
    if edit:
        frame = edit(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def report(task, path, **kwargs) -> str:
    with pytest.raises(SubmissionError) as info:
        read_submission(task, path, **kwargs)
    return info.value.report()


def test_the_sample_submission_is_valid(mnist, digits, tmp_path):
    for task in (mnist, digits, load_task("sunspots"), load_task("listops")):
        predictions = read_submission(task, labels_file(task, tmp_path))
        answered = next(a for a in (predictions.labels, predictions.probabilities, predictions.values) if a is not None)
        assert len(answered) == len(task.answer_key.ids), task.spec.name  # one prediction for every hidden row


def test_rows_in_any_order_are_aligned_to_the_answer_key(mnist, tmp_path):
    truth = mnist.answers.set_index("id")["label"]
    shuffled = pd.DataFrame({"id": truth.index, "label": truth.to_numpy()}).sample(frac=1, random_state=1)
    shuffled.to_csv(tmp_path / "s.csv", index=False)
    predictions = read_submission(mnist, tmp_path / "s.csv")
    np.testing.assert_array_equal(predictions.labels, mnist.answer_key.truth)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda f: f.drop(columns="label"), "missing columns: label. The header must be: id,label"),
        (lambda f: f.assign(extra=1), "unexpected columns: extra. The header must be: id,label"),
        (lambda f: f.iloc[:0], "the file has a header but no rows"),
        (
            lambda f: pd.concat([f.iloc[:-2], f.iloc[[0, 1]]]),
            "2 ids appear more than once, e.g. 4000, 4001 (repeats at lines 1000, 1001)",
        ),
        (lambda f: pd.concat([f, f.iloc[[0]]]), "the file has more than 1,000 rows, but the test set has 1,000 ids"),
        (lambda f: f.iloc[3:], "3 test ids have no prediction, e.g. 4000, 4001, 4002"),
        (lambda f: f.assign(id=f["id"].where(f.index != 0, 99999)), "1 ids are not in the test set, e.g. 99999"),
        (
            lambda f: f.assign(label=f["label"].astype(object).where(f.index != 2, "cat")),
            "labels are not among the task's classes",
        ),
        (
            lambda f: f.assign(label=f["label"].where(f.index != 4, 12)),
            "1 labels are not among the task's classes ('0', '1', '2', '3', '4', ...), e.g. 12 at lines 6",
        ),
        (
            lambda f: f.assign(label=f["label"].astype(object).where(f.index != 5, None)),
            "1 rows have an empty label (lines 7)",
        ),
        (
            lambda f: f.assign(id=f["id"].astype(str).where(f.index != 0, "abc")),
            "ids must be whole numbers, as in test.csv",
        ),
    ],
)
def test_label_file_problems(mnist, tmp_path, edit, expected):
    text = report(mnist, labels_file(mnist, tmp_path, edit))
    assert expected in text, text


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda f: f.assign(**{"3": -0.1}), "rows have negative probabilities (lines 2, 3, 4, 5, 6 and"),
        (lambda f: f.assign(**{"3": 0.5}), "rows have probabilities that do not sum to 1 (tolerance 0.001)"),
        (
            lambda f: f.assign(**{"7": f["7"].where(f.index != 1, np.nan)}),
            "column '7' has 1 empty, NaN or infinite values (lines 3)",
        ),
        (
            lambda f: f.assign(**{"7": f["7"].where(f.index != 2, np.inf)}),
            "column '7' has 1 empty, NaN or infinite values (lines 4)",
        ),
        (lambda f: f.assign(**{"2": "high"}), "column '2' must hold numbers; found text such as 'high'"),
    ],
)
def test_probability_file_problems(digits, tmp_path, edit, expected):
    text = report(digits, labels_file(digits, tmp_path, edit))
    assert expected in text, text


@pytest.mark.parametrize("row, value", [(301, np.nan), (-1, None), (2, np.nan)])
def test_an_empty_or_nan_probability_in_any_chunk_is_reported(digits, tmp_path, monkeypatch, row, value):
    """Checked a few rows at a time, on several threads: a bad cell is found whichever chunk holds it."""
    from arena._fast import parallel as slices

    monkeypatch.setattr(slices, "CHUNK_ROWS", 16)
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 100)
    monkeypatch.setattr(slices, "_WORKERS", 3)
    rows = len(digits.sample_submission())
    assert rows > 3 * 100  # three slices of many chunks
    row %= rows
    edit = lambda f: f.assign(**{"7": f["7"].astype(object).where(f.index != row, value)})
    text = report(digits, labels_file(digits, tmp_path, edit))
    assert f"column '7' has 1 empty, NaN or infinite values (lines {row + 2})" in text, text


def test_every_problem_is_collected_in_one_report(mnist, tmp_path):
    def edit(f):
        f = pd.concat([f.iloc[5:], f.iloc[[5]]])
        return f.assign(label=f["label"].where(f["id"] != 4010, 42))

    text = report(mnist, labels_file(mnist, tmp_path, edit))
    assert "(3 problems)" in text
    assert "appear more than once" in text and "have no prediction" in text and "not among the task's classes" in text


def test_an_empty_file(mnist, tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "the file is empty" in report(mnist, tmp_path / "empty.csv")


def test_an_oversized_file_is_refused_before_reading(mnist, tmp_path):
    text = report(mnist, labels_file(mnist, tmp_path), max_bytes=1000)
    assert "the limit is 0 MiB" in text or "the limit is" in text
    assert "Compress it (.csv.gz) or write Parquet" in text


def test_a_ragged_csv_is_reported_with_its_line(mnist, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("id,label\n4000,1\n4001,2,3\n")
    text = report(mnist, path)
    assert "cannot be read as a CSV file" in text and "Expected 2 columns, got 3" in text
    assert "Traceback" not in text


def test_binary_garbage_is_refused(mnist, tmp_path):
    path = tmp_path / "garbage.parquet"
    path.write_bytes(b"PAR1" + bytes(range(256)) * 4)
    assert "cannot be read as a Parquet file" in report(mnist, path)


def test_gzip_and_parquet_are_read_by_content_not_name(mnist, tmp_path):
    frame = mnist.sample_submission()
    with gzip.open(tmp_path / "upload-without-suffix", "wt") as handle:
        frame.to_csv(handle, index=False)
    frame.to_parquet(tmp_path / "upload.bin")
    for path in (tmp_path / "upload-without-suffix", tmp_path / "upload.bin"):
        assert len(read_submission(mnist, path).labels) == 1000


def test_regression_values_must_be_finite_numbers(tmp_path):
    sunspots = load_task("sunspots")
    text = report(
        sunspots,
        labels_file(sunspots, tmp_path, lambda f: f.assign(sunspots=f["sunspots"].where(f.index != 3, np.nan))),
    )
    assert "column 'sunspots' has 1 empty, NaN or infinite values (lines 5)" in text


def test_error_messages_never_reveal_answer_key_values(mnist, tmp_path):
    wrong = labels_file(mnist, tmp_path, lambda f: f.assign(label=11))
    text = report(mnist, wrong)
    assert "not among the task's classes" in text
    assert str(mnist.answer_key.truth[:20].tolist()) not in text


# --- reading within caps: hostile files are refused early, with a message a person can act on -----


def gzip_rows(path, copies: int) -> None:
    """A small .csv.gz that decompresses to ``copies`` x 900 kB of rows (gzip members may be concatenated)."""
    block = gzip.compress(b"4000,1\n" * (1 << 17), 9)
    with open(path, "wb") as out:
        out.write(gzip.compress(b"id,label\n"))
        for _ in range(copies):
            out.write(block)


def test_a_gzip_bomb_of_rows_is_refused_at_the_row_cap(mnist, tmp_path):
    gzip_rows(tmp_path / "bomb.csv.gz", 20)
    text = report(mnist, tmp_path / "bomb.csv.gz")
    assert "the file has more than 1,000 rows, but the test set has 1,000 ids" in text


def test_a_gzip_bomb_of_text_is_refused_at_the_byte_cap(mnist, tmp_path):
    path = tmp_path / "wide.csv.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"id,label\n4000," + b"7" * (3 << 20) + b"\n")
    text = report(mnist, path)
    assert "the file holds more than 1.2 MiB of text once decompressed" in text


def test_a_parquet_claiming_too_many_rows_is_refused_from_its_footer(mnist, tmp_path):
    table = pa.table({"id": pa.array(np.full(1 << 20, 4000)), "label": pa.array(np.ones(1 << 20, dtype=np.int64))})
    with pq.ParquetWriter(tmp_path / "rows.parquet", table.schema, compression="zstd") as writer:
        for _ in range(3):
            writer.write_table(table)
    assert "the file has more than 1,000 rows" in report(mnist, tmp_path / "rows.parquet")


def test_a_parquet_dictionary_bomb_is_refused_before_it_is_decoded(mnist, tmp_path):
    """One 2 MB string, referenced by every row: tiny on disk, 2 GB once decoded."""
    label = pa.DictionaryArray.from_arrays(pa.array(np.zeros(1000, dtype=np.int32)), pa.array(["1" * (2 << 20)]))
    pq.write_table(
        pa.table({"id": np.arange(4000, 5000), "label": label}), tmp_path / "dict.parquet", compression="zstd"
    )
    assert "of text once decompressed" in report(mnist, tmp_path / "dict.parquet")


def test_parquet_extra_and_nested_columns(mnist, tmp_path):
    frame = mnist.sample_submission()
    pq.write_table(
        pa.table({"id": frame["id"], "label": frame["label"], "junk": [[1, 2]] * len(frame)}),
        tmp_path / "extra.parquet",
    )
    assert "unexpected columns: junk. The header must be: id,label" in report(mnist, tmp_path / "extra.parquet")
    pq.write_table(pa.table({"id": frame["id"], "label": [[1]] * len(frame)}), tmp_path / "nested.parquet")
    text = report(mnist, tmp_path / "nested.parquet")
    assert "column 'label' holds list<" in text and "write one plain number or text per cell" in text


def test_a_corrupt_parquet_error_does_not_show_the_server_path(mnist, tmp_path):
    folder = tmp_path / "srv-files" / "ab"
    folder.mkdir(parents=True)
    path = folder / ("ab" * 32)
    path.write_bytes(b"PAR1" + bytes(range(256)) * 4 + b"PAR1")
    text = report(mnist, path)
    assert "cannot be read as a Parquet file" in text and "Write it again with pandas' to_parquet" in text
    assert str(tmp_path) not in text and "ab" * 32 not in text and "srv-files" not in text


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"id,lab\xe9l\n4000,1\n", "the header is not UTF-8 text. Save the file as UTF-8"),
        (b"id,label\n4000,caf\xe9\n", "column 'label' holds text that is not UTF-8"),
    ],
)
def test_text_that_is_not_utf8_is_the_participants_to_fix(mnist, tmp_path, content, expected):
    (tmp_path / "latin1.csv").write_bytes(content)
    assert expected in report(mnist, tmp_path / "latin1.csv")


def test_files_within_the_caps_read_as_before(digits, tmp_path):
    frame = digits.sample_submission()
    with gzip.open(tmp_path / "ok.csv.gz", "wt") as handle:
        frame.to_csv(handle, index=False)
    caps = caps_for(digits)
    assert caps.rows == len(digits.answer_key.ids)
    assert len(read_submission(digits, tmp_path / "ok.csv.gz").probabilities) == caps.rows
    frame.to_parquet(tmp_path / "ok.parquet")
    assert len(read_submission(digits, tmp_path / "ok.parquet").label_codes()) == caps.rows


def test_a_compressed_value_column_whose_first_rows_are_whole_numbers_is_still_read_as_numbers(write_bundle):
    """The streaming reader guesses types from its first block: whole numbers there, then 0.5, is a valid file."""
    import gzip

    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    n = 200_000
    ids = "\n".join(str(i) for i in range(n))
    answers = "\n".join(f"{i},{i % 7}" for i in range(n))
    folder = write_bundle(
        """
name = "whole-then-fraction"
version = 1
kind = "regression"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
target = "y"
[metrics]
primary = "mae"
[submission]
prediction = "value"
""",
        {
            "train.csv": "id,y\n-1,1.0\n-2,2.0\n",
            "test.csv": "id\n" + ids + "\n",
            "answers.csv": "id,y\n" + answers + "\n",
        },
    )
    task = load_task(folder)
    rows = [f"{i},{i % 7}" for i in range(n - 1)] + [f"{n - 1},{(n - 1) % 7 + 0.5}"]
    path = folder / "sub.csv.gz"
    path.write_bytes(gzip.compress(("id,y\n" + "\n".join(rows) + "\n").encode()))
    score = score_submission(task, path)
    total_error = score.public["mae"] * score.n_public + score.private["mae"] * score.n_private
    assert total_error == pytest.approx(0.5)  # the one fraction, read as written
