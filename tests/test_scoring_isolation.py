"""Scoring isolation: a job that runs too long is killed, never holds up another competition, and
failures that cost no slot are bounded per team and day."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import auth, upload
from helpers import predictions_csv, sample_csv
from sqlalchemy import select

from arena.db.models import AuditEntry, Competition, Membership, Submission, User
from arena.server import jobs, slots, submissions

LIMIT = 3  # seconds: the stalling task's own [scoring] timeout

STALL = """
import time

import numpy as np

HOG = []


def stall(y_true, y_pred):
    HOG.append(np.ones(50_000_000))  # 400 MB, touched: the scoring process grows, the server must not
    while True:
        time.sleep(0.5)
"""


def stalling_bundle(folder: Path, timeout: int = LIMIT) -> Path:
    """A regression task whose primary metric is a plugin that never returns."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    ids = np.arange(60)
    pd.DataFrame({"id": ids + 1000, "x": rng.random(60), "y": rng.random(60)}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": ids, "x": rng.random(60)}).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"id": ids, "y": rng.random(60)}).to_csv(folder / "answers.csv", index=False)
    (folder / "metrics.py").write_text(STALL)
    (folder / "task.toml").write_text(
        textwrap.dedent(f"""
        name = "stall"
        version = 1
        kind = "regression"

        [data]
        train = "train.csv"
        test = "test.csv"
        answers = "answers.csv"
        target = "y"

        [submission]
        prediction = "value"

        [metrics]
        primary = "stall"

        [[metrics.plugin]]
        name = "stall"
        direction = "min"
        needs = "value"

        [scoring]
        timeout = {timeout}
    """)
    )
    return folder


def values_csv(offset: float) -> str:
    return pd.DataFrame({"id": np.arange(60), "y": np.full(60, offset)}).to_csv(index=False)


def host_stall(client, organiser_token: str, tmp_path: Path, slug: str = "stall", timeout: int = LIMIT) -> None:
    response = client.post(
        "/api/v1/competitions",
        headers=auth(organiser_token),
        json={"task": str(stalling_bundle(tmp_path / slug, timeout)), "slug": slug},
    )
    assert response.status_code == 201, response.get_json()


def row(app, submission_id: int) -> Submission:
    with app.extensions["arena_db"].session() as session:
        found = session.get(Submission, submission_id)
        session.expunge(found)
        return found


def team_of(app, username: str, slug: str) -> int:
    with app.extensions["arena_db"].session() as session:
        return session.scalar(
            select(Membership.team_id)
            .join(User, User.id == Membership.user_id)
            .join(Competition, Competition.id == Membership.competition_id)
            .where(User.username == username, Competition.slug == slug)
        )


def wait_for(condition, seconds: float = 120):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError("the condition did not hold in time")


def resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- the slot itself -------------------------------------------------------------------------


def sleep_forever(_):
    """A job that never returns, and starts a grandchild that never does either."""
    subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
    while True:
        time.sleep(1)


def grandchildren(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pid and fields[0] != "Z":  # the process group; a zombie is gone already
                found.append(int(entry))
    return found


def test_a_job_past_its_limit_is_killed_with_everything_it_started_and_the_slot_scores_on():
    slot = slots.Slot()
    try:
        assert slot.run(abs, -4, 60) == slots.Finished(4)
        pid = slot.pid
        outcome = slot.run(sleep_forever, None, 1.0)
        assert outcome == slots.TimedOut(1.0)
        assert grandchildren(pid) == []  # the whole process group is gone, grandchild included
        assert slot.run(abs, -5, 60) == slots.Finished(5)  # a fresh child took over
        assert slot.pid != pid
    finally:
        slot.close()


def hang_and_say_who(marker: str) -> None:
    """A job that never returns: it writes its own process id and its grandchild's to ``marker``."""
    grandchild = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(1)"])
    Path(marker).write_text(f"{os.getpid()} {grandchild.pid}")
    while True:
        time.sleep(1)


@pytest.mark.slow
@pytest.mark.parametrize("forked", [False, True], ids=["in-the-slot", "forked"])
def test_a_slot_child_leaves_when_its_parent_is_killed_and_its_job_goes_too(tmp_path, forked):
    script = textwrap.dedent("""
        import sys, threading, time
        from arena.server import slots
        sys.path.insert(0, sys.argv[1])
        from test_scoring_isolation import hang_and_say_who, in_a_process_of_its_own
        slot = slots.Slot().start()
        print(slot.pid, flush=True)
        prepare = in_a_process_of_its_own if sys.argv[3] == "True" else None
        threading.Thread(target=slot.run, args=(hang_and_say_who, sys.argv[2], 600), kwargs={"prepare": prepare},
                         daemon=True).start()
        time.sleep(600)
    """)
    marker = tmp_path / "job"
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(Path(__file__).parent), str(marker), str(forked)],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    wait_for(lambda: marker.is_file() and len(marker.read_text().split()) == 2, 30)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for pid in [child, *map(int, marker.read_text().split())]:
        wait_for(lambda pid=pid: not alive(pid), 30)


def in_a_process_of_its_own(_):
    """A job's ``prepare`` that says the job runs code that is not Arena's."""
    return True


def process_state(_):
    return (
        np.geterr()["divide"],
        warnings.filters[:1],
        os.getcwd(),
        hasattr(np, "ARENA_TEST_LEFT"),
        threading.active_count(),
    )


def change_the_process(_):
    """What a careless plugin may do to the process it runs in."""
    np.seterr(all="raise")
    warnings.simplefilter("error")
    os.chdir("/")
    np.ARENA_TEST_LEFT = True
    threading.Thread(target=time.sleep, args=(600,), daemon=True).start()
    return "changed"


def leave_a_daemon(marker: str) -> int:
    """Start a process that leaves the job's session and process group, and lives on."""
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            Path(marker).write_text(str(os.getpid()))
            while True:
                time.sleep(0.5)
        os._exit(0)
    os.waitpid(pid, 0)
    while not (Path(marker).is_file() and Path(marker).read_text()):
        time.sleep(0.01)
    return int(Path(marker).read_text())


def leave_a_daemon_and_hang(marker: str) -> None:
    leave_a_daemon(marker)
    while True:
        time.sleep(1)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_job_of_organisers_code_leaves_nothing_in_the_slot_for_the_next_job(tmp_path):
    slot = slots.Slot()
    try:
        clean = slot.run(process_state, None, 60, prepare=in_a_process_of_its_own)
        assert slot.run(change_the_process, None, 60, prepare=in_a_process_of_its_own) == slots.Finished("changed")
        assert slot.run(process_state, None, 60, prepare=in_a_process_of_its_own) == clean
        assert slot.run(process_state, None, 60).value[:4] == clean.value[:4]  # nor in the slot's own process

        daemon = slot.run(leave_a_daemon, str(tmp_path / "returned"), 60, prepare=in_a_process_of_its_own).value
        wait_for(lambda: not alive(daemon), 10)  # killed when the job ended, though it left the job's session
        pid = slot.pid
        outcome = slot.run(leave_a_daemon_and_hang, str(tmp_path / "hung"), 2, prepare=in_a_process_of_its_own)
        assert outcome == slots.TimedOut(2)
        wait_for(lambda: not alive(int((tmp_path / "hung").read_text())), 10)
        assert slot.run(abs, -6, 60, prepare=in_a_process_of_its_own) == slots.Finished(6)
        assert slot.pid == pid  # the slot ended the job itself and kept what it had loaded
    finally:
        slot.close()


def _unreadable():
    raise RuntimeError("this answer cannot be read back")


class Unreadable:
    def __reduce__(self):
        return _unreadable, ()


def answer_unreadable(_):
    return Unreadable()


def test_an_answer_that_cannot_be_read_is_a_dead_job_and_the_slot_scores_on():
    slot = slots.Slot()
    try:
        assert slot.run(answer_unreadable, None, 60) == slots.Died(None)
        assert slot.run(abs, -7, 60) == slots.Finished(7)
    finally:
        slot.close()


class TimingOut:
    """A slot whose every job runs past its limit."""

    pid = None

    def start(self):
        return self

    def run(self, function, argument, limit_seconds, prepare=None):
        return slots.TimedOut(limit_seconds)


@pytest.mark.slow
def test_a_job_killed_for_time_is_retried_once_then_fails_neutrally_and_no_restart_runs_it_again(app, people):
    submission_id = upload(people.client, people.token("ada"), "mnist1d", sample_csv("mnist1d")).get_json()[
        "submission"
    ]["id"]
    db = app.extensions["arena_db"]
    assert jobs.score_one(db, submission_id, TimingOut()) == "queued"
    assert jobs.score_one(db, submission_id, TimingOut()) == "failed"
    failed = row(app, submission_id)
    assert failed.problems == [submissions.TIME_LIMIT] and failed.timeouts == 2 and failed.failure_kind == "timeout"
    assert "time limit" in failed.failure_detail
    assert jobs.sweep(db) == [] and jobs.pending(db) == []  # what a restart does first: nothing to resume


# --- through a running server ----------------------------------------------------------------


@pytest.mark.slow
def test_a_stalling_plugin_holds_up_no_other_competition_and_ends_failed(live_server, tmp_path):
    server = live_server()
    client, people = server.client, server.people
    host_stall(client, people.token("org", organiser=True), tmp_path)
    ada = people.token("ada")
    before = resident_bytes()
    stalled = upload(client, ada, "stall", values_csv(0.5)).get_json()["submission"]["id"]
    wait_for(lambda: row(server.app, stalled).status == "scoring")
    other = upload(client, ada, "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
    wait_for(lambda: row(server.app, other).status == "scored")
    assert row(server.app, stalled).status in ("queued", "scoring")  # scored while the plugin still ran
    failed = wait_for(lambda: (found := row(server.app, stalled)).status == "failed" and found)
    assert failed.problems == [submissions.TIME_LIMIT] and failed.timeouts == 2
    assert "stall" not in " ".join(failed.problems)
    assert resident_bytes() - before < 150 * 2**20  # the plugin's 400 MB stayed in the killed scoring process
    answer = client.get(f"/api/v1/submissions/{stalled}", headers=auth(ada)).get_json()
    assert "time limit" in str(answer) and "Traceback" not in str(answer)


def test_two_queues_in_one_process_share_its_slots_and_keep_one_free_for_other_competitions(app, people, tmp_path):
    host_stall(people.client, people.token("org", organiser=True), tmp_path)
    stalled = [
        upload(people.client, people.token(name), "stall", values_csv(0.1)).get_json()["submission"]["id"]
        for name in ("ada", "bob")
    ]
    other = upload(people.client, people.token("cyd"), "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
    db = app.extensions["arena_db"]
    first, second = jobs.InProcessWorker(db), jobs.InProcessWorker(db)  # two apps of one process: the same slots
    try:
        assert first._take(0) == stalled[0]
        assert second._take(0) is None  # slot 0 is scoring for the first queue
        assert second._take(1) == other  # the stalling competition already holds all slots but one
    finally:
        for index in (0, 1):
            jobs._busy.pop(index, None)


@pytest.mark.slow
def test_a_stalling_plugin_on_a_redis_worker_is_killed_and_the_queue_moves_on(tmp_path, people_factory):
    from conftest import redis_database

    url = redis_database()
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=url)
    host_stall(client, people.token("org", organiser=True), tmp_path)
    ada = people.token("ada")
    stalled = upload(client, ada, "stall", values_csv(0.5)).get_json()["submission"]["id"]
    other = upload(client, ada, "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
    worker = subprocess.Popen(
        [sys.executable, "-m", "arena.cli", "worker", "--redis", url, "--database", database],
        env={**os.environ, "ARENA_HEARTBEAT_SECONDS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        failed = wait_for(lambda: (found := row(app, stalled)).status == "failed" and found, 180)
        assert failed.problems == [submissions.TIME_LIMIT] and failed.timeouts == 2
        assert row(app, other).status == "scored"  # scored between the two attempts, not after both
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.slow
def test_two_redis_workers_score_another_competition_while_one_competition_stalls_them(tmp_path, people_factory):
    """Redis workers take a free competition's job before a second job of a competition already scoring:
    two stalling uploads never hold both workers while another competition's upload waits."""
    from conftest import redis_database

    url = redis_database()
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database, REDIS_URL=url)
    host_stall(client, people.token("org", organiser=True), tmp_path, timeout=15)
    ada = people.token("ada")
    stalled = [upload(client, ada, "stall", values_csv(offset)).get_json()["submission"]["id"] for offset in (0.5, 0.6)]

    def worker():
        return subprocess.Popen(
            [sys.executable, "-m", "arena.cli", "worker", "--redis", url, "--database", database],
            env={**os.environ, "ARENA_HEARTBEAT_SECONDS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    workers = [worker()]
    try:
        wait_for(lambda: row(app, stalled[0]).status == "scoring", 120)  # the first worker is held by the stall
        other = upload(client, ada, "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
        workers.append(worker())  # it finds the second stall and the other competition's upload waiting
        wait_for(lambda: row(app, other).status == "scored", 120)
        assert [row(app, one).timeouts for one in stalled] == [0, 0]  # no stalled job had to be killed first
    finally:
        for process in workers:
            process.kill()
            process.wait()


CARELESS = """
import warnings

import numpy as np

import arena.metrics.registry as metrics

np.seterr(all="raise")
warnings.simplefilter("error")


def always_right(cm):
    return np.ones(cm.shape[:-2])


def careless(y_true, y_pred):
    metrics.accuracy_cm.__code__ = always_right.__code__  # every accuracy, in every competition, is 1
    return float(np.mean(np.abs(y_true - y_pred)))
"""


def test_a_plugin_that_changes_its_scoring_process_changes_no_other_competitions_scores(app, people, tmp_path):
    folder = stalling_bundle(tmp_path / "careless", timeout=60)
    (folder / "metrics.py").write_text(CARELESS)
    (folder / "task.toml").write_text((folder / "task.toml").read_text().replace('"stall"', '"careless"'))
    client = people.client
    hosted = client.post(
        "/api/v1/competitions",
        headers=auth(people.token("org", organiser=True)),
        json={"task": str(folder), "slug": "careless"},
    )
    assert hosted.status_code == 201, hosted.get_json()
    ada, bob = people.token("ada"), people.token("bob")
    before = upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.5)).get_json()["submission"]["id"]
    people.drain()
    plugin = upload(client, ada, "careless", values_csv(0.5)).get_json()["submission"]["id"]
    people.drain()
    after = upload(client, bob, "mnist1d", predictions_csv("mnist1d", 0.5)).get_json()["submission"]["id"]
    people.drain()
    assert row(app, plugin).status == "scored"
    assert row(app, before).public_primary < 0.9
    assert (row(app, after).status, row(app, after).score) == (row(app, before).status, row(app, before).score)


# --- failures that cost no slot are bounded ---------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
def test_a_team_whose_uploads_keep_failing_for_free_is_stopped_until_an_organiser_clears_it(
    app, people, tmp_path, monkeypatch
):
    monkeypatch.setenv("ARENA_FAILURE_LIMIT", "2")
    monkeypatch.setenv("ARENA_TIMEOUT_RETRIES", "0")
    client = people.client
    organiser = people.token("org", organiser=True)
    host_stall(client, organiser, tmp_path, timeout=1)
    ada, bob = people.token("ada"), people.token("bob")
    for offset in (0.1, 0.2):
        assert upload(client, ada, "stall", values_csv(offset)).status_code == 202
        people.drain()
    refused = upload(client, ada, "stall", values_csv(0.3))
    assert refused.status_code == 400 and refused.get_json()["error"] == "Submission limit reached"
    message = " ".join(refused.get_json()["problems"])
    assert "could not be scored" in message and "00:00 UTC" in message and "organisers" in message
    mine = client.get("/api/v1/competitions/stall/submissions", headers=auth(ada)).get_json()
    assert len(mine["submissions"]) == 2 and mine["slots_left"] == 5  # nothing of the refused upload is kept
    assert upload(client, bob, "stall", values_csv(0.3)).status_code == 202  # another team is not touched

    people.login("org")
    page = client.get("/c/stall/admin").get_data(as_text=True)
    with app.extensions["arena_db"].session() as session:
        logged = [e.detail for e in session.query(AuditEntry).filter_by(action="failure-limit")]
    ada_team = team_of(app, "ada", "stall")
    assert "2 of 2" in page and len(logged) == 1 and "ada" in logged[0]
    cleared = client.post(f"/api/v1/competitions/stall/teams/{ada_team}/clear-failures", headers=auth(organiser))
    assert cleared.status_code == 200
    assert upload(client, ada, "stall", values_csv(0.3)).status_code == 202
    with app.extensions["arena_db"].session() as session:
        assert session.query(AuditEntry).filter_by(action="clear-failures").count() == 1


def test_only_an_organiser_may_clear_a_teams_failures(app, people, tmp_path):
    host_stall(people.client, people.token("org", organiser=True), tmp_path)
    ada = people.token("ada")
    upload(people.client, ada, "stall", values_csv(0.1))
    refused = people.client.post(
        f"/api/v1/competitions/stall/teams/{team_of(app, 'ada', 'stall')}/clear-failures", headers=auth(ada)
    )
    assert refused.status_code == 403
    with app.extensions["arena_db"].session() as session:
        assert session.query(AuditEntry).filter_by(action="clear-failures").count() == 0


@pytest.mark.parametrize("value", ["0", "-5", "100000", '"ten"'])
def test_a_task_timeout_out_of_range_is_refused_with_the_key(tmp_path, value):
    from arena.bundles.spec import load_spec
    from arena.errors import BundleError

    folder = stalling_bundle(tmp_path / "stall")
    (folder / "task.toml").write_text(
        (folder / "task.toml").read_text().replace(f"timeout = {LIMIT}", f"timeout = {value}")
    )
    with pytest.raises(BundleError) as refused:
        load_spec(folder)
    assert "[scoring.timeout]" in str(refused.value.report())
