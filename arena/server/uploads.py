"""The way in for every submission: receive the bytes, then record the upload ``queued`` and keep its file.

In a code competition the file is a program (a .zip or a single .py), checked before anything is recorded.

Web form, JSON API and the CLI (through the API) all call :func:`submit_stream`.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from arena.code.uploads import check_code_upload
from arena.db.models import Competition, User
from arena.scoring.validation import DEFAULT_MAX_BYTES
from arena.server import files
from arena.server import submissions as store
from arena.server.competitions import get, is_code


def check_program(competition: Competition, path: Path, file_name: str) -> None:
    """Refuse a code upload that cannot run (not a .zip or .py, no entry function, ...) with what to fix."""
    entry = ((competition.task_facts or {}).get("code") or {}).get("entry", "predict")
    check_code_upload(path, files.kept_file_name(file_name), entry=entry)


def submit_stream(
    session: Session,
    slug: str,
    user: User,
    stream: BinaryIO,
    file_name: str,
    *,
    note: str = "",
    is_baseline: bool = False,
    baseline_model: str = "",
    max_bytes: int = DEFAULT_MAX_BYTES,
    competition: Competition | None = None,
) -> store.Accepted:
    """Receive the upload, then record it under the team's limits and keep its file.

    ``competition`` is the one named ``slug`` when the caller has already found it in this
    session (a route checking who may see it): it is not read again.

    Call it inside the caller's transaction before that transaction has touched the
    database: the bytes are copied to a private temporary file first, with no
    transaction open (so a slow upload blocks nobody); then one short transaction
    checks the rules and writes the row. The file enters the store just before the
    commit, so a recorded submission always has its file, and a refused upload
    (closed competition, limit reached, not allowed) leaves nothing behind.
    """
    received = files.receive(stream, max_bytes)
    try:
        if competition is None or competition.slug != slug:
            competition = get(session, slug)
        if is_code(competition):  # a program that cannot run is refused here, before it costs a slot
            check_program(competition, received.path, file_name)
        accepted = store.accept(
            session,
            competition,
            user,
            file_sha256=received.sha256,
            file_name=files.kept_file_name(file_name),
            file_size=received.size,
            note=note,
            is_baseline=is_baseline,
            baseline_model=baseline_model,
        )
        if not accepted.duplicate:
            files.keep(received)
        return accepted
    finally:
        files.discard(received)
