"""The way in for every submission: store the file by content hash, then record it ``queued``.

Web form, JSON API and the CLI (through the API) all call :func:`submit_stream`.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from sqlalchemy.orm import Session

from arena.server.files import store_stream
from arena.server import submissions as store
from arena.server.competitions import get
from arena.db.models import User
from arena.scoring.validation import DEFAULT_MAX_BYTES


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
