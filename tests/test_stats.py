"""Intervals that cover, stay honest at the edges, and match the plain row bootstrap while costing far less."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp, norm

from arena.intervals import bootstrap as intervals
from arena.intervals.confidence import metric_interval, plain_confusion_replicates, plain_row_replicates
from arena.metrics.registry import confusion_matrix, get_metric, roc_auc

DATASETS = {30: 1000, 100: 1000, 1000: 1000}  # rows -> simulated datasets (ROC AUC: 500 at 1000 rows, for time)
CLASS_SHARES = np.array([0.5, 0.3, 0.2])


def three_classes(n, rng):
    """Truth in three unequal classes; the prediction is right 80% of the time, else a random class."""
    truth = rng.choice(3, n, p=CLASS_SHARES)
    return truth, np.where(rng.random(n) < 0.8, truth, rng.integers(0, 3, n))


def calibrated_binary(n, rng):
    """Calibrated probabilities: the chance of the positive class is Beta(2, 2), the label drawn from it."""
    q = rng.beta(2, 2, n)
    return (rng.random(n) < q).astype(np.int64), np.stack([1 - q, q], axis=1)


def binormal(n, rng):
    """30% positives; scores N(1, 1) for positives, N(0, 1) for negatives: the AUC is Phi(1/sqrt 2)."""
    truth = (rng.random(n) < 0.3).astype(np.int64)
    score = 1 / (1 + np.exp(-rng.normal(truth * 1.0, 1)))
    return truth, np.stack([1 - score, score], axis=1)


def regression(n, rng):
    truth = rng.normal(0, 2, n)
    return truth, truth + rng.normal(0, 1, n)


def macro_f1_of_the_population():
    cells = CLASS_SHARES[:, None] * (0.2 / 3) + np.diag(CLASS_SHARES * 0.8)
    return float(get_metric("f1_macro").from_confusion(cells))


def log_loss_of_the_population():
    q = np.linspace(0, 1, 2_000_001)[1:-1]
    density = 6 * q * (1 - q)  # Beta(2, 2)
    expected = -(q * np.log(q) + (1 - q) * np.log(1 - q)) * density
    return float(np.trapezoid(expected, q))


CASES = {
    "accuracy": (three_classes, 0.8 + 0.2 / 3),
    "f1_macro": (three_classes, macro_f1_of_the_population()),
    "log_loss": (calibrated_binary, log_loss_of_the_population()),
    "roc_auc": (binormal, float(norm.cdf(1 / np.sqrt(2)))),
    "rmse": (regression, 1.0),
}


def interval_of(name, truth, pred):
    metric = get_metric(name)
    if metric.from_confusion is not None:
        return metric_interval(metric, cm=confusion_matrix(truth, pred, 3), seed=11)
    return metric_interval(metric, truth, pred, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CASES))
def test_95_percent_intervals_cover_the_true_value_95_percent_of_the_time(name):
    make, true_value = CASES[name]
    for n, datasets in DATASETS.items():
        datasets = 500 if (name, n) == ("roc_auc", 1000) else datasets
        rng = np.random.default_rng(n)
        hits = undefined = 0
        for _ in range(datasets):
            found = interval_of(name, *make(n, rng))
            hits += found.low <= true_value <= found.high
            undefined += found.undefined
        coverage = hits / datasets
        assert 0.93 <= coverage <= 0.97, f"{name} at n={n}: coverage {coverage:.3f}"
        assert undefined == 0


@pytest.mark.parametrize("name", ["accuracy", "f1_macro", "exact_match", "log_loss", "roc_auc", "mae", "rmse", "r2"])
def test_a_perfect_submission_gets_a_real_interval(name):
    metric = get_metric(name)
    truth = np.arange(500) % 2
    if metric.needs == "probabilities":
        pred = np.eye(2)[truth]
    elif metric.needs == "value":
        truth = np.random.default_rng(0).normal(size=500)
        pred = truth.copy()
    else:
        pred = truth.copy()
    found = metric_interval(metric, truth, pred, cm=confusion_matrix(truth, pred, 2) if metric.from_confusion else None)
    best, worst_end, best_end = (
        (1.0, found.low, found.high) if metric.higher_is_better else (0.0, found.high, found.low)
    )
    assert abs(best_end - best) < 0.002  # the interval reaches (about) the perfect score...
    assert abs(worst_end - best) > 1e-4  # ...and honestly allows a worse one


def test_a_perfect_accuracy_at_500_rows_is_the_jeffreys_interval():
    found = metric_interval(get_metric("accuracy"), cm=np.diag([250.0, 250.0]))
    assert 0.99 < found.low < 0.997 and found.high > 0.9999


def test_undefined_resamples_are_counted_and_reported():
    # The plain row bootstrap loses the only positive in most resamples; the Bayesian bootstrap never does.
    truth = np.array([1] + [0] * 9)
    proba = np.stack([1 - np.linspace(0, 1, 10), np.linspace(0, 1, 10)], axis=1)
    plain = plain_row_replicates(truth, proba, roc_auc, resamples=500, seed=1)
    assert 0.2 < np.mean(~np.isfinite(plain)) < 0.5
    assert metric_interval(get_metric("roc_auc"), truth, proba).undefined == 0
    one_class = metric_interval(get_metric("roc_auc"), np.zeros(10, dtype=np.int64), proba)
    assert np.isnan(one_class.low) and one_class.undefined == one_class.resamples


def test_an_interval_with_mostly_undefined_resamples_is_undefined():
    values = np.r_[np.full(600, np.nan), np.linspace(0, 1, 400)]
    found = intervals.percentile_interval(values)
    assert np.isnan(found.low) and found.undefined == 600


# --- the fast path against the plain row bootstrap ----------------------------------


def centred(values):
    return values - np.median(values)


def assert_same_distribution(fast, plain):
    """Same spread and shape: the replicates, centred, pass a two-sample KS test and agree in their tails."""
    fast, plain = centred(fast), centred(plain)
    assert ks_2samp(fast, plain).pvalue > 0.001
    for q in (2.5, 97.5):
        assert np.percentile(fast, q) == pytest.approx(np.percentile(plain, q), rel=0.2)


@pytest.mark.parametrize("name", ["log_loss", "mae", "rmse", "r2", "exact_match", "roc_auc", "roc_auc_3"])
def test_the_fast_path_matches_the_row_bootstrap_in_distribution(name):
    rng = np.random.default_rng(3)
    n = 6000  # above BLOCKS: rows are grouped into random blocks (or score bins, for AUC)
    metric = get_metric(name.removesuffix("_3"))
    if name == "roc_auc_3":
        truth = rng.integers(0, 3, n)
        logits = rng.normal(size=(n, 3)) + 1.5 * np.eye(3)[truth]
        pred = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    elif metric.needs == "probabilities":
        truth, pred = calibrated_binary(n, rng)
    elif name == "exact_match":
        truth, pred = three_classes(n, rng)
    else:
        truth = rng.gamma(2.0, 1.0, n)
        pred = truth + rng.standard_t(4, n)
    fast = intervals.replicates(metric.name, truth, pred, resamples=1000, seed=5, blocks=512)
    plain = plain_row_replicates(truth, pred, metric.from_rows, resamples=1000, seed=6)
    assert_same_distribution(fast, plain)


def test_the_confusion_matrix_path_matches_the_row_bootstrap_in_distribution():
    rng = np.random.default_rng(4)
    truth, pred = three_classes(3000, rng)
    cm = confusion_matrix(truth, pred, 3)
    f1 = get_metric("f1_macro")
    fast = intervals.confusion_replicates(cm, f1.from_confusion, seed=2)
    plain = plain_confusion_replicates(cm, f1.from_confusion, seed=3)
    assert_same_distribution(fast, plain)


def test_binned_auc_keeps_the_exact_point_value():
    rng = np.random.default_rng(5)
    truth, proba = binormal(20_000, rng)
    exact, _, _, binned = intervals.auc_counts(truth == 1, proba[:, 1], bins=256)
    assert exact == pytest.approx(roc_auc(truth, proba), abs=1e-12)
    assert abs(exact - binned) < 0.01
    found = metric_interval(get_metric("roc_auc"), truth, proba)
    assert found.low < exact < found.high


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    levels=st.integers(1, 6000),
    bins=st.sampled_from([4, 64, 1024]),
    empty_share=st.floats(0, 0.95),
)
def test_score_levels_without_rows_change_no_bin(seed, levels, bins, empty_share):
    """Counts on a whole grid (most points empty) bin like the occupied levels alone, as integers or floats."""
    rng = np.random.default_rng(seed)
    pos = rng.poisson(2, levels) * (rng.random(levels) > empty_share)
    neg = rng.poisson(2, levels) * (rng.random(levels) > empty_share)
    occupied = (pos + neg) > 0
    if not occupied.any():
        return
    packed = intervals.binned_counts(pos[occupied].astype(np.float64), neg[occupied].astype(np.float64), bins=bins)
    for whole in (
        intervals.binned_counts(pos, neg, bins=bins),
        intervals.binned_counts(pos.astype(np.float64), neg.astype(np.float64), bins=bins),
    ):
        assert np.array_equal(whole[1], packed[1]) and np.array_equal(whole[2], packed[2])
        assert whole[0] == pytest.approx(packed[0], abs=1e-12, nan_ok=True)
        assert whole[3] == pytest.approx(packed[3], abs=1e-12, nan_ok=True)
    if np.isfinite(packed[0]):
        assert packed[0] == pytest.approx(
            roc_auc(
                np.repeat([1, 0], [pos.sum(), neg.sum()]),
                np.column_stack(
                    [
                        np.zeros(pos.sum() + neg.sum()),
                        np.concatenate([np.repeat(np.arange(levels), pos), np.repeat(np.arange(levels), neg)]),
                    ]
                ),
            ),
            abs=1e-12,
        )
    assert len(packed[1]) == min(bins, occupied.sum()) if occupied.sum() > bins else len(packed[1]) == occupied.sum()


def test_blocks_hold_every_row_once():
    values = np.random.default_rng(6).normal(size=(10_000, 2))
    sums, counts = intervals.block_sums(values, blocks=64)
    assert counts.sum() == 10_000 and np.allclose(sums.sum(axis=0), values.sum(axis=0))
    small, ones = intervals.block_sums(values[:50], blocks=64)
    assert np.array_equal(small, values[:50]) and np.all(ones == 1)


# --- honest ranks -------------------------------------------------------------------


def test_equal_shown_scores_share_a_rank():
    from arena.server.ranks import shared_ranks

    assert shared_ranks([0.8, 0.8, 0.79, None, None]) == [1, 1, 3, 4, 5]


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_board_gives_rank_intervals_and_marks_neighbours_it_cannot_tell_apart(client, people):
    from conftest import upload
    from helpers import predictions_csv

    same = predictions_csv("mnist1d", 0.8, 1)
    for name in ("ada", "bob"):
        upload(client, people.token(name), "mnist1d", same)
    upload(client, people.token("cyd"), "mnist1d", predictions_csv("mnist1d", 0.3, 2))
    people.drain()
    rows = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]
    assert [row["rank"] for row in rows] == [1, 1, 3]
    assert rows[0]["indistinguishable_from_next"] and not rows[1]["indistinguishable_from_next"]
    assert rows[0]["rank_interval"] == rows[1]["rank_interval"] == [1, 1]  # identical rows tie in every resample
    assert rows[2]["rank_interval"] == [3, 3]
    page = client.get("/c/mnist1d").data.decode()
    assert page.count("≈ next") == 1


def test_rank_intervals_are_computed_by_the_worker_never_by_a_board_request(client, people, monkeypatch):
    from conftest import upload
    from helpers import predictions_csv

    from arena.server import jobs, ranks
    from arena.server.rank_worker import refresh_ranks

    db = people.app.extensions["arena_db"]
    for name, accuracy in (("ada", 0.9), ("bob", 0.5)):
        upload(client, people.token(name), "mnist1d", predictions_csv("mnist1d", accuracy, 4))
    for submission_id in jobs.pending(db):
        jobs.score_one(db, submission_id)  # scored, but no rank round yet

    def refuse(*args, **kwargs):
        raise AssertionError("a board request computed rank statistics")

    real_compute = ranks.compute
    monkeypatch.setattr(ranks, "compute", refuse)
    rows = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]
    assert [row["rank_interval"] for row in rows] == [None, None]
    assert all(row["rank_interval_pending"] for row in rows)
    monkeypatch.setattr(ranks, "compute", real_compute)
    assert refresh_ranks(db) == 1  # the public board; the private one waits for the reveal
    monkeypatch.setattr(ranks, "compute", refuse)
    rows = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]  # the very next request
    assert [row["rank_interval"] for row in rows] == [[1, 1], [2, 2]]
    assert not any(row["rank_interval_pending"] for row in rows)
    assert refresh_ranks(db) == 0  # nothing changed: nothing computed again


def _scored_without_ranks(client, people):
    """Two teams scored by the worker's scoring step alone: their board waits for its rank statistics."""
    from conftest import upload
    from helpers import predictions_csv

    from arena.server import jobs

    db = people.app.extensions["arena_db"]
    for name, accuracy in (("ada", 0.9), ("bob", 0.5)):
        upload(client, people.token(name), "mnist1d", predictions_csv("mnist1d", accuracy, 4))
    for submission_id in jobs.pending(db):
        jobs.score_one(db, submission_id)
    return db


