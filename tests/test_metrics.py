"""Every metric agrees with scikit-learn on random inputs, edge cases included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm

from arena.errors import ArenaError
from arena.metrics.registry import METRICS, confusion_matrix, get_metric


@st.composite
def label_pairs(draw, max_classes: int = 6):
    k = draw(st.integers(2, max_classes))
    n = draw(st.integers(1, 60))
    y_true = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    y_pred = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    return k, y_true, y_pred


SKLEARN_LABEL_METRICS = {
    "accuracy": skm.accuracy_score,
    "balanced_accuracy": skm.balanced_accuracy_score,
    "f1_macro": lambda t, p: skm.f1_score(t, p, average="macro", zero_division=0),
    "f1_micro": lambda t, p: skm.f1_score(t, p, average="micro", zero_division=0),
    "f1_weighted": lambda t, p: skm.f1_score(t, p, average="weighted", zero_division=0),
    "precision_macro": lambda t, p: skm.precision_score(t, p, average="macro", zero_division=0),
    "recall_macro": lambda t, p: skm.recall_score(t, p, average="macro", zero_division=0),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(SKLEARN_LABEL_METRICS))
@settings(max_examples=60, deadline=None)
@given(data=label_pairs())
def test_confusion_metrics_match_sklearn(name, data):
    k, y_true, y_pred = data
    ours = get_metric(name).from_confusion(confusion_matrix(y_true, y_pred, k))
    assert ours == pytest.approx(SKLEARN_LABEL_METRICS[name](y_true, y_pred), abs=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", sorted(SKLEARN_LABEL_METRICS))
@pytest.mark.parametrize("case", ["one class present", "constant prediction", "all wrong"])
def test_confusion_metric_edge_cases(name, case):
    y_true = {
        "one class present": np.full(9, 2),
        "constant prediction": np.arange(9) % 3,
        "all wrong": np.arange(9) % 3,
    }[case]
    y_pred = {
        "one class present": np.arange(9) % 3,
        "constant prediction": np.zeros(9, dtype=int),
        "all wrong": (np.arange(9) + 1) % 3,
    }[case]
    ours = get_metric(name).from_confusion(confusion_matrix(y_true, y_pred, 4))
    assert ours == pytest.approx(SKLEARN_LABEL_METRICS[name](y_true, y_pred), abs=1e-12)


def test_confusion_metrics_accept_a_stack_of_matrices():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 20, size=(7, 4, 4)).astype(float)
    for metric in METRICS.values():
        if metric.from_confusion is not None:
            batched = metric.from_confusion(stack)
            one_by_one = [metric.from_confusion(cm) for cm in stack]
            np.testing.assert_allclose(batched, one_by_one)


@st.composite
def probability_pairs(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(2, 50))
    y_true = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    # Coarse values make ties likely, which ROC AUC must average like scikit-learn.
    raw = draw(arrays(np.float64, (n, k), elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 2.0])))
    raw = raw + 1e-3
    return k, y_true, raw / raw.sum(axis=1, keepdims=True)


@settings(max_examples=100, deadline=None)
@given(data=probability_pairs())
def test_log_loss_matches_sklearn(data):
    k, y_true, proba = data
    expected = skm.log_loss(y_true, proba, labels=list(range(k)))
    assert get_metric("log_loss").from_rows(y_true, proba) == pytest.approx(expected, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(data=probability_pairs())
def test_roc_auc_matches_sklearn(data):
    k, y_true, proba = data
    ours = get_metric("roc_auc").from_rows(y_true, proba)
    if len(np.unique(y_true)) < k:
        assert np.isnan(ours)  # undefined for a class with no positive rows; scikit-learn raises
        return
    if k == 2:
        expected = skm.roc_auc_score(y_true, proba[:, 1])
    else:
        expected = skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=list(range(k)))
    assert ours == pytest.approx(expected, abs=1e-12)


def test_roc_auc_with_tied_scores_is_one_half():
    y_true = np.array([0, 1, 0, 1])
    proba = np.full((4, 2), 0.5)
    assert get_metric("roc_auc").from_rows(y_true, proba) == 0.5 == skm.roc_auc_score(y_true, proba[:, 1])


values = arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e3, 1e3, allow_nan=False))


@settings(max_examples=100, deadline=None)
@given(y_true=values, data=st.data())
def test_regression_metrics_match_sklearn(y_true, data):
    y_pred = data.draw(arrays(np.float64, len(y_true), elements=st.floats(-1e3, 1e3, allow_nan=False)))
    assert get_metric("mae").from_rows(y_true, y_pred) == pytest.approx(
        skm.mean_absolute_error(y_true, y_pred), rel=1e-9, abs=1e-9
    )
    assert get_metric("rmse").from_rows(y_true, y_pred) == pytest.approx(
        skm.root_mean_squared_error(y_true, y_pred), rel=1e-9, abs=1e-9
    )
    if len(y_true) >= 2:
        assert get_metric("r2").from_rows(y_true, y_pred) == pytest.approx(
            skm.r2_score(y_true, y_pred), rel=1e-7, abs=1e-7
        )


@pytest.mark.parametrize("y_pred", [np.full(5, 3.0), np.arange(5.0)])
def test_r2_with_constant_truth_matches_sklearn(y_pred):
    y_true = np.full(5, 3.0)
    assert get_metric("r2").from_rows(y_true, y_pred) == skm.r2_score(y_true, y_pred)


@settings(max_examples=50, deadline=None)
@given(data=label_pairs())
def test_exact_match_matches_sklearn_accuracy_on_strings(data):
    _, y_true, y_pred = data
    as_text = np.array([f"c{v}" for v in y_true]), np.array([f"c{v}" for v in y_pred])
    assert get_metric("exact_match").from_rows(*as_text) == pytest.approx(skm.accuracy_score(*as_text))


def test_every_metric_declares_direction_and_input():
    for metric in METRICS.values():
        assert metric.direction in ("max", "min")
        assert metric.needs in ("label", "probabilities", "value")
        assert (metric.from_rows is None) != (metric.from_confusion is None)
    lower_better = {m.name for m in METRICS.values() if m.direction == "min"}
    assert lower_better == {"log_loss", "mae", "rmse", "rmsle", "mape", "smape", "median_ae", "multilabel_log_loss"}


def test_unknown_metric_suggests_the_closest_name():
    with pytest.raises(ArenaError, match="Did you mean 'accuracy'"):
        get_metric("acuracy")


def test_aliases_resolve_to_sklearn_names():
    assert get_metric("macro_f1").name == "f1_macro"


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_class_counts_in_score_order_agree_with_a_plain_argsort_on_every_path(data):
    """The decimal-grid count, the key sort and the argsort give the same counts per distinct score."""
    from arena.metrics.registry import class_counts_in_score_order, score_levels

    n = data.draw(st.integers(1, 300))
    seed = data.draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    shape = data.draw(st.sampled_from(["grid", "coarse", "fine", "wide", "signed", "zeros"]))
    score = {
        "grid": np.round(rng.random(n), 6),
        "coarse": np.round(rng.random(n), 1),
        "fine": rng.random(n),
        "wide": rng.random(n) * 50,
        "signed": rng.normal(size=n),
        "zeros": np.where(rng.random(n) < 0.5, -0.0, 0.0),
    }[shape]
    positive = rng.random(n) < 0.4
    order, level = score_levels(score)
    expected_pos = np.bincount(level, weights=positive[order])
    pos, neg = class_counts_in_score_order(positive, score)
    assert np.array_equal(pos, expected_pos)
    assert np.array_equal(pos + neg, np.bincount(level))


@pytest.mark.parametrize("decimals", [6, 3, 7])
def test_scores_on_the_decimal_grid_are_counted_exactly_like_a_sort(decimals):
    """Large enough for the grid path; seven decimals fall off the grid and are sorted instead."""
    from arena.metrics.registry import GRID_MIN_ROWS, class_counts_in_score_order, on_decimal_grid, score_levels

    rng = np.random.default_rng(decimals)
    n = GRID_MIN_ROWS + 1000
    score = np.round(rng.random(n), decimals)
    score[:3] = [0.0, 1.0, -0.0]
    positive = rng.random(n) < 0.3
    assert (on_decimal_grid(score) is not None) == (decimals <= 6)
    order, level = score_levels(score)
    pos, neg = class_counts_in_score_order(positive, score)
    assert np.array_equal(pos, np.bincount(level, weights=positive[order]))
    assert np.array_equal(pos + neg, np.bincount(level))
    assert on_decimal_grid(score[:1000]) is None  # few scores sort faster than a million counters


def test_the_grid_is_read_in_slices_on_several_cores_alike(monkeypatch):
    """Each slice converts its own rows; a score off the grid or outside [0, 1] in any slice sends all to the sort."""
    from arena._fast import parallel as slices
    from arena.metrics.registry import GRID_MIN_ROWS, on_decimal_grid

    rng = np.random.default_rng(3)
    score = np.round(rng.random(GRID_MIN_ROWS + 5000), 6)
    whole = on_decimal_grid(score)
    assert np.array_equal(whole, np.rint(score * 10**6).astype(np.int64))
    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 1000)
    monkeypatch.setattr(slices, "_WORKERS", 3)
    monkeypatch.setattr(slices, "CHUNK_ROWS", 999)  # odd chunks: slices and chunks meet anywhere
    assert len(slices.over_slices(lambda rows: rows, len(score))) == 3  # the rows below are read in three slices
    assert np.array_equal(on_decimal_grid(score), whole)
    for position, bad in ((len(score) - 1, 0.1234567), (len(score) // 2, -0.25), (len(score) * 2 // 3, 1.5)):
        broken = score.copy()
        broken[position] = bad
        assert on_decimal_grid(broken) is None


def test_slices_run_in_a_forked_child_after_the_parent_used_them(monkeypatch):
    """A queue's work horse is a fork of a process whose slice threads may have run: its slices still run."""
    import multiprocessing
    import time

    from arena._fast import parallel as slices

    monkeypatch.setattr(slices, "MIN_SLICE_ROWS", 1)
    monkeypatch.setattr(slices, "_WORKERS", 2)

    def slow(rows: slice) -> int:  # both slices at once: the parent starts two threads, then both go idle
        time.sleep(0.2)
        return rows.stop - rows.start

    assert slices.over_slices(slow, 10) == [5, 5]
    time.sleep(0.2)

    def child() -> None:
        raise SystemExit(0 if slices.over_slices(lambda rows: rows.stop - rows.start, 10) == [5, 5] else 1)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(timeout=30)
    alive = process.is_alive()
    if alive:
        process.kill()
    assert not alive and process.exitcode == 0
