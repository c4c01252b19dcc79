"""Rank statistics are claimed in the database, as scoring jobs are: of two workers racing, one computes a board."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import upload
from helpers import predictions_csv

from arena.db.database import Database


def race(*callables):
    """Run the callables at once, each in a thread of its own, started together; their results in order."""
    start, results = threading.Barrier(len(callables)), [None] * len(callables)

    def run(i, call):
        start.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_of_two_claimers_racing_for_a_board_exactly_one_wins(database_url):
    from arena.db.migrate import upgrade
    from arena.server import rank_worker

    first, second = Database(database_url), Database(database_url)
    upgrade(first.engine)
    try:
        for round_ in range(10):
            key = f"{round_:02d}" * 32
            tokens = race(
                lambda key=key: rank_worker._claim(first, key), lambda key=key: rank_worker._claim(second, key)
            )
            assert sum(token is not None for token in tokens) == 1, tokens
    finally:
        first.engine.dispose()
        second.engine.dispose()


@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_two_workers_racing_for_a_board_compute_it_once(client, people, monkeypatch):
    from arena.server import jobs, rank_worker, ranks

    db = people.app.extensions["arena_db"]
    for name, accuracy in (("ada", 0.9), ("bob", 0.5)):
        upload(client, people.token(name), "mnist1d", predictions_csv("mnist1d", accuracy, 4))
    for submission_id in jobs.pending(db):
        jobs.score_one(db, submission_id)  # scored, no rank round yet
    real, calls = ranks.compute, []

    def slow(*args, **kwargs):
        calls.append(1)
        time.sleep(0.5)  # long enough for the other worker to reach the same board
        return real(*args, **kwargs)

    monkeypatch.setattr(ranks, "compute", slow)
    workers = [Database(str(db.engine.url.render_as_string(hide_password=False))) for _ in range(2)]
    try:
        computed = race(*(lambda worker=worker: rank_worker.refresh_ranks(worker) for worker in workers))
    finally:
        for worker in workers:
            worker.engine.dispose()
    assert len(calls) == 1 and sorted(computed) == [0, 1]
    rows = client.get("/api/v1/competitions/mnist1d/leaderboard").get_json()["rows"]
    assert [row["rank_interval"] for row in rows] == [[1, 1], [2, 2]]
