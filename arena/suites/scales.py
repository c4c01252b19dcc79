"""Each task's scale in a suite: the score mapped to 0 (floor) and the one mapped to 1 (ceiling).

A floor the suite does not declare is measured: the score of the task's trivial
submission (its sample submission: the majority class, the class frequencies or
the training mean, unless the organiser ships their own), rounded as a board shows
scores: on all test rows on this machine (``arena suite score``), and on a hosted
competition's public rows on a server, which reveal nothing its board does not. Declaring floors is still better for a
published suite: a measured floor moves when a task's answer key does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from arena.scoring.interface import TaskInterface
from arena.suites.spec import SuiteError, SuiteTask

SHOWN_DECIMALS = 4


@dataclass(frozen=True)
class TaskScale:
    floor: float
    ceiling: float

    def to_dict(self) -> dict[str, float]:
        return {"floor": self.floor, "ceiling": self.ceiling}


def trivial_score(task: TaskInterface, *, public_fraction: float | None = None, split_key: str | None = None) -> float:
    """The primary metric of the task's sample submission: on all its test rows, or, given a competition's split
    (``public_fraction`` and ``split_key``), on its public rows only, which its board shows anyway: a floor shown
    beside a hidden board must not tell anything of the private labels."""
    with tempfile.TemporaryDirectory(prefix="arena-floor-") as folder:
        path = Path(folder) / "trivial.csv"
        task.sample_submission().to_csv(path, index=False)
        if public_fraction is None:
            score = task.score_file(path, public_fraction=0.0)
            value = score.private[score.primary]
        else:
            score = task.score_file(path, public_fraction=public_fraction, split_key=split_key)
            value = score.public[score.primary]
    if value is None:  # only a scoring program leaves a column out, and suites hold no Codabench phases
        raise ValueError(f"task {task.name!r}: the trivial submission has no {score.primary}")
    return round(float(value), SHOWN_DECIMALS)


def task_scale(
    task: TaskInterface, suite_task: SuiteTask, *, public_fraction: float | None = None, split_key: str | None = None
) -> TaskScale:
    """The suite task's declared floor and ceiling, the floor measured when it is not declared (on a competition's
    public rows when its split is given: see :func:`trivial_score`)."""
    floor = (
        suite_task.floor
        if suite_task.floor is not None
        else trivial_score(task, public_fraction=public_fraction, split_key=split_key)
    )
    if suite_task.ceiling is None:  # spec.load_suite refuses a suite whose plugin metric has no ceiling
        raise ValueError(f"task {suite_task.key!r} has no ceiling")
    if floor == suite_task.ceiling:
        raise SuiteError(
            f"task '{suite_task.key}': its trivial submission already scores the ceiling ({floor:g}), so the task "
            "has no scale. Declare a floor below the ceiling in suite.toml."
        )
    return TaskScale(floor=floor, ceiling=suite_task.ceiling)
