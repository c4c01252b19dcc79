"""``arena baseline``: registered by this package through the ``arena.commands`` entry point."""

from __future__ import annotations

import argparse
import sys


def cmd_baseline(args: argparse.Namespace) -> int:
    from baselines.run import main

    if args.submit and not (args.server and args.token):
        print("--submit needs --server URL and --token TOKEN.", file=sys.stderr)
        return 2
    return main(args)


def register(commands: argparse._SubParsersAction) -> None:
    baseline = commands.add_parser("baseline", help="train a reference baseline (JAX/Flax) and write its predictions")
    baseline.add_argument("task", nargs="?", help="a built-in task name or a bundle folder")
    baseline.add_argument("model", nargs="?", help="cnn, gru, lstm, bigru, transformer or mlp")
    baseline.add_argument("--list", action="store_true", help="show which models fit which tasks")
    baseline.add_argument("--epochs", type=int)
    baseline.add_argument("--seed", type=int)
    baseline.add_argument("--time-budget", type=float, help="stop training after this many seconds")
    baseline.add_argument("--out", help="predictions file to write (default TASK-MODEL-seedS.csv)")
    baseline.add_argument("--no-curves", action="store_true", help="do not save curves and checkpoint")
    baseline.add_argument("--submit", action="store_true", help="upload to a leaderboard, marked as a baseline")
    baseline.add_argument("--server", help="e.g. http://127.0.0.1:5000 (with --submit)")
    baseline.add_argument("--token", help="an API token (with --submit)")
    baseline.set_defaults(func=cmd_baseline)