def _ranks_shown(client) -> list:
    return [row["rank_interval"] for row in client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]]


def test_a_board_another_worker_was_computing_is_taken_up_again_when_its_claim_goes(client, people, monkeypatch):
    from sqlalchemy import select

    from arena.db.models import Competition
    from arena.server import claims, rank_worker, ranks
    from arena.server.standings import board_order

    db = _scored_without_ranks(client, people)
    with db.read_session() as session, session.begin():
        competition = session.scalar(select(Competition).where(Competition.slug == "mnist1d"))
        chosen, _ = board_order(session, competition, private=False)
        key = ranks.board_key(competition, [submission for submission, _ in chosen], private=False)
    with db.session() as session, session.begin():
        assert claims.claim_board(session, key, "another worker")
    monkeypatch.setattr(rank_worker, "RETRY_SECONDS", 0.0)
    assert rank_worker.refresh_ranks(db) == 0 and _ranks_shown(client) == [None, None]
    with db.session() as session, session.begin():
        claims.release_board(session, key, "another worker")  # that worker gave up (or its claim went stale)
    assert rank_worker.refresh_ranks(db) == 1
    assert _ranks_shown(client) == [[1, 1], [2, 2]]


def test_a_stale_rank_claim_is_taken_over_and_only_its_holder_releases_it(client, people):
    from datetime import timedelta

    from arena.db.models import utcnow
    from arena.server import claims, rank_worker

    db = people.app.extensions["arena_db"]
    key = "ab" * 32
    first = rank_worker._claim(db, key)
    assert first is not None and rank_worker._claim(db, key) is None  # held, and fresh
    later = utcnow() + claims.STALE_CLAIM + timedelta(seconds=1)  # its holder died long ago
    with db.session() as session, session.begin():
        assert claims.claim_board(session, key, "second", now=later)
    rank_worker._release(db, key, first)  # the dead holder's release must not free the new holder's claim
    with db.session() as session, session.begin():
        assert not claims.claim_board(session, key, "third", now=later)
    rank_worker._release(db, key, "second")
    assert rank_worker._claim(db, key) is not None


