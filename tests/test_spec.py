"""A broken task bundle fails loudly, with every problem listed and where it is."""

from __future__ import annotations

import pytest

from arena.scoring.datasets import load_task
from arena.errors import BundleError
from arena.scoring.spec import load_spec

GOOD = """
name = "toy"
title = "Toy"
version = 1
kind = "classification"
[data]
file = "all.csv"
id = "id"
target = "label"
test_fraction = 0.5
seed = 1
[metrics]
primary = "accuracy"
others = ["f1_macro"]
[submission]
prediction = "label"
"""
ROWS = "id,x,label\n" + "".join(f"{i},{i * 0.5},{'ab'[i % 2]}\n" for i in range(20))


def problems_of(folder) -> list[str]:
    with pytest.raises(BundleError) as info:
        load_task(folder)
    return info.value.messages()


def test_a_good_file_bundle_loads(write_bundle):
    spec = load_spec(write_bundle(GOOD, {"all.csv": ROWS}))
    assert (spec.name, spec.primary_metric, spec.other_metrics) == ("toy", "accuracy", ("f1_macro",))


@pytest.mark.parametrize("change, expected", [
    (('primary = "accuracy"', 'primary = "acuracy"'), "[metrics.primary]: unknown metric 'acuracy'. Did you mean 'accuracy'?"),
    (('kind = "classification"', 'kind = "ranking"'), "[kind]: 'ranking' is not one of: classification, regression, forecasting."),
    (('file = "all.csv"', 'file = "missing.csv"'), "[data.file]: file 'missing.csv' does not exist"),
    (('file = "all.csv"', 'file = "all.txt"'), "[data.file]: 'all.txt' must be a CSV (.csv, .csv.gz) or Parquet (.parquet) file."),
    (('version = 1', 'version = "one"'), "[version]: must be a whole number, got 'one'."),
    (('prediction = "label"', 'prediction = "value"'), "[submission.prediction]: a classification task needs prediction = 'label' or 'probabilities'."),
    (('others = ["f1_macro"]', 'others = ["log_loss"]'), "[metrics.others]: 'log_loss' needs probabilities predictions, but [submission] prediction = 'label'."),
    (('others = ["f1_macro"]', 'others = ["rmse"]'), "[metrics.others]: 'rmse' is not a classification metric."),
    (('test_fraction = 0.5', 'test_fraction = 1.5'), "[data.test_fraction]: must be between 0 and 1 (exclusive), got 1.5."),
    (('name = "toy"', 'name = "t o y"'), "[name]: 't o y' may hold only letters, digits, '-' and '_'."),
])
def test_each_spec_problem_names_the_file_key_and_expectation(write_bundle, change, expected):
    folder = write_bundle(GOOD.replace(*change), {"all.csv": ROWS, "all.txt": ROWS})
    messages = problems_of(folder)
    assert any(expected in m for m in messages), messages
    assert all(m.startswith(str(folder / "task.toml")) for m in messages)


def test_every_problem_is_reported_at_once(write_bundle):
    broken = GOOD.replace('primary = "accuracy"', 'primary = "nope"').replace('kind = "classification"', 'kind = "x"')
    broken = broken.replace('file = "all.csv"', 'file = "gone.csv"')
    assert len(problems_of(write_bundle(broken))) >= 3


def test_missing_required_keys_are_listed(write_bundle):
    messages = problems_of(write_bundle('title = "no name"\n[data]\nfile = "all.csv"\n', {"all.csv": ROWS}))
    for key in ("[name]", "[version]", "[kind]", "[metrics.primary]", "[submission.prediction]"):
        assert any(key in m and "is required" in m for m in messages), (key, messages)


def test_invalid_toml_is_reported_not_raised_raw(write_bundle):
    messages = problems_of(write_bundle("name = \n"))
    assert "is not valid TOML" in messages[0]


def test_a_folder_without_task_toml(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="has no task.toml"):
        load_spec(tmp_path / "empty")


@pytest.mark.parametrize("rows, expected", [
    (ROWS.replace("id,x,label", "key,x,label"), "id column 'id' is absent"),
    (ROWS.replace("id,x,label", "id,x,y"), "target column 'label' is absent"),
    (ROWS.replace("\n3,", "\n2,"), "id column 'id' has 1 duplicated ids, e.g. [2]"),
    (ROWS.replace("19,9.5,b", "19,9.5,c"), "classes with a single member cannot be split into train and test: ['c']"),
    (ROWS.replace("4,2.0,a", "4,2.0,"), "target column 'label' has empty values (file lines [6])"),
])
def test_data_problems_are_reported_with_the_file(write_bundle, rows, expected):
    messages = problems_of(write_bundle(GOOD, {"all.csv": rows}))
    assert any(expected in m for m in messages), messages
    assert any("all.csv" in m for m in messages)
