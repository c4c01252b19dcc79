"""Numbers at the edges of float64: refused with the lines to fix, or scored exactly; never scored inf or NaN.

A predicted value beyond ±1e18 is refused, and so is a negative one where rmsle
scores it, on every way a file is read; correlations give scipy's answer at any
scale; an answer key Arena cannot score is refused when the bundle loads; and any
file that is accepted gets finite scores and finite intervals. qwk_kaggle weighs
classes by their values, as Kaggle's quadratic_weighted_kappa does.
"""

from __future__ import annotations

import dataclasses
import gzip
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as ss
from sklearn import metrics as skm

from arena.errors import BundleError, SubmissionError
from arena.intervals.weighted import answer_weights, row_interval
from arena.metrics.registry import confusion_matrix, get_metric
from arena.scoring.score import score_predictions, score_submission
from arena.scoring.validation import LARGEST_VALUE, Predictions, check_answer_values, read_submission
from arena.tasks import load_task

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALUE_METRICS = ["mae", "r2", "mape", "smape", "median_ae", "pearson", "spearman"]


def regression_toml(name: str, primary: str, others: list[str], weight: str | None = None) -> str:
    return f"""
name = "{name}"
version = 1
kind = "regression"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
target = "y"
{f'weight = "{weight}"' if weight else ""}
[metrics]
primary = "{primary}"
others = {others!r}
[submission]
prediction = "value"
""".replace("'", '"')