def test_a_failed_rank_computation_is_tried_again(client, people, monkeypatch):
    from arena.server import rank_worker, ranks

    db = _scored_without_ranks(client, people)
    real, calls = ranks.compute, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("the file store was away for a moment")
        return real(*args, **kwargs)

    monkeypatch.setattr(ranks, "compute", flaky)
    monkeypatch.setattr(rank_worker, "RETRY_SECONDS", 0.0)
    assert rank_worker.refresh_ranks(db) == 0
    assert rank_worker.refresh_ranks(db) == 1 and _ranks_shown(client) == [[1, 1], [2, 2]]


def test_a_competition_no_change_has_touched_since_an_upgrade_still_gets_its_ranks(client, people):
    from sqlalchemy import delete

    from arena.db.models import BoardGeneration
    from arena.server import rank_worker

    db = _scored_without_ranks(client, people)
    with db.session() as session, session.begin():
        session.execute(delete(BoardGeneration))  # as after the upgrade that added board generations
    rank_worker._seen.clear()  # a fresh worker process
    assert rank_worker.refresh_ranks(db) == 1


def test_a_new_entrant_costs_one_evaluation_not_the_whole_board(client, people, monkeypatch):
    from conftest import upload
    from helpers import predictions_csv

    from arena.intervals import row_results as rowresults
    from arena.server import ranks

    calls = []
    real = rowresults.weighted_values
    monkeypatch.setattr(rowresults, "weighted_values", lambda *args: calls.append(1) or real(*args))
    for name, accuracy in (("ada", 0.9), ("bob", 0.7)):
        upload(client, people.token(name), "mnist1d", predictions_csv("mnist1d", accuracy, 5))
    people.drain()
    first = len(calls)
    upload(client, people.token("cyd"), "mnist1d", predictions_csv("mnist1d", 0.8, 6))
    people.drain()
    assert len(calls) - first == 1  # ada's and bob's resampled values were kept
    rows = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]
    assert [row["team"] for row in rows] == ["ada", "cyd", "bob"] and all(row["rank_interval"] for row in rows)
    assert ranks.KEPT_VALUES >= 3


