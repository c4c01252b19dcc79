"""The Ladder: scores move only on real improvements, so adaptive attacks on the public rows learn nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from arena.intervals.ladder import Ladder, beats, on_grid, paired_noise, step

spec = importlib.util.spec_from_file_location(
    "ladder_attack", Path(__file__).parent.parent / "bench" / "ladder_attack.py"
)
attack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(attack)


def test_the_first_submission_sets_the_score_and_small_gains_are_not_shown():
    ladder = Ladder()
    rng = np.random.default_rng(0)
    first = (rng.random(1000) < 0.3).astype(float)
    assert ladder.submit(first) == pytest.approx(first.mean())
    slightly_better = first.copy()
    slightly_better[np.flatnonzero(first)[:20]] = 0  # 20 rows better, 15 worse: a net gain within noise
    slightly_better[np.flatnonzero(first == 0)[:15]] = 1
    assert slightly_better.mean() < first.mean()
    assert ladder.submit(slightly_better) == pytest.approx(first.mean())
    much_better = first.copy()
    much_better[np.flatnonzero(first)[:100]] = 0
    assert ladder.submit(much_better) == pytest.approx(much_better.mean())


def test_a_worse_submission_shows_the_previous_best():
    assert not beats(0.30 - 0.35, 0.01)
    result = step(0.30, 0.35, False, 1000)
    assert result.released == 0.30 and not result.improved
    with pytest.raises(TypeError):
        step(0.30, 0.35, 0.01, 1000)  # the decision, not a noise: a number here would always count as improved


@pytest.mark.parametrize("n", [7, 100, 500, 1000, 4000])
def test_the_textbook_ladder_never_releases_a_one_row_change(n):
    """A flip moves the mean 0-1 loss by exactly 1/n, and the exact noise of that paired difference is 1/n too:
    a tie, which floating-point rounding must never turn into a release, at any n and any row."""
    rng = np.random.default_rng(n)
    base = (rng.random(n) < 0.5).astype(float)
    ladder = Ladder()
    shown = ladder.submit(base)
    for i in range(n):
        probe = base.copy()
        probe[i] = 1 - probe[i]
        assert ladder.submit(probe) == shown


def test_the_noise_is_one_standard_error_of_the_paired_difference():
    a = np.array([1.0, 0, 1, 0])
    b = np.array([0.0, 0, 1, 1])
    assert paired_noise(a, b) == pytest.approx(np.std(a - b, ddof=1) / 2)
    assert paired_noise(np.r_[5.0, np.zeros(9)], np.zeros(10)) == pytest.approx(0.5)  # one row: |d| / n exactly
    assert on_grid(0.12345, 1000) == 0.123


def test_the_boosting_attack_overfits_rounded_scores_but_not_the_ladder():
    rows, submissions = 1000, 200
    public, private = attack.boosting_attack(attack.rounded_feedback(), rows=rows, submissions=submissions, seed=1)
    assert public < 0.45 and private > 0.45
    public, _ = attack.boosting_attack(attack.ladder_feedback(), rows=rows, submissions=submissions, seed=1)
    assert public > 0.5 - 2 * 0.5 / np.sqrt(rows)


def test_a_one_row_probe_learns_every_label_from_rounded_scores_and_none_from_the_ladder():
    assert attack.one_row_probe(attack.rounded_feedback(), rows=300, seed=2) == 1.0
    assert attack.one_row_probe(attack.ladder_feedback(), rows=300, seed=2) == 0.0


# --- the Ladder as a competition's feedback mode, through the API -----------------------

from conftest import auth, upload  # noqa: E402
from helpers import predictions_csv  # noqa: E402

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


def host_ladder(client, people) -> str:
    organiser = people.token("org", organiser=True)
    response = client.post(
        "/api/v1/competitions",
        json={"task": "mnist1d", "slug": "ladder-1d", "feedback": "ladder"},
        headers=auth(organiser),
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["rules"]["feedback"] == "ladder"
    return organiser


def shown(client):
    return [
        (row["team"], row["score"])
        for row in client.get("/api/v1/competitions/ladder-1d/leaderboard").get_json()["rows"]
    ]


def one_more_mistake(csv_text: str) -> str:
    """The same predictions with one more wrong label: never better than the original on any split."""
    import io

    import pandas as pd

    frame = pd.read_csv(io.StringIO(csv_text))
    from arena.tasks import load_task

    answers = load_task("mnist1d").answers.set_index("id")["label"]
    right = frame.index[frame["label"].to_numpy() == answers.loc[frame["id"]].to_numpy()]
    frame.loc[right[0], "label"] = (frame.loc[right[0], "label"] + 1) % 10
    return frame.to_csv(index=False)


@BOTH
def test_under_the_ladder_a_score_moves_only_on_a_real_improvement(client, people):
    host_ladder(client, people)
    ada = people.token("ada")
    upload(client, ada, "ladder-1d", predictions_csv("mnist1d", 0.8, 1))
    people.drain()
    [(_, first)] = shown(client)
    upload(client, ada, "ladder-1d", one_more_mistake(predictions_csv("mnist1d", 0.8, 1)))  # no better: no move
    people.drain()
    assert shown(client) == [("ada", first)]
    mine = client.get("/api/v1/competitions/ladder-1d/submissions", headers=auth(ada)).get_json()["submissions"]
    assert mine[0]["public"] == {"accuracy": first} and mine[0]["public_ci"] is None
    detail = client.get(f"/api/v1/submissions/{mine[0]['id']}", headers=auth(ada)).get_json()
    assert detail["public"] == {"accuracy": first} and all(h["public"] is None for h in detail["history"])
    upload(client, ada, "ladder-1d", predictions_csv("mnist1d", 0.97, 3))
    people.drain()
    [(_, better)] = shown(client)
    assert better > first + 0.1


def test_the_ladders_public_board_carries_no_rank_intervals(client, people):
    """Rank intervals and "cannot be told from the next" marks would be a finer signal than the released score."""
    host_ladder(client, people)
    for name, accuracy in (("ada", 0.9), ("bob", 0.9)):
        upload(client, people.token(name), "ladder-1d", predictions_csv("mnist1d", accuracy, 8))
    people.drain()
    rows = client.get("/api/v1/competitions/ladder-1d/leaderboard").get_json()["rows"]
    assert len(rows) == 2
    assert all(
        row["rank_interval"] is None and not row["indistinguishable_from_next"] and not row["rank_interval_pending"]
        for row in rows
    )
    assert "≈ next" not in client.get("/c/ladder-1d").get_data(as_text=True)


@BOTH
def test_the_feedback_setting_is_checked_and_can_change(client, people):
    organiser = host_ladder(client, people)
    bad = client.patch("/api/v1/competitions/ladder-1d", json={"feedback": "exact"}, headers=auth(organiser))
    assert bad.status_code == 400 and "'feedback' must be one of: rounded, ladder" in bad.get_json()["problems"][0]
    changed = client.patch("/api/v1/competitions/ladder-1d", json={"feedback": "rounded"}, headers=auth(organiser))
    assert changed.get_json()["rules"]["feedback"] == "rounded"


def test_task_toml_names_the_feedback_mode(write_bundle):
    from arena.bundles.spec import load_spec
    from arena.errors import BundleError

    toml = """
