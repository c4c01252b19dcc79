"""A folder of predictions, one file per task of a suite, named after the task: ``TASK.csv``, ``TASK.csv.gz`` or
``TASK.parquet``; for a server's task that runs code, the model's program ``TASK.zip`` or ``TASK.py`` instead.
Standard library only: ``arena suite score`` reads it here, and the client before it uploads."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from arena.errors import Problem

PREDICTION_SUFFIXES = (".csv", ".csv.gz", ".parquet")
PROGRAM_SUFFIXES = (".zip", ".py")
"""A program's file (never a predictions file: those are read by their content, and a zip or Python source is none)."""


def prediction_files(
    folder: str | Path, keys: Iterable[str] | None = None, *, suite: str = "", programs: bool = False
) -> tuple[dict[str, Path], list[Problem]]:
    """Each task's file in the folder by task key, and a problem for every task with two files and for a file that
    would pose as the model card's part. Given the suite's task ``keys``, also for every task without a file and
    every file that names no task (a misspelt task, most likely: the likely one is named); other files are left
    alone. With ``programs`` (entering a model on a server), a task's file may be its program (``TASK.zip`` or
    ``TASK.py``), which the server runs where the task declares code."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}, [Problem(str(folder), "is not a folder: give the folder that holds one predictions file per task.")]
    found: dict[str, list[Path]] = {}
    suffixes = PREDICTION_SUFFIXES + (PROGRAM_SUFFIXES if programs else ())
    for path in sorted(folder.iterdir()):
        suffix = next((s for s in suffixes if path.name.endswith(s)), None)
        if suffix is not None and path.is_file() and len(path.name) > len(suffix):
            found.setdefault(path.name[: -len(suffix)], []).append(path)
    problems = [
        Problem(paths[1].name, f"is a second file for task '{key}' (with {paths[0].name}): keep one.")
        for key, paths in found.items()
        if len(paths) > 1
    ]
    if "card" in found:
        problems.append(
            Problem(
                found["card"][0].name,
                "would be sent as a task named 'card', which the model card's part is named already; move it out "
                "of the folder (the card is given with --model).",
            )
        )
    if keys is not None:
        names = sorted(keys)
        for key, paths in found.items():
            if key not in names and key != "card":
                close = difflib.get_close_matches(key, names, n=1)
                suffix = paths[0].name[len(key) :]
                hint = f" Did you mean '{close[0]}{suffix}'?" if close else f" The suite's tasks: {', '.join(names)}."
                problems.append(Problem(paths[0].name, f"names no task of suite '{suite}'.{hint}"))
        for key in names:
            if key not in found:
                expected = ", ".join(key + s for s in PREDICTION_SUFFIXES[:-1]) + f" or {key}{PREDICTION_SUFFIXES[-1]}"
                if programs:
                    expected += f" (or, where the task runs code, its program {key}.zip or {key}.py)"
                problems.append(
                    Problem(key, f"has no predictions file: expected {expected} in {folder.name or folder}.")
                )
    elif not found:
        problems.append(
            Problem(
                str(folder),
                "holds no predictions file: name each one after its task, e.g. digits.csv "
                f"({', '.join(PREDICTION_SUFFIXES)}).",
            )
        )
    chosen = {key: paths[0] for key, paths in found.items() if keys is None or key in set(keys)}
    return chosen, problems
