"""Benchmark suites in the library: suite.toml and model cards refuse mistakes with every problem at once, the
aggregate is what the docs say it is, the joint bootstrap gives honest intervals and ranks, and ``arena suite``
lists, shows and scores a folder of predictions on this machine."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import predictions_csv
from hypothesis import given, settings
from hypothesis import strategies as st

from arena.cli import main
from arena.metrics.registry import get_metric
from arena.suites.aggregate import aggregate, interquartile_mean, normalise
from arena.suites.board import board_statistics, resampled_scores
from arena.suites.cards import CardError, load_card, read_card
from arena.suites.local import SuiteScoreError, score_folder
from arena.suites.scales import TaskScale
from arena.suites.spec import SuiteError, builtin_suite_names, load_suite
from arena.tasks import load_bundle_task

CARD = """\
name = "tiny-net"
version = "1"
parameters = 1200
framework = "numpy"
licence = "MIT"
code_url = "none"
extra_training_data = false
trained_on_test_inputs = false
"""

SUITE = """\
name = "pair"
title = "Two tasks"
version = 1

[[tasks]]
task = "digits"
weight = 2.0
floor = 0.1

[[tasks]]
task = "sunspots"
ceiling = 0.0
"""


def write_suite(tmp_path, text: str = SUITE):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "suite.toml").write_text(text)
    return tmp_path


# --- suite.toml --------------------------------------------------------------------------------------------------


def test_builtin_suite_holds_the_five_builtin_tasks():
    assert "core" in builtin_suite_names()
    suite = load_suite("core")
    assert suite.version == 2 and suite.title == "Arena's five built-in tasks"
    assert suite.keys == ["digits", "mnist1d", "listops", "sunspots", "dates"]
    assert suite.method == "normalised_mean" and suite.weights == [1.0] * 5
    sunspots = suite.tasks[3]
    assert sunspots.metric == "rmse" and sunspots.ceiling == 0.0 and not sunspots.higher_is_better
    dates = suite.tasks[4]  # a text answer: its floor is measured, its ceiling exact match's best
    assert dates.metric == "exact_match" and dates.floor is None and dates.ceiling == 1.0 and dates.higher_is_better


def test_suite_file_reads_weights_floors_ceilings_and_relative_bundles(tmp_path, write_bundle):
    bundle = write_bundle(
        'name = "tiny"\ntitle = "Tiny"\nversion = 1\nkind = "regression"\n[data]\ntrain = "train.csv"\ntest = "test.csv"\nanswers = "answers.csv"\n'
        'id = "id"\ntarget = "y"\n[metrics]\nprimary = "mae"\n[submission]\nprediction = "value"\n',
        {
            "train.csv": "id,x,y\n" + "".join(f"{i},{i},{i * 2}\n" for i in range(20)),
            "test.csv": "id,x\n" + "".join(f"{i},{i}\n" for i in range(20, 30)),
            "answers.csv": "id,y\n" + "".join(f"{i},{i * 2}\n" for i in range(20, 30)),
        },
        name="suite/tiny",
    )
    folder = bundle.parent
    (folder / "suite.toml").write_text(SUITE.replace('task = "sunspots"', 'task = "tiny"'))
    suite = load_suite(folder)
    assert [t.key for t in suite.tasks] == ["digits", "tiny"]
    digits, tiny = suite.tasks
    assert (digits.weight, digits.floor, digits.ceiling) == (2.0, 0.1, 1.0)
    assert tiny.ref == str(bundle.resolve()) and tiny.metric == "mae" and tiny.floor is None


def test_every_problem_of_a_suite_file_is_reported_at_once_with_did_you_mean(tmp_path):
    text = """\
name = "bad suite"
titel = "x"
version = 0

[[tasks]]
task = "digitz"
wieght = 2

[[tasks]]
task = "sunspots"
weight = -1

[[tasks]]
task = "sunspots"

