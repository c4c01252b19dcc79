"""An organiser's own files: every id and label type, Kaggle's solution conventions, exact public shares.

Bundles here are written the way organisers write them (pandas' ``to_csv`` and
``to_parquet``), and every score is checked against scikit-learn.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from arena.bundles.splits import public_mask
from arena.cli import main as arena_main
from arena.errors import BundleError, SubmissionError
from arena.scoring.score import public_rows, score_submission
from arena.scoring.validation import read_submission
from arena.tasks import load_task

FORMATS = ("csv", "csv.gz", "parquet")
KINDS = ("integers", "zero-padded", "uuid-like", "floats")

SEPARATE = """
name = "{name}"
version = 1
kind = "classification"
[data]
train = "train.{fmt}"
test = "test.{fmt}"
answers = "answers.{fmt}"
id = "id"
target = "label"
[metrics]
primary = "{primary}"
others = [{others}]
[submission]
prediction = "{prediction}"
[competition]
public_fraction = 0.3
"""


def write(frame: pd.DataFrame, path: Path) -> None:
    """As an organiser would: pandas picks gzip from the name, Parquet keeps the column types."""
    if path.name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def bundle(
    folder: Path,
    fmt: str,
    train: pd.DataFrame,
    test: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    name: str = "own",
    primary: str = "accuracy",
    others: str = '"f1_macro"',
    prediction: str = "label",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.toml").write_text(
        SEPARATE.format(name=name, fmt=fmt, primary=primary, others=others, prediction=prediction)
    )
    for part, frame in (("train", train), ("test", test), ("answers", answers)):
        write(frame, folder / f"{part}.{fmt}")
    return folder


def ids_of(kind: str, n: int) -> list:
    rng = np.random.default_rng(7)
    return {
        "integers": [1000 + 3 * i for i in range(n)],
        "zero-padded": [f"{i * 7:04d}" for i in range(n)],  # 0000, 0007, ..., below 1000: padded
        "uuid-like": [str(uuid.UUID(int=int(rng.integers(1, 2**62)) << 64 | i)) for i in range(n)],
        "floats": [1000.0 + 3 * i for i in range(n)],
    }[kind]


def classes_of(kind: str) -> list:
    return {
        "integers": [0, 1, 2],
        "zero-padded": ["01", "02", "10"],
        "uuid-like": [str(uuid.UUID(int=c + 1)) for c in range(3)],
        "floats": [0.0, 1.0, 2.0],
    }[kind]


def frames(id_kind: str, label_kind: str, n_train: int = 60, n_test: int = 45):
    """Train, test and answers with ids and labels of the given kinds (labels cycle, so every class is in both)."""
    ids, classes = ids_of(id_kind, n_train + n_test), classes_of(label_kind)
    rng = np.random.default_rng(3)
    labels = [classes[i % 3] for i in range(n_train + n_test)]
    x = rng.normal(size=n_train + n_test).round(4)
    full = pd.DataFrame({"id": ids, "x": x, "label": labels})
    train, rest = full.iloc[:n_train], full.iloc[n_train:]
    return train, rest[["id", "x"]], rest[["id", "label"]]


def key_of(value):
    """The answer key's form of an id as written: whole numbers as int, the rest as text."""
    return int(value) if isinstance(value, (int, float, np.integer, np.floating)) else str(value)


def public_by_id(task) -> dict:
    return dict(zip([key_of(i) for i in task.answer_key.ids], public_rows(task)))


