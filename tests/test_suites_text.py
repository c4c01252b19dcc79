"""Text tasks in suites: a text score keeps each row's sufficient statistics, from which a suite's joint bootstrap, a
board's rank intervals and the Ladder compute the metric under any row weights (the metric of weighted column sums,
never a row scored again); a suite with the dates task gets an aggregate interval, locally and on a server's board.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import auth, upload
from helpers import predictions_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.intervals import row_results as rowresults
from arena.intervals import text as text_intervals
from arena.metrics import text as text_metrics
from arena.metrics.registry import get_metric
from arena.scoring.score import private_rows
from arena.server import organiser_actions
from arena.suites.board import resampled_scores
from arena.suites.local import score_folder
from arena.suites.spec import load_suite
from arena.tasks import load_task

NAMES = text_metrics.NAMES
WORDS = st.text(alphabet="ab c", max_size=8)


def objects(values) -> np.ndarray:
    values = list(values)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.lists(WORDS, min_size=1, max_size=2), WORDS), min_size=2, max_size=12),
    st.integers(0, 2**32 - 1),
)
def test_per_row_results_give_each_text_metric_its_own_value_under_any_row_weights(rows, seed):
    truth = objects(tuple(refs) for refs, _ in rows)
    pred = objects(answer for _, answer in rows)
    weights = np.random.default_rng(seed).standard_exponential((3, len(rows)))
    for name in NAMES:
        metric = get_metric(name, kind="text")
        kept = rowresults.row_results(metric, truth, pred)
        assert kept is not None and len(kept) == len(rows)
        expected = text_metrics.text_score(name, truth, pred)
        assert rowresults.value(metric, truth, kept) == pytest.approx(expected, rel=1e-5, abs=1e-6), name
        under = rowresults.weighted_values(metric, truth, kept, weights)
        for w, found in zip(weights, under):
            own = text_metrics.text_score(name, truth, pred, weight=w)
            assert found == pytest.approx(own, rel=1e-5, abs=1e-6), name


def test_text_results_are_kept_compactly_and_counts_exactly():
    truth = objects([("the cat sat",), ("a dog", "the dog"), ("",)])
    pred = objects(["the cat sat down", "dog", "x"])
    kinds = {name: rowresults.row_results(get_metric(name, kind="text"), truth, pred) for name in NAMES}
    assert kinds["exact_match"].dtype == np.uint8 and kinds["exact_match"].shape == (3, 1)  # type: ignore[union-attr]
    assert kinds["token_f1"].dtype == np.float32  # type: ignore[union-attr]
    for name in ("bleu", "chrf", "wer", "cer"):  # counts: unsigned integers, nothing rounded
        assert kinds[name].dtype.kind == "u", name  # type: ignore[union-attr]
    assert rowresults.text_row_results("bleu", np.array([[70000.0, 3.0]])).dtype == np.uint32
    assert rowresults.text_row_results("bleu", np.array([[2.0**40, 1.0]]))[0, 0] == 2.0**40  # beyond uint32: float64


def test_the_ladder_compares_text_scores_row_by_row():
    """With both submissions' per-row statistics, the noise of a corpus metric is the jackknife of the difference,
    never below what one row alone changes: one better row never beats, a much better submission does."""
    rng = np.random.default_rng(3)
    refs = [" ".join(rng.choice(["alpha", "beta", "gamma", "delta"], size=6)) for _ in range(400)]
    truth = objects((r,) for r in refs)
    metric = get_metric("chrf", kind="text")
    poor = objects(r[: len(r) // 2] for r in refs)
    one_better = poor.copy()
    one_better[0] = refs[0]
    good = objects(refs)
    rows = {key: rowresults.row_results(metric, truth, p) for key, p in (("poor", poor), ("one", one_better))}
    rows["good"] = rowresults.row_results(metric, truth, good)
    one = rowresults.paired_comparison(metric, truth, rows["one"], rows["poor"])
    assert one.how == "jackknife" and one.gain > 0 and not one.beats
    much = rowresults.paired_comparison(metric, truth, rows["good"], rows["poor"])
    assert much.how == "jackknife" and much.beats
    assert much.gain == pytest.approx(
        text_metrics.text_score("chrf", truth, good) - text_metrics.text_score("chrf", truth, poor)
    )


def write_suite(folder, *tasks: str, name: str = "words") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    entries = "".join(f'\n[[tasks]]\ntask = "{task}"\n' for task in tasks)
    (folder / "suite.toml").write_text(f'name = "{name}"\ntitle = "Words and digits"\nversion = 1\n{entries}')


def test_a_suite_with_the_dates_task_gets_an_aggregate_interval_from_the_joint_bootstrap(tmp_path):
    write_suite(tmp_path / "suite", "dates", "digits")
    suite = load_suite(tmp_path / "suite")
    dates = suite.tasks[0]
    assert (dates.metric, dates.ceiling, dates.floor) == ("exact_match", 1.0, None)  # floor: the trivial answer's
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / "dates.csv").write_text(predictions_csv("dates", 0.8, seed=1))
    (entry / "digits.csv").write_text(predictions_csv("digits", 0.9, seed=1))
    scored = score_folder(suite, entry, resamples=400)
    aggregate, interval = scored.aggregate, scored.aggregate_ci
    assert aggregate is not None and interval is not None
    assert interval[0] < aggregate < interval[1] and interval[1] - interval[0] > 0.005
    result = scored.tasks[0]
    assert result.key == "dates" and result.metric == "exact_match" and 0.75 < result.value < 0.85


def test_the_suite_s_draws_of_a_text_score_centre_on_it_and_agree_with_its_own_interval():
    """The joint bootstrap resamples the rows' statistics: its draws of the dates task's exact match (and of a
    corpus metric, chrF, on the same rows) spread about the score as the score's own interval does."""
    task = load_task("dates")
    private = private_rows(task)
    truth = task.answer_key.truth[private]
    rng = np.random.default_rng(5)
    answers = objects(refs[0] if rng.random() < 0.7 else refs[0][:-2] for refs in truth)
    for name in ("exact_match", "chrf"):
        metric = get_metric(name, kind="text", text=task.spec.text)
        kept = rowresults.row_results(metric, truth, answers)
        value = text_metrics.text_score(name, truth, answers, options=task.spec.text)
        [[draws]] = resampled_scores([metric], [truth], [[kept]], resamples=1000)
        low, high = np.percentile(draws, [2.5, 97.5])
        assert low < value < high, name
        own = text_intervals.stats_interval(name, text_metrics.row_stats(name, truth, answers, task.spec.text))[1]
        width = own.high - own.low
        assert abs(low - own.low) < 0.2 * width and abs(high - own.high) < 0.2 * width, (name, low, high, own)


