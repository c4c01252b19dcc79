"""The classic metrics' 95% intervals cover, at any scale, and never say what they cannot.

Coverage is simulated: a population model, many test sets of n rows drawn from it, one
fixed predictor scored on each, its interval computed by the entry point scoring uses
(``stats.metric_interval``; ``weights.confusion_interval`` and ``weights.row_interval``
for a task with row weights), and the share of intervals that hold the metric's value
on the population (computed on two million rows).

Tolerance: each case draws 2,000 test sets of 30 rows (where skewed losses make coverage
hardest) and 1,000 of 100 and of 1,000 rows. A coverage of 0.95 is then observed within
±0.0049 (one binomial standard error; ±0.0069 for 1,000 test sets), so the band
0.93–0.97 is ±4.1 standard errors (±2.9): a method that truly covers 0.95 fails it about
one time in 20,000 (one in 270), one that truly covers 0.92 or 0.98 passes it about one
time in 50 (one in 12). The seeds are fixed, so the test is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena.intervals import weighted as weights
from arena.intervals.confidence import metric_interval
from arena.metrics import text as text_metrics
from arena.metrics.registry import METRICS, confusion_matrix, get_metric
from arena.scoring.score import score_submission
from arena.tasks import load_task

DATASETS = {30: 2000, 100: 1000, 1000: 1000}  # test sets per row count
BAND = (0.93, 0.97)
ROWS = (30, 100, 1000)
SEED = 20240601  # scoring's bootstrap seed
CLASS_SHARES = np.array([0.5, 0.3, 0.2])


# --- population models: each draws (truth, prediction[, row weights]) for n rows -----------------------------


def three_classes(right: float):
    """Truth in three unequal classes; the prediction is right with chance ``right``, else a random class."""

    def make(n, rng):
        truth = rng.choice(3, n, p=CLASS_SHARES)
        return truth, np.where(rng.random(n) < right, truth, rng.integers(0, 3, n))

    return make


def ordinal(noise: float):
    """Five ordered grades: a latent score rounded; the prediction rounds it with N(0, noise) added."""

    def make(n, rng):
        latent = rng.normal(2, 1.2, n)
        truth = np.clip(np.rint(latent), 0, 4).astype(np.int64)
        return truth, np.clip(np.rint(latent + rng.normal(0, noise, n)), 0, 4).astype(np.int64)

    return make


def calibrated(a: float):
    """Calibrated probabilities: the positive class's chance is Beta(a, a), the label drawn from it."""

    def make(n, rng):
        q = rng.beta(a, a, n)
        return (rng.random(n) < q).astype(np.int64), np.stack([1 - q, q], axis=1)

    return make


def confident(n, rng):
    """A near-perfect classifier: the true class gets 1 - Beta(1, 40) (0.976 on average), never less than 1/2."""
    truth = rng.integers(0, 2, n)
    p_true = 1 - rng.beta(1, 40, n)
    q = np.where(truth == 1, p_true, 1 - p_true)
    return truth, np.stack([1 - q, q], axis=1)


def softmax_three(separation: float):
    """Three classes; logits N(0, 1) plus ``separation`` on the true class, probabilities by softmax."""

    def make(n, rng):
        truth = rng.choice(3, n, p=CLASS_SHARES)
        logits = rng.normal(size=(n, 3)) + separation * np.eye(3)[truth]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return truth, e / e.sum(axis=1, keepdims=True)

    return make


def binormal(separation: float):
    """30% positives; the score is the logistic of N(separation, 1) for positives and N(0, 1) for negatives."""

    def make(n, rng):
        truth = (rng.random(n) < 0.3).astype(np.int64)
        score = 1 / (1 + np.exp(-rng.normal(truth * separation, 1)))
        return truth, np.stack([1 - score, score], axis=1)

    return make


def regression(truth_sd: float, error_sd: float):
    """Truth N(0, truth_sd), prediction the truth plus N(0, error_sd)."""

    def make(n, rng):
        truth = rng.normal(0, truth_sd, n)
        return truth, truth + rng.normal(0, error_sd, n)

    return make


