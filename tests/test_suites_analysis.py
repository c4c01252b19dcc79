"""Comparing models over a suite: the paired comparison of two models, every pair's Wilcoxon test with Holm's
correction and the cliques, checked against scipy and a direct Holm; the performance profile; the sensitivity of
the order; and the same numbers through the API and the pages."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import test_suites_server
from conftest import auth
from helpers import wait_until_ranked
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from test_suites_exports import latex_problems, ranked_pair
from test_suites_server import BOTH, board_json, card, enter, good_files

from arena.cli import main
from arena.server import suite_analysis, suite_cache
from arena.server.suite_analysis import draws_path
from arena.server.suite_boards import board_inputs, board_key
from arena.server.suite_worker import refresh_suites
from arena.server.suites import get_suite
from arena.suites import analysis
from arena.suites.aggregate import normalise

pair = test_suites_server.pair  # the suite "pair" (digits and listops) hosted on the app's database


def direct_holm(p: list[float]) -> list[float]:
    """Holm (1979) as written: reject in ascending order while p_(i) <= alpha / (m - i); the adjusted p-value of
    the i-th smallest is the largest of (m - j) p_(j) for j <= i, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=0, max_size=30))
def test_holm_matches_a_direct_implementation(p):
    assert np.allclose(analysis.holm(np.array(p)), direct_holm(p))


def brute_cliques(ranks: np.ndarray, significant: np.ndarray) -> list[list[int]]:
    """Every run of models contiguous in mean-rank order with no significant pair inside, kept when no longer
    run holds it."""
    order = list(np.argsort(ranks, kind="stable"))
    runs = [
        order[i : j + 1]
        for i in range(len(order))
        for j in range(i + 1, len(order))
        if not any(significant[a, b] for a, b in itertools.combinations(order[i : j + 1], 2))
    ]
    return [
        [int(m) for m in run]
        for run in runs
        if not any(set(run) < set(other) for other in runs)  # maximal
    ]


@settings(max_examples=40, deadline=None)
@given(
    models=st.integers(2, 7),
    tasks=st.integers(3, 12),
    seed=st.integers(0, 10_000),
    spread=st.sampled_from([0.001, 0.05, 0.3]),
)
def test_every_pair_s_p_value_is_scipy_s_wilcoxon_and_the_cliques_follow_the_holm_corrected_tests(
    models, tasks, seed, spread
):
    rng = np.random.default_rng(seed)
    skill = np.linspace(0, spread * 4, models)
    normalised = rng.uniform(0.2, 0.8, tasks)[None, :] + skill[:, None] + rng.normal(0, spread, (models, tasks))
    normalised[1] = normalised[0] if seed % 3 == 0 else normalised[1]  # identical models now and then
    if seed % 5 == 0:  # tied differences, as accuracy tasks give, now and then
        normalised = np.round(normalised, 1)
    found = analysis.pairwise_tests(normalised)
    pairs = list(itertools.combinations(range(models), 2))
    raw = []
    for a, b in pairs:
        difference = normalised[a] - normalised[b]
        method = "exact" if len(set(np.abs(difference))) == tasks and np.all(difference != 0) else "approx"
        assert analysis.signed_rank_method(difference) == method  # never a permutation test: p never varies
        expected = 1.0 if np.all(difference == 0) else stats.wilcoxon(difference, method=method).pvalue
        assert found.p_values[a, b] == pytest.approx(expected, abs=1e-12) == found.p_values[b, a]
        raw.append(found.p_values[a, b])
    for (a, b), adjusted in zip(pairs, direct_holm(raw)):
        assert found.adjusted[a, b] == pytest.approx(adjusted, abs=1e-12) == found.adjusted[b, a]
    ranks = stats.rankdata(-normalised, axis=0).mean(axis=1)
    assert np.allclose(found.mean_ranks, ranks)
    significant = found.adjusted < found.alpha
    assert found.cliques == brute_cliques(ranks, significant)
    for clique in found.cliques:  # inside a bar, no corrected test tells two models apart
        assert not any(significant[a, b] for a, b in itertools.combinations(clique, 2))


