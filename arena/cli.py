"""The ``arena`` command: tasks, data, validation, scoring and uploading.

Other packages add their own subcommands through the ``arena.commands`` entry-point
group (``arena serve`` from the leaderboard, ``arena baseline`` from the baselines,
the server's commands from ``arena.server``), so this module imports none of them.
A command whose extra is not installed still shows in ``arena --help`` and says
which extra to install.

Exit codes: 0 success; 1 the input was refused (a bad file or bundle: the report
says why); 2 the command line was wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import TypeGuard

from arena.bundles import text_report
from arena.bundles.loading import Task, builtin_task_names, find_bundle
from arena.bundles.spec import load_spec
from arena.bundles.texts import TEXT_KIND
from arena.codabench.programs import ProgramFailed
from arena.scoring.interface import TaskInterface
from arena.scoring.score import Score, score_submission
from arena.scoring.validation import caps_for, read_submission
from arena.tasks import load_bundle_task, load_task

from .errors import ArenaError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def cmd_tasks_list(args: argparse.Namespace) -> int:
    for name in builtin_task_names():  # the spec is enough: no dataset is materialised to print this
        spec = load_spec(find_bundle(name))
        print(f"{name:<12} {spec.kind:<15} {spec.primary_metric:<10} {spec.title}")
    return EXIT_OK


def cmd_tasks_show(args: argparse.Namespace) -> int:
    task = load_task(args.task)
    print("\n".join(task.describe()))  # a Codabench bundle: its phases, columns and native check
    code = getattr(task.spec, "code", None)
    if code is not None:  # the versions a participant's program runs with, to test against
        from arena.code.runtime import describe_runtime

        print(f"  runtime:        {describe_runtime(task.spec.bundle_dir, code.runtime).line()}")
    return EXIT_OK


def cmd_data(args: argparse.Namespace) -> int:
    task = load_task(args.task)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    task.train.to_csv(out / "train.csv", index=False)
    task.test.to_csv(out / "test.csv", index=False)
    sample = task.sample_submission()
    sample.to_csv(out / "sample_submission.csv", index=False)
    print(
        f"wrote train.csv ({len(task.train)} rows), test.csv ({len(task.test)} rows) and sample_submission.csv to {out}"
    )
    if is_text_task(task):  # the answer format, and the other format every task accepts
        print("\n".join(text_report.sample_lines(task.spec, sample)))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    task = load_task(args.task)  # a bundle with problems stops here, every problem listed
    if args.file is None:
        return validate_bundle(task, args.task)
    if not is_text_task(task):
        print(f"{args.file}: {task.check_file(args.file)}.")
        return EXIT_OK
    texts = read_submission(task, args.file).texts
    if texts is None:  # never: a text task's reader always gives the answers
        raise ArenaError(f"{args.file}: no answers were read; check the file against sample_submission.csv.")
    print(f"{args.file}: valid submission for {task.name} ({len(texts):,} rows).")
    print("\n".join(text_report.answer_lines(task.spec, task.answer_key.ids, texts, caps_for(task).text_bytes)))
    return EXIT_OK


def is_text_task(task: object) -> TypeGuard[Task]:
    """A task.toml bundle of ``kind = "text"`` (a Codabench bundle's program reads its own files)."""
    return isinstance(task, Task) and task.spec.kind == TEXT_KIND


def validate_bundle(task: TaskInterface, given: str) -> int:
    """``arena validate TASK`` without a file: the bundle loaded, every check passed; for a text task, how the
    answer key's references were read (the organiser owns them)."""
    print(f"{given}: a valid task bundle ({task.name}): {len(task.train):,} train rows, {len(task.test):,} test rows.")
    if is_text_task(task):
        spec = task.spec
        source = spec.answers_file or spec.data_file
        where = f"{source.name}, " if source else ""
        print("\n".join(text_report.reference_lines(spec, task.answers, where) + text_report.comparison_lines(spec)))
    return EXIT_OK


def format_score(score: Score) -> str:
    """Human-readable public and private scores, primary metric first, with its 95% CI."""
    lines = []
    for part, values, ci, n in (
        ("public", score.public, score.public_ci, score.n_public),
        ("private", score.private, score.private_ci, score.n_private),
    ):
        metrics = ", ".join(
            f"{name} {value:.4f}" if value is not None else f"{name} -" for name, value in values.items()
        )
        interval = (
            f"95% CI [{ci[0]:.4f}, {ci[1]:.4f}]" if ci[0] is not None else "no interval (the program gives one number)"
        )
        lines.append(f"{part:<8} ({n} rows): {metrics}; {score.primary} {interval}")
    lines += [f"{name} signature: {signature}" for name, signature in score.signatures.items()]
    return "\n".join(lines)


def cmd_score(args: argparse.Namespace) -> int:
    task = load_task(args.task)
    try:
        score = score_submission(task, args.file, public_fraction=args.public_fraction)
    except ProgramFailed as exc:  # the organiser runs this: the exact reason and the program's own output too
        print(f"{exc.log}\n\nwhat a participant sees:", file=sys.stderr)
        raise
    if args.json:
        declared = {c.name: c.type for c in getattr(task.spec, "submission_columns", ())}
        columns = {"submission_columns": declared} if declared else {}
        print(
            json.dumps(
                {"task": task.name, "answer_key_sha256": task.answer_key.sha256, **columns, **score.to_dict()}, indent=2
            )
        )
    else:
        print(f"{task.spec.title}: answer key sha256 {task.answer_key.sha256}")
        print(format_score(score))
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    import os

    from arena.client import shown, submit_file, wait_for_score

    args.token = args.token or os.environ.get("ARENA_TOKEN", "").strip()
    if not args.token:
        raise ArenaError("no API token: pass --token or set ARENA_TOKEN (create a token on your account page).")
    if args.dry_run:
        return dry_run(args)
    answer = submit_file(
        args.server,
        args.token,
        args.task,
        args.file,
        note=args.note,
        baseline=args.baseline,
        baseline_model=args.baseline_model or "",
    )
    submission = answer["submission"]
    if answer.get("duplicate"):
        print(f"identical to submission #{submission['id']}: not counted again.")
    else:
        print(f"submission #{submission['id']} queued.")
    if args.wait:
        submission = wait_for_score(args.server, args.token, submission["id"])
        if submission["status"] == "failed":
            print("failed:\n" + "\n".join(f"  - {p}" for p in submission["problems"]), file=sys.stderr)
            return 1
        metric = submission["metric"]
        ci = submission["public_ci"] or [None, None]
        print(
            f"scored: public {metric} {shown(submission['public'][metric])} (95% CI [{shown(ci[0])}, {shown(ci[1])}])"
        )
    return 0


def dry_run(args: argparse.Namespace) -> int:
    """``arena submit --dry-run``: the server runs the program on the public sample (never scored, no slot used);
    print its output, its problems, time and peak memory. Non-zero exit status when the run failed."""
    from arena.client import ServerError, submit_file, wait_for_dry_run

    answer = submit_file(args.server, args.token, args.task, args.file, note=args.note, dry_run=True)
    if "dry_run" not in answer:
        raise ServerError(
            f"the server took {args.file} as a submission, not a dry run: it does not know dry runs. "
            "Try the program with `arena run TASK PROGRAM` on this machine instead."
        )
    started = answer["dry_run"]
    print(f"dry run #{started['id']} of {started['file_name']} queued on the public sample; waiting for it.")
    found = wait_for_dry_run(args.server, args.token, started["id"], timeout=args.timeout)
    if found["status"] not in ("done", "failed"):
        print(
            f"dry run #{found['id']} is still {found['status']} after {args.timeout:g} s; see it later on the "
            f"submissions page or at {args.server.rstrip('/')}/api/v1/dry-runs/{found['id']}.",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    if (found.get("log") or "").strip():
        print(found["log"].rstrip() + "\n")
    number = lambda value, unit: "-" if value is None else f"{value:.1f} {unit}"
    measured = f"time {number(found['wall_seconds'], 's')}, peak memory {number(found['peak_memory_mb'], 'MB')}"
    if found["status"] == "failed":
        problems = "\n".join(f"  - {problem}" for problem in found["problems"]) or "  - (no reason given)"
        print(f"dry run #{found['id']} failed ({found['failure']}):\n{problems}\n{measured}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"ok: dry run #{found['id']} wrote a valid predictions file for the public sample.\n{measured}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """``arena run TASK PROGRAM``: a dry run of a code submission on the public sample, in the sandbox and with the
    limits the server uses, its predictions checked as an upload's are."""
    import tempfile

    from arena.code.failures import CodeFailed
    from arena.code.outputs import validate_output
    from arena.code.runner import code_spec, limits_in_force, run_code
    from arena.code.uploads import check_code_upload

    task = load_bundle_task(args.task)
    program = Path(args.program)
    code = code_spec(task)
    check_code_upload(program, program.name, entry=code.entry)
    limits = limits_in_force(code)
    with tempfile.TemporaryDirectory(prefix="arena-run-") as work:
        try:
            run = run_code(task, program, file_name=program.name, sample=True, work=Path(work))
            validate_output(task, run, sample=True)
        except CodeFailed as exc:  # the sample is public: the exact reason and the program's output are shown
            if args.json:
                found = {"ok": False, "verdict": exc.verdict, "ours": exc.ours, "reason": exc.detail, "log": exc.log}
                print(json.dumps(found, indent=2))
            else:
                print(exc.log.rstrip(), file=sys.stderr)
                print(f"\nfailed ({exc.verdict}): {exc.detail or exc.messages()[0]}", file=sys.stderr)
            return EXIT_REFUSED
    measured = {
        "wall_seconds": run.wall_seconds,
        "cpu_seconds": run.cpu_seconds,
        "peak_memory_mb": run.peak_memory_mb,
        "limits": {"wall_seconds": limits.wall_seconds, "memory_mb": limits.memory_mb},
    }
    if args.json:
        print(json.dumps({"ok": True, "predictions": run.predictions.name, **measured, "log": run.log}, indent=2))
        return EXIT_OK
    if run.log.strip():
        print(run.log.rstrip() + "\n")
    number = lambda value, unit: "-" if value is None else f"{value:.1f} {unit}"
    print(f"ok: {run.predictions.name} is a valid predictions file for the public sample.")
    print(
        f"time {number(run.wall_seconds, 's')} of {limits.wall_seconds} s, CPU {number(run.cpu_seconds, 's')}, "
        f"peak memory {number(run.peak_memory_mb, 'MB')} of {limits.memory_mb} MB"
    )
    return EXIT_OK


def cmd_suite_list(args: argparse.Namespace) -> int:
    from arena.suites.spec import builtin_suite_names, load_suite

    for name in builtin_suite_names():
        suite = load_suite(name)
        print(f"{name:<14} {len(suite.tasks)} tasks  {suite.method:<16} {suite.title}")
    return EXIT_OK


def cmd_suite_show(args: argparse.Namespace) -> int:
    from arena.suites.scales import task_scale
    from arena.suites.spec import load_suite

    suite = load_suite(args.suite)
    measured = {t.key: task_scale(load_bundle_task(t.ref), t).floor for t in suite.tasks if t.floor is None}
    print("\n".join(suite.describe(measured)))
    return EXIT_OK


def cmd_suite_score(args: argparse.Namespace) -> int:
    from arena.suites.local import score_folder
    from arena.suites.spec import load_suite

    result = score_folder(load_suite(args.suite), args.folder, card=args.model)
    print(json.dumps(result.to_dict(), indent=2) if args.json else "\n".join(result.lines()))
    return EXIT_OK


def cmd_suite_submit(args: argparse.Namespace) -> int:
    from arena.client import cmd_suite_submit as submit

    return submit(args)


def cmd_suite_export(args: argparse.Namespace) -> int:
    """``arena suite export SUITE --server URL [--format FMT] [--compare A B | --release V] [--output FILE]``: the
    board, a comparison or a release as a table for a paper, printed or written to a file."""
    from arena.client import fetch_export
    from arena.suites.exports import BINARY_FORMATS

    filters = {
        "hide_extra_data": args.hide_extra_data,
        "hide_trained_on_test": args.hide_trained_on_test,
        "tier": args.tier,
    }
    if args.release is not None and any(filters.values()):
        raise ArenaError(
            "a release is frozen as it was made: --hide-extra-data, --hide-trained-on-test and --tier apply "
            "to the live board only. Leave them out, or leave out --release."
        )
    if args.format in BINARY_FORMATS and args.output is None and sys.stdout.isatty():
        raise ArenaError(
            f"{args.format} is binary and would garble the terminal: write it to a file with "
            f"--output FILE (or pipe it to one)."
        )
    token = (args.token or os.environ.get("ARENA_TOKEN", "")).strip()
    body = fetch_export(
        args.server,
        args.suite,
        args.format,
        compare=tuple(args.compare) if args.compare else None,
        release=args.release,
        filters=filters,
        token=token,
    )
    if args.output is not None:
        Path(args.output).write_bytes(body)
        print(f"wrote {args.output} ({len(body):,} bytes, {args.format}).", file=sys.stderr)
    elif args.format in BINARY_FORMATS:
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
    else:
        sys.stdout.write(body.decode("utf-8"))
    return EXIT_OK


def cmd_suite_compare(args: argparse.Namespace) -> int:
    """``arena suite compare SUITE A B --server URL [--json]``: two models of a hosted suite, task by task, with
    paired intervals, win / tie / loss, the Wilcoxon test and the difference of aggregates."""
    from arena.client import fetch_comparison

    token = (args.token or os.environ.get("ARENA_TOKEN", "")).strip()
    found = fetch_comparison(args.server, args.suite, args.a, args.b, token=token)
    if args.json:
        print(json.dumps(found, indent=2))
        return EXIT_OK
    print("\n".join(comparison_lines(found)))
    return EXIT_OK


def comparison_lines(found: dict) -> list[str]:
    """A comparison as the command prints it: one line a task, then the suite's verdict."""
    number = lambda value: "—" if value is None else f"{value:.4f}"
    lines = [
        f"suite {found['suite']} version {found['version']}: {found['a']} (A) against {found['b']} (B), "
        f"{found['resamples']} paired resamples of every task's rows"
    ]
    if found["pending"]:
        return lines + ["the paired intervals are still being computed; ask again in a minute."]
    lines.append(f"  {'task':<16} {'A':>8} {'B':>8} {'A - B':>8}  {'paired 95% CI':<20} {'P(A better)':>11}  outcome")
    for task in found["tasks"]:
        ci = task["ci"]
        shown_ci = f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "—"
        better = "—" if task["p_a_better"] is None else f"{task['p_a_better']:.3f}"
        lines.append(
            f"  {task['key']:<16} {number(task['a']):>8} {number(task['b']):>8} {number(task['difference']):>8}  "
            f"{shown_ci:<20} {better:>11}  {task['outcome']}"
        )
    lines.append(f"A better on {found['wins']}, indistinguishable on {found['ties']}, worse on {found['losses']} tasks")
    test = found["wilcoxon"]
    if test:
        lines.append(
            f"Wilcoxon signed-rank test over {test['tasks']} tasks' normalised differences: p = {test['p_value']}"
        )
    total = found["aggregate"]
    if total:
        ci = total["ci"]
        lines.append(
            f"aggregate ({found['method']}): A - B = {total['difference']:.4f} [{ci[0]:.4f}, {ci[1]:.4f}], "
            f"P(A better) {total['p_a_better']:.3f}"
        )
    return lines


def add_suite_commands(commands: argparse._SubParsersAction) -> None:
    """``arena suite``: list, show and score here; the server and the client add host and submit."""
    suite = commands.add_parser("suite", help="benchmark suites: list, show, score, submit, host").add_subparsers(
        dest="suite_command", required=True, metavar="SUITE_COMMAND"
    )
    suite.add_parser("list", help="list the built-in suites").set_defaults(func=cmd_suite_list)
    show = suite.add_parser("show", help="a suite's tasks, weights, floors, ceilings and aggregate")
    show.add_argument("suite", help="a built-in suite's name, or a folder or file with a suite.toml")
    show.set_defaults(func=cmd_suite_show)
    score = suite.add_parser("score", help="score a folder of predictions (one file per task) on this machine")
    score.add_argument("suite", help="a built-in suite's name, or a folder or file with a suite.toml")
    score.add_argument("folder", help="the folder holding TASK.csv (or .csv.gz, .parquet) for every task")
    score.add_argument("--model", help="the model card (TOML or JSON), checked and shown with the scores")
    score.add_argument("--json", action="store_true", help="print JSON")
    score.set_defaults(func=cmd_suite_score)
    submit = suite.add_parser("submit", help="enter a model in a hosted suite: its card and one file per task")
    submit.add_argument("suite", help="the suite's name on the server, e.g. core")
    submit.add_argument(
        "dir",
        help="the folder holding TASK.csv (or .csv.gz, .parquet) for every task, or TASK.zip / TASK.py, the model's "
        "program, for a task that runs code",
    )
    submit.add_argument("--model", required=True, help="the model card (TOML or JSON)")
    submit.add_argument("--server", required=True, help="e.g. http://127.0.0.1:5000")
    submit.add_argument("--token", help="an API token (default: the ARENA_TOKEN environment variable)")
    submit.add_argument("--baseline", action="store_true", help="mark as a reference baseline (organisers)")
    submit.add_argument("--wait", action="store_true", help="wait for the scores and the model's place on the board")
    submit.set_defaults(func=cmd_suite_submit)
    compare = suite.add_parser("compare", help="two models of a hosted suite, task by task, with paired intervals")
    compare.add_argument("suite", help="the suite's name on the server, e.g. core")
    compare.add_argument("a", help="model A")
    compare.add_argument("b", help="model B")
    compare.add_argument("--server", required=True, help="e.g. http://127.0.0.1:5000")
    compare.add_argument("--json", action="store_true", help="print the API's JSON")
    compare.add_argument("--token", help="an API token (default: the ARENA_TOKEN environment variable; not needed)")
    compare.set_defaults(func=cmd_suite_compare)
    from arena.suites.exports import FORMATS as EXPORT_FORMATS  # light: pyarrow is loaded to write Parquet only

    export = suite.add_parser("export", help="a hosted suite's board, a comparison or a release as a table for a paper")
    export.add_argument("suite", help="the suite's name on the server, e.g. core")
    export.add_argument("--server", required=True, help="e.g. http://127.0.0.1:5000")
    export.add_argument(
        "--format",
        default="markdown",
        choices=EXPORT_FORMATS,
        help="the table's format (default: markdown); parquet needs --output or a pipe",
    )
    which = export.add_mutually_exclusive_group()
    which.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two models side by side, task by task")
    which.add_argument("--release", type=int, metavar="V", help="release V, byte for byte as it was frozen")
    export.add_argument("--output", metavar="FILE", help="write to FILE instead of printing")
    export.add_argument("--hide-extra-data", action="store_true", help="leave out models that used extra data")
    export.add_argument("--hide-trained-on-test", action="store_true", help="leave out models trained on test inputs")
    export.add_argument("--tier", help="show only models verified at this tier or above (reproduced, reference)")
    export.add_argument("--token", help="an API token (default: the ARENA_TOKEN environment variable; not needed)")
    export.set_defaults(func=cmd_suite_export)
    add_plugin_commands(suite, group="arena.suite_commands", prefix="suite ")


def extra_providing(module: str | None) -> str | None:
    """The extra of this distribution that installs ``module`` (read from the installed metadata)."""
    top = (module or "").split(".")[0].lower().replace("_", "-")
    try:
        requirements = metadata.requires("arena") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        extra = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", requirement)
        if name and extra and name.group(0).lower().replace("_", "-") == top:
            return extra.group(1)
    return None


def missing_part(name: str, module: str | None, checkout: Path | None = None) -> str:
    """What a command of a missing extra says: which package it lacks and the command that installs it, from
    a checkout (where ``pip install 'arena[...]'`` would look for a package on an index) or from an index.
    ``checkout`` is the folder arena was installed from (default: the one holding this package)."""
    extra = extra_providing(module)
    checkout = checkout or Path(__file__).resolve().parents[1]
    if not extra:
        install = "reinstall arena with its extras"
    elif (checkout / "pyproject.toml").is_file():
        install = f"pip install -e '{checkout}[{extra}]' (or `make test` in {checkout}, which installs every extra)"
    else:
        install = f"pip install 'arena[{extra}]'"
    return f"'arena {name}' needs {module or 'a package that is not installed'}: {install}."


def _unavailable(message: str):
    def command(_args: argparse.Namespace) -> int:
        print(message, file=sys.stderr)
        return EXIT_REFUSED

    return command


def add_plugin_commands(
    commands: argparse._SubParsersAction, *, group: str = "arena.commands", prefix: str = ""
) -> None:
    """Let each installed package register its subcommands; one whose extra is missing says so when run."""
    for entry in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:
            message = missing_part(prefix + entry.name, exc.name)
            stub = commands.add_parser(entry.name, help=f"(not installed) {message}", add_help=False)
            stub.add_argument("rest", nargs=argparse.REMAINDER)
            stub.set_defaults(func=_unavailable(message))
        else:
            register(commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="Arena: machine-learning competitions and benchmarks.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tasks = commands.add_parser("tasks", help="list or describe tasks").add_subparsers(
        dest="tasks_command", required=True
    )
    tasks.add_parser("list", help="list the built-in tasks").set_defaults(func=cmd_tasks_list)
    show = tasks.add_parser("show", help="describe a task and print its answer-key SHA-256")
    show.add_argument(
        "task",
        help="a built-in task name, a bundle folder, or a Codabench/CodaLab bundle "
        "(folder or .zip; add #phase=N for a later phase)",
    )
    show.set_defaults(func=cmd_tasks_show)

    data = commands.add_parser("data", help="write train.csv, test.csv and sample_submission.csv")
    data.add_argument("task")
    data.add_argument("--out", required=True, help="folder to write into")
    data.set_defaults(func=cmd_data)

    validate = commands.add_parser(
        "validate",
        help="check a predictions file without scoring it; without a file, check the task bundle itself",
    )
    validate.add_argument("task")
    validate.add_argument(
        "file", nargs="?", help="a predictions file; leave it out to check the bundle (a text task: its references)"
    )
    validate.set_defaults(func=cmd_validate)

    score = commands.add_parser("score", help="score a predictions file on this machine's answer key (organisers)")
    score.add_argument("task")
    score.add_argument("file")
    score.add_argument("--json", action="store_true", help="print JSON")
    score.add_argument("--public-fraction", type=float, default=None, help="share of test rows that are public")
    score.set_defaults(func=cmd_score)

    submit = commands.add_parser("submit", help="upload a predictions file (or a program) to an Arena server")
    submit.add_argument("task", help="the competition's short name, e.g. digits")
    submit.add_argument("file")
    submit.add_argument("--server", required=True, help="e.g. http://127.0.0.1:5000")
    submit.add_argument(
        "--token",
        help="an API token from your account page (default: the ARENA_TOKEN "
        "environment variable, which keeps it out of shell history)",
    )
    submit.add_argument("--note", default="")
    submit.add_argument("--baseline", action="store_true", help="mark as a reference baseline")
    submit.add_argument(
        "--baseline-model",
        metavar="NAME",
        help="a baseline's model name (implies --baseline): its own row on the board, 'baseline: NAME'",
    )
    submit.add_argument("--wait", action="store_true", help="wait for the score and print it")
    submit.add_argument(
        "--dry-run",
        action="store_true",
        help="code competitions: run the program on the public sample on the server (never scored, no slot used), "
        "wait for it and print its output, time and memory",
    )
    submit.add_argument(
        "--timeout", type=float, default=3600, help="with --dry-run: seconds to wait for it (default: 3600)"
    )
    submit.set_defaults(func=cmd_submit)

    run = commands.add_parser(
        "run", help="dry-run a code submission on the public sample, in the sandbox and limits the server uses"
    )
    run.add_argument("task", help="a code task: a built-in name or a bundle folder")
    run.add_argument("program", help="your program: a .py file, or a .zip with main.py at its top level")
    run.add_argument("--json", action="store_true", help="print JSON")
    run.set_defaults(func=cmd_run)

    add_suite_commands(commands)
    add_plugin_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that went away is noticed here, not at exit
        return code
    except BrokenPipeError:
        # The reader stopped reading (`arena tasks show digits | head`): end quietly, as other tools do.
        # Python would try to flush stdout again at exit; point it at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except ArenaError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_REFUSED
    except FileNotFoundError as exc:
        print(f"File not found: {exc.filename}. Check the path and try again.", file=sys.stderr)
        return EXIT_REFUSED
    except ImportError as exc:  # a command reached for a part of an extra that is not installed
        print(missing_part(args.command, exc.name), file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
