"""The newer metrics' intervals (arena.intervals.kaggle_metrics): drawn from sufficient statistics in far less time
than a metric call per resample, agreeing with the generic Bayesian bootstrap, covering, never a single point."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from arena.intervals import kaggle_metrics as kaggle_intervals
from arena.intervals.bootstrap import expanded_tail, has_fast_path, percentile_interval, row_weights
from arena.intervals.confidence import metric_interval
from arena.intervals.weighted import row_interval
from arena.metrics.ranking import per_query
from arena.metrics.registry import get_metric
from arena.metrics.regression import weighted_median

NEWER = [
    "rmsle",
    "mape",
    "smape",
    "median_ae",
    "pearson",
    "spearman",
    "average_precision",
    "average_precision_3",
    "multilabel_log_loss",
    "multilabel_f1_micro",
    "multilabel_f1_macro",
    "multilabel_f1_samples",
    "multilabel_roc_auc",
    "map@3",
    "ndcg@3",
]
ITEMS = np.array([f"d{j}" for j in range(8)])


def metric_of(name):
    return get_metric(name.removesuffix("_3"))


def sample(name, n, rng, *, perfect=False):
    """Random rows for a metric: positive values, probabilities (two classes, or three for ``_3``), label sets of
    four labels, or rankings of three of eight items with graded relevances; ``perfect`` predicts the truth."""
    metric = metric_of(name)
    if metric.needs == "value":
        truth = rng.gamma(2.0, 1.0, n) + 0.1
        return truth, truth.copy() if perfect else truth * np.exp(rng.normal(0, 0.4, n))
    if metric.name == "average_precision":
        k = 3 if name.endswith("_3") else 2
        truth = rng.integers(0, k, n)
        truth[:k] = np.arange(k)
        logits = rng.normal(size=(n, k)) + 1.0 * np.eye(k)[truth]
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        return truth, np.eye(k)[truth] if perfect else np.round(proba, 3)
    if metric.name.startswith("multilabel"):
        truth = (rng.random((n, 4)) < 0.35).astype(np.int8)
        truth[0], truth[1] = [1, 1, 0, 0], [0, 0, 1, 1]  # every label present and absent somewhere
        if perfect:  # and no row without labels, whose F1 is 0 however it is predicted
            empty = np.flatnonzero(truth.sum(axis=1) == 0)
            truth[empty, rng.integers(0, 4, len(empty))] = 1
        proba = (
            truth.astype(np.float64) if perfect else np.round(np.clip(truth * 0.4 + rng.random((n, 4)) * 0.6, 0, 1), 3)
        )
        return truth, proba if metric.needs == "probabilities" else proba >= 0.5
    truth, pred = np.empty(n, dtype=object), np.empty(n, dtype=object)
    for i in range(n):
        grades = np.where(rng.random(8) < 0.3, rng.integers(1, 4, 8), 0)
        grades[rng.integers(0, 8)] = 3  # at least one relevant item per query
        truth[i] = {item: float(g) for item, g in zip(ITEMS, grades) if g > 0}
        score = -grades if perfect else -(grades + rng.normal(0, 1.5, 8))
        pred[i] = tuple(ITEMS[np.argsort(score, kind="stable")[:3]])
    return truth, pred


def interval(name, truth, pred, **options):
    return kaggle_intervals.interval(metric_of(name).name, truth, pred, seed=7, **options)


def replicates(name, truth, pred, **options):
    return kaggle_intervals.point_and_replicates(metric_of(name).name, truth, pred, seed=7, **options)[1]


# --- the fast path: no metric call per resample --------------------------------------


@pytest.mark.parametrize("name", NEWER)
def test_every_newer_metric_takes_the_fast_path_and_never_calls_the_metric_per_resample(name):
    metric = metric_of(name)
    assert has_fast_path(metric.name) and kaggle_intervals.handles(metric.name)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return metric.from_rows(*args, **kwargs)

    truth, pred = sample(name, 200, np.random.default_rng(1))
    found = metric_interval(replace(metric, from_rows=counted), truth, pred)
    assert np.isfinite(found.low) and found.low < found.high
    assert len(calls) <= 1  # the generic bootstrap called it 1,000 times


WEIGHTED = NEWER  # every newer metric has a weighted fast path


@pytest.mark.parametrize("name", WEIGHTED)
def test_weighted_intervals_take_the_fast_path_too(name):
    metric = metric_of(name)
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return metric.from_rows(*args, **kwargs)

    rng = np.random.default_rng(2)
    truth, pred = sample(name, 200, rng)
    weight = rng.integers(0, 4, 200).astype(np.float64)
    found = row_interval(replace(metric, from_rows=counted), truth, pred, weight, seed=7)
    assert np.isfinite(found.low) and found.low < found.high
    assert not calls  # row weights times Exp(1) draws, from weighted sums: never the metric per resample
    point = metric.from_rows(truth, pred, weight)
    assert found.low <= point <= found.high
    # As the generic Bayesian bootstrap (the metric under each row's weight times an Exp(1) draw), expanded to
    # Student's t for the same rows: heavy-tailed influences (pearson on gamma values) count few.
    generic = np.array([metric.from_rows(truth, pred, weight * w) for w in row_weights(400, 200, 9)])
    rows = kaggle_intervals.draws(metric.name, truth, pred, seed=7, weight=weight).rows
    expected = percentile_interval(generic, rows)
    width = expected.high - expected.low
    assert abs((found.high - found.low) - width) < 0.35 * width


@pytest.mark.parametrize("name", NEWER)
def test_a_perfect_weighted_submission_gets_a_real_interval_that_holds_its_value(name):
    metric = metric_of(name)
    rng = np.random.default_rng(3)
    truth, pred = sample(name, 500, rng, perfect=True)
    weight = rng.gamma(2.0, 1.0, 500)
    point = metric.from_rows(truth, pred, weight)
    found = row_interval(metric, truth, pred, weight, seed=7)
    assert found.low <= point <= found.high
    assert found.high - found.low > 1e-6  # not [0, 0], nor [1, 1]
    near, far = (found.high, found.low) if metric.higher_is_better else (found.low, found.high)
    assert near == pytest.approx(point, abs=1e-12)  # it reaches the perfect value (weighted sums round)...
    assert abs(far - point) < 0.05 * (200 if name == "smape" else 1)  # ...and allows a little worse


# --- perfect submissions and the point estimate -------------------------------------


@pytest.mark.parametrize("name", NEWER)
def test_a_perfect_submission_gets_a_real_interval_that_holds_its_value(name):
    metric = metric_of(name)
    truth, pred = sample(name, 500, np.random.default_rng(3), perfect=True)
    point = metric.from_rows(truth, pred)
    found = metric_interval(metric, truth, pred)
    assert found.low <= point <= found.high
    assert found.high - found.low > 1e-6 * max(1.0, abs(point))  # not a single point (mape [0, 0], spearman [1, 1])
    near, far = (found.high, found.low) if metric.higher_is_better else (found.low, found.high)
    assert near == point  # it reaches the perfect value...
    assert abs(far - point) < 0.05 * (200 if name == "smape" else 1)  # ...and allows a little worse


def test_a_constant_prediction_gets_exactly_its_score():
    # It says nothing of the truth: a correlation of 0 and a ROC AUC of 1/2 under any weighting of the rows.
    rng = np.random.default_rng(4)
    truth = rng.normal(size=300)
    for name in ("pearson", "spearman"):
        assert metric_interval(get_metric(name), truth, np.full(300, 2.5)).as_tuple() == (0.0, 0.0)
    labels = (rng.random((300, 3)) < 0.4).astype(np.int8)
    assert metric_interval(get_metric("multilabel_roc_auc"), labels, np.full((300, 3), 0.3)).as_tuple() == (0.5, 0.5)


SCENARIOS = st.tuples(st.sampled_from(NEWER), st.integers(20, 150), st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None)
@given(SCENARIOS)
def test_no_interval_excludes_its_own_value(scenario):
    name, n, seed = scenario
    truth, pred = sample(name, n, np.random.default_rng(seed))
    point = metric_of(name).from_rows(truth, pred)
    found = interval(name, truth, pred)
    assert found.low <= point <= found.high


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.tuples(st.sampled_from(NEWER), st.integers(30, 150), st.integers(0, 2**32 - 1)))
def test_the_fast_path_agrees_with_the_generic_bootstrap(scenario):
    name, n, seed = scenario
    metric = metric_of(name)
    truth, pred = sample(name, n, np.random.default_rng(seed))
    point, values = kaggle_intervals.point_and_replicates(metric.name, truth, pred, seed=7)
    assert point == metric.from_rows(truth, pred)  # the very value the board shows
    # The generic Bayesian bootstrap: the metric itself under each of the same 1,000 row weightings. Each end of
    # the fast interval (with the same expansion to Student's t as the generic one; the fast path's own counts
    # fewer rows where the rows' influence is heavy-tailed) lies within 5 points of its tail of the generic
    # replicates (on the probability scale: a median's replicates jump from one row's error to the next).
    generic = np.array([metric.from_rows(truth, pred, w) for w in row_weights(1000, n, 7)])
    fast, tail = percentile_interval(values, n), expanded_tail(n)
    for end, share in ((fast.low, tail), (fast.high, 1 - tail)):
        assert np.mean(generic < end) - 0.05 <= share <= np.mean(generic <= end) + 0.05


# --- the large-data paths against the exact ones ------------------------------------


def assert_same_distribution(large, exact):
    """Same centre, spread and shape: a two-sample KS test, and the 2.5% and 97.5% points within a fifth of the
    interval's width."""
    assert ks_2samp(large, exact).pvalue > 0.001
    width = np.percentile(exact, 97.5) - np.percentile(exact, 2.5)
    for q in (2.5, 50, 97.5):
        assert abs(np.percentile(large, q) - np.percentile(exact, q)) < 0.2 * width


