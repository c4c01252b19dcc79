"""Scale-out: the server queues in Redis, separate ``arena worker`` processes score; ``arena submit`` uploads."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from conftest import auth, require_in_ci, upload
from helpers import predictions_csv


@pytest.fixture
def redis_url():
    url = os.environ.get("ARENA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        from redis import Redis

        client = Redis.from_url(url, socket_connect_timeout=1)
        client.ping()
    except Exception:
        require_in_ci(f"no Redis server at {url} (.ci/services.sh starts one)")
    client.flushdb()
    return url


def test_redis_workers_score_what_the_server_queued(tmp_path, redis_url, people_factory):
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=redis_url)
    token = people.token("ada")
    submission_id = upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.75)).get_json()["submission"]["id"]
    status = lambda: client.get(f"/api/v1/submissions/{submission_id}", headers=auth(token)).get_json()["status"]
    assert status() == "queued"  # no in-process worker: the job waits in Redis
    result = subprocess.run([sys.executable, "-m", "arena.cli", "worker", "--redis", redis_url, "--database", database,
                             "--burst"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert status() == "scored"


def test_arena_submit_uploads_to_a_running_server(tmp_path, live_server):
    server = live_server()
    token = server.people.token("ada")
    path = tmp_path / "predictions.csv"
    path.write_text(predictions_csv("mnist1d", 0.9))
    command = [sys.executable, "-m", "arena.cli", "submit", "mnist1d", str(path), "--server", server.url,
               "--token", token, "--wait"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert re.search(r"submission #\d+ queued\.\nscored: public accuracy 0\.\d+ \(95% CI \[", result.stdout)
    bad = subprocess.run(command[:-3] + ["--token", "arena_wrong"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "token is not valid" in bad.stderr
