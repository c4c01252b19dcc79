"""Prediction files for tests (the sample submission, or one right on a given share of rows), and small helpers
the test files share: requests released together, an app of its own."""

from __future__ import annotations

import tempfile
import threading

import numpy as np
import pandas as pd

from arena.tasks import load_task


def predictions_csv(task_name: str, accuracy: float = 1.0, seed: int = 0) -> str:
    """A valid file for a built-in classification or text task, correct on about ``accuracy`` of the rows."""
    task = load_task(task_name)
    spec = task.spec
    answers = task.answers.sort_values(spec.id_column)
    labels = answers[spec.target].to_numpy().copy()
    rng = np.random.default_rng(seed)
    wrong = rng.random(len(labels)) > accuracy
    if spec.kind == "text":  # a wrong answer: the right one with a character more
        labels[wrong] = labels[wrong] + "?"
    else:
        labels[wrong] = (labels[wrong] + 1) % len(task.classes)
    frame = pd.DataFrame({spec.id_column: answers[spec.id_column].to_numpy()})
    if spec.prediction == "probabilities":
        for cls in task.classes:
            frame[str(cls)] = (labels == cls).astype(float)
    else:
        frame[spec.target] = labels
    return frame.to_csv(index=False)


def sample_csv(task_name: str) -> str:
    return load_task(task_name).sample_submission().to_csv(index=False)


class InlineSlot:
    """A scoring slot that runs the job in the calling thread: for tests of the job's states, where a
    test replaces the scoring function (a child process would not see the replacement)."""

    pid = None

    def start(self):
        return self

    def run(self, function, argument, limit_seconds, prepare=None):
        from arena.server.slots import Finished

        return Finished(function(argument))

    def close(self):
        pass


def race(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together by a barrier; returns what each returned."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def sqlite_url() -> str:
    """The URL of a new SQLite database in a temporary folder of its own."""
    return f"sqlite:///{tempfile.mkdtemp(prefix='arena-test-db-')}/arena.db"


def app_of_its_own(people_factory, **config):
    """An app with its own database and rate-limit counters: ``(app, client, people)`` from ``people_factory``."""
    return people_factory(DATABASE_URL=config.pop("DATABASE_URL", None) or sqlite_url(), **config)


def wait_until_ranked(client, suite: str, seconds: float = 60.0) -> dict:
    """The suite's board once every model on it is ranked (a live server's own worker may still be scoring what
    the test's drain left to it), or as it is after ``seconds``."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        board = client.get(f"/api/v1/suites/{suite}/leaderboard").get_json()
        if (not board["pending"] and all(row["ranked"] for row in board["rows"])) or time.monotonic() > deadline:
            return board
        time.sleep(0.25)
