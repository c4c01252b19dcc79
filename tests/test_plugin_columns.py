"""Organiser-declared submission columns (prediction = "columns"), read, checked and scored by table plugins."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest

from arena.cli import main
from arena.errors import BundleError, SubmissionError
from arena.scoring.score import private_rows, public_rows, score_submission
from arena.scoring.validation import read_submission
from arena.tasks import load_task

N = 60
BOX = ("x", "y", "width", "height")
COLUMNS = (
    '{ x = "float", y = "float", width = "float", height = "float", label = "text", objects = "int", seen = "bool" }'
)

BOXES = """
import numpy as np

def _iou(answers, predictions):
    a = [answers[c].to_numpy() for c in ("x", "y", "width", "height")]
    p = [predictions[c].to_numpy() for c in ("x", "y", "width", "height")]
    dx = np.clip(np.minimum(a[0] + a[2], p[0] + p[2]) - np.maximum(a[0], p[0]), 0, None)
    dy = np.clip(np.minimum(a[1] + a[3], p[1] + p[3]) - np.maximum(a[1], p[1]), 0, None)
    inter = dx * dy
    return inter / (a[2] * a[3] + p[2] * p[3] - inter)

def mean_iou(answers, predictions, weight=None):
    return float(np.average(_iou(answers, predictions), weights=weight))

def centre_rmse(answers, predictions):
    dx = (answers["x"] + answers["width"] / 2) - (predictions["x"] + predictions["width"] / 2)
    dy = (answers["y"] + answers["height"] / 2) - (predictions["y"] + predictions["height"] / 2)
    return float(np.sqrt(np.mean(dx ** 2 + dy ** 2)))

def label_hits(answers, predictions):
    assert predictions["objects"].dtype == np.int64 and predictions["seen"].dtype == bool
    return float(np.mean(answers["label"].to_numpy() == predictions["label"].to_numpy()))
"""

METRICS = """
[metrics]
primary = "mean_iou"
others = ["centre_rmse", "label_hits"]

[[metrics.plugin]]
name = "mean_iou"
direction = "max"
needs = "table"

[[metrics.plugin]]
name = "centre_rmse"
direction = "min"
needs = "table"

[[metrics.plugin]]
name = "label_hits"
direction = "max"
needs = "table"
"""


def boxes(rng: np.random.Generator, ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ids,
            "x": np.round(rng.uniform(0, 50, len(ids)), 2),
            "y": np.round(rng.uniform(0, 50, len(ids)), 2),
            "width": np.round(rng.uniform(5, 20, len(ids)), 2),
            "height": np.round(rng.uniform(5, 20, len(ids)), 2),
            "label": rng.choice(["cat", "dog", "0300"], len(ids)),
        }
    )


def write_boxes(
    folder,
    *,
    submission: str = f'prediction = "columns"\ncolumns = {COLUMNS}',
    metrics: str = METRICS,
    weight: str = "",
):
    """A bounding-box bundle: answers hold each image's box and label; the submission declares its own columns."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    train = boxes(rng, np.arange(N) + 1000).assign(pixels=rng.random(N))
    train.to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": np.arange(N), "pixels": rng.random(N)}).to_csv(folder / "test.csv", index=False)
    boxes(rng, np.arange(N)).assign(w=rng.integers(1, 4, N)).to_csv(folder / "answers.csv", index=False)
    (folder / "metrics.py").write_text(textwrap.dedent(BOXES))
    (folder / "task.toml").write_text(
        textwrap.dedent(f"""
        name = "{folder.name}"
        version = 1
        kind = "regression"

        [data]
        train = "train.csv"
        test = "test.csv"
        answers = "answers.csv"
        target = "x"
        {weight}

        [submission]
        """)
        + submission
        + "\n"
        + metrics
    )
    return folder


def shifted(task, shift: float) -> pd.DataFrame:
    """Every box moved right by ``shift`` and every other label wrong: a submission in the answer key's id order."""
    answers = task.answers.sort_values("id").reset_index(drop=True)
    guess = answers[["id", *BOX, "label"]].copy()
    guess["x"] += shift * np.arange(len(guess)) / len(guess)
    guess.loc[::2, "label"] = "bird"
    return guess.assign(objects=1, seen=np.arange(len(guess)) % 2 == 0)


