"""What one submission's page shows: every metric with its interval, the score history across task versions,
and the validation report; private values only when the viewer may see them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from arena.db.models import Competition, Submission
from arena.errors import ArenaError
from arena.scoring.score import rounded
from arena.scoring.validation import read_submission
from arena.server.competitions import task_of
from arena.server.files import path_for
from arena.server.standings import submission_summary
from arena.server.submissions import history

ANSWER_PREVIEW_ROWS = 5
"""How many of its own answers a text task's submission page shows."""


def _interval(score: dict, part: str, name: str) -> list | None:
    """The 95% interval of one metric, where the score holds one (always for the primary metric)."""
    if name == score.get("primary"):
        found = score.get(f"{part}_ci")
    else:
        found = (score.get(f"{part}_cis") or {}).get(name)
    return [rounded(v) for v in found] if found else None


def metric_rows(score: dict, *, show_private: bool, show_public: bool = True) -> list[dict]:
    """One row per metric, the primary first: public value and interval, and private ones when allowed.

    ``show_public`` is False under the Ladder, whose released score is the only public figure a team sees.
    """
    names = sorted(score.get("public") or {}, key=lambda name: name != score.get("primary"))
    return [
        {
            "name": name,
            "primary": name == score.get("primary"),
            "public": rounded(score["public"][name]) if show_public else None,
            "public_ci": _interval(score, "public", name) if show_public else None,
            "private": rounded(score["private"].get(name)) if show_private else None,
            "private_ci": _interval(score, "private", name) if show_private else None,
            "signature": (score.get("signatures") or {}).get(name),  # how a text metric was computed
        }
        for name in names
    ]


def submission_report(
    session: Session, submission: Submission, competition: Competition, *, show_private: bool
) -> dict:
    """The submission's summary with its metrics, history (one entry per scoring) and validation report."""
    report = submission_summary(submission, show_private=show_private)
    score = submission.score or {}
    # Under the Ladder a team sees its released score only: per-metric public values would undo it.
    show_public = show_private or competition.feedback != "ladder"
    report.update(
        team=submission.team.name,
        uploader=submission.user.username,
        competition=competition.slug,
        scored_version=submission.scored_version,
        current_version=competition.task_version,
        n_public=score.get("n_public"),
        n_private=score.get("n_private") if show_private else None,
        metrics=metric_rows(score, show_private=show_private, show_public=show_public) if score else [],
        answers=own_answers(submission, competition),
        history=[
            {
                "task_version": record.task_version,
                "scored_at": record.created_at.strftime("%Y-%m-%d %H:%M"),
                "metrics": metric_rows(record.score, show_private=show_private, show_public=show_public),
            }
            for record in history(session, submission)
        ],
    )
    return report


def own_answers(submission: Submission, competition: Competition, rows: int = ANSWER_PREVIEW_ROWS) -> list[dict]:
    """A few of a scored text submission's own answers: the id and the answer as the team wrote it, on the first
    rows of the test file in id order. Never a reference; and the rows are chosen without the split, since rows
    picked because they are public would tell the team which ids are public. Empty for other tasks, code
    submissions, or a file no longer stored."""
    if submission.status != "scored" or competition.submission_kind == "code" or submission.run_status is not None:
        return []
    try:
        task = task_of(competition)
        if getattr(task.spec, "kind", None) != "text":
            return []
        path = path_for(submission.file_sha256)
        texts = read_submission(task, path).texts if path.is_file() else None  # type: ignore[arg-type]
    except (ArenaError, OSError):  # the task or the file cannot be read now: the page shows the rest
        return []
    if texts is None:
        return []
    ids = task.answer_key.ids
    return [{"id": ids[i].item(), "answer": texts[i].as_py()} for i in range(min(rows, len(ids)))]
