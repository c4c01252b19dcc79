"""Benchmark: what probing learns from rounded public scores and from the Ladder.

Two attacks, each against two feedback modes:

- the one-row probe: upload a file, then the same file with one row's prediction
  flipped, and watch the public score. If it moves, the row is public and the
  direction tells its label. The attacker does not know which rows are public.
- the boosting attack of Blum & Hardt (2015): make k random submissions, keep
  those whose shown public score beats chance, and combine them by majority vote.
  Rounded scores leak enough for the vote to overfit the public rows (public
  accuracy well above 0.5, private 0.5).

The script attacks a competition as the server computes it: a binary task bundle
with random labels, hosted with the server's keyed public/private split, each
upload scored by the server's scoring path (``score_submission``), the public
score shown as participants see it (``rounded``, 4 decimals) or released by the
server's Ladder step (``arena.server.feedback.ladder_release``, whose test is
``arena.intervals.row_results.paired_comparison``: the jackknife standard error of
the paired per-row difference, never below one row's effect) and then rounded.

Throw-away accounts: the Ladder keeps its state per team, so a team's first upload
always shows its own public score. ``--sybils`` spreads the boosting attack's
uploads over that many throw-away teams (one account each) and prints the
public-minus-private gap of the vote for each count; the probe from a new team per
upload is printed too.

The plain functions below (``rounded_feedback``, ``ladder_feedback``) are the
textbook model on per-row 0-1 losses, with the exact Ladder of
``arena.intervals.ladder``.

Usage: python bench/ladder_attack.py [--public-rows 4000] [--submissions 400] [--probes 200] [--seed 0] [--seeds 1]
                                    [--sybils 1,5,20,100,400]
       python bench/ladder_attack.py --model      (the textbook model only, no server code)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from arena.intervals.ladder import Ladder

# --- the textbook model: per-row 0-1 losses in, a shown loss out --------------------------------------------------


def rounded_feedback(digits: int = 4):
    """Every submission's public loss, rounded."""
    return lambda rows: round(float(np.mean(rows)), digits)


def ladder_feedback():
    ladder = Ladder()
    return ladder.submit


def boosting_attack(feedback, *, rows: int, submissions: int, seed: int) -> tuple[float, float]:
    """Run the attack; return the final vote's public and private 0-1 loss."""
    rng = np.random.default_rng(seed)
    public_truth = rng.integers(0, 2, rows)
    private_truth = rng.integers(0, 2, rows)
    guesses = rng.integers(0, 2, (submissions, 2 * rows))
    kept = [g for g in guesses if feedback((g[:rows] != public_truth).astype(np.float64)) < 0.5]
    if not kept:
        return 0.5, 0.5
    vote = (np.mean(kept, axis=0) > 0.5).astype(np.int64)
    return float(np.mean(vote[:rows] != public_truth)), float(np.mean(vote[rows:] != private_truth))


def one_row_probe(feedback, *, rows: int, seed: int) -> float:
    """Flip one row of a base guess per submission and read the shown score: the share of public labels revealed."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    base = rng.integers(0, 2, rows)
    shown = feedback((base != truth).astype(np.float64))
    learned = 0
    for i in range(rows):
        probe = base.copy()
        probe[i] = 1 - probe[i]
        now = feedback((probe != truth).astype(np.float64))
        if now != shown:  # the shown score moved: the direction tells the label
            learned += int((probe[i] if now < shown else base[i]) == truth[i])
    return learned / rows


# --- the server: a hosted task, the server's split, scoring path and feedback ------------------------------------

TOML = """name = "probe"
title = "Probing target"
version = 1
kind = "classification"

[data]
train = "train.csv"
test = "test.csv"
answers = "answers.csv"
id = "id"
target = "label"

[metrics]
primary = "accuracy"