# --- the shake-up at the reveal ------------------------------------------------------


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_the_shakeup_is_published_at_the_reveal_with_ranks_rho_and_moves_beyond_noise(client, people):
    from conftest import auth, upload
    from helpers import predictions_csv

    organiser = people.token("org", organiser=True)
    for name, accuracy in (("ada", 0.9), ("bob", 0.6), ("cyd", 0.3)):
        upload(client, people.token(name), "mnist1d", predictions_csv("mnist1d", accuracy, 7))
    people.drain()
    early = client.get("/api/v1/competitions/mnist1d/shakeup")
    assert early.status_code == 400 and "published at the reveal" in early.get_json()["problems"][0]
    assert (
        client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(organiser)).status_code
        == 200
    )
    report = client.get("/api/v1/competitions/mnist1d/shakeup").get_json()
    assert report["rank_intervals_pending"] and report["rows"][0]["private_rank_interval"] is None
    people.drain()  # the worker computes the private board's rank intervals
    report = client.get("/api/v1/competitions/mnist1d/shakeup").get_json()
    assert not report["rank_intervals_pending"]
    assert [(r["team"], r["public_rank"], r["private_rank"], r["change"]) for r in report["rows"]] == [
        ("ada", 1, 1, 0),
        ("bob", 2, 2, 0),
        ("cyd", 3, 3, 0),
    ]
    assert report["mean_abs_rank_change_per_team"] == 0 and report["spearman_rho"] == 1.0
    assert report["top10_beyond_noise"] == [] and report["rows"][0]["private_rank_interval"] == [1, 1]
    page = client.get("/c/mnist1d/shakeup")
    assert page.status_code == 200 and b"Spearman" in page.data and b"cyd" in page.data


