"""Validate a program's predictions as an uploaded file is validated.

On the test inputs, the file goes through :func:`arena.scoring.validation.read_submission`, the reader of every
upload. Its messages quote the file's values, which a program could have copied from the hidden test inputs: a
participant sees only the fixed :data:`arena.code.failures.OUTPUT_MESSAGE`, the organiser the exact problems. On the
public sample, the same reader checks the file against the sample's ids and labels (training rows, public), and its
exact messages are the participant's to read.
"""

from __future__ import annotations

from dataclasses import replace

from arena.bundles.loading import Task
from arena.code.failures import OUTPUT, CodeFailed
from arena.code.inputs import public_sample, sample_answers
from arena.code.runner import CodeRun
from arena.errors import SubmissionError
from arena.scoring.validation import Predictions, read_submission


def sample_task(task: Task) -> Task:
    """The task with the public sample as its test rows and the sample's training labels as its answers."""
    sample = public_sample(task)
    return replace(task, test=sample, answers=sample_answers(task, sample), answer_digest=None)


def validate_output(task: Task, run: CodeRun, sample: bool) -> Predictions:
    """The run's predictions, read and checked as an upload is (raises SubmissionError, or CodeFailed on the test
    inputs, whose exact problems are the organiser's only)."""
    if sample:
        return read_submission(sample_task(task), run.predictions)
    try:
        return read_submission(task, run.predictions)
    except SubmissionError as exc:
        raise CodeFailed(OUTPUT, detail="; ".join(exc.messages()), log=run.log) from None
