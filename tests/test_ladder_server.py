"""The server's Ladder against probing: a one-row change never moves a team's shown score, for every metric (count
metrics, ROC AUC, means of per-row losses, weighted rows, metrics without per-row results, an organiser's metric),
and the boosting attack through the upload path stays at chance on the public rows."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import auth, upload

from arena.intervals import row_results as rowresults
from arena.intervals.ladder import beats
from arena.metrics.registry import get_metric
from arena.scoring.score import private_rows, public_rows, rounded, score_submission
from arena.server.feedback import LadderBest, ladder_release, ladder_update
from arena.tasks import load_task

PLUGIN = """
import numpy as np

def pinball(y_true, y_pred):
    diff = y_true - y_pred
    return float(np.mean(np.maximum(0.9 * diff, -0.1 * diff)))
"""


def write_task(
    folder: Path,
    *,
    rows: int,
    metric: str,
    kind: str = "classification",
    prediction: str = "label",
    classes: int = 2,
    weights: np.ndarray | None = None,
    plugin: str = "",
    seed: int = 0,
) -> Path:
    """A bundle with random answers: ``classes`` labels, or values for regression; ``weights`` per answer row."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.arange(rows)
    y = np.round(rng.normal(10, 3, rows), 3) if kind == "regression" else rng.integers(0, classes, rows)
    train_y = np.round(rng.normal(10, 3, 20), 3) if kind == "regression" else np.arange(20) % classes
    pd.DataFrame({"id": np.arange(20) + 10_000, "x": np.arange(20), "y": train_y}).to_csv(
        folder / "train.csv", index=False
    )
    pd.DataFrame({"id": ids, "x": ids}).to_csv(folder / "test.csv", index=False)
    answers = pd.DataFrame({"id": ids, "y": y})
    if weights is not None:
        answers["w"] = weights
    answers.to_csv(folder / "answers.csv", index=False)
    metrics = f'primary = "{metric}"\n'
    if plugin:
        (folder / "metrics.py").write_text(textwrap.dedent(plugin))
        metrics += f'\n[[metrics.plugin]]\nname = "{metric}"\ndirection = "min"\nneeds = "value"\n'
    (folder / "task.toml").write_text(
        f'name = "{folder.name}"\nversion = 1\nkind = "{kind}"\n\n[data]\ntrain = "train.csv"\ntest = "test.csv"\n'
        f'answers = "answers.csv"\nid = "id"\ntarget = "y"\n'
        + ('weight = "w"\n' if weights is not None else "")
        + f'\n[submission]\nprediction = "{prediction}"\n\n[metrics]\n{metrics}'
    )
    return folder


class Hosted:
    """A task hosted as a competition is: its keyed split, each upload scored by the server's scoring path."""

    def __init__(self, folder: Path, fraction: float = 0.5) -> None:
        self.task = load_task(str(folder))
        self.fraction, self.split_key = fraction, f"ladder-{folder.name}"
        self.public = public_rows(self.task, fraction, split_key=self.split_key)
        self.file = folder / "upload.csv"
        key = self.task.answer_key
        self.ids, self.truth = key.ids, key.truth

    def score(self, prediction: np.ndarray):
        spec = self.task.spec
        frame = pd.DataFrame({"id": self.ids})
        if prediction.ndim == 2:
            for code, cls in enumerate(self.task.classes):
                frame[str(cls)] = prediction[:, code]
        else:
            frame["y"] = np.asarray(self.task.classes)[prediction] if spec.is_classification else prediction
        frame.to_csv(self.file, index=False)
        return score_submission(self.task, self.file, public_fraction=self.fraction, split_key=self.split_key)


class Team:
    """One team under the server's Ladder: each upload goes through ``ladder_update``, as ``apply_ladder`` calls it
    after the upload path has scored the file (only the database lookup of the team's best is left out)."""

    def __init__(self, hosted: Hosted) -> None:
        self.hosted, self.best = hosted, None

    def upload(self, prediction: np.ndarray) -> float | None:
        return self.show(self.hosted.score(prediction))

    def show(self, score) -> float | None:
        """The public score the team sees after this scored upload."""
        value = score.public[score.primary]
        released, improved = ladder_update(
            self.hosted.task, self.hosted.public, value, score.to_dict(), score.rows, self.best
        )
        if improved:
            self.best = LadderBest(released=released, value=value, score=score.to_dict(), rows=score.rows)
        elif self.best is not None:
            assert released == self.best.released
        return rounded(released)