def test_a_move_outside_the_rank_interval_is_beyond_noise(monkeypatch):
    from types import SimpleNamespace

    from arena.server import shakeup as module

    private = [
        SimpleNamespace(team="a", rank=1, rank_interval=(1, 1), rank_interval_pending=False),
        SimpleNamespace(team="b", rank=2, rank_interval=(2, 3), rank_interval_pending=False),
        SimpleNamespace(team="c", rank=3, rank_interval=(2, 3), rank_interval_pending=False),
    ]
    public = [SimpleNamespace(team="c", rank=1), SimpleNamespace(team="a", rank=2), SimpleNamespace(team="b", rank=3)]
    monkeypatch.setattr(
        module, "board_for", lambda session, competition, show_private: private if show_private else public
    )
    report = module.shakeup(None, SimpleNamespace(revealed=True))
    assert report["top10_beyond_noise"] == ["a", "c"]
    assert report["mean_abs_rank_change_per_team"] == round((1 + 1 + 2) / 3 / 3, 4)
    assert report["spearman_rho"] == -0.5


@pytest.mark.parametrize("name", ["accuracy", "f1_macro", "log_loss", "roc_auc", "rmse", "mae", "r2", "exact_match"])
def test_per_row_results_give_back_the_metric(name):
    from arena.intervals import row_results as rowresults

    metric = get_metric(name)
    rng = np.random.default_rng(8)
    if metric.needs == "value":
        truth, pred = regression(300, rng)
    elif metric.needs == "probabilities":
        truth, pred = binormal(300, rng)
    else:
        truth, pred = three_classes(300, rng)
    rows = rowresults.row_results(metric, truth, pred)
    assert rows.ndim == 1 or rows.shape[1] <= 2  # compact: one value per row (two probabilities for AUC)
    expected = (
        float(metric.from_confusion(confusion_matrix(truth, pred, 3)))
        if metric.from_confusion
        else metric.from_rows(truth, pred)
    )
    assert rowresults.value(metric, truth, rows) == pytest.approx(expected, rel=1e-5)
    again = rowresults.from_bytes(rowresults.to_bytes(rows))
    assert np.array_equal(again, rows)