def write_regression(folder, truth, *, primary="rmsle", others=(), weight=None, name="hostile"):
    """A regression bundle whose answers are ``truth`` (ids 1..n) and, when given, the row weights ``weight``."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(truth)
    (folder / "task.toml").write_text(regression_toml(name, primary, list(others), "w" if weight is not None else None))
    (folder / "train.csv").write_text("id,x,y\n" + "".join(f"{-i},{i % 7},{1.5 + i % 3}\n" for i in range(1, 30)))
    (folder / "test.csv").write_text("id,x\n" + "".join(f"{i},{i % 7}\n" for i in range(1, n + 1)))
    answers = pd.DataFrame({"id": np.arange(1, n + 1), "y": truth})
    if weight is not None:
        answers["w"] = weight
    answers.to_csv(folder / "answers.csv", index=False)
    return folder


def lines_named(message: str) -> list[int]:
    found = re.search(r"(?:lines|rows) ([0-9, ]+)", message)
    return [int(v) for v in found.group(1).split(", ")] if found else []


# --- rmsle: negative predictions are refused wherever they are ------------------------------------------------

BIG = 150_000  # rows: several blocks of the CSV reader, so the streaming and re-reading paths see many batches


@pytest.fixture(scope="module")
def big_rmsle_task(tmp_path_factory):
    truth = np.round(np.random.default_rng(0).gamma(2.0, 10.0, BIG), 2)
    return load_task(write_regression(tmp_path_factory.mktemp("big") / "rmsle", truth))


def write_values(path, ids, values, fmt: str):
    frame = pd.DataFrame({"id": ids, "y": values})
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "csv.gz":
        with gzip.open(path, "wt") as handle:
            frame.to_csv(handle, index=False)
    elif fmt == "whole numbers first":  # the first blocks read as integers, then a fraction: the column is re-read
        text = "id,y\n" + "".join(f"{i},{int(v)}\n" for i, v in zip(ids[:-1], values[:-1]))
        path.write_text(text + f"{ids[-1]},{values[-1] + 0.5}\n")
    else:
        frame.to_csv(path, index=False)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "shuffled csv", "whole numbers first"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_rmsle_refuses_a_negative_prediction_on_every_reading_path(big_rmsle_task, tmp_path, fmt, where):
    """The regression: a prediction of -0.5 was scored, one of -2 scored NaN with the interval [NaN, NaN]."""
    ids = np.arange(1, BIG + 1)
    values = np.full(BIG, 3.0)
    if fmt == "shuffled csv":
        ids = np.random.default_rng(1).permutation(ids)
    position = {"first": 0, "middle": BIG // 2, "last": BIG - (2 if fmt == "whole numbers first" else 1)}[where]
    values[position] = -2.0 if where == "middle" or fmt == "whole numbers first" else -0.5
    path = tmp_path / "sub"
    write_values(path, ids, values, "csv" if fmt == "shuffled csv" else fmt)
    with pytest.raises(SubmissionError) as refused:
        score_submission(big_rmsle_task, path)
    (message,) = refused.value.messages()
    assert "1 negative values" in message and "0 or more" in message and "rmsle" in message
    assert lines_named(message) == [position + (1 if fmt == "parquet" else 2)]
    assert ("rows " if fmt == "parquet" else "lines ") in message


def test_rmsle_accepts_zero_and_minus_zero(big_rmsle_task, tmp_path):
    values = np.full(BIG, 3.0)
    values[:2] = [0.0, -0.0]
    path = tmp_path / "sub.csv"
    write_values(path, np.arange(1, BIG + 1), values, "csv")
    score = score_submission(big_rmsle_task, path)
    assert np.isfinite(score.public["rmsle"]) and np.isfinite(score.public_ci).all()


@pytest.fixture(scope="module")
def small_rmsle_task(tmp_path_factory):
    truth = np.round(np.random.default_rng(2).gamma(2.0, 3.0, 40), 2)
    return load_task(write_regression(tmp_path_factory.mktemp("small") / "rmsle", truth, others=["mae"]))


@SETTINGS
@given(
    negative=st.sets(st.integers(0, 39), min_size=1, max_size=40),
    fmt=st.sampled_from(["csv", "csv.gz", "parquet"]),
    low=st.floats(-1e18, -1e-300),
)
def test_rmsle_names_every_negative_row_wherever_it_is(small_rmsle_task, tmp_path, negative, fmt, low):
    values = np.full(40, 1.25)
    rows = np.array(sorted(negative))
    values[rows] = low
    path = tmp_path / f"sub-{fmt}"
    write_values(path, np.arange(1, 41), values, fmt)
    with pytest.raises(SubmissionError) as refused:
        read_submission(small_rmsle_task, path)
    (message,) = refused.value.messages()
    assert f"{len(rows)} negative values" in message
    assert lines_named(message) == (rows[:5] + (1 if fmt == "parquet" else 2)).tolist()


def test_negative_values_are_fine_without_rmsle(tmp_path):
    task = load_task(write_regression(tmp_path / "b", np.linspace(-5, 5, 40), primary="mae", others=["rmse"]))
    path = tmp_path / "sub.csv"
    write_values(path, np.arange(1, 41), np.linspace(-4, 6, 40), "csv")
    assert score_submission(task, path).public["mae"] == pytest.approx(1.0)


def test_an_rmsle_task_refuses_negative_answers_when_it_loads(tmp_path):
    truth = np.linspace(0, 5, 40)
    truth[[3, 9]] = -1.0
    with pytest.raises(BundleError, match=r"negative answers \(2 rows, e.g. ids \[4, 10\]\).*0 or more"):
        load_task(write_regression(tmp_path / "b", truth))


# --- correlations at any scale -------------------------------------------------------------------------------


def scipy_or_zero(reference, t, p):
    return 0.0 if np.ptp(t) == 0 or np.ptp(p) == 0 else reference(t, p)[0]


@pytest.mark.parametrize("scale", [1e150, 1e-200, 1e300, 1e-300])
def test_pearson_is_scipys_for_huge_and_tiny_values(scale):
    """The regression: values at 1e150 or 1e-200 scored 0.0 (the sums overflowed or vanished); scipy gives 0.994."""
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.5])
    p = np.array([1.1, 1.9, 3.2, 3.9, 5.0])
    expected = ss.pearsonr(t, p)[0]
    assert expected == pytest.approx(0.994, abs=1e-3)
    assert get_metric("pearson").from_rows(t * scale, p * scale) == pytest.approx(expected, abs=1e-12)
    assert get_metric("pearson").from_rows(t * scale, p) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    t=arrays(np.float64, st.integers(3, 30), elements=st.floats(-1e3, 1e3).map(lambda v: round(v, 2))),
    noise=st.integers(0, 2**32 - 1),
    k_true=st.integers(-200, 150),
    k_pred=st.integers(-200, 150),
    weight_scale=st.sampled_from([1e-200, 1.0, 1e18]),
)
@example(t=np.array([1.0, 2.0, 3.0]), noise=0, k_true=150, k_pred=150, weight_scale=1.0)
@example(t=np.array([1.0, 2.0, 3.0]), noise=0, k_true=-200, k_pred=-200, weight_scale=1.0)
def test_correlations_match_scipy_at_every_scale(t, noise, k_true, k_pred, weight_scale):
    rng = np.random.default_rng(noise)
    p = np.round(t + rng.normal(0, 300, len(t)), 1)
    w = rng.integers(0, 4, len(t))
    assume(w.sum() > 0)
    st_, sp_ = t * 10.0**k_true, p * 10.0**k_pred
    for name, reference in (("pearson", ss.pearsonr), ("spearman", ss.spearmanr)):
        ours = get_metric(name).from_rows(st_, sp_)
        assert ours == pytest.approx(scipy_or_zero(reference, t, p), abs=1e-9)
        repeated = np.repeat(t, w), np.repeat(p, w)
        if len(repeated[0]) >= 2:
            weighted = get_metric(name).from_rows(st_, sp_, w * weight_scale)
            assert weighted == pytest.approx(scipy_or_zero(reference, *repeated), abs=1e-9)


@pytest.mark.parametrize("name", ["pearson", "spearman"])
@pytest.mark.parametrize("scale", [1e150, 1e-200])
def test_correlation_intervals_are_finite_and_hold_the_value_at_any_scale(name, scale):
    rng = np.random.default_rng(5)
    t = rng.normal(size=60)
    p = t + rng.normal(0, 0.5, 60)
    metric = get_metric(name)
    value = metric.from_rows(t * scale, p * scale)
    assert value == pytest.approx(metric.from_rows(t, p), abs=1e-12)
    for weight in (None, rng.integers(1, 4, 60).astype(float)):
        interval = row_interval(metric, t * scale, p * scale, weight, seed=3)
        assert np.isfinite(interval.as_tuple()).all() and interval.undefined == 0
        assert interval.low <= metric.from_rows(t * scale, p * scale, weight) <= interval.high
        unscaled = row_interval(metric, t, p, weight, seed=3)
        assert interval.as_tuple() == pytest.approx(unscaled.as_tuple(), abs=1e-9)


def test_a_tiny_scale_file_scores_the_correlation_of_a_plain_one(tmp_path):
    rng = np.random.default_rng(6)
    truth = np.round(rng.normal(10, 3, 60), 3)
    task = load_task(write_regression(tmp_path / "b", truth, primary="pearson", others=["spearman"]))
    pred = truth + rng.normal(0, 2, 60)
    scores = []
    for scale in (1.0, 1e-200):
        path = tmp_path / f"sub-{scale}.csv"
        write_values(path, np.arange(1, 61), pred * scale, "csv")
        scores.append(score_submission(task, path))
    for part in ("public", "private"):
        for name in ("pearson", "spearman"):
            assert getattr(scores[1], part)[name] == pytest.approx(getattr(scores[0], part)[name], abs=1e-12)
            ci = getattr(scores[1], f"{part}_cis")[name]
            assert np.isfinite(ci).all() and ci[0] <= getattr(scores[1], part)[name] <= ci[1]


# --- huge values: refused with the bound and the line, never scored inf ---------------------------------------


@pytest.fixture(scope="module")
def signed_task(tmp_path_factory):
    truth = np.round(np.random.default_rng(7).normal(0, 100, 40), 3)
    folder = write_regression(tmp_path_factory.mktemp("signed") / "b", truth, primary="rmse", others=VALUE_METRICS)
    return load_task(folder)


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
@pytest.mark.parametrize("huge", [1e308, -1.7976931348623157e308, 1.0000001e18])
def test_a_value_beyond_the_bound_is_refused_with_its_line(signed_task, tmp_path, fmt, huge):
    """The regression: a finite 1e308 was accepted and scored inf, with the interval [NaN, NaN]."""
    values = np.linspace(-50, 50, 40)
    values[17] = huge
    path = tmp_path / "sub"
    write_values(path, np.arange(1, 41), values, fmt)
    with pytest.raises(SubmissionError) as refused:
        read_submission(signed_task, path)
    (message,) = refused.value.messages()
    assert "larger in magnitude than 1e+18, the largest Arena accepts" in message
    assert lines_named(message) == [17 + (1 if fmt == "parquet" else 2)]


def test_values_at_the_bound_are_scored_finite(signed_task, tmp_path):
    values = np.where(np.arange(40) % 2 == 0, LARGEST_VALUE, -LARGEST_VALUE)
    path = tmp_path / "sub.csv"
    write_values(path, np.arange(1, 41), values, "csv")
    score = score_submission(signed_task, path)
    for part in ("public", "private"):
        assert np.isfinite(list(getattr(score, part).values())).all()
        assert np.isfinite(list(getattr(score, f"{part}_cis").values())).all()
    assert score.rows is not None and np.isfinite(score.rows).all()  # the float32 per-row results too


@pytest.mark.parametrize(
    "bad, problem",
    [
        (1e19, "larger in magnitude than 1e+18"),
        (-1e300, "larger in magnitude than 1e+18"),
        (1e-150, "closer to 0 than 1e-100"),
    ],
)
def test_an_answer_key_arena_cannot_score_is_refused_when_it_loads(tmp_path, bad, problem):
    truth = np.linspace(1, 40, 40)
    truth[5] = bad
    with pytest.raises(BundleError, match=rf"target column 'y' has .*{re.escape(problem)}.*ids \[6\]"):
        load_task(write_regression(tmp_path / "b", truth, primary="mae"))


def test_row_weights_arena_cannot_score_are_refused_when_the_bundle_loads(tmp_path):
    weight = np.ones(40)
    weight[2] = 1e200
    with pytest.raises(BundleError, match=r"weight column 'w' has values larger in magnitude than 1e\+18"):
        load_task(write_regression(tmp_path / "b", np.linspace(1, 40, 40), primary="mae", weight=weight))


def magnitudes(smallest: int, largest: int):
    """0, or a number of either sign whose magnitude is anywhere from 10^smallest to 10^(largest + 1)."""
    return st.one_of(
        st.just(0.0),
        st.builds(
            lambda sign, mantissa, k: sign * mantissa * 10.0**k,
            st.sampled_from([-1.0, 1.0]),
            st.floats(1.0, 9.999),
            st.integers(smallest, largest),
        ),
    )


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Tasks whose answer keys the property below replaces: signed values, values for rmsle, and weighted rows."""
    base = tmp_path_factory.mktemp("templates")
    truth = np.linspace(1, 40, 40)
    return {
        "signed": load_task(
            write_regression(base / "signed", truth, primary="rmse", others=VALUE_METRICS, name="signed")
        ),
        "rmsle": load_task(
            write_regression(base / "rmsle", truth, primary="rmsle", others=["rmse", "r2", "mape"], name="rmsle")
        ),
        "weighted": load_task(
            write_regression(
                base / "weighted", truth, primary="rmse", others=VALUE_METRICS, weight=np.ones(40), name="weighted"
            )
        ),
    }


