"""What a participant's program reads in ``input_dir``: the same three files on the test inputs and on the sample.

``train.csv`` (the public training rows, labels included), ``test.csv`` (the rows to predict: id and features, no
labels) and ``sample_submission.csv`` (a valid, trivial predictions file for those rows: the format to write). A dry
run reads the public sample in place of the test rows: rows of the training split, whose features are public anyway,
so it never shows a test row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from arena.bundles.loading import Task

SAMPLE_ROWS = 20
SAMPLE_SEED = 0
TRAIN, TEST, SAMPLE_SUBMISSION = "train.csv", "test.csv", "sample_submission.csv"


def public_sample(task: Task, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """A few training rows shaped as the test inputs: the test's columns, in its order, with its id type."""
    columns = list(task.test.columns)
    picked = task.train.sample(n=min(rows, len(task.train)), random_state=SAMPLE_SEED).sort_index()
    sample = picked[columns].reset_index(drop=True)
    id_column = task.spec.id_column
    sample[id_column] = sample[id_column].astype(task.test[id_column].dtype)
    return sample


def sample_answers(task: Task, sample: pd.DataFrame) -> pd.DataFrame:
    """The sample's labels, from the training split: what a dry run's predictions are checked against."""
    id_column, target = task.spec.id_column, task.spec.target
    labels = task.train[[id_column, target]].drop_duplicates(id_column)
    labels = labels.astype({id_column: sample[id_column].dtype})
    return sample[[id_column]].merge(labels, on=id_column, how="left")


def write_inputs(task: Task, folder: Path, *, sample: bool) -> pd.DataFrame:
    """Write train.csv, test.csv and sample_submission.csv into the new ``folder``; returns the rows to predict."""
    folder.mkdir(parents=True)
    rows = public_sample(task) if sample else task.test
    task.train.to_csv(folder / TRAIN, index=False)
    rows.to_csv(folder / TEST, index=False)
    trivial = task.sample_submission()
    id_column = task.spec.id_column
    if sample:  # the same trivial values, for the sample's ids
        first = trivial.drop(columns=[id_column]).iloc[[0] * len(rows)].reset_index(drop=True)
        trivial = pd.concat([rows[[id_column]].reset_index(drop=True), first], axis=1)
    trivial.to_csv(folder / SAMPLE_SUBMISSION, index=False)
    return rows