@pytest.mark.parametrize("rows", [50, 20_000])
@pytest.mark.parametrize("name", ["log_loss", "mae", "rmse", "r2"])
def test_one_pass_over_both_parts_matches_scoring_each_part_apart(name, rows):
    """The blocked path (one pass, both parts) gives each part the value and interval of the per-part path."""
    from arena.scoring import one_pass

    rng = np.random.default_rng(rows)
    public = rng.random(rows) < 0.3
    ignored = rng.random(rows) < 0.05
    public &= ~ignored
    private = ~public & ~ignored
    if name == "log_loss":
        truth = rng.integers(0, 3, rows)
        pred = rng.dirichlet(np.ones(3), rows)
    else:
        truth = rng.normal(size=rows)
        pred = truth + rng.normal(size=rows)
    found = one_pass.blocked_score(name, truth, pred, {"public": public, "private": private}, ("test", rows), seed=7)
    metric = get_metric(name)
    for part, mask in (("public", public), ("private", private)):
        assert found.values[part] == pytest.approx(metric.from_rows(truth[mask], pred[mask]), rel=1e-12, abs=1e-12)
        plain = metric_interval(metric, truth[mask], pred[mask], seed=7)
        assert found.intervals[part].as_tuple() == pytest.approx(plain.as_tuple(), rel=1e-12, abs=1e-12)


def _assert_each_part_scored_apart_alike(found: dict, again: dict, truth, proba, parts: dict) -> None:
    """One-pass ROC AUC results equal scoring each part apart (value and interval), and a second upload to the same
    split (its kept offsets) gives the same."""
    metric = get_metric("roc_auc")
    for part, mask in parts.items():
        value, interval = found[part]
        assert again[part] == found[part]
        assert value == pytest.approx(roc_auc(truth[mask], proba[mask]), abs=1e-12)
        assert interval.as_tuple() == pytest.approx(
            metric_interval(metric, truth[mask], proba[mask], seed=7).as_tuple(), abs=1e-12
        )


@pytest.mark.parametrize("decimals", [None, 6], ids=["sorted", "six-decimal grid"])
def test_binary_auc_from_one_count_per_part_matches_scoring_each_part_apart(decimals):
    from arena.metrics.registry import GRID_MIN_ROWS
    from arena.scoring import one_pass

    rng = np.random.default_rng(11)
    rows = GRID_MIN_ROWS + 20_000
    usage = rng.random(rows)
    public, private = usage < 0.3, usage > 0.4  # the rest are ignored rows: in neither part
    truth = rng.integers(0, 2, rows)
    p1 = np.clip(0.3 * truth + 0.7 * rng.random(rows), 0, 1)
    if decimals is not None:
        p1 = np.round(p1, decimals)
    proba = np.column_stack([1 - p1, p1])
    parts = {"public": public, "private": private}
    found = one_pass.binary_auc_score(truth, proba, parts, ("auc", decimals), seed=7)
    again = one_pass.binary_auc_score(truth, proba, parts, ("auc", decimals), seed=7)  # the kept offsets serve again
    _assert_each_part_scored_apart_alike(found, again, truth, proba, parts)
    kept = {key[0] for key in one_pass._kept_offsets}
    assert (("auc", decimals) in kept) == (decimals is not None)  # scores off the grid keep no offsets
    small = {name: mask[:5000] for name, mask in parts.items()}
    assert (
        one_pass.binary_auc_score(truth[:5000], proba[:5000], small, ("auc", "small"), seed=7) is None
    )  # small parts weight their rows one by one instead


def test_without_numba_roc_auc_takes_the_numpy_path_with_the_same_results(monkeypatch):
    """numba is optional (the ``fast`` extra): where it cannot be imported, the one pass counts a binary ROC AUC's
    classes by sorting instead of on the compiled grid, with the same values and intervals, and multi-class ROC AUC
    leaves the one pass to the per-part path."""
    import sys

    from arena import _fast
    from arena.metrics.registry import GRID_MIN_ROWS
    from arena.scoring import one_pass

    rng = np.random.default_rng(15)
    rows = GRID_MIN_ROWS + 20_000
    usage = rng.random(rows)
    parts = {"public": usage < 0.3, "private": usage > 0.4}
    truth = rng.integers(0, 2, rows)
    p1 = np.round(np.clip(0.3 * truth + 0.7 * rng.random(rows), 0, 1), 6)
    proba = np.column_stack([1 - p1, p1])
    compiled = one_pass.binary_auc_score(truth, proba, parts, ("no numba", "compiled"), seed=7)
    assert _fast.has_compiled()
    monkeypatch.setitem(sys.modules, "numba", None)  # importing numba now fails, as where it is not installed
    monkeypatch.delitem(sys.modules, "arena._fast.gridcount")
    assert not _fast.has_compiled()
    plain = one_pass.binary_auc_score(truth, proba, parts, ("no numba", "numpy"), seed=7)
    for part in parts:
        assert plain[part][0] == pytest.approx(compiled[part][0], abs=1e-12)
        assert plain[part][1].as_tuple() == pytest.approx(compiled[part][1].as_tuple(), abs=1e-12)
    assert ("no numba", "numpy") not in {key[0] for key in one_pass._kept_offsets}  # no grid offsets were made
    k = 3
    labels = rng.integers(0, k, rows)
    three = np.round(rng.dirichlet(np.ones(k), rows), 6)
    assert one_pass.multiclass_auc_score(labels, three, parts, ("no numba", "multiclass"), seed=7) is None


