"""Feedback modes: what participants see of public scores ("rounded", or the Ladder), and the per-row results
every scored submission keeps for them and for honest ranks.

Per-row results live in the file store under ``rows/`` by their SHA-256, so a board
never re-reads a participant's file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.models import Competition, Submission
from arena.scoring import ladder, rowresults
from arena.scoring.datasets import load_task
from arena.scoring.metrics import get_metric
from arena.scoring.score import Score, public_rows
from arena.server.files import files_dir

log = logging.getLogger("arena.feedback")


def rows_path(sha256: str) -> Path:
    """Where per-row results with this digest are kept (three levels down: the upload sweeper never looks there)."""
    return files_dir() / "rows" / sha256[:2] / f"{sha256}.npy"


def store_rows(rows: np.ndarray) -> str:
    """Keep per-row results in the file store; returns their SHA-256."""
    data = rowresults.to_bytes(rows)
    sha = hashlib.sha256(data).hexdigest()
    target = rows_path(sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".rows-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
    return sha


def load_rows(sha256: str) -> np.ndarray | None:
    """Per-row results by digest, or None when there are none (scored before they were kept)."""
    if not sha256:
        return None
    path = rows_path(sha256)
    return rowresults.from_bytes(path.read_bytes()) if path.is_file() else None


def after_scoring(session: Session, submission: Submission, competition: Competition, score: Score) -> None:
    """Keep the submission's per-row results and, under the Ladder, decide the public score it shows.

    A failure here is logged and never fails the scoring: the board then shows the plain score.
    """
    try:
        submission.rows_sha256 = store_rows(score.rows) if score.rows is not None else ""
        if competition.feedback == "ladder":
            apply_ladder(session, submission, competition, score.rows)
    except Exception:
        log.exception("keeping per-row results of submission %s failed", submission.id)


def apply_ladder(session: Session, submission: Submission, competition: Competition, rows: np.ndarray | None) -> None:
    """The Ladder's step for this submission against its team's best so far (Blum & Hardt 2015)."""
    value = submission.public_primary
    if value is None:
        submission.ladder_public, submission.ladder_step = None, False
        return
    previous = session.scalars(select(Submission).where(
        Submission.team_id == submission.team_id, Submission.id != submission.id, Submission.ladder_step.is_(True),
        Submission.status == "scored", Submission.disqualified.is_(False)).order_by(Submission.id.desc())).first()
    task = load_task(competition.task_ref)
    sign = -1.0 if task.spec.higher_is_better else 1.0  # the Ladder works on losses (an organiser's metric too)
    public = public_rows(task, competition.public_fraction, split_key=competition.split_key)
    released = None if previous is None or previous.ladder_public is None else sign * previous.ladder_public
    noise = 0.0
    best_rows = load_rows(previous.rows_sha256) if previous is not None else None
    if released is not None and rows is not None and best_rows is not None:  # per-row results: a built-in metric
        truth = task.answer_key.truth[public]
        noise = rowresults.paired_noise(get_metric(task.spec.primary_metric), truth, rows[public], best_rows[public])
    result = ladder.step(released, sign * value, noise, int(public.sum()))
    submission.ladder_public, submission.ladder_step = sign * result.released, result.improved