# --- every id and label type, through CSV, CSV.gz and Parquet ---------------------------


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("id_kind", KINDS)
@pytest.mark.parametrize("label_kind", KINDS)
def test_every_id_and_label_type_round_trips(tmp_path, fmt, id_kind, label_kind):
    train, test, answers = frames(id_kind, label_kind)
    task = load_task(bundle(tmp_path / "b", fmt, train, test, answers))
    written = [key_of(i) for i in answers["id"]]
    assert sorted(map(str, task.answer_key.ids)) == sorted(map(str, written))  # 0007 stays 0007
    assert sorted(map(str, task.classes)) == sorted(str(key_of(c)) for c in classes_of(label_kind))

    # Arena's own sample submission, downloaded as CSV, is valid
    sample = tmp_path / "sample_submission.csv"
    task.sample_submission().to_csv(sample, index=False)
    read_submission(task, sample)

    # the exact answers, as the organiser wrote them, score perfectly in every format
    for sub_fmt in FORMATS:
        path = tmp_path / f"exact.{sub_fmt}"
        write(answers, path)
        score = score_submission(task, path)
        assert score.public["accuracy"] == score.private["accuracy"] == 1.0

    # a noisy submission: identical scores in every format, equal to scikit-learn's
    rng = np.random.default_rng(11)
    noisy = answers.copy()
    flip = rng.random(len(noisy)) < 0.4
    noisy.loc[flip, "label"] = [classes_of(label_kind)[int(rng.integers(3))] for _ in range(int(flip.sum()))]
    scores = []
    for sub_fmt in FORMATS:
        path = tmp_path / f"noisy.{sub_fmt}"
        write(noisy, path)
        scores.append(score_submission(task, path).to_dict())
    assert scores[0] == scores[1] == scores[2]
    public = np.array([public_by_id(task)[key_of(i)] for i in answers["id"]])
    truth, pred = answers["label"].astype(str).to_numpy(), noisy["label"].astype(str).to_numpy()
    for part, rows in (("public", public), ("private", ~public)):
        assert scores[0][part]["accuracy"] == pytest.approx(accuracy_score(truth[rows], pred[rows]), abs=1e-9)
        assert scores[0][part]["f1_macro"] == pytest.approx(
            f1_score(truth[rows], pred[rows], average="macro"), abs=1e-9
        )


def test_integer_labels_stored_as_floats_in_the_answers_accept_integer_and_float_predictions(tmp_path):
    train, test, answers = frames("integers", "integers")
    answers = answers.assign(label=answers["label"].astype(float))  # pandas writes 0.0, 1.0, 2.0
    task = load_task(bundle(tmp_path / "b", "csv", train, test, answers))
    assert task.classes.tolist() == [0, 1, 2]
    for labels in (answers["label"], answers["label"].astype(int)):
        path = tmp_path / "sub.csv"
        answers.assign(label=labels).to_csv(path, index=False)
        assert score_submission(task, path).public["accuracy"] == 1.0


def test_zero_padded_ids_are_refused_when_written_as_numbers(tmp_path):
    train, test, answers = frames("zero-padded", "integers")
    task = load_task(bundle(tmp_path / "b", "csv", train, test, answers))
    path = tmp_path / "sub.csv"
    answers.assign(id=answers["id"].astype(int)).to_csv(path, index=False)  # 0063 written as 63
    with pytest.raises(SubmissionError, match="ids are not in the test set"):
        read_submission(task, path)


# --- Kaggle's solution files -----------------------------------------------------------


def kaggle_bundle(
    folder: Path,
    fmt: str = "csv",
    usage: str = "Usage",
    prediction: str = "label",
    metrics: tuple[str, str] = ("accuracy", '"f1_macro"'),
    data=load_wine,
):
    """A scikit-learn data set as train, test and a Kaggle solution file with Public/Private/Ignored rows."""
    x, y = data(return_X_y=True, as_frame=True)
    frame = x.round(6).assign(id=np.arange(len(x)) + 1, label=y.to_numpy())
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    n_test = len(frame) // 3
    train, test = frame.iloc[n_test:], frame.iloc[:n_test]
    kinds = np.array(["Public", "PRIVATE", "private", "Ignored", "public", "Private"])[np.arange(n_test) % 6]
    solution = pd.DataFrame({"id": test["id"], "label": test["label"].astype(float), usage: kinds})
    bundle(
        folder,
        fmt,
        train,
        test.drop(columns="label"),
        solution,
        primary=metrics[0],
        others=metrics[1],
        prediction=prediction,
    )
    return solution


