"""Feedback modes: what participants see of public scores ("rounded", or the Ladder), the per-row results
every scored submission keeps for them and for honest ranks, and how exposed a rounded competition is to probing.

Per-row results live in the file store under ``rows/`` by their SHA-256, so a board
never re-reads a participant's file.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.bundles.loading import builtin_task_names
from arena.db.models import Competition, Submission, utcnow
from arena.intervals import ladder
from arena.intervals import row_results as rowresults
from arena.intervals.weighted import answer_weights
from arena.metrics.registry import get_metric, is_known
from arena.scoring.score import Score, public_rows
from arena.server.files import files_dir, write_whole
from arena.tasks import load_task

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
        write_whole(target, data)
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
    previous = session.scalars(
        select(Submission)
        .where(
            Submission.team_id == submission.team_id,
            Submission.id != submission.id,
            Submission.ladder_step.is_(True),
            Submission.status == "scored",
            Submission.disqualified.is_(False),
        )
        .order_by(Submission.id.desc())
    ).first()
    task = load_task(competition.task_ref)
    public = public_rows(task, competition.public_fraction, split_key=competition.split_key)
    best = (
        None
        if previous is None
        else LadderBest(
            released=previous.ladder_public,
            value=previous.public_primary,
            score=previous.score,
            rows=load_rows(previous.rows_sha256),
        )
    )
    submission.ladder_public, submission.ladder_step = ladder_update(task, public, value, submission.score, rows, best)


@dataclass(frozen=True)
class LadderBest:
    """What the Ladder needs of a team's best submission: the score it released, its exact public score, its stored
    score (for the public interval) and its per-row results (None where there are none)."""

    released: float | None
    value: float | None
    score: dict | None
    rows: np.ndarray | None


def ladder_update(
    task, public: np.ndarray, value: float, score: dict | None, rows: np.ndarray | None, best: LadderBest | None
) -> tuple[float, bool]:
    """One Ladder step of a scored submission (its public primary ``value``, stored ``score`` and per-row ``rows``)
    against the team's ``best`` (None before its first): the public score it shows, and whether it is the new best."""
    if best is None:
        return ladder_release(task, public, None, value, rows, None)
    return ladder_release(
        task,
        public,
        best.released,
        value,
        rows,
        best.rows,
        best_value=best.value if best.value is not None else best.released,
        interval=_public_interval(score),
        best_interval=_public_interval(best.score),
    )


def _public_interval(score: dict | None) -> tuple[float, float] | None:
    """The primary metric's public 95% interval of a stored score, or None."""
    found = (score or {}).get("public_ci")
    return (float(found[0]), float(found[1])) if found and len(found) == 2 and None not in found else None


def ladder_release(
    task,
    public: np.ndarray,
    released: float | None,
    value: float,
    rows: np.ndarray | None,
    best_rows: np.ndarray | None,
    *,
    best_value: float | None = None,
    interval: tuple[float, float] | None = None,
    best_interval: tuple[float, float] | None = None,
) -> tuple[float, bool]:
    """One Ladder step on the public rows, without the database: the public score it releases (in the metric's own
    direction) and whether the submission became the team's new best.

    ``released`` is the team's last release (None before its first), ``value`` this submission's public score,
    ``rows`` and ``best_rows`` the per-row results of this submission and of the team's best (None where there are
    none), ``best_value`` the best's public score, ``interval`` and ``best_interval`` the two public 95% intervals
    (the noise's bound where there are no per-row results). The test is
    :func:`arena.intervals.row_results.paired_comparison`.
    """
    sign = -1.0 if task.spec.higher_is_better else 1.0  # the Ladder works on losses (an organiser's metric too)
    n = int(public.sum())
    if released is None:
        return sign * ladder.step(None, sign * value, True, n).released, True
    comparison = ladder_comparison(task, public, value, rows, best_value, best_rows, interval, best_interval)
    result = ladder.step(sign * released, sign * value, comparison.beats, n)
    return sign * result.released, result.improved