def test_a_suite_with_the_dates_task_shows_on_the_server_s_board(app, client, people, tmp_path):
    folder = tmp_path / "words"
    write_suite(folder, "dates", "digits")
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(folder))
    card = (
        'name = "{name}"\nversion = "1"\nparameters = 10\nframework = "numpy"\nlicence = "MIT"\ncode_url = "none"\n'
        "extra_training_data = false\ntrained_on_test_inputs = false\n"
    )
    for who, dates, digits in (("ada", 0.95, 0.95), ("bob", 0.5, 0.6)):
        files = {"dates": predictions_csv("dates", dates, seed=2), "digits": predictions_csv("digits", digits, seed=2)}
        data = {key: (io.BytesIO(text.encode()), f"{key}.csv") for key, text in files.items()}
        data["card"] = (io.BytesIO(card.format(name=f"{who}-model").encode()), "card.toml")
        answer = client.post(
            "/api/v1/suites/words/entries",
            data=data,
            headers=auth(people.token(who)),
            content_type="multipart/form-data",
        )
        assert answer.status_code == 202, answer.data
    people.drain()
    board = client.get("/api/v1/suites/words/leaderboard").get_json()
    assert board["pending"] is False
    assert [row["model"] for row in board["rows"]] == ["ada-model", "bob-model"]
    for row in board["rows"]:
        low, high = row["aggregate_ci"]
        assert row["rank"] is not None and low < row["aggregate"] < high
    assert board["rows"][0]["rank_interval"] == [1, 1]


def test_the_dates_board_gives_rank_intervals_from_the_text_per_row_results(client, people):
    """A text task's own board ranks from the same kept statistics: identical answers tie in every resample, a far
    better team is first in every one."""
    same = predictions_csv("dates", 0.6, seed=3)
    for name in ("ada", "bob"):
        upload(client, people.token(name), "dates", same)
    upload(client, people.token("cyd"), "dates", predictions_csv("dates", 0.95, seed=4))
    people.drain()
    rows = client.get("/api/v1/competitions/dates/leaderboard").get_json()["rows"]
    assert [row["rank"] for row in rows] == [1, 2, 2]
    assert rows[0]["rank_interval"] == [1, 1] and rows[1]["rank_interval"] == rows[2]["rank_interval"] == [2, 2]
    assert rows[1]["indistinguishable_from_next"] and not rows[0]["indistinguishable_from_next"]


TEXT_BUNDLE = """name = "{name}"
version = 1
kind = "text"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
id = "id"
target = "answer"
[metrics]
primary = "{metric}"
[submission]
prediction = "text"
"""


@pytest.mark.parametrize(("metric", "best"), [("bleu", 100.0), ("chrf", 100.0), ("wer", 0.0), ("token_f1", 1.0)])
def test_a_text_task_s_ceiling_defaults_to_its_metric_s_best_value(tmp_path, write_bundle, metric, best):
    name = f"say-{metric.replace('_', '-')}"
    write_bundle(
        TEXT_BUNDLE.format(name=name, metric=metric),
        {
            "train.csv": "id,question,answer\n" + "".join(f"{i},q {i},a {i}\n" for i in range(10)),
            "test.csv": "id,question\n" + "".join(f"{i},q {i}\n" for i in range(10, 15)),
            "answers.csv": "id,answer\n" + "".join(f"{i},a {i}\n" for i in range(10, 15)),
        },
        name=f"suite/{name}",
    )
    (tmp_path / "suite" / "suite.toml").write_text(f'name = "say"\nversion = 1\n[[tasks]]\ntask = "{name}"\n')
    [task] = load_suite(tmp_path / "suite").tasks
    assert (task.metric, task.ceiling, task.higher_is_better) == (metric, best, metric != "wer")