def test_usage_is_read_in_any_case_and_ignored_rows_count_on_neither_board(tmp_path):
    solution = kaggle_bundle(tmp_path / "b", usage="Usage")
    task = load_task(tmp_path / "b")
    rng = np.random.default_rng(2)
    submission = solution[["id", "label"]].assign(
        label=np.where(rng.random(len(solution)) < 0.7, solution["label"], rng.integers(0, 3, len(solution))).astype(
            int
        )
    )
    path = tmp_path / "sub.csv"
    submission.to_csv(path, index=False)
    score = score_submission(task, path)
    usage = solution["Usage"].str.lower().to_numpy()
    assert (score.n_public, score.n_private) == ((usage == "public").sum(), (usage == "private").sum())
    for part in ("public", "private"):
        rows = usage == part
        truth, pred = solution["label"].to_numpy()[rows], submission["label"].to_numpy()[rows]
        assert score.to_dict()[part]["accuracy"] == pytest.approx(accuracy_score(truth, pred), abs=1e-9)
        assert score.to_dict()[part]["f1_macro"] == pytest.approx(f1_score(truth, pred, average="macro"), abs=1e-9)
    # Ignored rows must be predicted, but what is predicted for them changes no score
    ignored = usage == "ignored"
    changed = submission.assign(label=np.where(ignored, (submission["label"] + 1) % 3, submission["label"]))
    changed.to_csv(path, index=False)
    assert score_submission(task, path).to_dict() == score.to_dict()
    submission[~ignored].to_csv(path, index=False)
    with pytest.raises(SubmissionError, match=f"{ignored.sum()} test ids have no prediction"):
        read_submission(task, path)


@pytest.mark.parametrize("column", ["usage", "Usage", "USAGE"])
def test_every_spelling_of_usage_gives_the_same_split(tmp_path, column):
    kaggle_bundle(tmp_path / column, usage=column)
    task = load_task(tmp_path / column)
    assert task.answer_key.usage_public is not None and task.answer_key.ignored is not None
    n = len(task.answer_key.ids)  # the rows cycle through Public, PRIVATE, private, Ignored, public, Private
    cycle = np.arange(n) % 6
    assert (task.answer_key.usage_public.sum(), task.answer_key.ignored.sum()) == (
        np.isin(cycle, [0, 4]).sum(),
        (cycle == 3).sum(),
    )


def test_an_unknown_usage_value_is_a_bundle_problem(tmp_path):
    solution = kaggle_bundle(tmp_path / "b")
    solution.loc[solution.index[4], "Usage"] = "Hidden"
    solution.to_csv(tmp_path / "b" / "answers.csv", index=False)
    with pytest.raises(BundleError, match=r"column 'Usage' must be Public, Private or Ignored \(file lines \[6\]\)"):
        load_task(tmp_path / "b")


def test_an_organisers_own_sample_submission_is_served_and_checked(tmp_path):
    train, test, answers = frames("zero-padded", "zero-padded")
    folder = bundle(tmp_path / "b", "csv", train, test, answers)
    (folder / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},10\n" for i in test["id"]))
    task = load_task(folder)
    served = task.sample_submission()
    assert served["id"].tolist() == test["id"].tolist() and set(served["label"]) == {"10"}
    (folder / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},03\n" for i in test["id"][:-1]))
    with pytest.raises(BundleError) as info:
        load_task(folder)
    text = info.value.report()
    assert "sample_submission.csv: is not a valid submission for this task" in text
    assert "1 test ids have no prediction" in text and "labels are not among the task's classes" in text


def test_a_sample_submission_that_holds_the_answers_is_refused(tmp_path):
    train, test, answers = frames("integers", "integers")
    folder = bundle(tmp_path / "b", "csv", train, test, answers)
    answers.to_csv(folder / "sample_submission.csv", index=False)
    with pytest.raises(
        BundleError, match="matches the hidden answers on 100% of the rows: it would give the answer key away"
    ):
        load_task(folder)


