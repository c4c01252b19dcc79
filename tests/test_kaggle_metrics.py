"""The metrics Kaggle competitions use agree with scikit-learn or scipy on random inputs, weighted and not.

Where neither library has the weighted form, whole-number weights must equal repeating
each row that many times.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as ss
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from arena.metrics.registry import confusion_matrix, get_metric, is_known

SETTINGS = settings(max_examples=60, deadline=None)
whole_weights = st.integers(0, 4)


def repeat(weight, *columns):
    """Each column with its rows repeated by the whole-number weights."""
    return [np.repeat(c, weight, axis=0) for c in columns]


@st.composite
def regression_rows(draw, low=-1e3, high=1e3, min_size=1):
    n = draw(st.integers(min_size, 40))
    values = st.floats(low, high, allow_nan=False).map(lambda v: round(v, 3))  # coarse: ties happen
    y_true = draw(arrays(np.float64, n, elements=values))
    y_pred = draw(arrays(np.float64, n, elements=values))
    weight = draw(arrays(np.int64, n, elements=whole_weights))
    assume(weight.sum() > 0)
    return y_true, y_pred, weight


def call(name, *args):
    return get_metric(name).from_rows(*args)


@SETTINGS
@given(rows=regression_rows(low=0.0))
def test_rmsle_matches_sklearn_weighted_and_not(rows):
    t, p, w = rows
    assert call("rmsle", t, p) == pytest.approx(skm.root_mean_squared_log_error(t, p), rel=1e-9, abs=1e-12)
    assert call("rmsle", t, p, w) == pytest.approx(
        skm.root_mean_squared_log_error(t, p, sample_weight=w), rel=1e-9, abs=1e-12
    )


@SETTINGS
@given(rows=regression_rows())
def test_mape_matches_sklearn_weighted_and_not(rows):
    t, p, w = rows
    assert call("mape", t, p) == pytest.approx(skm.mean_absolute_percentage_error(t, p), rel=1e-9)
    assert call("mape", t, p, w) == pytest.approx(skm.mean_absolute_percentage_error(t, p, sample_weight=w), rel=1e-9)


@SETTINGS
@given(rows=regression_rows())
def test_smape_is_kaggles_percentage_and_weights_repeat_rows(rows):
    t, p, w = rows
    expected = np.mean([0.0 if a == b == 0 else 200 * abs(a - b) / (abs(a) + abs(b)) for a, b in zip(t, p)])
    assert call("smape", t, p) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert call("smape", t, p, w) == pytest.approx(call("smape", *repeat(w, t, p)), rel=1e-9, abs=1e-12)


@SETTINGS
@given(rows=regression_rows())
def test_median_ae_matches_sklearn_and_weights_repeat_rows(rows):
    t, p, w = rows
    assert call("median_ae", t, p) == pytest.approx(skm.median_absolute_error(t, p), rel=1e-12, abs=1e-12)
    assert call("median_ae", t, p, w) == pytest.approx(call("median_ae", *repeat(w, t, p)), rel=1e-12, abs=1e-12)
    weights = w.astype(float) + 0.5  # no whole-number ties: then it is scikit-learn's weighted median
    assert call("median_ae", t, p, weights) == pytest.approx(
        skm.median_absolute_error(t, p, sample_weight=weights), rel=1e-12, abs=1e-12
    )


@SETTINGS
@given(rows=regression_rows(min_size=3))
def test_correlations_match_scipy_and_weights_repeat_rows(rows):
    t, p, w = rows
    for name, reference in (("pearson", ss.pearsonr), ("spearman", ss.spearmanr)):
        constant = np.ptp(t) == 0 or np.ptp(p) == 0
        assert call(name, t, p) == (0.0 if constant else pytest.approx(reference(t, p)[0], abs=1e-9))
        rt, rp = repeat(w, t, p)
        if len(rt) >= 2 and np.ptp(rt) > 0 and np.ptp(rp) > 0:
            assert call(name, t, p, w) == pytest.approx(reference(rt, rp)[0], abs=1e-9)


def test_a_constant_prediction_has_no_correlation():
    assert call("pearson", np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])) == 0.0
    assert call("spearman", np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])) == 0.0


@st.composite
def label_rows(draw):
    k = draw(st.integers(2, 6))
    n = draw(st.integers(1, 50))
    t = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    p = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    w = draw(arrays(np.float64, n, elements=st.floats(0.1, 5.0)))
    return k, t, p, w


@SETTINGS
@given(rows=label_rows())
@example(rows=(4, np.array([1, 3, 0, 0, 0, 0]), np.array([0, 0, 0, 0, 0, 0]), np.full(6, 0.1)))  # one class predicted
def test_qwk_and_mcc_match_sklearn_weighted_and_not(rows):
    k, t, p, w = rows
    for weight in (None, w):
        cm = confusion_matrix(t, p, k, weight)
        kappa = skm.cohen_kappa_score(t, p, weights="quadratic", labels=np.arange(k), sample_weight=weight)
        ours = get_metric("qwk").from_confusion(cm)
        assert (np.isnan(ours) and np.isnan(kappa)) or ours == pytest.approx(kappa, abs=1e-9)
        assert get_metric("mcc").from_confusion(cm) == pytest.approx(
            skm.matthews_corrcoef(t, p, sample_weight=weight), abs=1e-9
        )


def test_qwk_weighs_by_distance_between_ordered_classes():
    t = np.array([0, 1, 2, 3, 4])
    near, far = np.array([1, 1, 2, 3, 4]), np.array([4, 1, 2, 3, 4])
    qwk = get_metric("qwk").from_confusion
    assert qwk(confusion_matrix(t, t, 5)) == 1.0
    assert qwk(confusion_matrix(t, near, 5)) > qwk(confusion_matrix(t, far, 5))


@st.composite
def probability_rows(draw):
    k = draw(st.integers(2, 4))
    n = draw(st.integers(2, 40))
    t = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    raw = draw(arrays(np.float64, (n, k), elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]))) + 1e-3
    w = draw(arrays(np.float64, n, elements=st.floats(0.1, 5.0)))
    return k, t, raw / raw.sum(axis=1, keepdims=True), w


@SETTINGS
@given(rows=probability_rows())
def test_average_precision_matches_sklearn_weighted_and_not(rows):
    k, t, proba, w = rows
    assume(all((t == c).any() for c in range(k)))
    for weight in (None, w):
        if k == 2:
            expected = skm.average_precision_score(t, proba[:, 1], sample_weight=weight)
        else:
            expected = skm.average_precision_score(label_binarize(t, classes=np.arange(k)), proba, sample_weight=weight)
        assert call("average_precision", t, proba, weight) == pytest.approx(expected, abs=1e-9)


@SETTINGS
@given(rows=probability_rows())
def test_weighted_built_ins_match_sklearn(rows):
    k, t, proba, w = rows
    assume(all((t == c).any() for c in range(k)))
    labels = proba.argmax(axis=1)
    assert call("log_loss", t, proba, w) == pytest.approx(skm.log_loss(t, proba, sample_weight=w, labels=np.arange(k)))
    expected_auc = (
        skm.roc_auc_score(t, proba[:, 1], sample_weight=w)
        if k == 2
        else skm.roc_auc_score(t, proba, multi_class="ovr", average="macro", sample_weight=w)
    )
    if k == 2:
        assert call("roc_auc", t, proba, w) == pytest.approx(expected_auc, abs=1e-9)
    assert get_metric("f1_macro").from_confusion(confusion_matrix(t, labels, k, w)) == pytest.approx(
        skm.f1_score(t, labels, average="macro", sample_weight=w, zero_division=0), abs=1e-9
    )
    assert call("exact_match", t, labels, w) == pytest.approx(skm.accuracy_score(t, labels, sample_weight=w))
    y = proba[:, 0] * 10
    assert call("mae", y, t.astype(float), w) == pytest.approx(skm.mean_absolute_error(y, t, sample_weight=w))
    assert call("rmse", y, t.astype(float), w) == pytest.approx(skm.root_mean_squared_error(y, t, sample_weight=w))
    if np.ptp(y) > 0:
        assert call("r2", y, t.astype(float), w) == pytest.approx(skm.r2_score(y, t, sample_weight=w), abs=1e-9)


# --- multi-label ------------------------------------------------------------------------


@st.composite
def multilabel_rows(draw):
    labels = draw(st.integers(2, 5))  # one column would be a binary task to scikit-learn
    n = draw(st.integers(2, 30))
    truth = draw(arrays(np.int64, (n, labels), elements=st.integers(0, 1)))
    proba = draw(arrays(np.float64, (n, labels), elements=st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0])))
    w = draw(arrays(np.float64, n, elements=st.floats(0.1, 5.0)))
    return truth, proba, w


@SETTINGS
@given(rows=multilabel_rows())
def test_multilabel_metrics_match_sklearn(rows):
    truth, proba, w = rows
    predicted = proba >= 0.5
    for weight in (None, w):
        for average in ("micro", "macro", "samples"):
            expected = skm.f1_score(truth, predicted, average=average, sample_weight=weight, zero_division=0)
            assert call(f"multilabel_f1_{average}", truth, predicted, weight) == pytest.approx(expected, abs=1e-9)
        columns = [
            skm.log_loss(truth[:, j], proba[:, j], sample_weight=weight, labels=[0, 1]) for j in range(truth.shape[1])
        ]
        assert call("multilabel_log_loss", truth, proba, weight) == pytest.approx(np.mean(columns), rel=1e-9)
        aucs = [
            skm.roc_auc_score(truth[:, j], proba[:, j], sample_weight=weight)
            for j in range(truth.shape[1])
            if 0 < truth[:, j].sum() < len(truth)
        ]
        ours = call("multilabel_roc_auc", truth, proba, weight)
        assert (np.isnan(ours) and not aucs) or ours == pytest.approx(np.mean(aucs), abs=1e-9)


# --- ranking ----------------------------------------------------------------------------


def reference_apk(actual, predicted, k):
    """Kaggle's ml_metrics apk, as organisers know it."""
    predicted = predicted[:k]
    score, hits = 0.0, 0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1
            score += hits / (i + 1.0)
    return score / min(len(actual), k) if actual else 0.0