def one_row_probes(hosted: Hosted, base: np.ndarray, change, rows) -> tuple[int, int]:
    """Upload ``base``, then per row a copy with that row changed by ``change``; the shown score is read after each.
    Returns how many uploads moved the shown score, and how many of them changed a public row (probes with power)."""
    team = Team(hosted)
    shown = team.upload(base)
    moved = public_probes = 0
    for row in rows:
        probe = change(base.copy(), row)
        public_probes += bool(hosted.public[row])
        moved += team.upload(probe) != shown
    return moved, public_probes


# --- the one-row probe ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_one_row_probe_learns_no_public_label_from_the_servers_ladder(tmp_path):
    """1,000 probes on 500 public rows: each flips one row of the team's best file. With the exact noise a single
    row never moves the released score, so the target is 0 labels learned (rounded scores give all 500)."""
    hosted = Hosted(write_task(tmp_path / "probe", rows=1000, metric="accuracy"))
    assert int(hosted.public.sum()) == 500
    rng = np.random.default_rng(1)
    base = rng.integers(0, 2, 1000)
    team = Team(hosted)
    plain = hosted.score(base)
    shown = team.show(plain)
    learned = wrong = read_from_rounded = 0
    for row in range(1000):
        probe = base.copy()
        probe[row] = 1 - probe[row]
        exact = hosted.score(probe)
        now = team.show(exact)
        read_from_rounded += rounded(exact.public["accuracy"]) != rounded(plain.public["accuracy"])
        if now != shown:  # the Ladder moved: the direction tells the label
            guess = probe[row] if now > shown else base[row]
            learned += int(guess == hosted.truth[row])
            wrong += int(guess != hosted.truth[row])
            base, shown, plain = probe, now, exact
    assert read_from_rounded == 500  # every public row's label shows in rounded scores
    assert (learned, wrong) == (0, 0)


def labels(hosted, k):
    def change(prediction, row):
        prediction[row] = hosted.truth[row] if prediction[row] != hosted.truth[row] else (prediction[row] + 1) % k
        return prediction

    return change


def confident(hosted):
    def change(prediction, row):
        prediction[row] = 0.02 / (prediction.shape[1] - 1)
        prediction[row, hosted.truth[row]] = 0.98
        return prediction

    return change


def exact_value(hosted):
    def change(prediction, row):
        prediction[row] = hosted.truth[row]
        return prediction

    return change


ROW_METRICS = ("f1_macro", "qwk", "mcc", "balanced_accuracy", "roc_auc", "log_loss", "exact_match", "mae", "rmse", "r2")


@pytest.mark.parametrize(
    "metric,kind,prediction,classes",
    [
        ("f1_macro", "classification", "label", 3),
        ("qwk", "classification", "label", 4),
        ("mcc", "classification", "label", 2),
        ("balanced_accuracy", "classification", "label", 3),
        ("roc_auc", "classification", "probabilities", 2),
        ("roc_auc", "classification", "probabilities", 3),
        ("log_loss", "classification", "probabilities", 3),
        ("exact_match", "classification", "label", 2),
        ("mae", "regression", "value", 0),
        ("rmse", "regression", "value", 0),
        ("r2", "regression", "value", 0),
        # no per-row results: the interval bound
        ("mape", "regression", "value", 0),
        ("median_ae", "regression", "value", 0),
        ("pearson", "regression", "value", 0),
        ("spearman", "regression", "value", 0),
        ("rmsle", "regression", "value", 0),
        ("average_precision", "classification", "probabilities", 2),
    ],
)
@pytest.mark.slow
def test_no_metric_lets_a_one_row_change_move_the_shown_score(tmp_path, metric, kind, prediction, classes):
    """Each probe makes one row right (or, where it already was, wrong): an improvement on about half the public
    rows it touches, and the shown score must not move for any of them. (Metrics without per-row results take
    fewer rows: their intervals are a bootstrap of the metric itself, slower to compute.)"""
    rows = 240 if metric in ROW_METRICS else 120
    hosted = Hosted(
        write_task(
            tmp_path / metric, rows=rows, metric=metric, kind=kind, prediction=prediction, classes=max(classes, 2)
        )
    )
    rng = np.random.default_rng(2)
    if prediction == "label":
        base, change = rng.integers(0, classes, rows), labels(hosted, classes)
    elif prediction == "probabilities":
        base, change = rng.dirichlet(np.ones(classes), rows), confident(hosted)
    else:
        base, change = np.round(np.abs(hosted.truth + rng.normal(0, 3, rows)), 3), exact_value(hosted)
    assert (hosted.score(base).rows is not None) == (metric in ROW_METRICS)
    moved, public = one_row_probes(hosted, base, change, range(rows))
    assert public == rows // 2 and moved == 0