def test_multiclass_auc_from_one_pass_per_class_matches_scoring_each_part_apart():
    from arena.metrics.registry import GRID_MIN_ROWS
    from arena.scoring import one_pass

    rng = np.random.default_rng(12)
    rows, k = GRID_MIN_ROWS + 20_000, 4
    usage = rng.random(rows)
    public, private = usage < 0.3, usage > 0.4  # the rest are ignored rows: in neither part
    truth = rng.integers(0, k, rows)
    logits = rng.normal(size=(rows, k)) + np.eye(k)[truth]
    proba = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 6)  # as a CSV writes them
    parts = {"public": public, "private": private}
    found = one_pass.multiclass_auc_score(truth, proba, parts, ("multiclass auc",), seed=7)
    again = one_pass.multiclass_auc_score(truth, proba, parts, ("multiclass auc",), seed=7)  # kept offsets serve again
    _assert_each_part_scored_apart_alike(found, again, truth, proba, parts)
    one_class_short = truth.copy()
    one_class_short[public & (truth == 3)] = 2  # class 3 has no positive public row: the public AUC is undefined
    found = one_pass.multiclass_auc_score(one_class_short, proba, parts, ("multiclass auc", "short"), seed=7)
    assert np.isnan(found["public"][0]) and found["public"][1].undefined == 1000
    assert found["private"][0] == pytest.approx(roc_auc(one_class_short[private], proba[private]), abs=1e-12)
    off_grid = proba + rng.random(proba.shape) * 1e-9
    assert one_pass.multiclass_auc_score(truth, off_grid, parts, ("multiclass auc", "off"), seed=7) is None


@pytest.mark.slow
@pytest.mark.parametrize("rare", [False, True], ids=["balanced", "one class rare"])
def test_multiclass_auc_interval_from_a_sample_of_large_parts_matches_all_rows(monkeypatch, rare):
    """Above INFLUENCE_ROWS rows a part's interval reads the influence of a sample drawn within each class, each row
    weighed for those not drawn: the same AUC (every row is counted) and an interval of the same width about it,
    over several bootstraps, with a class so rare that a plain sample would hold a handful of its rows."""
    from arena.metrics.registry import GRID_MIN_ROWS
    from arena.scoring import one_pass

    rng = np.random.default_rng(13)
    rows, k = GRID_MIN_ROWS + 40_000, 4
    usage = rng.random(rows)
    public, private = usage < 0.3, usage > 0.35  # parts of different sizes, and rows in neither
    truth = rng.integers(0, k, rows)
    if rare:
        truth[(truth == 3) & (rng.random(rows) < 0.995)] = 0  # about 70 rows of class 3 in all
    logits = rng.normal(size=(rows, k)) + np.eye(k)[truth]
    proba = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 6)
    parts = {"public": public, "private": private}
    ratios = []
    for seed in range(5):
        monkeypatch.setattr(one_pass, "INFLUENCE_ROWS", 10**9)
        every_row = one_pass.multiclass_auc_score(truth, proba, parts, ("sampled auc", rare, "all"), seed=seed)
        monkeypatch.setattr(one_pass, "INFLUENCE_ROWS", 8000)
        sampled = one_pass.multiclass_auc_score(truth, proba, parts, ("sampled auc", rare), seed=seed)
        sample = one_pass._kept_samples[(("sampled auc", rare), seed, k)]
        for j, (part, mask) in enumerate(parts.items()):
            chosen = sample.rows[sample.part == j]
            assert len(chosen) < 1.1 * 8000 and mask[chosen].all()  # its own rows, no more than asked
            if rare:
                assert set(np.flatnonzero(mask & (truth == 3))) <= set(chosen)  # the rare class keeps every row
            (value, interval), (exact, reference) = sampled[part], every_row[part]
            assert value == exact
            ratios.append((interval.high - interval.low) / (reference.high - reference.low))
            assert (interval.low + interval.high) / 2 == pytest.approx(value, abs=0.1 * (interval.high - interval.low))
    assert np.mean(ratios) == pytest.approx(1, abs=0.05) and min(ratios) > 0.85 and max(ratios) < 1.15


