"""Benchmark: the boosting attack of Blum & Hardt (2015) against rounded scores and against the Ladder.

A random binary task: n public and n private rows with random labels. The attacker
makes k random submissions, keeps those whose shown public loss (0-1 loss) is below
0.5, and combines them by majority vote. Rounded scores leak enough for the vote to
overfit the public rows (public loss well below 0.5, private loss 0.5); under the
Ladder the shown loss rarely moves, and the vote stays within noise of 0.5.

Usage: python bench/ladder_attack.py [--rows 4000] [--submissions 400] [--seed 0]
"""

from __future__ import annotations

import argparse

import numpy as np

from arena.scoring.ladder import Ladder


def rounded_feedback(digits: int = 4):
    """Today's feedback: every submission's public loss, rounded."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"boosting attack: {args.rows:,} public rows, {args.submissions} random submissions, majority vote")
    for name, make in (("rounded to 4 decimals", rounded_feedback), ("the Ladder", ladder_feedback)):
        public, private = boosting_attack(make(), rows=args.rows, submissions=args.submissions, seed=args.seed)
        print(f"  {name:22s} public loss {public:.4f}   private loss {private:.4f}")
    print("one-row probe, one submission per row:")
    for name, make in (("rounded to 4 decimals", rounded_feedback), ("the Ladder", ladder_feedback)):
        share = one_row_probe(make(), rows=min(args.rows, 2000), seed=args.seed)
        print(f"  {name:22s} labels revealed: {share:.1%} of the public rows")


if __name__ == "__main__":
    main()
