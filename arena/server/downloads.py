"""The data files a participant downloads: train, test without labels, and a sample submission.

In a code competition the test inputs stay hidden (Arena runs the participant's program on them): it offers the
training rows, a small public sample shaped as the test inputs are (drawn from the training rows), and the
predictions format for that sample, never ``test.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from arena.code.inputs import public_sample
from arena.config import arena_home
from arena.db.models import Competition
from arena.scoring.interface import TaskInterface
from arena.server.competitions import is_code, task_of

DOWNLOADS = ("train.csv", "test.csv", "sample_submission.csv")
CODE_DOWNLOADS = ("train.csv", "public_sample.csv", "sample_submission.csv")
WITHHELD = (
    "this competition runs your code on the test inputs, which stay hidden: there is no test.csv to download. "
    "Develop on train.csv and public_sample.csv (rows shaped as the test inputs), and try your program with a "
    "dry run on the public sample."
)


class Withheld(FileNotFoundError):
    """A file this competition never hands out (the hidden test inputs of a code competition)."""


def offered(competition: Competition) -> tuple[str, ...]:
    """The files a participant of this competition may download."""
    return CODE_DOWNLOADS if is_code(competition) else DOWNLOADS


def download_path(competition: Competition, name: str) -> Path:
    """A participant-facing data file (train, test without labels, sample submission), cached on disk.

    The answer key is never written here: these are the only files a participant gets. In a code competition
    ``test.csv`` raises :class:`Withheld`, and ``sample_submission.csv`` lists the public sample's ids only.
    """
    if is_code(competition) and name == "test.csv":
        raise Withheld(WITHHELD)
    if name not in offered(competition):
        raise FileNotFoundError(name)
    # The competition's id is in the path: a draft deleted and hosted again under its name never gets old files.
    folder = (
        arena_home()
        / "downloads"
        / competition.slug
        / f"{competition.id}-v{competition.task_version}-{competition.answer_sha256[:12]}-{competition.submission_kind}"
    )
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        frame = _frame(task_of(competition), name, code=is_code(competition))
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
    return path


def _frame(task: TaskInterface, name: str, *, code: bool) -> pd.DataFrame:
    if name == "train.csv":
        return task.train
    if not code:
        return task.test if name == "test.csv" else task.sample_submission()
    sample = public_sample(task)  # type: ignore[arg-type]  # a code task is always a bundle's Task
    if name == "public_sample.csv":
        return sample
    trivial = task.sample_submission()  # the same trivial values as the program's own, for the sample's ids
    id_column = task.spec.id_column
    first = trivial.drop(columns=[id_column]).iloc[[0] * len(sample)].reset_index(drop=True)
    return pd.concat([sample[[id_column]].reset_index(drop=True), first], axis=1)
