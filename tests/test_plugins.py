"""Metric plugins, weighted answers, and the multi-label and ranking task kinds, end to end through scoring."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from arena.errors import BundleError, SubmissionError
from arena.metrics.plugins import PluginError
from arena.scoring.score import public_rows, score_submission
from arena.tasks import load_task

N = 80

PINBALL = """
import numpy as np

def pinball(y_true, y_pred):
    diff = y_true - y_pred
    return float(np.mean(np.maximum(0.9 * diff, -0.1 * diff)))

def broken(y_true, y_pred):
    return {}["no such key"]

def nothing(y_true, y_pred):
    return float("nan")

def hit_rate(cm):
    return float(np.trace(cm) / cm.sum())

def spread(answers, predictions):
    return float(np.mean(np.abs(answers["y"].to_numpy() - predictions["y"].to_numpy())) + 0 * answers["group"].sum())
"""


def write_bundle(
    folder,
    metrics: str,
    *,
    code: str = PINBALL,
    kind: str = "regression",
    prediction: str = "value",
    weight: str = "",
    target=None,
    train_target=None,
):
    """A small file-based bundle; ``target`` replaces the answers' target values."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ids = np.arange(N)
    y = target if target is not None else np.round(rng.normal(10, 3, N), 3)
    train_y = train_target if train_target is not None else y
    pd.DataFrame({"id": ids + 1000, "x": rng.random(N), "y": train_y}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": ids, "x": rng.random(N)}).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": ids, "y": y, "w": rng.integers(1, 4, N), "group": ids % 3}).to_csv(
        folder / "answers.csv", index=False
    )
    (folder / "metrics.py").write_text(textwrap.dedent(code))
    (folder / "task.toml").write_text(
        textwrap.dedent(f"""
        name = "{folder.name}"
        version = 1
        kind = "{kind}"

        [data]
        train = "train.csv"
        test = "test.csv"
        answers = "answers.csv"
        target = "y"
        {weight}

        [submission]
        prediction = "{prediction}"

        [metrics]
    """)
        + textwrap.dedent(metrics)
    )
    return folder


PINBALL_TOML = """
    primary = "pinball"
    others = ["mae"]

    [[metrics.plugin]]
    name = "pinball"
    direction = "min"
    needs = "value"
"""


def submit(tmp_path, frame: pd.DataFrame):
    path = tmp_path / "submission.csv"
    frame.to_csv(path, index=False)
    return path


def values_submission(task, tmp_path, offset: float = 1.0):
    answers = task.answers.sort_values("id")
    return submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": answers["y"] + offset}))


def test_a_plugin_is_scored_on_public_and_private_rows_with_an_interval(tmp_path):
    task = load_task(write_bundle(tmp_path / "pin", PINBALL_TOML))
    score = score_submission(task, values_submission(task, tmp_path, offset=-2.0))
    assert score.primary == "pinball" and not score.higher_is_better
    public = public_rows(task)
    assert score.public["pinball"] == pytest.approx(0.9 * 2.0) and score.private["pinball"] == pytest.approx(1.8)
    assert score.public["mae"] == pytest.approx(2.0)
    assert score.n_public == public.sum()
    low, high = score.public_ci
    assert low <= high and np.isfinite(low)  # every row is off by 2: the interval is [1.8, 1.8]