[aggregate]
method = "mean_rnak"
"""
    with pytest.raises(SuiteError) as caught:
        load_suite(write_suite(tmp_path, text))
    report = caught.value.report()
    for expected in (
        "[name]",
        "[titel]: unknown key. Did you mean 'title'?",
        "[version]: must be 1 or more",
        "[tasks.1.task]: 'digitz' is neither a built-in task",
        "[tasks.1.wieght]: unknown key in [tasks]. Did you mean 'weight'?",
        "[tasks.2.weight]: must be a positive number",
        "[tasks.3.task]: names task 'sunspots' a second time",
        "[aggregate.method]: unknown method 'mean_rnak'. Did you mean 'mean_rank'?",
    ):
        assert expected in report, expected
    assert len(caught.value.problems) == 8


def test_a_floor_on_the_wrong_side_of_its_ceiling_is_refused(tmp_path):
    backwards = SUITE.replace("floor = 0.1", "floor = 1.0\nceiling = 0.1").replace(
        "ceiling = 0.0", "floor = 10.0\nceiling = 50.0"
    )
    with pytest.raises(SuiteError) as caught:
        load_suite(write_suite(tmp_path, backwards))
    report = caught.value.report()
    assert "[tasks.1.floor]: is above the ceiling (0.1), but higher is better for 'accuracy'" in report
    assert "[tasks.2.floor]: is below the ceiling (50), but lower is better for 'rmse'" in report


def test_iqm_needs_eight_tasks_and_a_missing_file_is_named(tmp_path):
    with pytest.raises(SuiteError, match="'iqm' needs 8 tasks or more"):
        load_suite(write_suite(tmp_path, SUITE + '\n[aggregate]\nmethod = "iqm"\n'))
    with pytest.raises(SuiteError, match="neither a built-in suite"):
        load_suite(tmp_path / "nowhere")
    with pytest.raises(SuiteError, match="not valid TOML"):
        load_suite(write_suite(tmp_path, "name = \n"))


# --- model cards -------------------------------------------------------------------------------------------------


def test_a_card_missing_required_fields_names_each_one(tmp_path):
    with pytest.raises(CardError) as caught:
        read_card(b'name = "x"\nversion = 2\nparameters = "many"\nlicense = "MIT"\n', "card.toml")
    messages = caught.value.report()
    for field in ("framework", "licence", "code_url", "extra_training_data", "trained_on_test_inputs"):
        assert f"[{field}]: is required" in messages, field
    assert "[parameters]: must be a whole number" in messages
    assert "[license]: unknown field. Did you mean 'licence'?" in messages


def test_cards_read_as_toml_or_json_and_refuse_hostile_bytes(tmp_path):
    card = read_card(CARD.encode())
    assert (card.name, card.version, card.parameters, card.extra_training_data) == ("tiny-net", "1", 1200, False)
    as_json = json.dumps(card.to_dict()).encode()
    assert read_card(as_json, "card.json") == card
    with pytest.raises(CardError, match="not UTF-8"):
        read_card(b"\xff\xfe name", "card.toml")
    with pytest.raises(CardError, match="a model card must be under"):
        read_card(b"#" * 100_000, "card.toml")
    with pytest.raises(CardError, match="not valid JSON"):
        read_card(b"[" * 60_000, "card.json")
    with pytest.raises(CardError, match="names the model in URLs"):
        read_card(CARD.replace("tiny-net", "../../etc").encode())
    with pytest.raises(CardError, match="true or false"):
        read_card(CARD.replace("extra_training_data = false", 'extra_training_data = "no"').encode())


# --- the aggregate and the joint bootstrap -----------------------------------------------------------------------


def simulated_rows(accuracies, n, rng, k=5):
    truth = rng.integers(0, k, n)
    rows = []
    for accuracy in accuracies:
        right = rng.random(n) < accuracy
        rows.append(np.where(right, truth, (truth + 1 + rng.integers(0, k - 1, n)) % k).astype(np.uint16))
    return truth, rows


def board_of(task_rows, scales, weights, method="normalised_mean", resamples=400, seed=1):
    """task_rows: per task (truth, [rows per model]) -> statistics, scores and draws."""
    models = len(task_rows[0][1])
    metric = get_metric("accuracy")
    draws = resampled_scores(
        [metric] * len(task_rows),
        [truth for truth, _ in task_rows],
        [[rows[m] for _, rows in task_rows] for m in range(models)],
        resamples=resamples,
        seed=seed,
    )
    scores = np.array([[float(np.mean(rows[m] == truth)) for truth, rows in task_rows] for m in range(models)])
    return board_statistics(method, weights, scales, scores, draws), scores, draws


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=6),
    st.lists(st.floats(0.1, 5.0), min_size=6, max_size=6),
    st.lists(st.floats(0.0, 0.5), min_size=6, max_size=6),
)
def test_aggregate_is_the_weighted_normalised_mean_of_the_task_scores(scores, weights, floors):
    tasks = len(scores)
    weights, floors = weights[:tasks], floors[:tasks]
    ceilings = [1.0] * tasks
    found = aggregate("normalised_mean", normalise(np.array([scores])[:, :, None], floors, ceilings), weights)
    expected = sum(w * (s - f) / (c - f) for s, w, f, c in zip(scores, weights, floors, ceilings)) / sum(weights)
    assert found[0, 0] == pytest.approx(expected, abs=1e-12)


def test_a_loss_normalises_the_right_way_round():
    # rmse 10 with the trivial forecast at 40 and the best at 0: three quarters of the way up
    assert normalise(np.array([[10.0]]), [40.0], [0.0])[0, 0] == pytest.approx(0.75)


def test_board_aggregate_equals_the_weighted_normalised_mean_to_1e12():
    rng = np.random.default_rng(3)
    task_rows = [simulated_rows([0.6, 0.7, 0.8], 300, rng) for _ in range(3)]
    scales = [TaskScale(0.2, 1.0), TaskScale(0.1, 1.0), TaskScale(0.0, 0.9)]
    statistics, scores, _ = board_of(task_rows, scales, [1.0, 2.0, 0.5])
    for m in range(3):
        normalised = [(scores[m, t] - scales[t].floor) / (scales[t].ceiling - scales[t].floor) for t in range(3)]
        expected = (normalised[0] + 2 * normalised[1] + 0.5 * normalised[2]) / 3.5
        assert statistics.aggregate[m] == pytest.approx(expected, abs=1e-12)
        low, high = statistics.aggregate_ci[m]
        assert low < statistics.aggregate[m] < high


def test_identical_predictions_share_a_rank_aggregate_and_interval():
    rng = np.random.default_rng(4)
    task_rows = []
    for _ in range(3):
        truth, rows = simulated_rows([0.9, 0.7, 0.5], 200, rng)
        task_rows.append((truth, [rows[0], rows[1], rows[1].copy(), rows[2]]))
    statistics, _, _ = board_of(task_rows, [TaskScale(0.2, 1.0)] * 3, [1.0] * 3)
    assert statistics.order == [0, 1, 2, 3]
    assert statistics.rank == [1, 2, 2, 4]
    assert statistics.aggregate[1] == statistics.aggregate[2]
    assert statistics.aggregate_ci[1] == statistics.aggregate_ci[2]
    assert statistics.rank_interval[1] == statistics.rank_interval[2]
    assert statistics.close[1]  # a model cannot be told apart from its twin
    assert statistics.p_best[0] > 0.99 and sum(statistics.p_best) >= 1.0


def test_a_dominated_model_changes_no_other_normalised_mean_and_no_order():
    rng = np.random.default_rng(5)
    task_rows = [simulated_rows([0.72, 0.7, 0.5, 0.3], 400, rng) for _ in range(3)]
    scales = [TaskScale(0.2, 1.0)] * 3
    without = [(truth, rows[:3]) for truth, rows in task_rows]
    before, _, _ = board_of(without, scales, [1.0] * 3)
    after, _, _ = board_of(task_rows, scales, [1.0] * 3)
    assert after.aggregate[:3] == before.aggregate
    assert after.aggregate_ci[:3] == before.aggregate_ci
    assert after.order[:3] == before.order and after.order[3] == 3


def test_rank_based_methods_depend_on_the_other_models_as_the_docs_warn():
    """Two models that split the tasks: a third model, last on A's two tasks and between B and A on B's task, brings
    B level with A under mean rank; under the normalised mean, neither moves (Zhang & Hardt 2024)."""
    scores = np.array([[0.9, 0.9, 0.1], [0.5, 0.5, 0.95]])[:, :, None]
    with_c = np.concatenate([scores, np.array([[0.0, 0.0, 0.5]])[:, :, None]])
    ranks_before = aggregate("mean_rank", scores, [1, 1, 1])[:, 0]
    ranks_after = aggregate("mean_rank", with_c, [1, 1, 1])[:, 0]
    assert ranks_before[0] < ranks_before[1] and ranks_after[0] == ranks_after[1]
    means = aggregate("normalised_mean", with_c, [1, 1, 1])[:2, 0]
    assert np.array_equal(means, aggregate("normalised_mean", scores, [1, 1, 1])[:, 0])


def test_win_rate_and_iqm_match_their_definitions():
    rng = np.random.default_rng(6)
    values = rng.random((4, 9, 1))
    win = aggregate("mean_win_rate", values, np.ones(9))[:, 0]
    for m in range(4):
        direct = np.mean([np.mean([values[m, t, 0] > values[o, t, 0] for o in range(4) if o != m]) for t in range(9)])
        assert win[m] == pytest.approx(direct)
    data = rng.random((1, 8, 1))
    middle = np.sort(data[0, :, 0])[2:6].mean()  # eight equal tasks: the middle four
    assert interquartile_mean(data, np.ones((8, 1)))[0, 0] == pytest.approx(middle)


def test_a_model_missing_a_task_is_shown_after_the_ranked_ones_and_not_ranked():
    rng = np.random.default_rng(7)
    task_rows = [simulated_rows([0.3, 0.9, 0.6], 200, rng) for _ in range(2)]
    metric = get_metric("accuracy")
    rows = [[r[m] for _, r in task_rows] for m in range(3)]
    rows[1][1] = None  # the best model did not submit the second task
    draws = resampled_scores([metric] * 2, [t for t, _ in task_rows], rows, resamples=200)
    scores = np.array([[np.mean(r[m] == t) for t, r in task_rows] for m in range(3)])
    scores[1, 1] = np.nan
    statistics = board_statistics("normalised_mean", [1, 1], [TaskScale(0.2, 1.0)] * 2, scores, draws)
    assert statistics.order == [2, 0, 1] and statistics.rank == [2, None, 1]
    assert statistics.ranked == [True, False, True] and statistics.aggregate[1] is None


def test_a_rank_based_aggregate_ranks_nobody_until_there_are_two_models_to_compare():
    rng = np.random.default_rng(9)
    task_rows = [(truth, rows[:1]) for truth, rows in (simulated_rows([0.7], 100, rng) for _ in range(2))]
    for method in ("mean_rank", "mean_win_rate"):
        alone, _, _ = board_of(task_rows, [TaskScale(0.2, 1.0)] * 2, [1.0] * 2, method=method, resamples=50)
        assert alone.ranked == [False] and alone.rank == [None] and alone.p_best == [None] and alone.order == [0]
    mean, _, _ = board_of(task_rows, [TaskScale(0.2, 1.0)] * 2, [1.0] * 2, resamples=50)
    assert mean.rank == [1] and mean.p_best == [1.0]


def test_the_task_view_appears_from_five_tasks_and_is_wider():
    rng = np.random.default_rng(8)
    task_rows = [simulated_rows([0.5 + 0.08 * t, 0.6], 300, rng) for t in range(5)]
    statistics, _, _ = board_of(task_rows, [TaskScale(0.2, 1.0)] * 5, [1.0] * 5)
    rows_only = statistics.aggregate_ci[0]
    with_tasks = statistics.task_view["aggregate_ci"][0]
    assert with_tasks[1] - with_tasks[0] > rows_only[1] - rows_only[0]
    four, _, _ = board_of(task_rows[:4], [TaskScale(0.2, 1.0)] * 4, [1.0] * 4)
    assert four.task_view is None


@pytest.mark.slow
def test_aggregate_interval_coverage_over_500_simulated_suites():
    """Three tasks with fresh test sets each replicate, models of known expected accuracy: the 95% interval of each
    model's normalised mean holds the true value (from the expected accuracies) 93-97% of the time."""
    rng = np.random.default_rng(2024)
    accuracies = np.array([[0.62, 0.75, 0.88], [0.55, 0.81, 0.70]])  # two models over three tasks
    sizes = (150, 300, 600)
    scales = [TaskScale(0.2, 1.0)] * 3
    truth_value = ((accuracies - 0.2) / 0.8).mean(axis=1)
    hits = total = 0
    for replicate in range(500):
        task_rows = []
        for t, n in enumerate(sizes):
            truth, rows = simulated_rows(accuracies[:, t], n, rng)
            task_rows.append((truth, rows))
        statistics, _, _ = board_of(task_rows, scales, [1.0] * 3, resamples=500, seed=replicate)
        for m in range(2):
            low, high = statistics.aggregate_ci[m]
            hits += low <= truth_value[m] <= high
            total += 1
    assert 0.93 <= hits / total <= 0.97, hits / total