[submission]
prediction = "label"
"""


class ServerCompetition:
    """A binary task with random labels, split and scored exactly as a hosted competition's uploads are."""

    def __init__(self, public_rows: int, public_fraction: float, seed: int, folder: Path) -> None:
        from arena.scoring.score import private_rows
        from arena.scoring.score import public_rows as public_mask
        from arena.tasks import load_task

        rng = np.random.default_rng(seed)
        test_rows = int(round(public_rows / public_fraction))
        ids = np.arange(100, 100 + test_rows)
        labels = rng.integers(0, 2, test_rows)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "task.toml").write_text(TOML)
        (folder / "train.csv").write_text("id,x,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(100)))
        (folder / "test.csv").write_text("id,x\n" + "".join(f"{i},{i}\n" for i in ids))
        (folder / "answers.csv").write_text("id,label\n" + "".join(f"{i},{y}\n" for i, y in zip(ids, labels)))
        self.task = load_task(str(folder))
        self.fraction, self.split_key = public_fraction, f"bench-{seed}"
        self.public = public_mask(self.task, public_fraction, split_key=self.split_key)
        self.private = private_rows(self.task, public_fraction, split_key=self.split_key)
        key = self.task.answer_key
        self.ids, self.truth = key.ids, np.asarray(self.task.classes)[key.truth]
        self.file = folder / "upload.csv"

    def score(self, labels: np.ndarray):
        """Upload predictions (one label per answer-key row) and score them as the server's worker does."""
        from arena.scoring.score import score_submission

        self.file.write_text("id,label\n" + "".join(f"{i},{y}\n" for i, y in zip(self.ids, labels)))
        return score_submission(self.task, self.file, public_fraction=self.fraction, split_key=self.split_key)

    def rounded_view(self):
        """The rounded mode: what a participant sees of each submission (its public score, 4 decimals)."""
        from arena.scoring.score import rounded

        return lambda score: rounded(score.public[score.primary])

    def ladder_view(self):
        """The Ladder: the server's step for one team, the release shown rounded as a participant sees it."""
        from arena.scoring.score import rounded
        from arena.server.feedback import ladder_release

        team = {"released": None, "best": None}

        def show(score):
            best = team["best"]
            released, improved = ladder_release(
                self.task,
                self.public,
                team["released"],
                score.public[score.primary],
                score.rows,
                None if best is None else best.rows,
                best_value=None if best is None else best.public[best.primary],
                interval=score.public_ci,
                best_interval=None if best is None else best.public_ci,
            )
            if improved:
                team["best"] = score
            team["released"] = released
            return rounded(released)

        return show


def server_probe(competition: ServerCompetition, show, *, probes: int, seed: int) -> dict:
    """The one-row probe against a hosted competition: ``probes`` uploads, each flipping one row of the team's best
    file. Returns how many probed rows were public, how many labels the attacker read off correctly (and wrongly)."""
    rng = np.random.default_rng(seed + 1)
    base = rng.integers(0, 2, len(competition.ids))
    shown = show(competition.score(base))
    rows = rng.choice(len(base), size=probes, replace=False)
    learned = wrong = 0
    for row in rows:
        probe = base.copy()
        probe[row] = 1 - probe[row]
        now = show(competition.score(probe))
        if now == shown or now is None or shown is None:
            continue
        guess = probe[row] if now > shown else base[row]  # accuracy: higher is better
        learned += int(guess == competition.truth[row])
        wrong += int(guess != competition.truth[row])
        if now > shown:  # keep the better file: the next probe starts from the team's best
            base, shown = probe, now
    return {"probes": probes, "public": int(competition.public[rows].sum()), "learned": learned, "wrong": wrong}


def random_uploads(competition: ServerCompetition, *, submissions: int, seed: int):
    """The boosting attack's random label vectors and their scores (each scored once, as the server's worker does)."""
    rng = np.random.default_rng(seed + 2)
    guesses = rng.integers(0, 2, (submissions, len(competition.ids)))
    return guesses, [competition.score(g) for g in guesses]


def vote(competition: ServerCompetition, guesses: np.ndarray, keep, seed: int) -> dict:
    """The majority vote of the kept uploads, scored as the server scores a file: public and private accuracy."""
    kept = guesses[np.asarray(keep, dtype=bool)]
    rng = np.random.default_rng(seed + 3)
    labels = (kept.mean(axis=0) > 0.5).astype(np.int64) if len(kept) else rng.integers(0, 2, guesses.shape[1])
    score = competition.score(labels)
    return {"kept": len(kept), "public": score.public[score.primary], "private": score.private[score.primary]}


def server_boosting(
    competition: ServerCompetition, views: dict, uploads=None, *, seed: int, submissions: int | None = None
) -> dict:
    """The boosting attack against each feedback mode, on the same random uploads (``uploads`` from
    random_uploads, or that many ``submissions`` made here).

    The attacker keeps the uploads whose shown public accuracy beats 0.5 (Blum & Hardt's rule); under the Ladder,
    which shows a team's best, it also tries keeping only the uploads that moved the shown score. Returns per mode
    and rule the vote's public and private accuracy, as the server scores the vote's file, and how many were kept."""
    guesses, scores = uploads or random_uploads(competition, submissions=submissions, seed=seed)
    results = {}
    for name, make in views.items():
        show = make()
        shown = [show(s) for s in scores]
        rules = {"beats 0.5": [v is not None and v > 0.5 for v in shown]}
        if name == "ladder":
            rules["moved"] = [v is not None and v > 0.5 and (i == 0 or v != shown[i - 1]) for i, v in enumerate(shown)]
        for rule, keep in rules.items():
            results[(name, rule)] = vote(competition, guesses, keep, seed)
    return results


def server_sybil(competition: ServerCompetition, uploads, *, teams: int, seed: int) -> dict:
    """The boosting attack under the Ladder from ``teams`` throw-away teams (one account each): the uploads are dealt
    to the teams in turn, each team has its own Ladder, so its first upload always shows its own public score. The
    attacker keeps each upload that moved its team's shown score above 0.5."""
    guesses, scores = uploads
    ladders = [competition.ladder_view() for _ in range(teams)]
    last: list = [None] * teams
    keep = []
    for i, score in enumerate(scores):
        team = i % teams
        now = ladders[team](score)
        keep.append(now is not None and now > 0.5 and now != last[team])
        last[team] = now
    return vote(competition, guesses, keep, seed)


def sybil_probe(competition: ServerCompetition, *, probes: int, seed: int) -> dict:
    """The one-row probe from throw-away teams: the base file from one team, each flipped file from a new team, whose
    first upload shows its own public score. Returns what server_probe does."""
    rng = np.random.default_rng(seed + 1)
    base = rng.integers(0, 2, len(competition.ids))
    shown = competition.ladder_view()(competition.score(base))
    rows = rng.choice(len(base), size=probes, replace=False)
    learned = wrong = 0
    for row in rows:
        probe = base.copy()
        probe[row] = 1 - probe[row]
        now = competition.ladder_view()(competition.score(probe))  # a new team: a Ladder of its own
        if now == shown or now is None or shown is None:
            continue
        guess = probe[row] if now > shown else base[row]
        learned += int(guess == competition.truth[row])
        wrong += int(guess != competition.truth[row])
    return {"probes": probes, "public": int(competition.public[rows].sum()), "learned": learned, "wrong": wrong}


def run_server(args) -> None:
    """Both attacks against both modes, and the boosting attack from throw-away teams, once per seed; a line per
    seed, then the totals and mean gaps."""
    probes: dict[str, list[dict]] = {}
    boosts: dict[tuple[str, str], list[dict]] = {}
    sybils: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        from arena.config import secret_path

        os.environ["ARENA_HOME"] = str(Path(tmp) / "home")  # a throwaway installation, never a real one's secret
        Path(os.environ["ARENA_HOME"]).mkdir()
        secret_path().write_text("ab" * 32)  # a fixed secret: the same public rows, so the same figures, every run
        for seed in range(args.seed, args.seed + args.seeds):
            competition = ServerCompetition(args.public_rows, args.public_fraction, seed, Path(tmp) / f"task-{seed}")
            views = {"rounded": competition.rounded_view, "ladder": competition.ladder_view}
            print(
                f"seed {seed}: accuracy on a random binary task, {len(competition.ids):,} test rows, "
                f"{int(competition.public.sum()):,} public; the server's split, scoring and feedback"
            )
            runs = [
                (
                    name,
                    lambda make=make, competition=competition, seed=seed: server_probe(
                        competition, make(), probes=args.probes, seed=seed
                    ),
                )
                for name, make in views.items()
            ]
            runs.append(
                (
                    "ladder, a new team per upload",
                    lambda competition=competition, seed=seed: sybil_probe(competition, probes=args.probes, seed=seed),
                )
            )
            for name, run in runs:
                found = run()
                probes.setdefault(name, []).append(found)
                print(
                    f"  probe    {name:8s} learned {found['learned']:4d} of {found['probes']} probed labels, "
                    f"{found['public']} probed rows public, wrong {found['wrong']}"
                )
            uploads = random_uploads(competition, submissions=args.submissions, seed=seed)
            for key, found in server_boosting(competition, views, uploads, seed=seed).items():
                boosts.setdefault(key, []).append(found)
                print(
                    f"  boosting {key[0]:8s} keep if {key[1]:9s} kept {found['kept']:4d}  public {found['public']:.4f}"
                    f"  private {found['private']:.4f}  gap {found['public'] - found['private']:+.4f}"
                )
            for teams in args.sybils:
                found = server_sybil(competition, uploads, teams=min(teams, args.submissions), seed=seed)
                sybils.setdefault(teams, []).append(found)
                print(
                    f"  boosting ladder from {teams:4d} throw-away teams: kept {found['kept']:4d}  public "
                    f"{found['public']:.4f}  private {found['private']:.4f}  gap {found['public'] - found['private']:+.4f}"
                )
    print(
        f"summary over {args.seeds} seed(s), {args.public_rows:,} public rows, public fraction {args.public_fraction}"
    )
    print(f"one-row probe ({args.probes} uploads per seed, each flipping one row of the team's best file):")
    for name, runs in probes.items():
        learned, probed, public = (sum(r[k] for r in runs) for k in ("learned", "probes", "public"))
        print(
            f"  {name:8s} labels learned {learned} of {probed} probed rows ({learned / probed:.1%}); "
            f"of the {public} public ones {learned / max(public, 1):.1%}; wrong guesses {sum(r['wrong'] for r in runs)}"
        )
    print(f"boosting attack ({args.submissions} random uploads per seed, majority vote of those kept):")
    for (name, rule), runs in boosts.items():
        gaps = np.array([r["public"] - r["private"] for r in runs])
        print(
            f"  {name:8s} keep if {rule:9s} public-minus-private accuracy: mean {gaps.mean():+.4f}, "
            f"range {gaps.min():+.4f} to {gaps.max():+.4f}"
        )
    for teams, runs in sybils.items():
        gaps = np.array([r["public"] - r["private"] for r in runs])
        print(
            f"  ladder from {teams:4d} throw-away teams (keep the uploads that moved their team's score above 0.5): "
            f"mean {gaps.mean():+.4f}, range {gaps.min():+.4f} to {gaps.max():+.4f}"
        )


def run_model(args) -> None:
    rows = args.public_rows
    print(f"model: boosting attack, {rows:,} public rows, {args.submissions} random submissions, majority vote")
    for name, make in (("rounded to 4 decimals", rounded_feedback), ("the Ladder (exact)", ladder_feedback)):
        public, private = boosting_attack(make(), rows=rows, submissions=args.submissions, seed=args.seed)
        print(f"  {name:22s} public loss {public:.4f}   private loss {private:.4f}   gap {private - public:+.4f}")
    print("model: one-row probe, one submission per public row:")
    for name, make in (("rounded to 4 decimals", rounded_feedback), ("the Ladder (exact)", ladder_feedback)):
        share = one_row_probe(make(), rows=min(rows, 2000), seed=args.seed)
        print(f"  {name:22s} labels revealed: {share:.1%} of the public rows")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--public-rows", "--rows", type=int, default=4000)
    parser.add_argument("--public-fraction", type=float, default=0.3)
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1, help="run the server's attacks on this many seeds")
    parser.add_argument(
        "--sybils",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1, 5, 20, 100, 400],
        help="throw-away team counts for the boosting attack under the Ladder (comma-separated)",
    )
    parser.add_argument("--model", action="store_true", help="the textbook model only")
    args = parser.parse_args()
    if not args.model:
        run_server(args)
    run_model(args)


if __name__ == "__main__":
    main()
