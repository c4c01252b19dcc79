"""The text kind as an NLP organiser and a participant meet it: a JSONL file of questions with several accepted
answers becomes a bundle, a JSONL file of model answers is scored with intervals, and the private chrF agrees with
sacrebleu run by hand on the private rows."""

from __future__ import annotations

import json
import random
import textwrap

import sacrebleu

from arena.cli import main
from arena.scoring.score import private_rows, score_submission
from arena.tasks import load_task

CITIES = ["Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Nantes", "Lille", "Rennes", "Reims", "Brest"]


def qa_bundle(folder):
    rng = random.Random(7)
    folder.mkdir()
    rows = []
    for i in range(120):
        city = rng.choice(CITIES)
        accepted = [city, f"the city of {city}"] + ([f"{city}, France"] if i % 3 == 0 else [])
        rows.append({"id": f"q{i}", "question": f"Where is landmark {i}?", "answer": accepted})
    (folder / "answers.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "answer": r["answer"]}) + "\n" for r in rows)
    )
    (folder / "test.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "question": r["question"]}) + "\n" for r in rows)
    )
    train = [{"id": f"t{i}", "question": f"Where is place {i}?", "answer": rng.choice(CITIES)} for i in range(30)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (folder / "task.toml").write_text(
        textwrap.dedent(
            """
            name = "landmarks"
            version = 1
            kind = "text"

            [data]
            train = "train.jsonl"
            test = "test.jsonl"
            answers = "answers.jsonl"
            id = "id"
            target = "answer"

            [metrics]
            primary = "exact_match"
            others = ["token_f1", "chrf"]
            normalise = "squad"

            [submission]
            prediction = "text"
            """
        )
    )
    return folder, rows


def test_a_jsonl_qa_task_scores_jsonl_answers_with_intervals_and_chrf_agrees_with_sacrebleu(tmp_path, capsys):
    folder, rows = qa_bundle(tmp_path / "landmarks")
    rng = random.Random(3)
    answers = [rng.choice([r["answer"][0], r["answer"][-1].upper(), rng.choice(CITIES), ""]) for r in rows]
    upload = tmp_path / "answers.jsonl"
    upload.write_text("".join(json.dumps({"id": r["id"], "answer": a}) + "\n" for r, a in zip(rows, answers)))

    task = load_task(folder)
    score = score_submission(task, upload)
    for part, cis in (("public", score.public_cis), ("private", score.private_cis)):
        values = getattr(score, part)
        for name in ("exact_match", "token_f1", "chrf"):
            low, high = cis[name]
            assert low <= values[name] <= high and low < high, (part, name, cis[name])

    # After the reveal a participant checks chrF by hand on the private rows, with sacrebleu itself.
    private = private_rows(task)
    ids = task.answer_key.ids
    by_id = {r["id"]: (r["answer"], a) for r, a in zip(rows, answers)}
    mine = [by_id[str(i)] for i in ids[private]]
    most = max(len(refs) for refs, _ in mine)
    streams = [[refs[k] if k < len(refs) else None for refs, _ in mine] for k in range(most)]
    by_hand = sacrebleu.corpus_chrf([answer for _, answer in mine], streams).score
    assert abs(score.private["chrf"] - by_hand) < 1e-9
    assert score.signatures["chrf"].startswith("nrefs:var|case:mixed|eff:yes|nc:6|nw:0|space:no|version:")

    assert main(["score", str(folder), str(upload)]) == 0
    printed = capsys.readouterr().out
    assert "chrf signature: nrefs:var" in printed and "exact_match" in printed