def test_a_sample_submission_may_be_named_in_task_toml(tmp_path):
    train, test, answers = frames("integers", "integers")
    folder = bundle(tmp_path / "b", "csv", train, test, answers)
    (folder / "my_sample.csv").write_text("id,label\n" + "".join(f"{i},2\n" for i in test["id"]))
    text = (
        (folder / "task.toml")
        .read_text()
        .replace('label"\n[metrics]', 'label"\nsample_submission = "my_sample.csv"\n[metrics]')
    )
    (folder / "task.toml").write_text(text)
    assert set(load_task(folder).sample_submission()["label"]) == {2}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_binary_probability_task_takes_one_probability_column(tmp_path, fmt):
    solution = kaggle_bundle(
        tmp_path / "b",
        fmt=fmt,
        prediction="probabilities",
        metrics=("roc_auc", '"log_loss", "accuracy"'),
        data=load_breast_cancer,
    )
    task = load_task(tmp_path / "b")
    rng = np.random.default_rng(4)
    positive = np.clip(solution["label"].to_numpy() * 0.6 + rng.random(len(solution)) * 0.4, 0, 1).round(6)
    one, two = tmp_path / f"one.{fmt}", tmp_path / f"two.{fmt}"
    write(pd.DataFrame({"id": solution["id"], "label": positive}), one)
    write(pd.DataFrame({"id": solution["id"], "0": 1 - positive, "1": positive}), two)
    single, pair = score_submission(task, one).to_dict(), score_submission(task, two).to_dict()
    assert single == pair
    usage = solution["Usage"].str.lower().to_numpy()
    for part in ("public", "private"):
        rows = usage == part
        truth = solution["label"].to_numpy()[rows]
        assert single[part]["roc_auc"] == pytest.approx(roc_auc_score(truth, positive[rows]), abs=1e-9)
        assert single[part]["log_loss"] == pytest.approx(log_loss(truth, positive[rows], labels=[0, 1]), abs=1e-9)
        assert single[part]["accuracy"] == pytest.approx(accuracy_score(truth, positive[rows] > 0.5), abs=1e-9)
    write(pd.DataFrame({"id": solution["id"], "label": positive * 2}), one)
    with pytest.raises(SubmissionError, match="must lie between 0 and 1"):
        read_submission(task, one)


def test_a_multiclass_probability_task_still_needs_every_class_column(tmp_path):
    kaggle_bundle(tmp_path / "b", prediction="probabilities", metrics=("log_loss", ""))
    task = load_task(tmp_path / "b")
    path = tmp_path / "sub.csv"
    pd.DataFrame({"id": task.test["id"], "label": 0.5}).to_csv(path, index=False)
    with pytest.raises(SubmissionError, match="missing columns: 0, 1, 2"):
        read_submission(task, path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_file_bundles_score_as_scikit_learn_does(tmp_path, fmt):
    x, y = load_wine(return_X_y=True, as_frame=True)
    folder = tmp_path / "wine"
    folder.mkdir()
    write(x.round(6).assign(id=np.arange(len(x)), label=y.to_numpy()), folder / f"all.{fmt}")
    (folder / "task.toml").write_text(f"""
name = "wine"
version = 1
kind = "classification"
[data]
file = "all.{fmt}"
test_fraction = 0.4
seed = 5
[metrics]
primary = "log_loss"
others = ["accuracy", "f1_macro"]
[submission]
prediction = "probabilities"
""")
    task = load_task(folder)
    key = task.answer_key
    rng = np.random.default_rng(8)
    proba = rng.dirichlet(np.ones(3), len(key.ids)) * 0.5 + np.eye(3)[key.truth] * 0.5
    path = tmp_path / "sub.csv"
    pd.DataFrame({"id": key.ids, **{str(c): proba[:, c] for c in range(3)}}).to_csv(path, index=False)
    score = score_submission(task, path)
    public = public_rows(task)
    for part, rows in (("public", public), ("private", ~public)):
        values = getattr(score, part)
        assert values["log_loss"] == pytest.approx(log_loss(key.truth[rows], proba[rows], labels=[0, 1, 2]), abs=1e-9)
        assert values["accuracy"] == pytest.approx(accuracy_score(key.truth[rows], proba[rows].argmax(1)), abs=1e-9)
    assert score.n_public == round(0.3 * len(key.ids))


# --- the public rows: an exact, stratified, keyed share ----------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 67, 100, 1001])
@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.5, 0.75])
def test_the_public_share_is_exact(n, fraction):
    ids = np.arange(n) * 5 + 3
    assert public_mask(ids, b"s" * 32, "scope", fraction).sum() == round(fraction * n)
    text = np.array([f"row-{i}" for i in range(n)])
    labels = np.arange(n) % 4
    assert public_mask(text, b"s" * 32, "scope", fraction, labels).sum() == round(fraction * n)


