"""Content-addressed file store under ARENA_HOME/files: an upload is kept by its SHA-256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from arena.config import arena_home
from arena.errors import SubmissionError

CHUNK = 1 << 20


def files_dir() -> Path:
    path = arena_home() / "files"
    path.mkdir(parents=True, exist_ok=True)
    return path


def path_for(sha256: str) -> Path:
    return files_dir() / sha256[:2] / sha256


def store_stream(stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
    """Copy ``stream`` into the store, hashing as it goes; returns (sha256, size).

    Stops reading as soon as the size limit is passed, so an oversized upload never
    fills the disk; nothing is kept in that case.
    """
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=files_dir(), prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise SubmissionError(f"the file is larger than the limit of {max_bytes / 2**20:.0f} MiB. "
                                          "Compress it (.csv.gz) or write Parquet, which are much smaller.")
                digest.update(chunk)
                out.write(chunk)
        sha = digest.hexdigest()
        target = path_for(sha)
        target.parent.mkdir(exist_ok=True)
        os.replace(tmp_name, target)
        return sha, size
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)

