"""What every task offers, whatever scores it: a task.toml bundle's task and a Codabench or CodaLab phase alike.

Scoring, hosting, snapshots and ``arena tasks show`` use a task only through this
interface, so none of them asks which kind of task it holds. A bundle's task
(:class:`arena.scoring.metric_task.MetricTask`) reads the predictions and computes
its metrics; a phase (:class:`arena.codabench.programs.ProgramTask`) runs its
scoring program in the sandbox, or Arena's metric in its place.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd

from arena.bundles.loading import AnswerKey
from arena.scoring.validation import DEFAULT_MAX_BYTES

if TYPE_CHECKING:
    from arena.scoring.score import Score


class TaskInterface(Protocol):
    """A loaded task, as the CLI, the server and the workers use it."""

    spec: Any  # its spec: name, title, version, kind, metrics, competition defaults, description
    train: pd.DataFrame  # public rows (empty for a phase: its data ship with the bundle)
    test: pd.DataFrame
    answers: pd.DataFrame  # what decides a score; hashed into answer_key.sha256

    @property
    def name(self) -> str: ...

    @property
    def answer_key(self) -> AnswerKey: ...

    @property
    def prediction_columns(self) -> list[str]: ...

    per_row_results: bool
    """Scoring keeps each row's result (which the Ladder's noise and rank intervals need)."""

    @property
    def leaderboard_columns(self) -> tuple: ...  # columns a scoring program reports (key, title, precision), or ()

    @property
    def scoring_timeout(self) -> float | None: ...  # seconds one scoring may take (None: the installation's)

    def score_file(
        self,
        path: str | Path,
        *,
        public_fraction: float | None = None,
        split_key: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Score:
        """Score one uploaded file (raises SubmissionError for a file that cannot be scored)."""
        ...

    def check_file(self, path: str | Path) -> str:
        """Validate an upload without scoring it: what was checked, in words (raises SubmissionError for a file that
        cannot be scored, ArenaError where only scoring the file can check it)."""
        ...

    def sample_submission(self) -> pd.DataFrame:
        """A valid, trivial submission to start from (empty for a phase: its format is the bundle's own)."""
        ...

    def describe(self) -> list[str]:
        """What ``arena tasks show`` prints, line by line."""
        ...

    def stored_ref(self, given: str | Path) -> str:
        """What a competition remembers of the task, given the reference it was opened by."""
        ...

    def snapshot_folder(self, given: str | Path) -> Path | None:
        """The folder a hosted competition's immutable snapshot copies; None when the task is referenced as it is."""
        ...