@pytest.mark.parametrize(
    "name", ["spearman", "average_precision", "average_precision_3", "multilabel_roc_auc", "multilabel_f1_macro"]
)
def test_blocks_and_influences_above_4096_rows_match_weighting_every_row(name):
    # Each row weighted (exact) against random blocks: spearman's and AP's rows by their influence, multi-label
    # counts by their block sums.
    truth, pred = sample(name, 3000, np.random.default_rng(4))
    exact = replicates(name, truth, pred)
    large = kaggle_intervals.point_and_replicates(metric_of(name).name, truth, pred, seed=8, blocks=256)[1]
    assert_same_distribution(large, exact)


@pytest.mark.parametrize(
    "name",
    ["pearson", "spearman", "average_precision", "average_precision_3", "multilabel_roc_auc", "multilabel_f1_macro"],
)
def test_with_row_weights_blocks_and_influences_match_weighting_every_row(name):
    # Each row's Exp(1) draw times its weight (exact: spearman re-ranked, AP and ROC AUC from weighted rows) against
    # random blocks of weighted influences or counts.
    rng = np.random.default_rng(4)
    truth, pred = sample(name, 3000, rng)
    weight = rng.gamma(1.0, 1.0, 3000)
    name = metric_of(name).name
    exact = kaggle_intervals.draws(name, truth, pred, seed=7, weight=weight).values
    large = kaggle_intervals.draws(name, truth, pred, seed=8, blocks=256, weight=weight).values
    assert_same_distribution(large, exact)