# --- arena suite list / show / score -----------------------------------------------------------------------------


def write_predictions(folder, accuracy=0.9):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "digits.csv").write_text(predictions_csv("digits", accuracy))
    task = load_bundle_task("sunspots")
    frame = task.answers.copy()
    frame["sunspots"] = frame["sunspots"] + 10.0
    frame.to_csv(folder / "sunspots.csv", index=False)
    return folder


def test_suite_score_prints_each_task_and_the_aggregate(tmp_path, capsys):
    folder = write_suite(tmp_path / "suite")
    write_predictions(tmp_path / "preds")
    (tmp_path / "card.toml").write_text(CARD)
    assert (
        main(["suite", "score", str(folder), str(tmp_path / "preds"), "--model", str(tmp_path / "card.toml"), "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    digits, sunspots = result["tasks"]
    assert digits["task"] == "digits" and digits["floor"] == 0.1 and digits["ci"][0] < digits["score"] < digits["ci"][1]
    assert sunspots["score"] == pytest.approx(10.0) and sunspots["ceiling"] == 0.0 and sunspots["floor"] > 10
    normalised = [(digits["score"] - 0.1) / 0.9, (sunspots["floor"] - sunspots["score"]) / sunspots["floor"]]
    assert result["aggregate"] == pytest.approx((2 * normalised[0] + normalised[1]) / 3, abs=1e-12)
    low, high = result["aggregate_ci"]
    assert low < result["aggregate"] < high
    assert result["model"]["name"] == "tiny-net"
    assert main(["suite", "score", str(folder), str(tmp_path / "preds")]) == 0
    printed = capsys.readouterr().out
    assert "aggregate (normalised_mean)" in printed and "95% CI" in printed


def test_suite_score_lists_every_problem_of_every_file_and_the_card(tmp_path, capsys):
    folder = write_suite(tmp_path / "suite")
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "digit.csv").write_text(predictions_csv("digits"))  # misspelt: digits has no file
    (preds / "sunspots.csv").write_text("year,sunspots\n1921,abc\n")
    (tmp_path / "card.toml").write_text(CARD.replace('licence = "MIT"\n', ""))
    with pytest.raises(SuiteScoreError) as caught:
        score_folder(load_suite(folder), preds, card=tmp_path / "card.toml")
    report = caught.value.report()
    assert "digit.csv: names no task of suite 'pair'. Did you mean 'digits.csv'?" in report
    assert "digits: has no predictions file" in report
    assert "sunspots.csv" in report
    assert "[licence]: is required" in report
    assert main(["suite", "score", str(folder), str(preds), "--model", str(tmp_path / "card.toml")]) == 1
    assert "[licence]: is required" in capsys.readouterr().err


@pytest.mark.slow
def test_suite_list_and_show(capsys):
    assert main(["suite", "list"]) == 0
    assert "core" in capsys.readouterr().out
    assert main(["suite", "show", "core"]) == 0
    shown = capsys.readouterr().out
    assert "normalised_mean" in shown and "sunspots" in shown and "measured" in shown
    assert main(["suite", "show", "no-such-suite"]) == 1


def test_load_card_reads_a_file(tmp_path):
    (tmp_path / "card.json").write_text(json.dumps({**read_card(CARD.encode()).to_dict(), "notes": "hi"}))
    assert load_card(tmp_path / "card.json").notes == "hi"