@st.composite
def ranking_rows(draw):
    items = [f"i{j}" for j in range(draw(st.integers(3, 9)))]
    k = draw(st.integers(1, len(items)))
    n = draw(st.integers(1, 12))
    truth, predicted = [], []
    for _ in range(n):
        grades = draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.0]), min_size=len(items), max_size=len(items)))
        truth.append({item: g for item, g in zip(items, grades) if g > 0})
        predicted.append(tuple(draw(st.permutations(items))[:k]))
    weight = draw(arrays(np.int64, n, elements=whole_weights))
    assume(weight.sum() > 0)
    return items, k, np.array(truth, dtype=object), np.array(predicted + [()], dtype=object)[:-1], weight


@SETTINGS
@given(rows=ranking_rows())
def test_map_at_k_matches_kaggles_apk(rows):
    _, k, truth, predicted, weight = rows
    expected = [reference_apk(list(t), list(p), k) for t, p in zip(truth, predicted)]
    assert call(f"map@{k}", truth, predicted) == pytest.approx(np.mean(expected), abs=1e-12)
    assert call(f"map@{k}", truth, predicted, weight) == pytest.approx(np.average(expected, weights=weight), abs=1e-12)


@SETTINGS
@given(rows=ranking_rows())
def test_ndcg_at_k_matches_sklearn(rows):
    items, k, truth, predicted, weight = rows
    relevance = np.array([[t.get(item, 0.0) for item in items] for t in truth])
    score = np.array(
        [[k - p.index(item) if item in p else -1.0 - j / 100 for j, item in enumerate(items)] for p in predicted]
    )  # listed ids first, in order; the rest below, without ties
    for w in (None, weight):
        if len(items) < 2:
            continue
        expected = skm.ndcg_score(relevance, score, k=k, sample_weight=w) if len(truth) > 0 else 0.0
        assert call(f"ndcg@{k}", truth, predicted, w) == pytest.approx(expected, abs=1e-9)


def test_ranking_names_carry_k():
    assert is_known("map@12") and is_known("ndcg@5")
    assert not is_known("map@0") and not is_known("map@") and not is_known("ndcg@1000")
    assert get_metric("map@3").direction == "max" and get_metric("map@3").needs == "ranking"
