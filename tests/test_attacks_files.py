"""Hostile prediction files: bombs, broken encodings and rows, corrupt Parquet; each refused with a bounded cost."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import auth

from arena.db.models import Submission
from arena.errors import SubmissionError
from arena.scoring.validation import read_submission
from arena.tasks import load_task

_RSS_SCRIPT = """
import json, resource, sys, tempfile, os
from arena.errors import SubmissionError
from arena.tasks import load_task
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


def _bombs(folder) -> list:
    """A gzip bomb of rows, a gzip bomb of one endless field, a Parquet of 30 million rows, a Parquet whose
    dictionary turns a 100 kB string into 100 MB: each well under 1 MB on disk."""
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
    """Scoring bombs grows a fresh process by at most 4x the answer key plus 200 MB (peak RSS)."""
    bombs = _bombs(tmp_path)
    assert all(path.stat().st_size < 1 << 20 for path in bombs)
    result = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, *map(str, bombs)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    for path in map(str, bombs):
        answer = measured["answers"][path]
        assert answer != "scored" and (
            "more than 1,000 rows" in answer[0] or "of text once decompressed" in answer[0]
        ), answer
    assert measured["growth"] <= 4 * measured["key_bytes"] + 200 * 2**20, measured


def test_a_non_utf8_header_fails_as_the_participants_error_with_no_retry(client, people):
    """Reported as the participant's to fix, once; not retried as a failure of ours."""
    token = people.token("ada")
    sent = client.post(
        "/api/v1/competitions/mnist1d/submissions",
        headers=auth(token),
        data={"file": (io.BytesIO(b"id,lab\xe9l\n4000,1\n"), "latin1.csv")},
    )
    people.drain()
    answer = client.get(f"/api/v1/submissions/{sent.get_json()['submission']['id']}", headers=auth(token)).get_json()
    assert answer["status"] == "failed"
    assert "the header is not UTF-8 text" in answer["problems"][0] and "our side" not in str(answer["problems"])

    with people.app.extensions["arena_db"].session() as session:
        assert session.get(Submission, answer["id"]).attempts == 1


def test_a_corrupt_parquet_error_shows_no_server_path(client, people, arena_home):
    """The stored file's path (ARENA_HOME/files/ab/abab...) never reaches the participant."""
    token = people.token("ada")
    sent = client.post(
        "/api/v1/competitions/mnist1d/submissions",
        headers=auth(token),
        data={"file": (io.BytesIO(b"PAR1" + bytes(range(256)) * 8 + b"PAR1"), "broken.parquet")},
    )
    people.drain()
    answer = client.get(f"/api/v1/submissions/{sent.get_json()['submission']['id']}", headers=auth(token)).get_json()
    text = str(answer["problems"])
    assert answer["status"] == "failed" and "cannot be read as a Parquet file" in text
    assert str(arena_home) not in text and "files" not in text.split("Parquet file", 1)[1].split(".")[0]


def test_a_plain_csv_with_more_lines_than_rows_allowed_is_never_parsed_whole(tmp_path, monkeypatch):
    """Tiny rows within the byte cap would cost several times the file once parsed: the line count decides first,
    and the streaming reader stops at the row cap."""
    path = tmp_path / "rows.csv"
    path.write_bytes(b"id,label\n" + b"4000,1\n" * 5000)  # five times the 1,000 test ids, well within the text cap

    def whole_read(*args, **kwargs):
        raise AssertionError("parsed whole")

    monkeypatch.setattr(pacsv, "read_csv", whole_read)
    with pytest.raises(SubmissionError) as caught:
        read_submission(load_task("mnist1d"), path)
    assert "more than 1,000 rows" in caught.value.messages()[0]


def test_a_ragged_row_is_named_by_its_row_number(tmp_path):
    task = load_task("mnist1d")
    frame = task.sample_submission()
    lines = frame.to_csv(index=False).splitlines()
    lines[500] += ",7"
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SubmissionError) as caught:
        read_submission(task, path)
    assert "Row #501" in " ".join(caught.value.messages()), caught.value.messages()  # line 501, the header first
