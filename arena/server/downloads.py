"""The data files a participant downloads: train, test without labels, and a sample submission."""

from __future__ import annotations

from pathlib import Path

from arena.config import arena_home
from arena.db.models import Competition
from arena.scoring.interface import TaskInterface
from arena.server.competitions import task_of

DOWNLOADS = ("train.csv", "test.csv", "sample_submission.csv")


def download_path(competition: Competition, name: str) -> Path:
    """A participant-facing data file (train, test without labels, sample submission), cached on disk.

    The answer key is never written here: these are the only files a participant gets.
    """
    if name not in DOWNLOADS:
        raise FileNotFoundError(name)
    # The competition's id is in the path: a draft deleted and hosted again under its name never gets old files.
    folder = (
        arena_home()
        / "downloads"
        / competition.slug
        / f"{competition.id}-v{competition.task_version}-{competition.answer_sha256[:12]}"
    )
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        task: TaskInterface = task_of(competition)
        frame = {"train.csv": task.train, "test.csv": task.test, "sample_submission.csv": task.sample_submission()}[
            name
        ]
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
    return path