def test_identical_predictions_differ_by_exactly_zero_with_an_interval_of_zero_and_p_one():
    rng = np.random.default_rng(3)
    scores = rng.uniform(0.5, 0.9, (3, 4))
    draws = scores[:, :, None] + rng.normal(0, 0.01, (3, 4, 500))
    scores[1], draws[1] = scores[0], draws[0]
    aggregates = scores.mean(axis=1)
    found = analysis.compare_pair(0, 1, scores, draws, np.zeros(4), np.ones(4), aggregates, draws.mean(axis=1))
    assert all(t.difference == 0 and t.ci == (0, 0) and t.outcome == "tie" and t.p_a_better == 0.5 for t in found.tasks)
    assert (found.wins, found.ties, found.losses) == (0, 4, 0)
    assert found.wilcoxon_p == 1 and found.aggregate_difference == 0 and found.aggregate_ci == (0, 0)


def test_a_paired_interval_is_narrower_than_the_separate_ones_and_a_loss_metric_reads_lower_as_better():
    rng = np.random.default_rng(5)
    shared = rng.normal(0, 0.05, 1000)  # both models err on the same rows
    draws = np.stack([[0.30 + shared], [0.32 + shared + rng.normal(0, 0.002, 1000)]])  # a loss: lower is better
    scores = np.array([[0.30], [0.32]])
    found = analysis.compare_pair(0, 1, scores, draws, np.array([1.0]), np.array([0.0]))
    task = found.tasks[0]
    assert task.outcome == "win" and task.p_a_better > 0.99  # A's loss is lower: A is better
    assert task.ci[1] < 0 and task.ci[1] - task.ci[0] < 0.02 < np.ptp(np.percentile(draws[0, 0], [2.5, 97.5]))
    swapped = analysis.compare_pair(1, 0, scores, draws, np.array([1.0]), np.array([0.0]))
    assert swapped.tasks[0].outcome == "loss" and swapped.losses == 1


def test_a_model_missing_a_task_is_compared_on_the_others():
    scores = np.array([[0.9, np.nan, 0.7], [0.8, 0.6, 0.5]])
    draws = np.repeat(scores[:, :, None], 10, axis=2)
    found = analysis.compare_pair(0, 1, scores, draws, np.zeros(3), np.ones(3))
    assert [t.outcome for t in found.tasks] == ["win", "missing", "win"] and found.wilcoxon_tasks == 2


def test_the_performance_profile_counts_the_tasks_within_a_factor_of_the_best():
    normalised = np.array([[1.0, 0.5, 0.9], [0.5, 0.5, 0.3], [0.25, -0.1, 0.9]])
    profile = analysis.performance_profile(normalised)
    at = lambda tau: [shares[profile.taus.index(tau)] for shares in profile.shares]
    assert at(1.0) == pytest.approx([1, 1 / 3, 1 / 3])  # wins (a tie for best counts for both)
    assert at(2.0) == pytest.approx([1, 2 / 3, 1 / 3])  # 0.5 is within 2 of 1.0; 0.3 is 3 times below 0.9
    assert at(4.0) == pytest.approx([1, 1, 2 / 3])  # below the floor is never within any factor
    for shares in profile.shares:
        assert all(a <= b for a, b in zip(shares, shares[1:]))