def ladder_comparison(
    task,
    public: np.ndarray,
    value: float,
    rows: np.ndarray | None,
    best_value: float | None,
    best_rows: np.ndarray | None,
    interval=None,
    best_interval=None,
) -> rowresults.Comparison:
    """The Ladder's test of a submission against the team's best on the competition's public rows (see
    :func:`arena.intervals.row_results.paired_comparison`): a built-in metric by name, never an organiser's code."""
    name = task.spec.primary_metric
    metric = (
        get_metric(name, task.classes, kind=task.spec.kind, text=getattr(task.spec, "text", None))
        if is_known(name)
        else None
    )
    weights = answer_weights(task)
    return rowresults.paired_comparison(
        metric,
        task.answer_key.truth[public],
        None if rows is None else rows[public],
        None if best_rows is None else best_rows[public],
        None if weights is None else weights[public],
        value=value,
        best_value=best_value,
        interval=interval,
        best_interval=best_interval,
        higher_is_better=task.spec.higher_is_better,
    )


# --- probing: how many public labels a competition's limits let one-row probes read off rounded scores ----------

PROBE_HORIZON_DAYS = 30
"""The days counted for a competition without an end date (a benchmark): its uploads never stop, so any horizon
understates them; 30 days is what a month of its limits allows."""

PROBE_WARN_SHARE = 0.01
"""Warn once one-row probes could read the labels of this share of the public rows. Each label a team had wrong
and then fixes lifts its public score by one public row's worth, so 1% of them can lift a public accuracy by up to
a full point, a lead the public board would show as real."""


@dataclass(frozen=True)
class ProbeExposure:
    """What a competition's limits let uploads learn of its public rows under rounded feedback.

    The one-row probe (bench/ladder_attack.py) flips one row per upload and reads the rounded public score: every
    upload whose row is public reveals that row's label, so ``submissions`` uploads reveal about
    ``submissions * public_fraction`` labels."""

    submissions: int  # the most uploads all teams together may make over ``days``
    teams: int  # teams counted (at least one: a single team can probe)
    days: int  # UTC days of uploads: from the dates, or PROBE_HORIZON_DAYS without an end date
    horizon: bool  # True when ``days`` is PROBE_HORIZON_DAYS (a benchmark)
    public_rows: int  # about: test rows times the public fraction
    labels: int  # public labels one-row probes could reveal

    @property
    def share(self) -> float:
        return self.labels / self.public_rows


def upload_days(competition: Competition, now: datetime | None = None) -> tuple[int, bool]:
    """The UTC days on which the competition takes uploads (daily limits count per UTC day), and whether that is
    the stated horizon because it has no end date."""
    if competition.ends_at is None:
        return PROBE_HORIZON_DAYS, True
    start = competition.starts_at or competition.created_at or now or utcnow()
    last = competition.ends_at - timedelta(microseconds=1)  # the end itself takes no upload
    return max(1, (last.date() - start.date()).days + 1), False


def probe_exposure(competition: Competition, teams: list, now: datetime | None = None) -> ProbeExposure | None:
    """How many public labels one-row probes could read off the competition's rounded public scores within its
    limits: daily limit (a team's own where set) times days, at most the total limit, summed over its teams that
    are not disqualified (at least one). None where the test size is unknown (nothing stored, or a scoring program's
    phase without rows)."""
    public_rows = round((competition.test_rows or 0) * competition.public_fraction)
    if public_rows < 1:
        return None
    days, horizon = upload_days(competition, now)
    active = [team for team in teams if not getattr(team, "disqualified", False)]
    limits = [getattr(team, "daily_limit_override", None) or competition.daily_limit for team in active]
    per_team = [
        daily * days if competition.total_limit is None else min(daily * days, competition.total_limit)
        for daily in limits or [competition.daily_limit]
    ]
    submissions = sum(per_team)
    labels = min(public_rows, math.floor(submissions * competition.public_fraction))
    return ProbeExposure(
        submissions=submissions,
        teams=max(1, len(active)),
        days=days,
        horizon=horizon,
        public_rows=public_rows,
        labels=labels,
    )


def probing_warning(competition: Competition, teams: list, now: datetime | None = None) -> ProbeExposure | None:
    """The exposure to show organisers as a warning, or None: only under rounded feedback (the Ladder shows a
    one-row change only when it beats the noise), never for a built-in task (its labels are public data), and only
    from PROBE_WARN_SHARE of the public rows."""
    if competition.feedback != "rounded" or competition.task_ref in builtin_task_names():
        return None
    exposure = probe_exposure(competition, teams, now)
    return exposure if exposure is not None and exposure.share >= PROBE_WARN_SHARE else None
