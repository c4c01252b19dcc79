"""A broken task bundle fails loudly, with every problem listed and where it is."""

from __future__ import annotations

import pytest

from arena.bundles.spec import load_spec
from arena.errors import BundleError
from arena.tasks import load_task

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


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ('primary = "accuracy"', 'primary = "acuracy"'),
            "[metrics.primary]: unknown metric 'acuracy'. Did you mean 'accuracy'?",
        ),
        (
            ('kind = "classification"', 'kind = "clustering"'),
            "[kind]: 'clustering' is not one of: classification, regression, forecasting, multilabel, ranking, text.",
        ),
        (('file = "all.csv"', 'file = "missing.csv"'), "[data.file]: file 'missing.csv' does not exist"),
        (
            ('file = "all.csv"', 'file = "all.txt"'),
            "[data.file]: 'all.txt' must be a CSV (.csv, .csv.gz), JSON Lines (.jsonl, .jsonl.gz) or Parquet (.parquet) file.",
        ),
        (("version = 1", 'version = "one"'), "[version]: must be a whole number, got 'one'."),
        (
            ('prediction = "label"', 'prediction = "value"'),
            "[submission.prediction]: a classification task needs prediction = 'label', 'probabilities' or 'columns'.",
        ),
        (
            ('others = ["f1_macro"]', 'others = ["log_loss"]'),
            "[metrics.others]: 'log_loss' needs probabilities predictions, but [submission] prediction = 'label'.",
        ),
        (('others = ["f1_macro"]', 'others = ["rmse"]'), "[metrics.others]: 'rmse' is not a classification metric."),
        (
            ("test_fraction = 0.5", "test_fraction = 1.5"),
            "[data.test_fraction]: must be between 0 and 1 (exclusive), got 1.5.",
        ),
        (('name = "toy"', 'name = "t o y"'), "[name]: 't o y' may hold only letters, digits, '-' and '_'."),
    ],
)
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


@pytest.mark.parametrize(
    "rows, expected",
    [
        (ROWS.replace("id,x,label", "key,x,label"), "id column 'id' is absent"),
        (ROWS.replace("id,x,label", "id,x,y"), "target column 'label' is absent"),
        (ROWS.replace("\n3,", "\n2,"), "id column 'id' has 1 duplicated ids, e.g. [2]"),
        (
            ROWS.replace("19,9.5,b", "19,9.5,c"),
            "classes with a single member cannot be split into train and test: ['c']",
        ),
        (ROWS.replace("4,2.0,a", "4,2.0,"), "target column 'label' has empty values (file lines [6])"),
    ],
)
def test_data_problems_are_reported_with_the_file(write_bundle, rows, expected):
    messages = problems_of(write_bundle(GOOD, {"all.csv": rows}))
    assert any(expected in m for m in messages), messages
    assert any("all.csv" in m for m in messages)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            ("test_fraction = 0.5", "test_fracton = 0.5"),
            "[data.test_fracton]: unknown key. Did you mean 'test_fraction'?",
        ),
        (
            ('prediction = "label"', 'prediction = "label"\n[competition]\ndialy_limit = 3'),
            "[competition.dialy_limit]: unknown key. Did you mean 'daily_limit'?",
        ),
        (
            ('kind = "classification"', 'kind = "classification"\ndeadline = "2026-12-01"'),
            "[deadline]: unknown key: dates are not part of a task: set them when hosting",
        ),
        (
            ('kind = "classification"', 'kind = "classification"\nmetric = "accuracy"'),
            "[metric]: unknown key: the metric is set in [metrics] as primary",
        ),
        (
            ('kind = "classification"', 'kind = "classification"\ndaily_limit = 3'),
            "[daily_limit]: unknown key here. Did you mean 'daily_limit' in [competition]?",
        ),
        (("[metrics]", "[metric]"), "[metric]: unknown table. Did you mean [metrics]?"),
        (('id = "id"', "id = 5"), "[data.id]: must be a string, got 5."),
        (("seed = 1", 'seed = "one"'), "[data.seed]: must be a whole number, got 'one'."),
        (('target = "label"', "target = true"), "[data.target]: must be a string, got True."),
        (
            ('prediction = "label"', 'prediction = "label"\n[competition]\ndaily_limit = "5"'),
            "[competition.daily_limit]: must be a whole number, got '5'.",
        ),
    ],
)
def test_misspelled_keys_and_wrong_types_are_errors(write_bundle, change, expected):
    messages = problems_of(write_bundle(GOOD.replace(*change), {"all.csv": ROWS}))
    assert any(expected in m for m in messages), messages


def test_a_bundle_reports_the_problems_of_every_stage_at_once(write_bundle):
    broken = GOOD.replace('primary = "accuracy"', 'primary = "acuracy"').replace("[submission]", "[submision]")
    broken = broken.replace('prediction = "label"', 'prediction = "label"\n[competition]\ndialy_limit = 2')
    rows = ROWS.replace("\n3,", "\n2,").replace("19,9.5,b", "19,9.5,c")
    messages = problems_of(write_bundle(broken, {"all.csv": rows}))
    text = "\n".join(messages)
    for expected in (
        "unknown metric 'acuracy'",
        "[submision]: unknown table. Did you mean [submission]?",
        "Did you mean 'daily_limit'?",
        "has 1 duplicated ids",
    ):
        assert expected in text, text


def test_data_are_not_read_while_the_keys_that_locate_them_are_wrong(write_bundle):
    messages = problems_of(write_bundle(GOOD.replace("test_fraction = 0.5", "test_fraction = 2"), {"all.csv": "x\n"}))
    assert messages == [
        f"{messages[0].split(' [')[0]} [data.test_fraction]: must be between 0 and 1 (exclusive), got 2."
    ]


def test_the_builtin_bundles_use_only_known_keys():
    from arena.bundles.loading import builtin_task_names, find_bundle

    for name in builtin_task_names():
        assert load_spec(find_bundle(name)).name == name