def test_the_sensitivity_panel_shows_a_winner_that_depends_on_the_method_and_on_one_task():
    # A is far ahead on one task and a little behind B on the two others: the mean favours A, ranks favour B
    scores = np.array([[1.0, 0.50, 0.50], [0.2, 0.55, 0.55], [0.1, 0.1, 0.1]])
    found = analysis.sensitivity(scores, np.zeros(3), np.ones(3), np.ones(3), "normalised_mean", ["x", "y", "z"])
    assert found.columns == [
        "normalised mean (the suite's)",
        "mean rank",
        "mean win rate",
        "without x",
        "without y",
        "without z",
    ]  # IQM from 8 tasks only
    assert [row[0] for row in found.ranks] == [1, 2, 3]
    assert [row[1] for row in found.ranks] == [2, 1, 3] and [row[3] for row in found.ranks] == [2, 1, 3]
    assert found.kendall_tau[0] == 1.0
    assert found.kendall_tau[1] == pytest.approx(stats.kendalltau([1, 2, 3], [2, 1, 3]).statistic)


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (4, 9), elements=st.floats(-1, 2)))
def test_the_suite_s_own_column_is_its_board_order_and_iqm_appears_from_eight_tasks(scores):
    found = analysis.sensitivity(scores, np.zeros(9), np.ones(9), np.ones(9), "normalised_mean", list("abcdefghi"))
    assert "IQM" in found.columns
    shown = np.round(normalise(scores, np.zeros(9), np.ones(9)).mean(axis=1), 4)
    assert [row[0] for row in found.ranks] == [int(1 + np.sum(shown > v)) for v in shown]


# --- through the server -------------------------------------------------------------------------------------------


def compare_json(client, a: str, b: str, status: int = 200) -> dict:
    response = client.get("/api/v1/suites/pair/compare", query_string={"a": a, "b": b})
    assert response.status_code == status, response.data
    return response.get_json()


@BOTH
def test_two_models_compared_through_the_api_and_the_page(app, client, people, pair):
    files = good_files(0.8, 0.6)
    enter(client, people.token("ada"), files, card("ada-model"))
    enter(client, people.token("bob"), files, card("bob-model"))
    entered = enter(client, people.token("cyd"), good_files(0.97, 0.9, seed=2), card("cyd-model"))
    assert entered.status_code == 202, entered.data
    assert compare_json(client, "ada-model", "bob-model")["pending"] is True
    people.drain()
    same = compare_json(client, "ada-model", "BOB-model")  # names are matched as a model's name is everywhere
    assert same["pending"] is False and same["b"] == "bob-model"
    assert all(t["difference"] == 0 and t["ci"] == [0, 0] and t["outcome"] == "tie" for t in same["tasks"])
    assert same["wilcoxon"]["p_value"] == 1 and same["aggregate"]["difference"] == 0
    assert same["aggregate"]["ci"] == [0, 0] and (same["wins"], same["ties"], same["losses"]) == (0, 2, 0)
    better = compare_json(client, "cyd-model", "ada-model")
    assert better["wins"] == 2 and all(t["ci"][0] > 0 and t["p_a_better"] > 0.99 for t in better["tasks"])
    assert better["aggregate"]["difference"] > 0 and better["wilcoxon"]["tasks"] == 2
    rows = {row["model"]: row for row in board_json(client)["rows"]}
    for task in better["tasks"]:
        assert task["a"] == rows["cyd-model"]["scores"][task["key"]]["score"]
    page = client.get("/s/pair/compare", query_string={"a": "cyd-model", "b": "ada-model"}).get_data(as_text=True)
    assert "better on <b>2</b>" in page and "too few tasks" in page  # two tasks: no p below 0.5
    assert client.get("/s/pair/compare").status_code == 200  # the form alone


@BOTH
def test_comparing_unknown_models_or_suites_is_a_clear_error(app, client, people, pair):
    enter(client, people.token("ada"), good_files(0.8, 0.6), card("ada-model"))
    people.drain()
    missing = compare_json(client, "ada-model", "nobody", status=404)
    assert "no model 'nobody'" in " ".join(missing["problems"])
    assert client.get("/api/v1/suites/pair/compare?a=ada-model").status_code == 400
    assert client.get("/api/v1/suites/none/compare?a=x&b=y").status_code == 404
    assert client.get("/s/pair/compare?a=ada-model&b=nobody").status_code == 404
    assert client.get("/s/none/pairs").status_code == 404