def test_multiclass_auc_reads_every_row_where_a_few_rows_carry_the_spread(monkeypatch):
    """A nearly perfect submission: its interval's spread sits in its few misranked rows, which a sample would hold
    or miss by chance. The sample notices and every row is read: the interval is exactly the all-rows one, where
    an ordinary submission keeps its sample's (close, not equal)."""
    from arena.metrics.registry import GRID_MIN_ROWS
    from arena.scoring import one_pass

    rng = np.random.default_rng(14)
    rows, k = GRID_MIN_ROWS + 40_000, 4
    usage = rng.random(rows)
    parts = {"public": usage < 0.3, "private": usage >= 0.3}
    truth = rng.integers(0, k, rows)
    near_perfect = np.full((rows, k), 0.01)
    near_perfect[np.arange(rows), truth] = 0.97
    wrong = rng.choice(rows, 12, replace=False)  # a dozen rows put their weight on the wrong class
    near_perfect[wrong] = np.roll(near_perfect[wrong], 1, axis=1)
    logits = rng.normal(size=(rows, k)) + np.eye(k)[truth]
    ordinary = np.round(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), 6)
    for proba, spread_in_few_rows in ((near_perfect, True), (ordinary, False)):
        monkeypatch.setattr(one_pass, "INFLUENCE_ROWS", 10**9)
        every_row = one_pass.multiclass_auc_score(truth, proba, parts, ("few rows", spread_in_few_rows, "all"), seed=3)
        monkeypatch.setattr(one_pass, "INFLUENCE_ROWS", 8000)
        found = one_pass.multiclass_auc_score(truth, proba, parts, ("few rows", spread_in_few_rows), seed=3)
        for part in parts:
            assert found[part][0] == every_row[part][0]
            assert (found[part][1] == every_row[part][1]) == spread_in_few_rows


def test_r2_on_a_part_whose_truth_is_constant_follows_r2s_own_rule():
    from arena.scoring import one_pass

    truth = np.r_[np.full(5, 2.0), np.arange(20.0)]
    public = np.r_[np.ones(5, bool), np.zeros(20, bool)]
    exact = one_pass.blocked_score("r2", truth, truth.copy(), {"public": public, "private": ~public}, ("r2", 1), seed=3)
    off = one_pass.blocked_score("r2", truth, truth + 1, {"public": public, "private": ~public}, ("r2", 2), seed=3)
    assert exact.values["public"] == 1.0 and off.values["public"] == 0.0  # as metrics.r2 says, not NaN
    assert exact.values["private"] == 1.0


def test_row_weights_for_many_rows_come_in_bounded_chunks_and_are_the_same_every_time(monkeypatch):
    monkeypatch.setattr(intervals, "MAX_WEIGHT_CELLS", 1000)
    chunks = list(intervals.weight_chunks(50, 300, seed=4))
    assert all(chunk.size <= 1000 for chunk in chunks) and sum(len(chunk) for chunk in chunks) == 50
    again = np.concatenate(list(intervals.weight_chunks(50, 300, seed=4)))
    assert np.array_equal(np.concatenate(chunks), again) and np.all(again > 0)
    assert np.array_equal(
        np.concatenate(list(intervals.weight_chunks(3, 300, seed=4))), intervals.row_weights(3, 300, 4)
    )


def test_joint_ranks_hold_when_the_weights_come_in_chunks(monkeypatch):
    from arena.intervals import ranks as rankstats

    monkeypatch.setattr(intervals, "MAX_WEIGHT_CELLS", 5000)  # 5 resamples at a time over 1,000 rows
    rng = np.random.default_rng(9)
    truth = rng.integers(0, 2, 1000)
    teams = [np.where(rng.random(1000) < skill, truth, 1 - truth) for skill in (0.95, 0.7, 0.7, 0.5)]
    values = rankstats.joint_values(get_metric("accuracy"), truth, teams, resamples=200, seed=1)
    spans, close = rankstats.joint_ranks(values, higher_is_better=True)
    assert spans[0] == (1, 1) and spans[3] == (4, 4) and spans[1][0] >= 2 and spans[2][1] <= 3
    assert close[1] and not close[0] and not close[2]
