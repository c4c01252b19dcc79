"""The way in for every submission: store the file by content hash, then record it ``queued``.

Web form, JSON API and the CLI (through the API) all call :func:`submit_stream`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from .config import arena_home
from .datasets import Task
from .files import store_stream
from .store import submissions as store
from .store.competitions import get, task_of
from .store.models import Competition, User
from .submissions import DEFAULT_MAX_BYTES

DOWNLOADS = ("train.csv", "test.csv", "sample_submission.csv")


def submit_stream(session: Session, slug: str, user: User, stream: BinaryIO, file_name: str, *,
                  note: str = "", is_baseline: bool = False, max_bytes: int = DEFAULT_MAX_BYTES) -> store.Accepted:
    """Store the upload, then record it under the team's limits (inside the caller's transaction).

    The file is kept before the row is written, so a recorded submission always has
    its file; a refused upload (limit, closed competition) leaves only an
    unreferenced file in the content store, never a row or a used slot.
    """
    competition = get(session, slug)
    sha, size = store_stream(stream, max_bytes)
    return store.accept(session, competition, user, file_sha256=sha, file_name=os.path.basename(file_name or "upload"),
                        file_size=size, note=note, is_baseline=is_baseline)


def download_path(competition: Competition, name: str) -> Path:
    """A participant-facing data file (train, test without labels, sample submission), cached on disk.

    The answer key is never written here: these are the only files a participant gets.
    """
    if name not in DOWNLOADS:
        raise FileNotFoundError(name)
    folder = arena_home() / "downloads" / competition.slug / f"v{competition.task_version}-{competition.answer_sha256[:12]}"
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        task: Task = task_of(competition)
        frame = {"train.csv": task.train, "test.csv": task.test,
                 "sample_submission.csv": task.sample_submission()}[name]
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
    return path
