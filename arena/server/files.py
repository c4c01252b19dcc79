"""Content-addressed file store under ARENA_HOME/files: an accepted upload is kept by its SHA-256.

An upload is first received into a private temporary file (``files/.incoming``),
with no database transaction open while its bytes move; only when its submission is
recorded does it enter the store, so the store holds accepted submissions' files only.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.config import arena_home, private_dir
from arena.db.models import DryRun, Submission
from arena.errors import SubmissionError
from arena.hidden_text import is_hidden

CHUNK = 1 << 20


def files_dir() -> Path:
    return private_dir(arena_home() / "files")


def incoming_dir() -> Path:
    return private_dir(files_dir() / ".incoming")


def path_for(sha256: str) -> Path:
    return files_dir() / sha256[:2] / sha256


@dataclass(frozen=True)
class Received:
    """An upload's bytes in a temporary file of their own, not yet in the store."""

    path: Path
    sha256: str
    size: int


def receive(stream: BinaryIO, max_bytes: int) -> Received:
    """Copy ``stream`` into a private temporary file, hashing as it goes.

    Stops reading as soon as the size limit is passed, so an oversized upload never
    fills the disk; nothing is kept in that case.
    """
    digest = hashlib.sha256()
    size = 0
    fd, name = tempfile.mkstemp(dir=incoming_dir(), prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise SubmissionError(
                        f"the file is larger than the limit of {max_bytes / 2**20:.0f} MiB. "
                        "Compress it (.csv.gz) or write Parquet, which are much smaller."
                    )
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(name)
        raise
    return Received(Path(name), digest.hexdigest(), size)


def keep(received: Received) -> Path:
    """Move a received file into the store under its hash (an identical file already there stays)."""
    target = path_for(received.sha256)
    private_dir(target.parent)
    os.replace(received.path, target)
    return target


def discard(received: Received) -> None:
    """Forget a received file that was not kept (a refused upload); a no-op once kept."""
    received.path.unlink(missing_ok=True)


def store_stream(stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
    """Receive and keep at once, for callers with no rule to check in between; returns (sha256, size)."""
    received = receive(stream, max_bytes)
    keep(received)
    return received.sha256, received.size


def remove_unreferenced(session: Session, older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete stored files that no submission references, and abandoned temporary files.

    Only files older than ``older_than`` go, so an upload being recorded right now is
    never touched. Returns how many files were removed.
    """
    cutoff = time.time() - older_than.total_seconds()
    referenced = set(session.scalars(select(Submission.file_sha256).distinct()))
    referenced |= set(session.scalars(select(DryRun.file_sha256).distinct()))  # a program waiting for its dry run
    removed = 0
    for path in files_dir().glob("*/*"):
        stale = path.is_file() and path.stat().st_mtime < cutoff
        if stale and (path.parent.name == ".incoming" or path.name not in referenced):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def kept_file_name(name: str, default: str = "upload") -> str:
    """An uploaded file's name as kept and shown: its last path component, with no control or invisible character
    (a NUL is one that PostgreSQL refuses to store), at most 255 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in name if not is_hidden(ch)).strip()[:255]
    return kept or default


def write_whole(target: Path, data: bytes) -> None:
    """Write ``target`` whole, then rename it into place: a reader never sees half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.suffix.lstrip('.')}-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, target)