def test_average_precision_from_class_weights_per_score_matches_weighting_every_row():
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 2, 6000)
    score = np.round(1 / (1 + np.exp(-rng.normal(truth * 1.0, 1))), 2)  # about 100 distinct scores
    proba = np.stack([1 - score, score], axis=1)
    levels = kaggle_intervals.point_and_replicates("average_precision", truth, proba, seed=8)[1]  # 6,000 > 4,096
    exact = kaggle_intervals.point_and_replicates("average_precision", truth, proba, seed=9, blocks=8192)[1]
    assert_same_distribution(levels, exact)


def test_the_median_error_is_drawn_from_the_bayesian_bootstraps_own_distribution():
    rng = np.random.default_rng(6)
    truth = rng.normal(size=400)
    pred = truth + rng.standard_t(3, 400)
    errors = np.abs(pred - truth)
    weighted = np.array([weighted_median(errors, w) for w in row_weights(1000, 400, 3)])
    closed_form = replicates("median_ae", truth, pred)
    assert_same_distribution(closed_form, weighted)


# --- coverage -------------------------------------------------------------------------

SPEARMAN_RHO = 6 / np.pi * np.arcsin(0.3)  # bivariate normal with correlation 0.6


def rank_correlated(n, rng):
    """Truth normal; the prediction a monotone transform of a variable with correlation 0.6 (Spearman's rho is then
    6/pi asin(0.3), whatever the transform)."""
    z = rng.normal(size=(n, 2))
    return z[:, 0], np.exp(0.6 * z[:, 0] + 0.8 * z[:, 1])


def rankings(n, rng):
    """Ten candidates per query, each relevant with probability 0.3; the top five by a noisy score are listed."""
    relevant = rng.random((n, 10)) < 0.3
    order = np.argsort(-(relevant + rng.normal(0, 1, (n, 10))), axis=1)[:, :5]
    truth, pred = np.empty(n, dtype=object), np.empty(n, dtype=object)
    items = np.array([f"d{j}" for j in range(10)])
    for i in range(n):
        truth[i] = {item: 1.0 for item in items[relevant[i]]}
        pred[i] = tuple(items[order[i]])
    return truth, pred


def map_at_5_of_the_population() -> float:
    rng = np.random.default_rng(12345)
    return float(np.mean(np.concatenate([per_query("map", 5, *rankings(50_000, rng)) for _ in range(4)])))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, rows, blocks",
    [
        ("spearman", 30, 4096),
        ("spearman", 100, 4096),
        ("spearman", 1000, 4096),
        ("spearman", 1000, 256),  # the influence path: each row's influence summed into 256 random blocks
        ("map@5", 30, 4096),
        ("map@5", 100, 4096),
        ("map@5", 1000, 4096),
    ],
)
def test_95_percent_intervals_cover_95_percent_of_the_time(name, rows, blocks):
    make, true_value = (rank_correlated, SPEARMAN_RHO) if name == "spearman" else (rankings, MAP_AT_5())
    rng = np.random.default_rng(rows)
    datasets = 2000 if rows <= 100 else 1000  # small datasets cost little: more of them, a steadier figure
    hits = sum(
        low <= true_value <= high
        for low, high in (
            kaggle_intervals.interval(name, *make(rows, rng), seed=11, blocks=blocks).as_tuple()
            for _ in range(datasets)
        )
    )
    assert 0.93 <= hits / datasets <= 0.97, f"{name} at n={rows}: coverage {hits / datasets:.3f}"