@BOTH
def test_every_pair_the_diagram_and_the_sensitivity_panel(app, client, people, pair):
    enter(client, people.token("ada"), good_files(0.8, 0.6), card("ada-model"))
    enter(client, people.token("bob"), good_files(0.8, 0.6, seed=1), card("bob-model"))
    enter(client, people.token("cyd"), good_files(0.97, 0.3, seed=2), card("cyd-model"))
    people.drain()
    pairs = client.get("/api/v1/suites/pair/pairs").get_json()
    assert set(pairs["models"]) == {"ada-model", "bob-model", "cyd-model"} and pairs["pending"] is False
    assert all(p >= 0.05 for row in pairs["adjusted"] for p in row)  # two tasks: no test can reject anything
    assert pairs["cliques"] == [pairs["models"]]
    page = client.get("/s/pair/pairs").get_data(as_text=True)
    assert page.count("<svg") == 2 and 'id="pairs-matrix"' in page
    svg = client.get("/s/pair/critical-difference.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"ada-model" in svg.data
    assert client.get("/s/pair/performance-profile.svg").mimetype == "image/svg+xml"
    board = board_json(client)
    sensitivity = board["sensitivity"]
    assert sensitivity["columns"][:3] == ["normalised mean (the suite's)", "mean rank", "mean win rate"]
    assert sensitivity["columns"][3:] == ["without digits", "without listops"]
    shown = {model: ranks for model, ranks in sensitivity["rows"]}
    assert shown["cyd-model"][3] == 3 and shown["cyd-model"][4] == 1  # last without digits, first without listops
    firsts = [{model for model, ranks in shown.items() if ranks[c] == 1} for c in range(5)]
    assert sensitivity["winner_changes"] == [not (first & firsts[0]) for first in firsts]
    assert any(sensitivity["winner_changes"])  # cyd wins without listops, and not with it
    suite_page = client.get("/s/pair").get_data(as_text=True)
    assert 'id="suite-sensitivity"' in suite_page and 'id="winner-changes"' in suite_page
    sentence = suite_page.split('id="winner-changes">')[1].split("</b>")[0]
    first = [model for model, ranks in shown.items() if ranks[0] == 1]
    assert sentence.startswith(f"{first[0]} is first") and "without listops (cyd-model)" in " ".join(sentence.split())


@BOTH
def test_a_flagged_model_leaves_the_ranks_with_its_reason_shown_and_the_tier_filter_keeps_the_vouched_for(
    app, client, people, pair
):
    enter(client, people.token("ada"), good_files(0.99, 0.95), card("ada-model"))
    enter(client, people.token("bob"), good_files(0.8, 0.6, seed=1), card("bob-model"))
    enter(client, people.token("cyd"), good_files(0.7, 0.5, seed=2), card("cyd-model"))
    people.drain()
    organiser = people.token("olga", organiser=True)
    assert [r["model"] for r in board_json(client)["rows"]][0] == "ada-model"
    flagged = client.post(
        "/api/v1/suites/pair/models/ada-model/flag",
        json={"reason": "trained on test inputs"},
        headers=auth(organiser),
    )
    assert flagged.status_code == 200, flagged.data
    assert (
        client.post(
            "/api/v1/suites/pair/models/bob-model/flag", json={"reason": "mine"}, headers=auth(people.token("eve"))
        ).status_code
        == 403
    )  # a participant cannot flag a rival
    people.drain()
    rows = {row["model"]: row for row in board_json(client)["rows"]}
    assert rows["ada-model"]["flag_reason"] == "trained on test inputs" and rows["ada-model"]["rank"] is None
    assert not rows["ada-model"]["ranked"] and (rows["bob-model"]["rank"], rows["cyd-model"]["rank"]) == (1, 2)
    page = client.get("/s/pair").get_data(as_text=True)
    assert "flagged: trained on test inputs" in page
    pairs = client.get("/api/v1/suites/pair/pairs").get_json()
    assert "ada-model" not in pairs["models"]  # nor in the analysis
    reproduced = client.post(
        "/api/v1/suites/pair/models/cyd-model/tier",
        json={"tier": "reproduced", "note": "re-ran its code: every task within its interval"},
        headers=auth(organiser),
    )
    assert reproduced.status_code == 200, reproduced.data
    people.drain()
    shown = board_json(client, tier="reproduced")
    assert [(r["model"], r["rank"], r["tier"]) for r in shown["rows"]] == [("cyd-model", 1, "reproduced")]
    assert board_json(client, tier="reference")["rows"] == []
    assert client.get("/api/v1/suites/pair/leaderboard?tier=gold").status_code == 400
    assert client.delete("/api/v1/suites/pair/models/ada-model/flag", headers=auth(organiser)).status_code == 200
    people.drain()
    assert [r["model"] for r in board_json(client)["rows"]][0] == "ada-model"  # back in the ranks


@pytest.mark.slow
def test_arena_suite_compare_prints_the_comparison_and_exports_it_for_a_paper(live_server, tmp_path, capsys):
    server = live_server()
    ranked_pair(server.app, server.client, server.people, tmp_path)
    wait_until_ranked(server.client, "pair")
    found = server.client.get("/api/v1/suites/pair/compare?a=middle&b=last").get_json()
    assert not found["pending"] and found["wilcoxon"]["tasks"] == 2
    assert main(["suite", "compare", "pair", "middle", "last", "--server", server.url]) == 0
    printed = capsys.readouterr().out
    assert "A better on 2, indistinguishable on 0, worse on 0 tasks" in printed
    assert f"p = {found['wilcoxon']['p_value']}" in printed and "digits" in printed
    assert main(["suite", "compare", "pair", "middle", "last", "--server", server.url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == found
    assert (
        main(["suite", "export", "pair", "--compare", "middle", "last", "--format", "latex", "--server", server.url])
        == 0
    )
    latex = capsys.readouterr().out
    assert r"\begin{tabular}" in latex and latex_problems(latex) == [] and "win" in latex
    assert main(["suite", "compare", "pair", "middle", "nobody", "--server", server.url]) == 1
    assert "no model 'nobody'" in capsys.readouterr().err


def test_a_lost_draws_file_is_computed_again_by_the_worker(app, client, people, pair):
    enter(client, people.token("ada"), good_files(0.8, 0.6), card("ada-model"))
    enter(client, people.token("bob"), good_files(0.7, 0.5, seed=1), card("bob-model"))
    people.drain()
    assert compare_json(client, "ada-model", "bob-model")["pending"] is False
    with app.extensions["arena_db"].read_session() as session, session.begin():
        key = board_key(board_inputs(session, get_suite(session, "pair")))
    draws_path(key).unlink()
    suite_analysis._draws.clear()  # as a process that has not read them yet
    suite_cache.forget()
    assert compare_json(client, "ada-model", "bob-model")["pending"] is True
    assert refresh_suites(app.extensions["arena_db"]) == 1
    assert draws_path(key).exists() and compare_json(client, "ada-model", "bob-model")["pending"] is False


def test_answers_to_a_visitor_s_choices_are_kept_apart_and_bounded(app, client, people, pair):
    enter(client, people.token("ada"), good_files(0.8, 0.6), card("ada-model"))
    enter(client, people.token("bob"), good_files(0.7, 0.5, seed=1), card("bob-model"))
    people.drain()
    assert client.get("/s/pair").status_code == 200  # the board's page, kept
    engine = app.extensions["arena_db"].engine
    kept = suite_cache._kept[engine]["pair"]
    values = dict(kept.values)
    for i in range(suite_cache.MAX_QUERIES + 40):
        assert client.get(f"/api/v1/suites/pair/utility?accuracy=1&parameters={i}").status_code == 200
    assert compare_json(client, "ada-model", "bob-model") == compare_json(client, "ada-model", "bob-model")
    kept = suite_cache._kept[engine]["pair"]
    assert len(kept.queries) <= suite_cache.MAX_QUERIES and kept.values.keys() >= values.keys()
    assert not [what for (_, what) in suite_cache._computing[engine] if what and what[0] == "compare"]
    assert not [what for (_, what) in suite_cache._computing[engine] if isinstance(what[0], tuple)]  # the weights'
