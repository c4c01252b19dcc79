"""Built-in tasks load offline, split deterministically, and keep test labels out of public files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena.bundles import loading as datasets
from arena.bundles.listops import evaluate, generate
from arena.bundles.loading import builtin_task_names
from arena.bundles.spec import load_spec
from arena.errors import BundleError, UnknownTaskError
from arena.tasks import load_task

BUILTINS = ["dates", "digits", "listops", "mnist1d", "sunspots"]


def test_the_five_builtin_tasks_are_listed():
    assert builtin_task_names() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_task_has_readme_and_disjoint_splits(name):
    task = load_task(name)
    spec = task.spec
    assert len(spec.description) > 200, "each built-in task documents itself in README.md"
    assert spec.target not in task.test.columns
    train_ids, test_ids = set(task.train[spec.id_column]), set(task.test[spec.id_column])
    assert not train_ids & test_ids
    assert test_ids == set(task.answers[spec.id_column])
    assert len(task.test) == len(task.answer_key.ids)


@pytest.mark.slow
@pytest.mark.parametrize("name", BUILTINS)
def test_split_and_answer_key_are_deterministic_from_the_bundle(name, monkeypatch, tmp_path):
    first = load_task(name)
    monkeypatch.setattr(datasets, "_memory", {})
    monkeypatch.setenv("ARENA_HOME", str(tmp_path))  # a cold cache rebuilds from the bundle
    second = load_task(name)
    assert first.answer_key.sha256 == second.answer_key.sha256
    pd.testing.assert_frame_equal(first.train, second.train)


def test_digits_and_mnist1d_sizes_match_their_sources():
    assert (len(load_task("digits").train) + len(load_task("digits").test)) == 1797
    mnist = load_task("mnist1d")
    assert (len(mnist.train), len(mnist.test), mnist.test.shape[1]) == (4000, 1000, 41)


def test_sunspots_test_file_carries_no_value_a_participant_could_read():
    task = load_task("sunspots")
    assert list(task.test.columns) == ["year"]
    assert task.train["year"].max() == 1920 and task.test["year"].min() == 1921
    assert task.test["year"].max() == 1987
    hidden = set(task.answers["sunspots"].round(6))
    public_values = set(task.train["sunspots"].round(6)) | set(task.test.to_numpy().ravel().round(6))
    leaked = [v for v in hidden if v in public_values and v not in set(task.train["sunspots"].round(6))]
    assert not leaked
    assert "sunspots" not in task.sample_submission().columns or task.sample_submission()["sunspots"].nunique() == 1


def test_unknown_task_lists_the_builtin_ones():
    with pytest.raises(UnknownTaskError, match="dates, digits, listops, mnist1d, sunspots"):
        load_task("nosuchtask")


def test_unknown_source_is_a_bundle_problem(write_bundle):
    toml = (load_spec(datasets.find_bundle("digits")).bundle_dir / "task.toml").read_text()
    with pytest.raises(BundleError, match="unknown source 'sklearn:digit'"):
        load_task(write_bundle(toml.replace("sklearn:digits", "sklearn:digit")))


SEPARATE = """
name = "files"
version = 1
kind = "regression"
[data]
train = "train.csv"
test = "test.csv.gz"
answers = "answers.parquet"
id = "key"
target = "y"
[metrics]
primary = "rmse"
[submission]
prediction = "value"
"""


def test_a_bundle_of_files_needs_no_code_and_may_carry_usage(write_bundle, tmp_path):
    folder = write_bundle(SEPARATE, {"train.csv": "key,x,y\na,1,2.0\nb,2,4.0\nc,3,6.0\n"})
    pd.DataFrame({"key": ["d", "e", "f"], "x": [4, 5, 6]}).to_csv(folder / "test.csv.gz", index=False)
    pd.DataFrame(
        {"key": ["d", "e", "f"], "y": [8.0, 10.0, 12.0], "usage": ["public", "private", "private"]}
    ).to_parquet(folder / "answers.parquet")
    task = load_task(folder)
    assert task.answer_key.usage_public.tolist() == [True, False, False]
    assert task.answer_key.truth.tolist() == [8.0, 10.0, 12.0]


def test_separate_files_are_cross_checked(write_bundle):
    folder = write_bundle(
        SEPARATE.replace("test.csv.gz", "test.csv").replace("answers.parquet", "answers.csv"),
        {
            "train.csv": "key,x,y\na,1,2.0\nb,2,4.0\n",
            "test.csv": "key,x,y\nd,4,1.0\ne,5,1.0\n",
            "answers.csv": "key,y,usage\nd,8.0,public\nz,10.0,secret\n",
        },
    )
    with pytest.raises(BundleError) as info:
        load_task(folder)
    text = info.value.report()
    assert "holds the target column 'y'" in text
    assert "1 test ids have no answer, 1 answers have no test row" in text
    assert "column 'usage' must be Public, Private or Ignored (file lines [3])" in text


def test_listops_generator_is_seeded_and_labels_are_the_expression_values():
    texts, labels = generate(200, seed=3)
    again, _ = generate(200, seed=3)
    other, _ = generate(200, seed=4)
    assert texts == again and texts != other
    assert all(evaluate(t.split()) == y for t, y in zip(texts, labels))
    assert len(set(texts)) == 200


@pytest.mark.parametrize(
    "text, value",
    [
        ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),
        ("[SM 5 6 7 ]", 8),
        ("[MED 1 5 9 2 ]", 3),
        ("[MIN [MAX 1 2 ] 3 ]", 2),
        ("7", 7),
    ],
)
def test_listops_evaluator(text, value):
    assert evaluate(text.split()) == value


def test_listops_classes_are_roughly_balanced():
    labels = load_task("listops").train["label"].to_numpy()
    shares = np.bincount(labels, minlength=10) / len(labels)
    assert shares.max() < 0.2 and shares.min() > 0.05