@pytest.mark.slow
def test_a_heavy_row_of_a_weighted_task_does_not_move_the_shown_score(tmp_path):
    """A row carrying a third of the public weight changes weighted accuracy by a third: far above the standard
    error an unweighted noise would give, never above the Ladder's, whose floor is that row's own effect."""
    weights = np.ones(200)
    hosted = Hosted(write_task(tmp_path / "weighted", rows=200, metric="accuracy", weights=weights))
    heavy = int(np.flatnonzero(hosted.public)[0])
    weights[heavy] = hosted.public.sum()  # as heavy as all other public rows together, half of them
    hosted = Hosted(write_task(tmp_path / "weighted", rows=200, metric="accuracy", weights=weights))
    base = (hosted.truth + 1) % 2  # every row wrong: the heavy row's fix lifts weighted accuracy to about 0.5
    moved, _ = one_row_probes(hosted, base, labels(hosted, 2), [heavy])
    assert moved == 0
    rng = np.random.default_rng(3)
    moved, public = one_row_probes(hosted, rng.integers(0, 2, 200), labels(hosted, 2), range(200))
    assert public == 100 and moved == 0
    for metric in ("mae", "log_loss"):
        weighted = Hosted(
            write_task(
                tmp_path / metric,
                rows=200,
                metric=metric,
                weights=weights,
                kind="regression" if metric == "mae" else "classification",
                prediction="value" if metric == "mae" else "probabilities",
            )
        )
        base = (
            np.round(weighted.truth + rng.normal(0, 3, 200), 3) if metric == "mae" else rng.dirichlet(np.ones(2), 200)
        )
        change = exact_value(weighted) if metric == "mae" else confident(weighted)
        assert one_row_probes(weighted, base, change, range(200))[0] == 0


@pytest.mark.slow
def test_an_organisers_metric_gets_the_interval_bound(tmp_path):
    """A plugin keeps no per-row results: its noise comes from the two public intervals, and one row never moves."""
    hosted = Hosted(
        write_task(
            tmp_path / "pinball", rows=120, metric="pinball", kind="regression", prediction="value", plugin=PLUGIN
        )
    )
    rng = np.random.default_rng(4)
    base = np.round(hosted.truth + rng.normal(0, 3, 120), 3)
    assert hosted.score(base).rows is None
    assert one_row_probes(hosted, base, exact_value(hosted), range(120))[0] == 0
    team = Team(hosted)  # a real improvement still shows
    first = team.upload(base)
    assert team.upload(np.round(hosted.truth + rng.normal(0, 0.5, 120), 3)) < first


def test_the_released_score_does_not_enter_the_test(tmp_path):
    """The best is compared itself, not the release rounded to the 1/n grid: with the release far above the best,
    a one-row gain equal to its standard error still does not move (it did when the test used the release)."""
    hosted = Hosted(write_task(tmp_path / "grid", rows=200, metric="mae", kind="regression", prediction="value"))
    rng = np.random.default_rng(5)
    best = np.round(hosted.truth + rng.normal(0, 3, 200), 3)
    row = int(np.flatnonzero(hosted.public)[0])
    better = best.copy()
    better[row] = hosted.truth[row]
    a, b = hosted.score(best), hosted.score(better)
    assert b.public["mae"] < a.public["mae"]
    for released in (a.public["mae"], a.public["mae"] + 0.5 / hosted.public.sum(), a.public["mae"] + 1):
        shown, improved = ladder_release(
            hosted.task,
            hosted.public,
            released,
            b.public["mae"],
            b.rows,
            a.rows,
            best_value=a.public["mae"],
            interval=b.public_ci,
            best_interval=a.public_ci,
        )
        assert (shown, improved) == (released, False)