name = "fb"
version = 1
kind = "regression"
[data]
file = "all.csv"
target = "y"
[metrics]
primary = "mae"
[submission]
prediction = "value"
[competition]
feedback = "{mode}"
"""
    data = {"all.csv": "id,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(20))}
    assert load_spec(write_bundle(toml.format(mode="ladder"), data)).competition.feedback == "ladder"
    with pytest.raises(BundleError, match="'exact' is not a feedback mode; choose one of: 'rounded'"):
        load_spec(write_bundle(toml.format(mode="exact"), data, name="bad"))


def test_under_the_ladder_the_submission_page_shows_no_public_value_finer_than_the_released_one(client, people):
    host_ladder(client, people)
    ada = people.token("ada")
    upload(client, ada, "ladder-1d", predictions_csv("mnist1d", 0.8, 1))
    people.drain()
    upload(client, ada, "ladder-1d", predictions_csv("mnist1d", 0.8, 2))  # not a real improvement: not released
    people.drain()
    mine = client.get("/api/v1/competitions/ladder-1d/submissions", headers=auth(ada)).get_json()["submissions"]
    second = max(mine, key=lambda s: s["id"])
    with client.application.extensions["arena_db"].session() as session:
        from arena.db.models import Submission

        exact = session.get(Submission, second["id"]).score["public"]["accuracy"]
    people.login("ada")
    page = client.get(f"/c/ladder-1d/submissions/{second['id']}").get_data(as_text=True)
    metrics = page.split('id="metrics"')[1].split("</table>")[0]
    assert f"{exact:.4f}" not in metrics or f"{exact:.4f}" == f"{second['public']['accuracy']:.4f}"
    assert "[" not in metrics  # no interval of the hidden public value either