def iou(a: pd.DataFrame, p: pd.DataFrame) -> np.ndarray:
    """Intersection over union of boxes (x, y, width, height), computed directly."""
    dx = np.minimum(a.x + a.width, p.x + p.width) - np.maximum(a.x, p.x)
    dy = np.minimum(a.y + a.height, p.y + p.height) - np.maximum(a.y, p.y)
    inter = np.clip(dx, 0, None).to_numpy() * np.clip(dy, 0, None).to_numpy()
    return inter / (a.width * a.height + p.width * p.height - inter).to_numpy()


def submit(tmp_path, frame: pd.DataFrame, name: str = "submission.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_a_table_plugin_scores_the_declared_columns_on_public_and_private_rows(tmp_path):
    task = load_task(write_boxes(tmp_path / "boxes"))
    guess = shifted(task, 8.0)
    score = score_submission(task, submit(tmp_path, guess.iloc[::-1]))  # any row order: aligned by id
    answers = task.answers.sort_values("id").reset_index(drop=True)
    centre = np.hypot(answers.x - guess.x, 0)
    for part, rows in (("public", public_rows(task)), ("private", private_rows(task))):
        values = getattr(score, part)
        assert values["mean_iou"] == pytest.approx(iou(answers[rows], guess[rows]).mean())
        assert values["centre_rmse"] == pytest.approx(np.sqrt(np.mean(centre[rows] ** 2)))
        assert values["label_hits"] == pytest.approx(np.mean(answers.label[rows] == guess.label[rows]))
    assert 0 < score.private["mean_iou"] < 1 and score.n_public + score.n_private == N
    for part in ("public", "private"):  # weight= gets the Bayesian bootstrap; the others, resampled rows
        for name in ("mean_iou", "centre_rmse"):
            low, high = getattr(score, f"{part}_cis")[name]
            assert low < getattr(score, part)[name] < high


def test_a_weight_column_reaches_a_table_plugin(tmp_path):
    only_iou = METRICS.replace('others = ["centre_rmse", "label_hits"]', "").split(
        '[[metrics.plugin]]\nname = "centre'
    )[0]
    task = load_task(
        write_boxes(tmp_path / "weighted", weight='weight = "w"', metrics=only_iou)
    )  # every plugin takes weight=
    guess = shifted(task, 8.0)
    score = score_submission(task, submit(tmp_path, guess))
    answers = task.answers.sort_values("id").reset_index(drop=True)
    rows = private_rows(task)
    expected = np.average(iou(answers[rows], guess[rows]), weights=answers.w[rows])
    assert score.private["mean_iou"] == pytest.approx(expected)
    assert score.private_ci[0] < expected < score.private_ci[1]


def test_the_declared_columns_keep_their_types(tmp_path):
    task = load_task(write_boxes(tmp_path / "types"))
    guess = shifted(task, 0.0).assign(seen=np.where(np.arange(N) % 2, "TRUE", "0"))
    predictions = read_submission(task, submit(tmp_path, guess))
    table = predictions.columns
    assert list(table.columns) == [*BOX, "label", "objects", "seen"]
    assert table["label"].tolist() == guess["label"].tolist() and "0300" in table["label"].tolist()  # text stays text
    assert table["objects"].dtype == np.int64 and table["seen"].tolist() == [bool(i % 2) for i in range(N)]
    parquet = tmp_path / "submission.parquet"
    shifted(task, 0.0).to_parquet(parquet, index=False)
    assert read_submission(task, parquet).columns["x"].tolist() == pytest.approx(table["x"].tolist())


def broken(task, change: str) -> pd.DataFrame:
    guess = shifted(task, 0.0).astype({"x": object, "label": object, "objects": object, "seen": object})
    if change == "missing":
        return guess.drop(columns=["height"])
    if change == "text":
        guess.loc[[2, 5], "x"] = ["left", "10 px"]
    elif change == "nan":
        guess.loc[[3], "x"] = np.nan
        guess.loc[[4], "x"] = np.inf
    elif change == "empty":
        guess.loc[[1, 6], "label"] = ""
    elif change == "fraction":
        guess.loc[[7], "objects"] = 2.5
    elif change == "bool":
        guess.loc[[8], "seen"] = "maybe"
    return guess


@pytest.mark.parametrize(
    "change, message",
    [
        ("missing", "missing columns: height. The header must be: id,x,y,width,height,label,objects,seen"),
        ("text", "column 'x' must hold numbers; 2 cells hold text, e.g. 'left', '10 px' (lines 4, 7)"),
        ("nan", "column 'x' has 2 empty, NaN or infinite values (lines 5, 6)"),
        ("empty", "column 'label' has 2 empty cells (lines 3, 8)"),
        ("fraction", "column 'objects' must hold whole numbers; 1 cells do not, e.g. 2.5 (lines 9)"),
        ("bool", "column 'seen' must hold true or false (or 1 or 0); found 'maybe' (lines 10)"),
    ],
)
def test_a_bad_cell_in_a_declared_column_is_reported_with_its_line(tmp_path, change, message):
    task = load_task(write_boxes(tmp_path / "bad"))
    with pytest.raises(SubmissionError) as caught:
        read_submission(task, submit(tmp_path, broken(task, change)))
    assert any(message in problem for problem in caught.value.messages()), caught.value.messages()


def test_every_bad_declared_column_is_reported_at_once(tmp_path):
    task = load_task(write_boxes(tmp_path / "all"))
    guess = broken(task, "text")
    guess.loc[[1], "label"] = ""
    guess.loc[[0], "y"] = np.nan
    with pytest.raises(SubmissionError) as caught:
        read_submission(task, submit(tmp_path, guess))
    assert [p.split(" ")[1] for p in caught.value.messages()] == ["'x'", "'y'", "'label'"]


@pytest.mark.slow
def test_the_sample_submission_and_the_command_line_show_the_declared_columns(tmp_path, capsys):
    folder = write_boxes(tmp_path / "cli")
    sample = load_task(folder).sample_submission()
    assert list(sample.columns) == ["id", *BOX, "label", "objects", "seen"]
    assert sample["width"].iloc[0] == pytest.approx(pd.read_csv(folder / "train.csv")["width"].mean(), abs=1e-6)
    out = tmp_path / "out"
    assert main(["data", str(folder), "--out", str(out)]) == 0
    assert main(["validate", str(folder), str(out / "sample_submission.csv")]) == 0
    assert "x (float), y (float), width (float), height (float), label (text)" in capsys.readouterr().out
    assert main(["score", str(folder), str(out / "sample_submission.csv"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["submission_columns"]["label"] == "text" and set(data["public"]) == {
        "mean_iou",
        "centre_rmse",
        "label_hits",
    }
    assert main(["tasks", "show", str(folder)]) == 0
    assert "id,x,y,width,height,label,objects,seen (columns: x (float)" in capsys.readouterr().out


def test_an_organisers_sample_that_copies_the_answers_is_refused(tmp_path):
    folder = write_boxes(tmp_path / "leak")
    pd.read_csv(folder / "answers.csv").drop(columns=["w"]).assign(objects=1, seen=True).to_csv(
        folder / "sample_submission.csv", index=False
    )
    with pytest.raises(BundleError, match="would give the answer key away"):
        load_task(folder)


@pytest.mark.parametrize(
    "submission, metrics, message",
    [
        ('prediction = "columns"\ncolumns = { x = "flaot" }', METRICS, "unknown type 'flaot'. Did you mean 'float'?"),
        ('prediction = "columns"\ncolumns = { x = "string" }', METRICS, "unknown type 'string'. Did you mean 'text'?"),
        ('prediction = "columns"\ncolumns = { x = 1 }', METRICS, "[submission.columns.x]: the type must be a string"),
        ('prediction = "columns"\ncolumns = { id = "int" }', METRICS, "'id' is the id column"),
        ('prediction = "columns"', METRICS, '[submission.columns]: is required with prediction = "columns"'),
        (f'prediction = "value"\ncolumns = {COLUMNS}', METRICS, 'which needs prediction = "columns"'),
        (
            f'prediction = "columns"\ncolumns = {COLUMNS}',
            METRICS.replace('"label_hits"]', '"label_hits", "mae"]'),
            "'mae' needs value predictions, but [submission] prediction = 'columns'. With prediction = \"columns\" every "
            'metric is a plugin with needs = "table"',
        ),
        (
            f'prediction = "columns"\ncolumns = {COLUMNS}',
            METRICS.replace('needs = "table"', 'needs = "value"', 1),
            "plugin 'mean_iou' needs value predictions, but [submission] prediction = 'columns'",
        ),
    ],
)
def test_declared_columns_are_checked_in_task_toml(tmp_path, submission, metrics, message):
    with pytest.raises(BundleError) as caught:
        load_task(write_boxes(tmp_path / "spec", submission=submission, metrics=metrics))
    assert any(message in problem for problem in caught.value.messages()), caught.value.messages()


def test_every_problem_of_the_declaration_is_reported_at_once(tmp_path):
    submission = (
        f'prediction = "columns"\ncolumns = {COLUMNS.replace("float", "flaot", 1)[:-1]}, id = "int", tag = "boolean" }}'
    )
    with pytest.raises(BundleError) as caught:
        load_task(write_boxes(tmp_path / "many", submission=submission))
    keys = [p.split("]")[0].rpartition("[")[2] for p in caught.value.messages()]
    assert keys == ["submission.columns.x", "submission.columns.id", "submission.columns.tag"]


@pytest.mark.slow
def test_a_hosted_columns_competition_scores_an_upload(people_factory, tmp_path):
    from conftest import auth, upload

    from arena.server import competitions

    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    folder = write_boxes(tmp_path / "hosted")
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.host(session, str(folder), slug="boxes")
    page = client.get("/c/boxes").get_data(as_text=True)
    assert "id,x,y,width,height,label,objects,seen" in page and "<code>label</code> (text)" in page
    token = people.token("ada")
    guess = shifted(load_task(folder), 8.0)
    answer = upload(client, token, "boxes", guess.to_csv(index=False))
    assert answer.status_code == 202, answer.data
    people.drain()
    submission = client.get(
        f"/api/v1/submissions/{answer.get_json()['submission']['id']}", headers=auth(token)
    ).get_json()
    assert submission["status"] == "scored", submission
    assert submission["metric"] == "mean_iou" and 0 < submission["public"]["mean_iou"] < 1
    bad = upload(client, token, "boxes", guess.drop(columns=["label"]).to_csv(index=False))
    assert bad.status_code == 202, bad.data
    people.drain()
    refused = client.get(f"/api/v1/submissions/{bad.get_json()['submission']['id']}", headers=auth(token)).get_json()
    assert refused["status"] == "failed" and any("missing columns: label" in p for p in refused["problems"])


def test_declared_columns_of_a_single_table_go_to_the_answers_never_to_the_test_set(tmp_path):
    folder = write_boxes(tmp_path / "one")
    whole = pd.concat(
        [pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "answers.csv").drop(columns=["w"]).assign(pixels=0.5)]
    )
    whole.to_csv(folder / "all.csv", index=False)
    toml = (folder / "task.toml").read_text()
    toml = toml.replace('train = "train.csv"\ntest = "test.csv"\nanswers = "answers.csv"', 'file = "all.csv"')
    (folder / "task.toml").write_text(toml)
    task = load_task(folder)
    assert len(task.test) < N and len(task.train) + len(task.test) == 2 * N  # Arena split the one table
    assert list(task.test.columns) == ["id", "pixels"]
    assert set(task.answers.columns) == {"id", *BOX, "label"}


def test_a_test_file_holding_a_declared_column_is_refused(tmp_path):
    folder = write_boxes(tmp_path / "leaky")
    test = pd.read_csv(folder / "test.csv").assign(width=1.0)
    test.to_csv(folder / "test.csv", index=False)
    with pytest.raises(BundleError, match=r"holds columns the submission predicts \(\[submission\] columns\): width"):
        load_task(folder)


@pytest.mark.slow
def test_a_declared_text_column_of_the_answers_is_kept_as_written(tmp_path):
    folder = write_boxes(tmp_path / "padded")
    for name in ("train.csv", "answers.csv"):
        frame = pd.read_csv(folder / name)
        frame.assign(label=np.where(np.arange(len(frame)) % 2, "0300", "0400")).to_csv(folder / name, index=False)
    task = load_task(folder)
    guess = shifted(task, 0.0).assign(label=np.where(np.arange(N) % 2, "0300", "0400"))
    assert score_submission(task, submit(tmp_path, guess)).private["label_hits"] == 1.0