def weighted(make, kind: str):
    """The rows of ``make`` with row weights: 1, 2 or 5 (shares 0.6, 0.3, 0.1), or Exp(1)."""

    def draw(n, rng):
        truth, pred = make(n, rng)
        w = rng.choice([1.0, 2.0, 5.0], n, p=[0.6, 0.3, 0.1]) if kind == "whole" else rng.exponential(1.0, n)
        return truth, pred, w

    return draw


def text_answers(right: float, pool: int = 20_000):
    """Short free-text answers of one to five words drawn from a fixed pool of (reference, answer) rows: each answer is
    its reference with chance ``right``, else one word of it changed (or dropped), else other words. Every metric is
    a function of the pool's mean row statistics, so its population value is its value on the whole pool."""
    words = np.array("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split())

    @cache
    def rows():
        rng = np.random.default_rng(99)
        truth, pred = np.empty(pool, dtype=object), np.empty(pool, dtype=object)
        for i in range(pool):
            ref = list(rng.choice(words, rng.integers(1, 6)))
            truth[i] = (" ".join(ref),)
            chance = rng.random()
            if chance < right:
                answer = ref
            elif chance < right + (1 - right) / 2:
                answer = ref.copy()
                at = int(rng.integers(0, len(ref)))
                answer[at : at + 1] = [] if len(ref) > 1 and rng.random() < 0.3 else [str(rng.choice(words))]
            else:
                answer = list(rng.choice(words, rng.integers(1, 6)))
            pred[i] = " ".join(answer)
        return truth, pred

    def make(n, rng):
        truth, pred = rows()
        at = rng.integers(0, pool, n)
        return truth[at], pred[at]

    make.pool = rows  # type: ignore[attr-defined]
    return make


CLASSES = {"accuracy": 3, "f1_macro": 3, "qwk": 5}


def metric_named(name: str):
    """A metric by name; ``text:NAME`` is a text task's (exact match and token F1 normalised as SQuAD does)."""
    if name.startswith("text:"):
        return get_metric(name.removeprefix("text:"), kind="text", text=text_metrics.Options("squad"))
    return get_metric(name)


def value(name: str, truth, pred, weight=None) -> float:
    metric = metric_named(name)
    if metric.from_confusion is not None:
        return float(metric.from_confusion(confusion_matrix(truth, pred, CLASSES[name], weight)))
    return float(metric.from_rows(truth, pred, **({"weight": weight} if weight is not None else {})))


def interval(name: str, truth, pred, weight=None):
    """The interval as scoring computes it."""
    metric = metric_named(name)
    if metric.from_confusion is not None:
        k = CLASSES[name]
        if weight is not None:
            return weights.confusion_interval(metric, truth * k + pred, k, weight, seed=SEED)
        return metric_interval(metric, cm=confusion_matrix(truth, pred, k), seed=SEED)
    if weight is not None:
        return weights.row_interval(metric, truth, pred, weight, seed=SEED)
    return metric_interval(metric, truth, pred, seed=SEED)


@dataclass(frozen=True)
class Case:
    metric: str
    make: Callable
    rows: tuple[int, ...] = ROWS
    at_least: tuple[int, ...] = ()  # row counts where a near-perfect population leaves most samples perfect


CASES = {
    "accuracy": Case("accuracy", three_classes(0.8)),
    "accuracy, near-perfect": Case("accuracy", three_classes(0.99), at_least=(30, 100)),
    "macro-F1": Case("f1_macro", three_classes(0.8)),
    "QWK": Case("qwk", ordinal(0.8)),
    "QWK, near-perfect": Case("qwk", ordinal(0.2)),
    "log loss": Case("log_loss", calibrated(2)),
    "log loss, three classes": Case("log_loss", softmax_three(2)),
    "log loss, near-perfect": Case("log_loss", confident),
    "ROC AUC": Case("roc_auc", binormal(1)),
    "ROC AUC, three classes": Case("roc_auc", softmax_three(1.5)),
    "ROC AUC, near-perfect": Case("roc_auc", binormal(4), at_least=(30, 100)),
    "RMSE, truth sd 1": Case("rmse", regression(1, 1)),
    "RMSE, truth sd 0.1": Case("rmse", regression(0.1, 1), rows=(30, 100)),
    "RMSE, truth sd 10": Case("rmse", regression(10, 1), rows=(30, 100)),
    "RMSE, near-perfect": Case("rmse", regression(1, 0.01)),
    "MAE, truth sd 1": Case("mae", regression(1, 1)),
    "MAE, truth sd 0.1": Case("mae", regression(0.1, 1), rows=(30, 100)),
    "MAE, truth sd 10": Case("mae", regression(10, 1), rows=(30, 100)),
    "MAE, near-perfect": Case("mae", regression(1, 0.01)),
    "weighted RMSE": Case("rmse", weighted(regression(1, 1), "exp")),
    "weighted macro-F1": Case("f1_macro", weighted(three_classes(0.8), "whole")),
    "weighted ROC AUC": Case("roc_auc", weighted(binormal(1), "whole")),
    "text exact match": Case("text:exact_match", text_answers(0.6)),
    "text token F1": Case("text:token_f1", text_answers(0.5)),
    "text chrF": Case("text:chrf", text_answers(0.5), rows=(30, 100)),  # sacrebleu's statistics: ~100 us a row
    "text WER": Case("text:wer", text_answers(0.5)),
}


@cache
def population_value(label: str) -> float:
    case = CASES[label]
    if hasattr(case.make, "pool"):  # a finite pool of rows: the population is the pool
        return value(case.metric, *case.make.pool())
    return value(case.metric, *case.make(2_000_000, np.random.default_rng(123)))


@pytest.mark.slow
@pytest.mark.parametrize("label", list(CASES))
def test_95_percent_intervals_cover_the_population_value_95_percent_of_the_time(label):
    """Near-perfect populations at few rows are perfect in most samples (accuracy 0.993: 82% of samples of 30
    rows, 51% of 100; ROC AUC 0.998: most samples of 30 or 100 rows). A perfect sample's interval holds the
    population value, so coverage there is above 0.97 for any interval that keeps off a single point (the
    accuracy's possible coverages at 100 rows jump from 0.858 to 0.971): those need at least 0.93."""
    case = CASES[label]
    truth_value = population_value(label)
    for n in case.rows:
        rng = np.random.default_rng([7, n])
        hits = 0
        for _ in range(DATASETS[n]):
            found = interval(case.metric, *case.make(n, rng))
            hits += found.low <= truth_value <= found.high
        coverage = hits / DATASETS[n]
        low, high = (BAND[0], 1.0) if n in case.at_least else BAND
        assert low <= coverage <= high, f"{label} at n={n}: coverage {coverage:.3f}"


# --- what the audit found: each of these failed before ----------------------------------------------------


def test_a_near_perfect_rmse_gets_an_interval_of_its_own_errors_scale_that_holds_it():
    """The prior used the truth's variance: an RMSE of 0.008 got [0.0084, 0.236], above its own score."""
    rng = np.random.default_rng(4)
    truth = rng.normal(0, 1, 30)
    pred = truth + rng.normal(0, 0.01, 30)
    rmse = get_metric("rmse")
    score = rmse.from_rows(truth, pred)
    found = metric_interval(rmse, truth, pred, seed=SEED)
    assert found.low < score < found.high < 2 * score
    scaled = metric_interval(rmse, 100 * truth, 100 * truth + (pred - truth), seed=SEED)
    assert scaled.as_tuple() == pytest.approx(found.as_tuple(), rel=1e-9)  # the truth's spread plays no part


@pytest.mark.parametrize("k", [2, 3])
def test_uniform_probabilities_get_exactly_their_log_loss(k):
    """Constant 1/2 probabilities scored 0.693147 with the interval [0.6772, 0.693145]."""
    truth = np.random.default_rng(k).integers(0, k, 100)
    proba = np.full((100, k), 1 / k)
    log_loss = get_metric("log_loss")
    score = log_loss.from_rows(truth, proba)
    found = metric_interval(log_loss, truth, proba, seed=SEED)
    assert found.low <= score <= found.high and found.high - found.low < 1e-12
    assert score == pytest.approx(np.log(k), rel=1e-12)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("n", [100, 6000])
def test_one_score_for_every_row_gets_exactly_an_auc_of_one_half(k, n):
    """A constant score's ROC AUC is 1/2 under every resample, and was shown as [0.4636, 0.5226]."""
    truth = np.random.default_rng(n).integers(0, k, n)
    found = metric_interval(get_metric("roc_auc"), truth, np.full((n, k), 1 / k), seed=SEED)
    assert found.as_tuple() == (0.5, 0.5)
    weighted_found = weights.row_interval(
        get_metric("roc_auc"), truth, np.full((n, k), 1 / k), 1.0 + np.arange(n) % 3, seed=SEED
    )
    assert weighted_found.as_tuple() == (0.5, 0.5)


@pytest.mark.parametrize("name", ["qwk", "mcc", "balanced_accuracy"])
def test_one_class_for_every_row_gets_exactly_its_score_where_the_labels_cannot_change_it(name):
    truth = np.random.default_rng(1).integers(0, 3, 200)
    cm = confusion_matrix(truth, np.zeros(200, dtype=np.int64), 3)
    metric = get_metric(name)
    score = float(metric.from_confusion(cm))
    assert metric_interval(metric, cm=cm, seed=SEED).as_tuple() == (score, score)
    assert weights.confusion_interval(metric, truth * 3, 3, 1.0 + np.arange(200) % 2, seed=SEED).as_tuple() == (
        score,
        score,
    )


def test_a_weighted_task_gives_a_perfect_submission_a_real_interval(tmp_path):
    """Every metric of a task with row weights gave a perfect submission [1, 1]."""
    n = 300
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 3, n)
    folder = tmp_path / "weighted"
    folder.mkdir()
    (folder / "task.toml").write_text("""
name = "weighted"
version = 1
kind = "classification"
[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
target = "y"
weight = "w"
[metrics]
primary = "accuracy"
others = ["f1_macro", "qwk", "log_loss", "roc_auc", "average_precision"]
[submission]
prediction = "probabilities"
""")
    (folder / "train.csv").write_text("id,x,y\n" + "".join(f"{-i},{i % 7},{i % 3}\n" for i in range(1, 40)))
    (folder / "test.csv").write_text("id,x\n" + "".join(f"{i},{i % 7}\n" for i in range(1, n + 1)))
    pd.DataFrame({"id": np.arange(1, n + 1), "y": truth, "w": rng.choice([1, 2, 5], n)}).to_csv(
        folder / "answers.csv", index=False
    )
    submission = pd.DataFrame({"id": np.arange(1, n + 1)})
    for c in range(3):
        submission[str(c)] = (truth == c).astype(float)
    submission.to_csv(tmp_path / "perfect.csv", index=False)
    score = score_submission(load_task(folder), tmp_path / "perfect.csv")
    for part in ("public", "private"):
        for name, (low, high) in getattr(score, f"{part}_cis").items():
            best = getattr(score, part)[name]
            assert low <= best <= high and high - low > 1e-4, (part, name, low, high)


