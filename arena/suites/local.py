"""``arena suite score``: a folder of predictions, one file per task, scored on this machine's answer keys.

Each task is scored as ``arena score`` scores it; the suite's board uses each
task's private rows (the task's own public share), so this does too. Every
problem of every file (and of the card) is collected before anything is
reported, so one run shows everything to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arena.errors import ArenaError, Problem
from arena.metrics.registry import get_metric
from arena.scoring.score import Score, private_rows
from arena.suites.board import RANK_BASED, RESAMPLES, SuiteStatistics, board_statistics, resampled_scores
from arena.suites.cards import ModelCard, load_card
from arena.suites.folders import prediction_files
from arena.suites.scales import TaskScale, task_scale
from arena.suites.spec import Suite
from arena.tasks import load_bundle_task


class SuiteScoreError(ArenaError):
    headline = "The suite's predictions cannot be scored"


@dataclass
class TaskResult:
    key: str
    metric: str
    value: float
    ci: tuple[float, float] | tuple[None, None]
    rows: int
    scale: TaskScale
    file: str


@dataclass
class SuiteScore:
    suite: Suite
    card: ModelCard | None
    tasks: list[TaskResult]
    statistics: SuiteStatistics
    answer_keys: dict[str, str] = field(default_factory=dict)  # task -> answer-key SHA-256

    @property
    def aggregate(self) -> float | None:
        """None for a rank-based method: one model alone has no rank to average."""
        value = self.statistics.aggregate[0]
        return None if value is None or not np.isfinite(value) or self.suite.method in RANK_BASED else value

    @property
    def aggregate_ci(self) -> tuple[float, float] | None:
        return None if self.aggregate is None else self.statistics.aggregate_ci[0]

    def to_dict(self) -> dict:
        return {
            "suite": self.suite.name,
            "suite_version": self.suite.version,
            "method": self.suite.method,
            "model": self.card.to_dict() if self.card else None,
            "tasks": [
                {
                    "task": r.key,
                    "metric": r.metric,
                    "score": r.value,
                    "ci": list(r.ci),
                    "rows": r.rows,
                    "floor": r.scale.floor,
                    "ceiling": r.scale.ceiling,
                    "answer_key_sha256": self.answer_keys.get(r.key),
                }
                for r in self.tasks
            ],
            "aggregate": self.aggregate,
            "aggregate_ci": list(self.aggregate_ci) if self.aggregate_ci else None,
        }

    def lines(self) -> list[str]:
        """What ``arena suite score`` prints."""
        out = [f"{self.suite.title} (suite {self.suite.name}, version {self.suite.version})"]
        if self.card:
            out.append(f"model {self.card.name} {self.card.version}")
        for r in self.tasks:
            interval = f"95% CI [{r.ci[0]:.4f}, {r.ci[1]:.4f}]" if r.ci[0] is not None else "no interval"
            out.append(f"  {r.key:<14} {r.metric} {r.value:.4f} ({interval}; {r.rows} private rows)")
        if self.aggregate is None:
            out.append(f"aggregate ({self.suite.method}): ranks models against each other; see the suite's board.")
        else:
            low, high = self.aggregate_ci or (float("nan"), float("nan"))
            out.append(f"aggregate ({self.suite.method}) {self.aggregate:.4f}, 95% CI [{low:.4f}, {high:.4f}]")
        return out


def score_folder(
    suite: Suite, folder: str | Path, *, card: str | Path | None = None, resamples: int = RESAMPLES
) -> SuiteScore:
    """Score every task's file and the aggregate; :class:`SuiteScoreError` lists every problem at once."""
    files, problems = prediction_files(folder, suite.keys, suite=suite.name)
    model = None
    if card is not None:
        try:
            model = load_card(card)
        except ArenaError as exc:
            problems += exc.problems
        except OSError as exc:
            problems.append(Problem(str(card), f"cannot be read ({exc.strerror}): check the --model path."))
    scored: list[tuple[Score, np.ndarray]] = []
    results: list[TaskResult] = []
    answer_keys: dict[str, str] = {}
    metrics, truths, rows = [], [], []
    for suite_task in suite.tasks:
        if suite_task.key not in files:
            continue
        task = load_bundle_task(suite_task.ref)
        path = files[suite_task.key]
        try:
            score = task.score_file(path)
        except ArenaError as exc:
            problems += [Problem(f"{path.name}: {p.where}" if p.where else path.name, p.message) for p in exc.problems]
            continue
        private = private_rows(task)
        answer_keys[suite_task.key] = task.answer_key.sha256
        value = score.private[score.primary]
        if score.rows is None or value is None:  # spec.load_suite keeps out tasks whose metric keeps no rows
            raise ValueError(f"task {suite_task.key!r} gave no per-row results")
        scored.append((score, private))
        metrics.append(
            get_metric(
                score.primary, task.answer_key.classes, kind=task.spec.kind, text=getattr(task.spec, "text", None)
            )
        )
        truths.append(task.answer_key.truth[private])
        rows.append(score.rows[private])
        results.append(
            TaskResult(
                key=suite_task.key,
                metric=score.primary,
                value=float(value),
                ci=score.private_ci,
                rows=score.n_private,
                scale=task_scale(task, suite_task),
                file=path.name,
            )
        )
    if problems:
        raise SuiteScoreError(problems)
    draws = resampled_scores(metrics, truths, [rows], resamples=resamples)
    scores = np.array([[r.value for r in results]])
    statistics = board_statistics(suite.method, suite.weights, [r.scale for r in results], scores, draws)
    return SuiteScore(suite, model, results, statistics, answer_keys)