def test_the_public_share_is_stratified_by_class_and_keyed_by_the_secret():
    rng = np.random.default_rng(0)
    labels = rng.choice(5, size=997, p=[0.5, 0.2, 0.15, 0.1, 0.05])
    ids = np.arange(997)
    masks = [public_mask(ids, secret, "scope", 0.3, labels) for secret in (b"a" * 32, b"b" * 32)]
    for mask in masks:
        assert mask.sum() == round(0.3 * 997)
        for c in range(5):
            assert abs(mask[labels == c].sum() - 0.3 * (labels == c).sum()) <= 1
    assert (masks[0] != masks[1]).mean() > 0.2  # another secret, another selection
    sizes = {int(public_mask(ids, bytes([s]) * 32, "scope", 0.3).sum()) for s in range(20)}
    assert sizes == {round(0.3 * 997)}  # never varies by chance


def test_arena_score_json_reports_the_exact_public_share(tmp_path, capsys):
    for name in ("sunspots", "digits"):
        task = load_task(name)
        path = tmp_path / f"{name}.csv"
        task.sample_submission().to_csv(path, index=False)
        assert arena_main(["score", name, str(path), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        n = len(task.answer_key.ids)
        assert result["n_public"] == round(task.spec.competition.public_fraction * n)
        assert result["n_public"] + result["n_private"] == n
    assert result["n_public"] == round(0.3 * 540)


# --- files uploaded by mistake, and a command whose reader leaves -------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
    + bytes(range(256)) * 4
)


@pytest.mark.parametrize(
    "content, kind",
    [
        (PNG, "a PNG image"),
        (b"PK\x03\x04" + bytes(range(256)), "a ZIP archive"),
        (gzip.compress(PNG), "a PNG image"),
        (bytes(range(256)) * 8, None),
    ],
)
def test_a_binary_file_gets_one_plain_line(tmp_path, content, kind):
    path = tmp_path / "predictions.csv"
    path.write_bytes(content)
    with pytest.raises(SubmissionError) as info:
        read_submission(load_task("digits"), path)
    [message] = info.value.messages()
    assert message.startswith("this is not a CSV or Parquet file")
    assert (f"it looks like {kind}" in message) if kind else "looks like" not in message
    assert message.isascii() and message.isprintable()


def test_a_binary_upload_fails_with_one_line(client, people):
    from conftest import auth, upload

    token = people.token("ada")
    assert upload(client, token, "digits", PNG, name="plot.png").status_code == 202
    people.drain()
    [entry] = client.get("/api/v1/competitions/digits/submissions", headers=auth(token)).get_json()["submissions"]
    assert entry["status"] == "failed"
    assert entry["problems"] == [
        "this is not a CSV or Parquet file (it looks like a PNG image). Upload your "
        "predictions as CSV, gzip-compressed CSV or Parquet, with the header of "
        "sample_submission.csv, or as JSON Lines (one object per line)."
    ]


def test_a_command_whose_reader_stops_reading_exits_quietly():
    load_task("digits")  # materialised in the cache first, so the command is quick
    command = [
        sys.executable,
        "-c",
        "import sys; from arena.cli import main; sys.exit(main())",
        "tasks",
        "show",
        "digits",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # like `| head` that has read what it wanted
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    assert error == ""
