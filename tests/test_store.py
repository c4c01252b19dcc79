"""The store on SQLite and PostgreSQL: limits under concurrency, nothing stuck, our failures never charged."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from helpers import InlineSlot, predictions_csv, sample_csv

from arena.db.database import Database
from arena.db.migrate import upgrade
from arena.db.models import Submission, utcnow
from arena.server import accounts, competitions, jobs, submissions
from arena.server.files import store_stream


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    upgrade(database.engine)
    yield database
    database.engine.dispose()


def setup_competition(db, *, daily_limit=5, users=("ada",)):
    with db.session() as session, session.begin():
        competition = competitions.host(session, "mnist1d", daily_limit=daily_limit)
        people = [accounts.register(session, name, "plum-orbit-canyon-42") for name in users]
        return competition.id, [p.id for p in people]


def accept(db, competition_id, user_id, content: str):
    from arena.db.models import Competition, User

    sha, size = store_stream(io.BytesIO(content.encode()), 10**8)
    with db.session() as session, session.begin():
        return submissions.accept(
            session,
            session.get(Competition, competition_id),
            session.get(User, user_id),
            file_sha256=sha,
            file_name="s.csv",
            file_size=size,
        ).submission.id


def test_limit_holds_under_concurrent_uploads(db):
    competition_id, (user_id,) = setup_competition(db, daily_limit=3)
    accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 100))  # the team exists before the race
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def upload(seed: int) -> None:
        content = predictions_csv("mnist1d", 0.5, seed)
        barrier.wait()
        try:
            accept(db, competition_id, user_id, content)
            outcomes.append("accepted")
        except submissions.LimitError:
            outcomes.append("refused")

    threads = [threading.Thread(target=upload, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("accepted") == 2 and outcomes.count("refused") == 6
    with db.session() as session:
        assert session.query(Submission).count() == 3


def test_an_upload_is_checked_against_duplicates_the_total_limit_and_failures_in_one_read(db):
    """The same file again returns the earlier submission (even at the limit) and costs nothing; the total
    limit counts every day; a failed upload frees its slot; a disqualified team is refused."""
    from arena.db.models import Competition, Team

    competition_id, (user_id,) = setup_competition(db, daily_limit=5)
    with db.session() as session, session.begin():
        session.get(Competition, competition_id).total_limit = 3
    first = accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 1))
    with db.session() as session, session.begin():
        earlier = session.get(Submission, accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 2)))
        earlier.utc_day, earlier.created_at = "2020-01-01", earlier.created_at - timedelta(days=2000)  # another day
    assert accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 1)) == first  # a duplicate
    failed = accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 3))
    with db.session() as session, session.begin():
        session.get(Submission, failed).status = "failed"
    accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 4))  # the failed one's slot
    with pytest.raises(submissions.LimitError, match="all 3 submissions allowed in this competition"):
        accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 5))
    assert accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 1)) == first  # at the limit too
    with db.session() as session, session.begin():
        session.query(Team).one().disqualified = True
    with pytest.raises(competitions.CompetitionError, match="disqualified"):
        accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.5, 6))


def test_a_job_left_scoring_goes_back_in_the_queue(db):
    competition_id, (user_id,) = setup_competition(db)
    submission_id = accept(db, competition_id, user_id, sample_csv("mnist1d"))
    with db.session() as session, session.begin():
        assert submissions.claim(session, submission_id, "elsewhere:1:x")
        session.get(Submission, submission_id).heartbeat_at = utcnow() - timedelta(minutes=2)
    assert jobs.pending(db) == [submission_id]
    assert jobs.score_one(db, submission_id) == "scored"


def test_our_failure_is_retried_then_fails_without_using_a_slot(db, monkeypatch):
    competition_id, (user_id,) = setup_competition(db, daily_limit=1)
    submission_id = accept(db, competition_id, user_id, sample_csv("mnist1d"))

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(jobs, "score_submission", broken)
    assert [jobs.score_one(db, submission_id, InlineSlot()) for _ in range(3)] == ["queued", "queued", "failed"]
    with db.session() as session:
        failed = session.get(Submission, submission_id)
        assert failed.problems == [submissions.OUR_FAILURE] and "disk on fire" not in str(failed.problems)
    monkeypatch.undo()
    second = accept(db, competition_id, user_id, predictions_csv("mnist1d", 0.9))  # the slot is still free
    assert jobs.score_one(db, second) == "scored"


def test_a_claimed_job_is_not_scored_twice(db):
    competition_id, (user_id,) = setup_competition(db)
    submission_id = accept(db, competition_id, user_id, sample_csv("mnist1d"))
    with db.session() as session, session.begin():
        assert submissions.claim(session, submission_id)
    with db.session() as session, session.begin():
        assert not submissions.claim(session, submission_id)
    assert jobs.score_one(db, submission_id) is None


def test_usernames_are_unique_and_passwords_hashed(db):
    with db.session() as session, session.begin():
        user = accounts.register(session, "ada", "plum-orbit-canyon-42")
        assert "plum-orbit-canyon-42" not in user.password_hash
        with pytest.raises(accounts.AccountError, match="the username 'ADA' is taken"):
            accounts.register(session, "ADA", "plum-orbit-canyon-42")
        with pytest.raises(accounts.AccountError, match="wrong username or password"):
            accounts.authenticate(session, "ada", "nope-nope")
        token = accounts.create_token(session, user)
        assert accounts.user_for_token(session, token).id == user.id
        assert accounts.user_for_token(session, token + "x") is None


def test_a_restarted_server_scores_what_it_left_queued_or_scoring(tmp_path, people_factory, live_server):
    database = f"sqlite:///{tmp_path / 'arena.db'}"
    app, client, people = people_factory(DATABASE_URL=database)
    token = people.token("ada")
    from conftest import upload

    first = upload(client, token, "mnist1d", sample_csv("mnist1d")).get_json()["submission"]["id"]
    second = upload(client, token, "mnist1d", predictions_csv("mnist1d", 0.6)).get_json()["submission"]["id"]
    db = app.extensions["arena_db"]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with db.session() as session, session.begin():  # the old process died while scoring this one
        assert submissions.claim(session, first, f"{socket.gethostname()}:{gone.stdout.strip()}:x")
    live_server(DATABASE_URL=database)  # the restart
    for _ in range(200):
        with db.session() as session:
            states = {session.get(Submission, i).status for i in (first, second)}
        if states == {"scored"}:
            break
        threading.Event().wait(0.1)
    assert states == {"scored"}
