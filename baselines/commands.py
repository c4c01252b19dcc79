"""``arena baseline``: registered by this package through the ``arena.commands`` entry point."""

from __future__ import annotations

import argparse
import sys


def cmd_baseline(args: argparse.Namespace) -> int:
    if args.submit and not (args.server and args.token):
        print("--submit needs --server URL and --token TOKEN.", file=sys.stderr)
        return 2
    if args.suite:
        return cmd_baseline_suite(args)
    if args.gzip:
        print("--gzip is for --suite; for one task, name the file TASK.csv.gz with --out.", file=sys.stderr)
        return 2
    from baselines.run import main

    return main(args)


def cmd_baseline_suite(args: argparse.Namespace) -> int:
    """``arena baseline --suite SUITE MODEL``: the suite is read before JAX loads, so a wrong name fails at once."""
    from arena.suites.spec import load_suite

    if not args.task or args.model or args.list:
        print("with --suite, name one model: arena baseline --suite SUITE MODEL (e.g. cnn).", file=sys.stderr)
        return 2
    suite = load_suite(args.suite)  # unknown or broken: a SuiteError, which the arena command reports (exit 1)
    from baselines.models import BUILDERS
    from baselines.suite import main

    if args.task not in BUILDERS:
        print(f"unknown model '{args.task}'; models are: {', '.join(BUILDERS)}.", file=sys.stderr)
        return 2
    return main(args, suite)


def register(commands: argparse._SubParsersAction) -> None:
    baseline = commands.add_parser("baseline", help="train a reference baseline (JAX/Flax) and write its predictions")
    baseline.add_argument("task", nargs="?", help="a built-in task name or a bundle folder (with --suite: the model)")
    baseline.add_argument("model", nargs="?", help="cnn, gru, lstm, bigru, transformer or mlp")
    baseline.add_argument("--list", action="store_true", help="show which models fit which tasks")
    baseline.add_argument(
        "--suite", help="a suite (built-in name or suite.toml folder): train MODEL on each of its tasks it applies to"
    )
    baseline.add_argument("--epochs", type=int)
    baseline.add_argument("--seed", type=int)
    baseline.add_argument("--time-budget", type=float, help="stop training after this many seconds")
    baseline.add_argument(
        "--out", help="predictions file to write (default TASK-MODEL-seedS.csv); with --suite, a folder"
    )
    baseline.add_argument("--gzip", action="store_true", help="with --suite: write TASK.csv.gz (byte-stable) files")
    baseline.add_argument("--no-curves", action="store_true", help="do not save curves and checkpoint")
    baseline.add_argument(
        "--submit", action="store_true", help="upload to a leaderboard, marked as a baseline (with --suite: as a model)"
    )
    baseline.add_argument("--server", help="e.g. http://127.0.0.1:5000 (with --submit)")
    baseline.add_argument("--token", help="an API token (with --submit)")
    baseline.set_defaults(func=cmd_baseline)