def test_a_real_improvement_still_moves_for_every_family(tmp_path):
    for metric, kind, prediction in (
        ("f1_macro", "classification", "label"),
        ("roc_auc", "classification", "probabilities"),
        ("rmse", "regression", "value"),
        ("mape", "regression", "value"),
    ):
        hosted = Hosted(write_task(tmp_path / metric, rows=400, metric=metric, kind=kind, prediction=prediction))
        rng = np.random.default_rng(6)
        team = Team(hosted)
        if prediction == "label":
            weak, strong = [np.where(rng.random(400) < p, hosted.truth, 1 - hosted.truth) for p in (0.6, 0.9)]
        elif prediction == "probabilities":
            weak, strong = [
                np.column_stack([1 - q, q])
                for q in (
                    np.clip(0.5 + 0.1 * (2 * hosted.truth - 1) + rng.normal(0, 0.2, 400), 0, 1),
                    np.clip(0.5 + 0.3 * (2 * hosted.truth - 1) + rng.normal(0, 0.2, 400), 0, 1),
                )
            ]
        else:
            weak, strong = (np.round(hosted.truth + rng.normal(0, s, 400), 3) for s in (3, 0.5))
        first = team.upload(weak)
        second = team.upload(strong)
        assert second != first and team.best.value == hosted.score(strong).public[metric], metric


# --- the noise itself ------------------------------------------------------------------------------------------


def test_the_noise_of_a_mean_is_the_exact_standard_error_of_the_mean_paired_difference():
    rng = np.random.default_rng(7)
    new, best = rng.random(500), rng.random(500)
    found = rowresults.paired_comparison(get_metric("mae"), np.zeros(500), new, best)
    assert found.noise == pytest.approx(np.std(new - best, ddof=1) / np.sqrt(500), rel=1e-12)
    assert found.gain == pytest.approx(best.mean() - new.mean(), rel=1e-9) and found.how == "jackknife"
    one = best.copy()
    for d in (1e-9, 0.3, 1.0, 123.0):  # a one-row change: gain d/n, exact noise |d|/n, a tie that never passes
        one[17] = best[17] - d
        found = rowresults.paired_comparison(get_metric("mae"), np.zeros(500), one, best)
        assert found.gain == pytest.approx(d / 500) and found.noise >= found.gain and not found.beats


def test_the_interval_bound_is_never_zero():
    mape = get_metric("mape")
    found = rowresults.paired_comparison(
        mape, np.zeros(300), None, None, value=0.10, best_value=0.12, interval=(0.09, 0.12), best_interval=(0.11, 0.135)
    )
    assert found.how == "intervals" and found.noise == pytest.approx((0.02 + 0.015) / 1.959963984540054)
    degenerate = dict(value=0.10, best_value=0.12, interval=(0.10, 0.10), best_interval=(0.12, 0.12))
    assert not rowresults.paired_comparison(mape, np.zeros(300), None, None, **degenerate).beats  # no bound: no move
    bounded = rowresults.paired_comparison(
        get_metric("pearson"),
        np.zeros(300),
        None,
        None,
        value=0.5,
        best_value=0.4,
        interval=(0.5, 0.5),
        best_interval=(0.4, 0.4),
    )
    assert bounded.noise == pytest.approx(2 / 300) and bounded.beats  # a bounded metric: one row's worth of range
    for missing in ((None, None), (float("nan"), float("nan")), None):
        assert not rowresults.paired_comparison(
            None,
            np.zeros(300),
            None,
            None,
            value=0.5,
            best_value=0.9,
            interval=missing,
            best_interval=(0.8, 1.0),
            higher_is_better=False,
        ).beats
    plugin = rowresults.paired_comparison(
        None,
        np.zeros(300),
        None,
        None,
        value=0.5,
        best_value=0.9,
        interval=(0.45, 0.55),
        best_interval=(0.85, 0.95),
        higher_is_better=False,
    )
    assert plugin.gain == pytest.approx(0.4) and plugin.beats