_population: list[float] = []


def MAP_AT_5() -> float:
    if not _population:
        _population.append(map_at_5_of_the_population())
    return _population[0]


def weighted_percentage_errors(n, rng):
    """Positive truth, a prediction off by a log-normal factor, weights of 1 to 4 independent of both: the
    population's weighted MAPE is its plain one, E|exp(Z) - 1|, Z normal with sd 0.4."""
    truth = rng.gamma(2.0, 1.0, n) + 0.1
    return truth, truth * np.exp(rng.normal(0, 0.4, n)), rng.integers(1, 5, n).astype(np.float64)


@pytest.mark.slow
@pytest.mark.parametrize("rows", [50, 500])
def test_weighted_mape_intervals_cover_95_percent_of_the_time(rows):
    true_value = float(np.mean(np.abs(np.expm1(np.random.default_rng(99).normal(0, 0.4, 4_000_000)))))
    rng = np.random.default_rng(rows)
    datasets = 1000
    hits = 0
    for _ in range(datasets):
        truth, pred, weight = weighted_percentage_errors(rows, rng)
        low, high = row_interval(get_metric("mape"), truth, pred, weight, seed=11).as_tuple()
        hits += low <= true_value <= high
    assert 0.93 <= hits / datasets <= 0.97, f"weighted mape at n={rows}: coverage {hits / datasets:.3f}"


# --- the prior with row weights ---------------------------------------------------------


def trivial_value(name, truth, weight):
    """The metric of a trivial predictor with these row weights: the truth's (weighted) mean of log1p for rmsle,
    its (weighted) median otherwise."""
    metric = get_metric(name)
    if name == "rmsle":
        guess = np.expm1(np.average(np.log1p(truth), weights=weight))
    else:
        guess = weighted_median(truth, weight)
    return metric.from_rows(truth, np.full(len(truth), guess), weight)


@pytest.mark.parametrize("name", ["rmsle", "mape", "smape", "median_ae"])
def test_a_weighted_perfect_submission_s_interval_is_scaled_by_the_weighted_trivial_predictor(name):
    # Heavy rows whose truth barely varies, light rows whose truth spans orders of magnitude: the trivial predictor
    # is good on the rows that count and poor on the rows, so the prior's pseudo-row must weigh the rows as the
    # metric does, or a perfect submission's interval reaches out to the unweighted trivial value's scale.
    rng = np.random.default_rng(12)
    heavy = 10 * np.exp(rng.normal(0, 0.05, 100))
    light = np.exp(rng.normal(2, 2, 300))
    truth = np.concatenate([heavy, light])
    weight = np.concatenate([np.full(100, 50.0), np.full(300, 0.01)])
    weighted, plain = trivial_value(name, truth, weight), trivial_value(name, truth, None)
    assert weighted < 0.2 * plain  # the two trivial predictors differ by far
    found = row_interval(get_metric(name), truth, truth.copy(), weight, seed=7)
    # Half a pseudo-row among 400 rows moves the mean by about 1/100 of the trivial value (rmsle's root: 1/10);
    # weighed without the weights, the same prior gave ends of 0.12 to 1.9 times the weighted trivial value.
    assert found.low == 0 and 0 < found.high < 0.1 * weighted


@pytest.mark.slow
@pytest.mark.parametrize("rows, blocks", [(100, 4096), (1000, 256)])
def test_weighted_spearman_intervals_cover_95_percent_of_the_time(rows, blocks):
    # Weights of 1 to 4 independent of the rows: the population's weighted rho is its plain one. Up to 4,096 rows
    # each resample re-ranks the rows under their weights; with 256 blocks the weighted influences are summed.
    rng = np.random.default_rng(rows)
    datasets = 1000
    hits = 0
    for _ in range(datasets):
        truth, pred = rank_correlated(rows, rng)
        weight = rng.integers(1, 5, rows).astype(np.float64)
        found = kaggle_intervals.interval("spearman", truth, pred, seed=11, blocks=blocks, weight=weight)
        hits += found.low <= SPEARMAN_RHO <= found.high
    assert 0.93 <= hits / datasets <= 0.97, f"weighted spearman at n={rows}: coverage {hits / datasets:.3f}"
