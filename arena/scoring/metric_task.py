"""A task.toml bundle's task as scoring sees it: the file read and validated, then Arena's metrics computed on it."""

from __future__ import annotations

from pathlib import Path

from arena.bundles.columns import describe as describe_columns
from arena.bundles.loading import Task
from arena.errors import Problem
from arena.intervals.weighted import check_weights
from arena.scoring.score import Score, score_predictions
from arena.scoring.validation import DEFAULT_MAX_BYTES, check_answer_values, check_sample_submission, read_submission


class MetricTask(Task):
    """A loaded bundle (:class:`arena.bundles.loading.Task`) that scores files: one implementation of
    :class:`arena.scoring.interface.TaskInterface`."""

    def score_file(
        self,
        path: str | Path,
        *,
        public_fraction: float | None = None,
        split_key: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Score:
        return score_predictions(
            self, read_submission(self, path, max_bytes=max_bytes), public_fraction=public_fraction, split_key=split_key
        )

    def check_file(self, path: str | Path) -> str:
        read_submission(self, path)
        declared = self.spec.submission_columns
        columns = f"; columns {describe_columns(declared)}" if declared else ""
        return f"valid submission for {self.name} ({len(self.test)} rows{columns})"

    def problems(self) -> list[Problem]:
        """The bundle's own checks and those that need the reader: the sample submission must be a valid one, the
        row weights and the answers values Arena can score."""
        return check_sample_submission(self) + check_weights(self) + super().problems() + check_answer_values(self)