@settings(
    max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(kind=st.sampled_from(["signed", "rmsle", "weighted"]), data=st.data())
def test_any_accepted_file_gets_finite_scores_and_intervals(templates, tmp_path, kind, data):
    """Answers and weights of mixed scales within the accepted range (and at times beyond it), predictions from
    subnormal numbers up to 1e308."""
    template = templates[kind]
    answer_range = data.draw(st.sampled_from([(-100, 17), (-130, 19)]))
    truth = data.draw(arrays(np.float64, 40, elements=magnitudes(*answer_range)))
    weight = data.draw(arrays(np.float64, 40, elements=magnitudes(*answer_range)))
    pred = data.draw(arrays(np.float64, 40, elements=magnitudes(-320, data.draw(st.sampled_from([17, 307])))))
    if kind == "rmsle":
        truth, pred = np.abs(truth), np.abs(pred)
    answers = pd.DataFrame({"id": np.arange(1, 41), "y": truth})
    if kind == "weighted":
        answers["w"] = np.abs(weight)
        assume(answers["w"].sum() > 0)
    task = dataclasses.replace(template, answers=answers, answer_digest=None)
    if check_answer_values(task):  # the organiser's to fix: such a bundle never loads
        assert answer_range[1] > 17 or answer_range[0] < -100
        event("answer key refused")
        return
    # A key whose (weighted) answers are constant, as far as float64 can tell, in a board part has no R² spread to
    # resample there: its interval is honestly undefined. The organiser's key decides that, not the upload.
    weights = answer_weights(task) if kind == "weighted" else np.ones(len(truth))
    assume(all(resolvable_spread(task.answer_key.truth[mask], weights[mask]) for mask in _parts(task)))
    path = tmp_path / "sub.csv"
    write_values(path, np.arange(1, 41), pred, "csv")
    try:
        predictions = read_submission(task, path)
    except SubmissionError as refused:
        assert np.abs(pred).max() > LARGEST_VALUE and "the largest Arena accepts" in refused.messages()[0]
        event("file refused")
        return
    event("scored")
    score = score_predictions(task, predictions)
    for part in ("public", "private"):
        values, cis = getattr(score, part), getattr(score, f"{part}_cis")
        assert np.isfinite(list(values.values())).all(), values
        assert np.isfinite(list(cis.values())).all(), cis


def resolvable_spread(truth: np.ndarray, weight: np.ndarray) -> bool:
    """Whether the rows that carry weight vary by more than float64's rounding of their own mean: at a relative
    spread under 1e-10 (a weight of 1e-48 on the only row that differs, or two answers 1 ulp apart) the mean's
    rounding error is as large as the spread itself."""
    carried = weight > 0
    if np.unique(truth[carried]).size < 2:
        return False
    mean = np.average(truth[carried], weights=weight[carried])
    spread = np.average((truth[carried] - mean) ** 2, weights=weight[carried])
    return bool(spread > 1e-20 * np.average(truth[carried] ** 2, weights=weight[carried]))


def _parts(task):
    from arena.scoring.score import private_rows, public_rows

    return public_rows(task), private_rows(task)


def test_values_sum_past_float64_are_never_scored_inf_from_predictions_in_memory(signed_task):
    """Scoring aligned predictions directly (as the CLI and tests may) of values within the bound stays finite."""
    pred = np.full(40, LARGEST_VALUE)
    score = score_predictions(signed_task, Predictions(values=pred))
    assert np.isfinite(list(score.public.values())).all() and np.isfinite(list(score.public_cis.values())).all()


# --- ndcg with any relevance ----------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-300, 1.0, 5e307])
def test_ndcg_is_the_same_for_relevances_at_any_scale(scale):
    truth = np.array([{"a": 3.0 * scale, "b": 1.0 * scale, "c": 2.0 * scale}], dtype=object)
    predicted = np.array([("c", "a", "b")] + [()], dtype=object)[:-1]
    plain = get_metric("ndcg@3").from_rows(np.array([{"a": 3.0, "b": 1.0, "c": 2.0}], dtype=object), predicted)
    assert get_metric("ndcg@3").from_rows(truth, predicted) == pytest.approx(plain, abs=1e-12)
    assert skm.ndcg_score([[3.0, 1.0, 2.0]], [[2.0, 1.0, 3.0]], k=3) == pytest.approx(plain, abs=1e-12)


# --- qwk_kaggle: Kaggle's quadratic weighted kappa, weighing by rating value -----------------------------------


def kaggle_qwk(rater_a, rater_b, min_rating=None, max_rating=None):
    """Kaggle's quadratic_weighted_kappa (ml_metrics), as organisers know it: one row and column per integer rating
    from the smallest to the largest, weights (i - j)^2 / (N - 1)^2."""
    rater_a, rater_b = [int(v) for v in rater_a], [int(v) for v in rater_b]
    min_rating = min(rater_a + rater_b) if min_rating is None else min_rating
    max_rating = max(rater_a + rater_b) if max_rating is None else max_rating
    num_ratings = max_rating - min_rating + 1
    conf = [[0] * num_ratings for _ in range(num_ratings)]
    for a, b in zip(rater_a, rater_b):
        conf[a - min_rating][b - min_rating] += 1
    hist_a = [sum(1 for a in rater_a if a - min_rating == i) for i in range(num_ratings)]
    hist_b = [sum(1 for b in rater_b if b - min_rating == i) for i in range(num_ratings)]
    items = float(len(rater_a))
    numerator = denominator = 0.0
    for i in range(num_ratings):
        for j in range(num_ratings):
            expected = hist_a[i] * hist_b[j] / items
            d = (i - j) ** 2.0 / (num_ratings - 1) ** 2.0
            numerator += d * conf[i][j] / items
            denominator += d * expected / items
    return 1.0 - numerator / denominator


RATINGS = np.array([1, 2, 5])
EXAMPLE_CM = np.array([[4, 3, 0], [0, 10, 2], [0, 2, 7]])  # rows: truth 1, 2, 5; columns: predicted 1, 2, 5


def example_rows():
    truth, pred = np.nonzero(EXAMPLE_CM)
    counts = EXAMPLE_CM[truth, pred]
    return RATINGS[np.repeat(truth, counts)], RATINGS[np.repeat(pred, counts)]


def test_qwk_kaggle_weighs_ratings_1_2_5_by_value():
    """Kaggle gives 0.7217 on this example, scikit-learn's (and qwk's) weights by position 0.7525."""
    truth, pred = example_rows()
    codes = np.searchsorted(RATINGS, truth), np.searchsorted(RATINGS, pred)
    cm = confusion_matrix(*codes, 3)
    assert kaggle_qwk(truth, pred) == pytest.approx(0.7217, abs=5e-5)
    assert get_metric("qwk_kaggle", RATINGS).from_confusion(cm) == pytest.approx(kaggle_qwk(truth, pred), abs=1e-12)
    assert get_metric("qwk").from_confusion(cm) == pytest.approx(0.7525, abs=5e-5)
    assert skm.cohen_kappa_score(*codes, weights="quadratic") == pytest.approx(0.7525, abs=5e-5)
    assert get_metric("qwk_kaggle").from_confusion(cm) == get_metric("qwk").from_confusion(cm)  # unbound: by position


@settings(max_examples=150, deadline=None)
@given(ratings=st.sets(st.integers(-20, 40), min_size=2, max_size=6), data=st.data())
def test_qwk_kaggle_matches_kaggles_formula(ratings, data):
    classes = np.array(sorted(ratings))
    n = data.draw(st.integers(2, 60))
    truth = data.draw(arrays(np.int64, n, elements=st.sampled_from(classes.tolist())))
    pred = data.draw(arrays(np.int64, n, elements=st.sampled_from(classes.tolist())))
    weight = data.draw(arrays(np.int64, n, elements=st.integers(0, 3)))
    codes = np.searchsorted(classes, truth), np.searchsorted(classes, pred)
    metric = get_metric("qwk_kaggle", classes)
    ours = float(metric.from_confusion(confusion_matrix(*codes, len(classes))))
    expected = _kaggle_or_nan(truth, pred)
    assert (np.isnan(ours) and np.isnan(expected)) or ours == pytest.approx(expected, abs=1e-9)
    if weight.sum() > 0:  # whole-number weights: as many copies of the row
        weighted = float(metric.from_confusion(confusion_matrix(*codes, len(classes), weight.astype(float))))
        repeated = _kaggle_or_nan(np.repeat(truth, weight), np.repeat(pred, weight))
        assert (np.isnan(weighted) and np.isnan(repeated)) or weighted == pytest.approx(repeated, abs=1e-9)
    # ratings shifted or scaled weigh alike
    scaled = get_metric("qwk_kaggle", classes * 1e15 + 3).from_confusion(confusion_matrix(*codes, len(classes)))
    assert (np.isnan(ours) and np.isnan(scaled)) or float(scaled) == pytest.approx(ours, abs=1e-9)


def _kaggle_or_nan(truth, pred):
    if len(truth) == 0 or min(truth.tolist() + pred.tolist()) == max(truth.tolist() + pred.tolist()):
        return float("nan")
    with np.errstate(all="ignore"):
        try:
            return kaggle_qwk(truth, pred)
        except ZeroDivisionError:
            return float("nan")


def write_ratings(folder, metrics: str, weight: bool = False, classes=("1", "2", "5")):
    rng = np.random.default_rng(11)
    n = 90
    labels = np.array(classes)
    train = pd.DataFrame({"id": np.arange(1000, 1000 + n), "x": rng.normal(size=n), "y": labels[np.arange(n) % 3]})
    truth = labels[rng.integers(0, 3, n)]
    answers = pd.DataFrame({"id": np.arange(n), "y": truth})
    if weight:
        answers["w"] = rng.integers(1, 4, n)
    folder.mkdir(parents=True, exist_ok=True)
    train.to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": np.arange(n), "x": rng.normal(size=n)}).to_csv(folder / "test.csv", index=False)
    answers.to_csv(folder / "answers.csv", index=False)
    (folder / "task.toml").write_text(f"""
name = "ratings"
version = 1
kind = "classification"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
target = "y"
{'weight = "w"' if weight else ""}
[metrics]
{metrics}
[submission]
prediction = "label"
""")
    return folder, answers


@pytest.mark.parametrize("weight", [False, True])
def test_a_qwk_kaggle_task_scores_by_rating_value_with_an_interval(tmp_path, weight):
    folder, answers = write_ratings(tmp_path / "b", 'primary = "qwk_kaggle"\nothers = ["qwk"]', weight)
    task = load_task(folder)
    rng = np.random.default_rng(12)
    truth = answers["y"].to_numpy()
    pred = np.where(rng.random(len(truth)) < 0.6, truth, RATINGS[rng.integers(0, 3, len(truth))])
    path = tmp_path / "sub.csv"
    pd.DataFrame({"id": answers["id"], "y": pred}).to_csv(path, index=False)
    score = score_submission(task, path)
    from arena.scoring.score import public_rows

    public = public_rows(task)
    copies = answers["w"].to_numpy() if weight else np.ones(len(truth), dtype=int)
    for part, rows in (("public", public), ("private", ~public)):
        expected = kaggle_qwk(np.repeat(truth[rows], copies[rows]), np.repeat(pred[rows], copies[rows]))
        assert getattr(score, part)["qwk_kaggle"] == pytest.approx(expected, abs=1e-9)
        assert getattr(score, part)["qwk_kaggle"] != pytest.approx(getattr(score, part)["qwk"], abs=1e-6)
        low, high = getattr(score, f"{part}_cis")["qwk_kaggle"]
        assert low <= getattr(score, part)["qwk_kaggle"] <= high and high - low < 1
    assert get_metric("qwk_kaggle").direction == "max" and get_metric("qwk_kaggle").kinds == ("classification",)


def test_qwk_kaggle_needs_classes_that_are_numbers(tmp_path):
    folder, _ = write_ratings(tmp_path / "b", 'primary = "qwk_kaggle"', classes=("low", "mid", "top"))
    with pytest.raises(BundleError, match="'qwk_kaggle' weighs disagreements by the difference between ratings"):
        load_task(folder)


# --- log loss clips as scikit-learn does --------------------------------------------------------------------------


def test_log_loss_clips_at_machine_epsilon_as_scikit_learn_does():
    """A probability of 0 for the true class costs -log(2.2e-16) = 36.04 (Kaggle's 1e-15 would give 34.54)."""
    proba = np.array([[0.0, 1.0]])
    ours = get_metric("log_loss").from_rows(np.array([0]), proba)
    assert ours == pytest.approx(-np.log(np.finfo(np.float64).eps)) == pytest.approx(36.04365, abs=1e-4)
    assert ours == pytest.approx(skm.log_loss([0], proba, labels=[0, 1]))