def test_a_plugin_interval_has_width_when_rows_differ(tmp_path):
    task = load_task(write_bundle(tmp_path / "pin", PINBALL_TOML))
    answers = task.answers.sort_values("id")
    noise = np.random.default_rng(1).normal(0, 1, N)
    score = score_submission(task, submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": answers["y"] + noise})))
    low, high = score.private_ci
    assert low < score.private["pinball"] < high


def test_a_confusion_matrix_plugin_matches_accuracy(tmp_path):
    labels = np.array(["a", "b", "c"] * (N // 3) + ["a"] * (N % 3))
    toml = """
        primary = "hits"
        others = ["accuracy"]

        [[metrics.plugin]]
        name = "hits"
        direction = "max"
        needs = "label"
        confusion = "hit_rate"
    """
    task = load_task(write_bundle(tmp_path / "cm", toml, kind="classification", prediction="label", target=labels))
    answers = task.answers.sort_values("id")
    guess = answers["y"].to_numpy().copy()
    guess[::4] = "a"
    score = score_submission(task, submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": guess})))
    assert score.public["hits"] == pytest.approx(score.public["accuracy"])
    assert score.public_ci[0] <= score.public["hits"] <= score.public_ci[1]


def test_a_plugin_may_read_the_whole_table(tmp_path):
    toml = """
        primary = "spread"

        [[metrics.plugin]]
        name = "spread"
        direction = "min"
        needs = "table"
    """
    task = load_task(write_bundle(tmp_path / "tab", toml))
    score = score_submission(task, values_submission(task, tmp_path, offset=0.5))
    assert score.public["spread"] == pytest.approx(0.5) and score.private["spread"] == pytest.approx(0.5)


@pytest.mark.parametrize("function", ["broken", "nothing"])
def test_a_failing_plugin_is_our_failure_with_its_traceback(tmp_path, function):
    toml = PINBALL_TOML.replace('needs = "value"', f'needs = "value"\n    function = "{function}"')
    task = load_task(write_bundle(tmp_path / "bad", toml))
    with pytest.raises(PluginError) as caught:
        score_submission(task, values_submission(task, tmp_path))
    assert not isinstance(caught.value, SubmissionError)  # never the participant's fault
    expected = "KeyError: 'no such key'" if function == "broken" else "must return a finite number"
    assert expected in caught.value.report()


def test_a_plugin_is_not_imported_when_the_task_is_loaded(tmp_path):
    marker = "import sys\nsys.modules['arena_plugin_was_imported'] = sys\n" + PINBALL
    folder = write_bundle(tmp_path / "lazy", PINBALL_TOML, code=marker)
    sys.modules.pop("arena_plugin_was_imported", None)
    task = load_task(folder)
    assert task.spec.higher_is_better is False  # the direction comes from task.toml
    task.sample_submission()
    assert "arena_plugin_was_imported" not in sys.modules
    score_submission(task, values_submission(task, tmp_path))
    assert "arena_plugin_was_imported" in sys.modules
    sys.modules.pop("arena_plugin_was_imported", None)


@pytest.mark.parametrize(
    "entry, message",
    [
        ('name = "mae"\n    direction = "min"\n    needs = "value"', "is a built-in metric"),
        ('name = "pinball"\n    direction = "up"\n    needs = "value"', 'direction = "max"'),
        ('name = "pinball"\n    direction = "min"\n    needs = "rows"', "needs = one of"),
        ('name = "pinball"\n    direction = "min"\n    needs = "value"\n    file = "../x.py"', "inside the bundle"),
        ('name = "pinball"\n    direction = "min"\n    needs = "label"', "needs label predictions"),
    ],
)
def test_plugin_declarations_are_checked(tmp_path, entry, message):
    toml = f"""
        primary = "pinball"

        [[metrics.plugin]]
        {entry}
    """
    with pytest.raises(BundleError, match=message):
        load_task(write_bundle(tmp_path / "decl", textwrap.dedent(toml).replace("\n    ", "\n")))


# --- weights ---------------------------------------------------------------------------


def test_a_weight_column_weighs_every_metric(tmp_path):
    task = load_task(
        write_bundle(tmp_path / "w", '    primary = "mae"\n    others = ["rmse", "median_ae"]\n', weight='weight = "w"')
    )
    answers = task.answers.sort_values("id")
    errors = np.where(answers["w"].to_numpy() == 3, 5.0, 1.0)
    score = score_submission(task, submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": answers["y"] + errors})))
    rows = public_rows(task)
    w = answers["w"].to_numpy()[rows]
    assert score.public["mae"] == pytest.approx(np.average(errors[rows], weights=w))
    assert score.public["rmse"] == pytest.approx(np.sqrt(np.average(errors[rows] ** 2, weights=w)))
    assert score.public_ci[0] < score.public["mae"] < score.public_ci[1]
    assert "w" not in task.test.columns and "w" not in task.sample_submission().columns


def test_a_bad_weight_column_is_a_bundle_problem(tmp_path):
    folder = write_bundle(tmp_path / "bw", '    primary = "mae"\n', weight='weight = "w"')
    frame = pd.read_csv(folder / "answers.csv")
    frame.loc[3, "w"] = -1
    frame.to_csv(folder / "answers.csv", index=False)
    with pytest.raises(BundleError, match="weight column 'w' must hold numbers of 0 or more"):
        load_task(folder)
    missing = write_bundle(tmp_path / "bw2", '    primary = "mae"\n', weight='weight = "weights"')
    with pytest.raises(BundleError, match="has no weight column 'weights'"):
        load_task(missing)


# --- multi-label and ranking --------------------------------------------------------------


LABEL_SETS = np.array(["cat dog", "dog", "", "cat", "bird cat"] * (N // 5), dtype=object)


def test_a_multilabel_task_scores_label_sets_and_probabilities(tmp_path):
    toml = '    primary = "multilabel_f1_samples"\n    others = ["multilabel_f1_micro"]\n'
    task = load_task(write_bundle(tmp_path / "ml", toml, kind="multilabel", prediction="label", target=LABEL_SETS))
    assert list(task.classes) == ["bird", "cat", "dog"]
    answers = task.answers.sort_values("id")
    exact = submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": answers["y"].fillna("")}))
    assert score_submission(task, exact).public["multilabel_f1_micro"] == 1.0
    sample = submit(tmp_path, task.sample_submission())
    assert 0 <= score_submission(task, sample).public["multilabel_f1_micro"] < 1
    wrong = submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": "cat fish"}))
    with pytest.raises(SubmissionError, match="fish"):
        score_submission(task, wrong)

    proba_toml = '    primary = "multilabel_roc_auc"\n    others = ["multilabel_log_loss"]\n'
    task = load_task(
        write_bundle(tmp_path / "mlp", proba_toml, kind="multilabel", prediction="probabilities", target=LABEL_SETS)
    )
    frame = task.sample_submission()
    assert list(frame.columns) == ["id", "bird", "cat", "dog"]
    score = score_submission(task, submit(tmp_path, frame))
    assert score.public["multilabel_roc_auc"] == pytest.approx(0.5)


RELEVANT = np.array(["d1:3 d2", "d2 d3", "d4", "d1 d5:2"] * (N // 4), dtype=object)


def test_a_ranking_task_scores_map_and_ndcg_at_k(tmp_path):
    toml = '    primary = "map@3"\n    others = ["ndcg@3"]\n'
    task = load_task(write_bundle(tmp_path / "rk", toml, kind="ranking", prediction="ranking", target=RELEVANT))
    answers = task.answers.sort_values("id")
    perfect = [
        " ".join(
            item.partition(":")[0] for item in sorted(cell.split(), key=lambda t: -float(t.partition(":")[2] or 1))
        )
        for cell in answers["y"]
    ]
    score = score_submission(task, submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": perfect})))
    assert score.public["map@3"] == 1.0 and score.public["ndcg@3"] == pytest.approx(1.0)
    sample = task.sample_submission()
    assert len(sample["y"].iloc[0].split()) <= 3
    assert 0 < score_submission(task, submit(tmp_path, sample)).public["map@3"] < 1
    too_long = submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": "d1 d2 d3 d4"}))
    with pytest.raises(SubmissionError, match="more than 3 ids"):
        score_submission(task, too_long)
    twice = submit(tmp_path, pd.DataFrame({"id": answers["id"], "y": "d1 d1"}))
    with pytest.raises(SubmissionError, match="an id twice"):
        score_submission(task, twice)


def test_a_failing_plugin_keeps_the_participants_slot_and_logs_the_traceback(people_factory, tmp_path, caplog):
    from arena.server import competitions
    from tests.conftest import auth, upload

    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    toml = PINBALL_TOML.replace('needs = "value"', 'needs = "value"\n    function = "broken"')
    folder = write_bundle(tmp_path / "boom", toml)
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.host(session, str(folder), slug="boom")
    token = people.token("ada")
    before = client.get("/api/v1/competitions/boom/submissions", headers=auth(token)).get_json()["slots_left"]
    answers = pd.read_csv(folder / "answers.csv")
    answer = upload(client, token, "boom", pd.DataFrame({"id": answers["id"], "y": answers["y"]}).to_csv(index=False))
    assert answer.status_code == 202, answer.data
    with caplog.at_level("ERROR"):
        people.drain()
    submission = client.get(
        f"/api/v1/submissions/{answer.get_json()['submission']['id']}", headers=auth(token)
    ).get_json()
    assert submission["status"] in ("queued", "failed")  # retried, then failed as ours
    assert not any("KeyError" in p or "metrics.py" in p for p in submission.get("problems") or [])
    after = client.get("/api/v1/competitions/boom/submissions", headers=auth(token)).get_json()["slots_left"]
    assert after == before
    assert "KeyError: 'no such key'" in caplog.text  # the organiser's traceback, in the server log
    people.token("organiser", organiser=True)  # an organiser account to log in with
    people.login("organiser")
    admin = client.get("/c/boom/admin").get_data(as_text=True)
    assert "What failed on our side" in admin and "KeyError" in admin  # and on the admin page
    people.login("ada")
    page = client.get(f"/c/boom/submissions/{submission['id']}").get_data(as_text=True)
    assert "KeyError" not in page and "metrics.py" not in page


def test_a_board_ranks_teams_on_an_organisers_metric(people_factory, tmp_path):
    """Honest ranks need per-row results of a built-in metric; an organiser's metric still gets a working board."""
    from arena.server import competitions
    from tests.conftest import upload

    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    folder = write_bundle(tmp_path / "pin", PINBALL_TOML)
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.host(session, str(folder), slug="pin")
    answers = pd.read_csv(folder / "answers.csv")
    answer = upload(
        client, people.token("ada"), "pin", pd.DataFrame({"id": answers["id"], "y": answers["y"]}).to_csv(index=False)
    )
    assert answer.status_code == 202, answer.data
    people.drain()
    board = client.get("/api/v1/competitions/pin/leaderboard")
    assert board.status_code == 200 and [row["team"] for row in board.get_json()["rows"]] == ["ada"]
    assert client.get("/c/pin").status_code == 200 and client.get("/c/pin/leaderboard.csv").status_code == 200