def test_a_tie_never_passes_on_a_rounding_error():
    assert not beats(0.1, 0.1) and not beats(0.1 + 1e-17, 0.1) and not beats(0.1000000001, 0.1)
    assert beats(0.1001, 0.1) and not beats(0.5, float("inf")) and not beats(float("nan"), 0.1)
    assert not beats(0.0, 0.0) and not beats(-1.0, 0.0)


# --- the boosting attack through the upload path --------------------------------------------------------------

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
ROWS, UPLOADS = 600, 200  # 300 public rows at a public fraction of 0.5


def random_bundle(folder: Path) -> Path:
    return write_task(folder, rows=ROWS, metric="accuracy", seed=11)


@pytest.mark.slow
@BOTH
def test_the_boosting_attack_through_the_upload_path_stays_at_chance(app, client, people, tmp_path):
    """Blum & Hardt's attack as a participant makes it: upload random label vectors through the API, read each
    one's shown public score back from the API, keep those shown above 0.5 and take their majority vote. Under
    the Ladder the vote's public accuracy stays within noise of 0.5; the same uploads' exact (rounded) public
    scores would have lifted it far above."""
    organiser = people.token("org", organiser=True)
    folder = random_bundle(tmp_path / "boost")
    hosted = client.post(
        "/api/v1/competitions",
        json={"task": str(folder), "slug": "boost", "public_fraction": 0.5, "daily_limit": UPLOADS + 10},
        headers=auth(organiser),
    )
    assert hosted.status_code == 201, hosted.get_json()
    assert hosted.get_json()["rules"]["feedback"] == "ladder"
    attacker = people.token("mallory")
    task = load_task(str(folder))
    ids, classes = task.answer_key.ids, np.asarray(task.classes)
    guesses = np.random.default_rng(12).integers(0, 2, (UPLOADS, ROWS))
    for guess in guesses:
        response = upload(client, attacker, "boost", pd.DataFrame({"id": ids, "y": classes[guess]}).to_csv(index=False))
        assert response.status_code == 202, response.get_json()
        people.drain()
    mine = client.get("/api/v1/competitions/boost/submissions", headers=auth(attacker)).get_json()["submissions"]
    mine = sorted(mine, key=lambda s: s["id"])
    assert len(mine) == UPLOADS and all(s["status"] == "scored" for s in mine)
    shown = np.array([s["public"]["accuracy"] for s in mine])
    with app.extensions["arena_db"].session() as session:
        from arena.db.models import Competition, Submission

        competition = session.query(Competition).filter_by(slug="boost").one()
        split_key, fraction = competition.split_key, competition.public_fraction
        exact = np.array([session.get(Submission, s["id"]).public_primary for s in mine])
    public = public_rows(task, fraction, split_key=split_key)
    private = private_rows(task, fraction, split_key=split_key)
    n = int(public.sum())
    assert n == ROWS // 2

    def accuracy_of_vote(keep):
        kept = guesses[keep]
        vote = (kept.mean(axis=0) > 0.5).astype(np.int64) if len(kept) else np.zeros(ROWS, dtype=np.int64)
        right = vote == task.answer_key.truth
        return right[public].mean(), right[private].mean()

    ladder_public, ladder_private = accuracy_of_vote(shown > 0.5)
    rounded_public, _ = accuracy_of_vote(np.round(exact, 4) > 0.5)
    noise = 0.5 / np.sqrt(n)
    assert ladder_public < 0.5 + 3.5 * noise, (ladder_public, ladder_private)
    assert rounded_public > 0.5 + 3.5 * noise  # the attack has power: rounded scores would have shown it
    assert abs(ladder_private - 0.5) < 4 * 0.5 / np.sqrt(private.sum())
    moves = int(np.sum(shown[1:] != shown[:-1]))
    assert moves <= 5  # random uploads rarely beat the team's best by the noise