# --- every interval holds its score; a perfect one is never a single point ---------------------------------


SINGLE_LABEL = [name for name, metric in METRICS.items() if metric.kinds[0] in ("classification", "regression")]


def predictions(name: str, truth: np.ndarray, k: int, style: str, rng) -> np.ndarray:
    """A prediction for ``truth`` in the metric's format: perfect, near-perfect, constant or random."""
    metric = get_metric(name)
    n = len(truth)
    if metric.needs == "value":
        return {
            "perfect": truth.copy(),
            "near": truth * (1 + 1e-3 * rng.standard_normal(n)),
            "constant": np.full(n, float(np.median(truth))),
            "random": rng.uniform(0.5, 10, n),
        }[style]
    labels = {
        "perfect": truth.copy(),
        "near": np.where(rng.random(n) < 0.97, truth, (truth + 1) % k),
        "constant": np.zeros(n, dtype=np.int64),
        "random": rng.integers(0, k, n),
    }[style]
    if metric.needs == "label":
        return labels
    if style == "constant":
        return np.full((n, k), 1 / k)
    sharp = {"perfect": 1.0, "near": 0.98, "random": 1 / k}[style]
    proba = np.where(np.eye(k, dtype=bool)[labels], sharp, (1 - sharp) / (k - 1))
    return proba if style != "random" else rng.dirichlet(np.ones(k), n)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SINGLE_LABEL),
    n=st.integers(1, 80),
    k=st.sampled_from([2, 3]),
    style=st.sampled_from(["perfect", "near", "constant", "random"]),
    weighted_rows=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_interval_holds_its_own_score(name, n, k, style, weighted_rows, seed):
    metric = get_metric(name)
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0.5, 10, n) if metric.needs == "value" else rng.integers(0, k, n)
    pred = predictions(name, truth, k, style, rng)
    weight = rng.choice([0.5, 1.0, 3.0], n) if weighted_rows else None
    if metric.from_confusion is not None:
        score = float(metric.from_confusion(confusion_matrix(truth, pred, k, weight)))
        found = (
            weights.confusion_interval(metric, truth * k + pred, k, weight, resamples=200, seed=seed)
            if weighted_rows
            else metric_interval(metric, cm=confusion_matrix(truth, pred, k), resamples=200, seed=seed)
        )
    else:
        score = float(metric.from_rows(truth, pred, **({"weight": weight} if weighted_rows else {})))
        found = (
            weights.row_interval(metric, truth, pred, weight, resamples=200, seed=seed)
            if weighted_rows
            else metric_interval(metric, truth, pred, resamples=200, seed=seed)
        )
    if np.isfinite(score) and np.isfinite(found.low):
        assert found.low <= score <= found.high, (found, score)


CLASSIC = ["accuracy", "f1_macro", "f1_micro", "qwk", "log_loss", "roc_auc", "rmse", "mae", "r2"]


@pytest.mark.parametrize("weighted_rows", [False, True], ids=["plain", "weighted"])
@pytest.mark.parametrize("n", [1, 30, 500, 6000])
@pytest.mark.parametrize("name", CLASSIC)
def test_a_perfect_submission_gets_a_real_interval_that_holds_its_score(name, n, weighted_rows):
    metric = get_metric(name)
    rng = np.random.default_rng(n)
    k = 3
    truth = rng.normal(size=n) if metric.needs == "value" else np.arange(n) % k
    pred = truth.copy() if metric.needs != "probabilities" else np.eye(k)[truth]
    weight = rng.choice([1.0, 2.0, 5.0], n) if weighted_rows else None
    if metric.from_confusion is not None:
        score = float(metric.from_confusion(confusion_matrix(truth, pred, k, weight)))
        found = (
            weights.confusion_interval(metric, truth * k + pred, k, weight, seed=SEED)
            if weighted_rows
            else metric_interval(metric, cm=confusion_matrix(truth, pred, k), seed=SEED)
        )
    else:
        score = float(metric.from_rows(truth, pred, **({"weight": weight} if weighted_rows else {})))
        found = (
            weights.row_interval(metric, truth, pred, weight, seed=SEED)
            if weighted_rows
            else metric_interval(metric, truth, pred, seed=SEED)
        )
    if n == 1 and name in ("roc_auc", "r2", "qwk"):  # undefined on one row (R² scores a constant truth by its rule)
        return
    assert found.low <= score <= found.high
    assert found.high - found.low > 1e-6, found  # never [x, x]
    best, worst_end = (found.high, found.low) if metric.higher_is_better else (found.low, found.high)
    assert best == pytest.approx(score, rel=1e-9, abs=1e-12)  # the interval reaches the perfect score itself


@pytest.mark.parametrize("name", ["rmse", "mae"])
def test_a_loss_interval_scales_with_the_errors_not_the_truth(name):
    """The prior takes the rows' own range: the same errors give the same interval whatever the truth's spread,
    and errors ten times as large an interval ten times as wide."""
    rng = np.random.default_rng(9)
    metric = get_metric(name)
    errors = rng.normal(0, 1, 50)
    for spread in (0.1, 10):
        truth = rng.normal(0, spread, 50)
        base = metric_interval(metric, truth, truth + errors, seed=SEED)
        assert metric_interval(metric, 3 * truth, 3 * truth + errors, seed=SEED).as_tuple() == pytest.approx(
            base.as_tuple(), rel=1e-9
        )
        assert metric_interval(metric, truth, truth + 10 * errors, seed=SEED).as_tuple() == pytest.approx(
            (10 * base.low, 10 * base.high), rel=1e-9
        )
