"""Benchmark: boards of 1,000 teams x 100 submissions, and concurrent uploads, over a real HTTP server.

The competition is hosted by the store's own ``competitions.host``; its teams, memberships,
scored submissions and score records are the rows the store's functions write, inserted in
bulk (see :func:`seed`), with a few dozen real scores shared by all submissions. The server is gunicorn with
gthread workers, started the way ``arena serve --workers N`` starts it, and it also
serves a hello-world Flask route (``/hello``), the anchor: every figure is printed
beside hello-world's, measured by the same concurrent clients in the same run.

Targets: board pages and the leaderboard API p99 < 50 ms and at least
0.3x hello-world's requests per second; with ``--uploads``, 200 concurrent uploads
from 50 teams (daily limit 5) accept exactly the allowed number, all get scored,
and accepted uploads per second are reported (target >= 50/s with PostgreSQL and
4 web processes).

Usage: python bench/leaderboard.py [--database sqlite|postgresql|both] [--teams 1000] [--per-team 100]
                                   [--web 2] [--threads 4] [--clients 8] [--seconds 3] [--uploads]
       python bench/leaderboard.py --answer-key 10000000   (a large answer key loads in <= 3 s)
PostgreSQL is ARENA_TEST_POSTGRES_URL (its tables are dropped first).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and this file would shadow the leaderboard package:
# the repository's root takes its place, and the benches' shared helpers import as bench.serving.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402

from bench.serving import Server, log_in, measure, reset_postgres, signed_in_account, warm  # noqa: E402

ROUTES = [
    ("hello-world route", "/hello/", None),
    ("home page", "/", None),
    ("competition page", "/c/bench", None),
    ("API leaderboard", "/api/v1/competitions/bench/leaderboard", None),
    ("leaderboard CSV", "/c/bench/leaderboard.csv", None),
    ("competition list", "/api/v1/competitions", None),
    ("competition page, signed in", "/c/bench", "cookie"),
    ("API leaderboard, token", "/api/v1/competitions/bench/leaderboard", "token"),
]
"""(name, path, who asks): None is a visitor with no cookie and no token (the answer is kept whole, see
leaderboard/kept_responses.py); "cookie" a participant signed in through the login form; "token" a script
with an API token. Signed-in requests go through the whole application every time."""


LEVELS = 40
"""Distinct quality levels scored for real by the bulk seed; every submission reuses one level's Score."""


def predictions(task, right: float, rng) -> bytes:
    """A valid predictions file (CSV) for ``task``, right on about ``right`` of the rows."""
    import numpy as np
    import pandas as pd

    key, spec = task.answer_key, task.spec
    codes = np.where(rng.random(len(key.truth)) < right, key.truth, rng.integers(0, len(key.classes), len(key.truth)))
    if spec.prediction == "probabilities":  # most of the mass on the predicted class
        chosen = np.full((len(codes), len(key.classes)), 0.1 / (len(key.classes) - 1))
        chosen[np.arange(len(codes)), codes] = 0.9
        columns = dict(zip(task.prediction_columns, chosen.T))
    else:
        columns = {spec.target: key.classes[codes]}
    return pd.DataFrame({spec.id_column: key.ids, **columns}).to_csv(index=False).encode()


def real_scores(competition, levels: int = LEVELS) -> list[tuple[object, str]]:
    """(Score, per-row results digest) of ``levels`` real predictions files, 55% to 95% right.

    Each file is written and scored the way a worker scores an upload (``score_submission``),
    and its per-row results are kept in the file store, as ``feedback.after_scoring`` keeps them.
    """
    import numpy as np

    from arena.scoring.score import score_submission
    from arena.server.feedback import store_rows
    from arena.tasks import load_task

    task = load_task(competition.task_ref)
    rng = np.random.default_rng(7)
    made = []
    with tempfile.TemporaryDirectory() as folder:
        for level in range(levels):
            path = Path(folder) / f"level{level}.csv"
            path.write_bytes(predictions(task, 0.55 + 0.40 * level / max(1, levels - 1), rng))
            score = score_submission(
                task, path, public_fraction=competition.public_fraction, split_key=competition.split_key
            )
            made.append((score, store_rows(score.rows) if score.rows is not None else ""))
    return made


def seed(url: str, teams: int, per_team: int) -> float:
    """Host 'digits' as ``bench`` and give it ``teams`` teams of ``per_team`` scored submissions; returns seconds.

    The competition is hosted by ``competitions.host``. The rows are the ones the store writes
    (``teams.create_team``: a team and its membership; ``submissions.accept`` + ``record_score`` +
    ``feedback.after_scoring``: a scored submission with its score, primaries, per-row results digest
    and a ScoreRecord), inserted in bulk: a few dozen real scores (one per quality level, see
    :func:`real_scores`) are shared by all submissions, since scoring 100,000 files would only time
    the scorer. Accounts never log in (``password_hash = "!"``).
    """
    import secrets

    from sqlalchemy import insert, select

    from arena.db import generations
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.db.models import Membership, ScoreRecord, Submission, Team, User
    from arena.server import competitions

    started = time.perf_counter()
    db = Database(url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        competition = competitions.host(session, "digits", slug="bench", daily_limit=5)
        session.flush()
        competition_id, version, answer = competition.id, competition.task_version, competition.answer_sha256
        scores = real_scores(competition)
    rng = random.Random(7)
    day0 = datetime(2026, 1, 1)
    batch = max(1, 20_000 // max(1, per_team))  # teams per transaction
    for first in range(0, teams, batch):
        chunk = range(first, min(teams, first + batch))
        with db.session() as session, session.begin():
            session.execute(
                insert(User), [{"username": f"bench{t}", "password_hash": "!", "created_at": day0} for t in chunk]
            )
            users = dict(
                session.execute(
                    select(User.username, User.id).where(User.username.in_([f"bench{t}" for t in chunk]))
                ).all()
            )
            session.execute(
                insert(Team),
                [
                    {
                        "competition_id": competition_id,
                        "name": f"Team {t:04d}",
                        "invite_code": secrets.token_urlsafe(9),
                        "created_at": day0,
                    }
                    for t in chunk
                ],
            )
            team_ids = dict(
                session.execute(
                    select(Team.name, Team.id).where(
                        Team.competition_id == competition_id, Team.name.in_([f"Team {t:04d}" for t in chunk])
                    )
                ).all()
            )
            session.execute(
                insert(Membership),
                [
                    {
                        "competition_id": competition_id,
                        "team_id": team_ids[f"Team {t:04d}"],
                        "user_id": users[f"bench{t}"],
                    }
                    for t in chunk
                ],
            )
            rows, levels = [], []
            for t in chunk:
                skill = rng.uniform(0.1, 0.9) * (len(scores) - 1)
                for s in range(per_team):
                    level = max(0, min(len(scores) - 1, round(skill + rng.gauss(0, 2))))
                    score, rows_sha = scores[level]
                    when = day0 + timedelta(days=s, seconds=t)
                    rows.append(
                        {
                            "competition_id": competition_id,
                            "team_id": team_ids[f"Team {t:04d}"],
                            "user_id": users[f"bench{t}"],
                            "file_sha256": uuid.uuid4().hex * 2,
                            "file_name": f"s{s}.csv",
                            "file_size": 100,
                            "note": "",
                            "status": "scored",
                            "utc_day": when.strftime("%Y-%m-%d"),
                            "created_at": when,
                            "attempts": 1,
                            "score": score.to_dict(),
                            "public_primary": score.public[score.primary],
                            "private_primary": score.private[score.primary],
                            "scored_version": version,
                            "is_baseline": False,
                            "selected": False,
                            "disqualified": False,
                            "rows_sha256": rows_sha,
                        }
                    )
                    levels.append(level)
            ids = session.scalars(insert(Submission).returning(Submission.id, sort_by_parameter_order=True), rows).all()
            session.execute(
                insert(ScoreRecord),
                [
                    {
                        "submission_id": i,
                        "task_version": version,
                        "answer_sha256": answer,
                        "score": scores[level][0].to_dict(),
                        "created_at": day0,
                    }
                    for i, level in zip(ids, levels)
                ],
            )
            generations.touch(session, competition_id)  # bulk inserts bypass the flush hook: raise the counter here
    db.engine.dispose()
    return time.perf_counter() - started


def boards(label: str, url: str, args, env: dict) -> bool:
    """The board figures beside hello-world's; False (with the reason printed) when a route failed."""
    print(f"\n== {label}: seeding {args.teams} teams x {args.per_team} submissions ...", flush=True)
    print(
        f"   seeded in {seed(url, args.teams, args.per_team):.0f} s (bulk inserts, {LEVELS} real scores shared)",
        flush=True,
    )
    token = signed_in_account(url)
    server = Server(url, args.web, args.threads, env)
    try:
        asking = {None: {}, "token": {"Authorization": f"Bearer {token}"}, "cookie": {"Cookie": log_in(server)}}
        routes = [(name, path, asking[who]) for name, path, who in ROUTES]
        if not warm(server, routes, args.web):
            return False
        print(
            f"   gunicorn, {args.web} web processes x {args.threads} threads (gthread); {args.clients} concurrent "
            f"keep-alive clients, {args.seconds:.0f} s per route"
        )
        found = measure(server, routes, args.clients, args.seconds)
    finally:
        server.stop()
    return not any(figures["errors"] for figures in found.values())


def uploads(label: str, url: str, args, env: dict) -> bool:
    """200 concurrent uploads from 50 teams under a daily limit of 5: accepted count, accepted/s, all scored."""
    from arena.db.database import Database
    from arena.db.migrate import upgrade
    from arena.db.models import User
    from arena.server import accounts, competitions

    teams, limit = 50, 5
    per_team = [10 if t < 10 else 2 if t < 30 else 3 for t in range(teams)]  # 200 in all; 10 teams send 10
    db = Database(url)
    upgrade(db.engine)
    tokens = []
    with db.session() as session, session.begin():
        competitions.host(session, "digits", slug="uploads", daily_limit=limit)
        for t in range(teams):
            user = User(username=f"up{t}", password_hash="!")
            session.add(user)
            session.flush()
            tokens.append(accounts.create_token(session, user, "bench"))
    db.engine.dispose()
    import numpy as np

    from arena.tasks import load_task

    task = load_task("digits")
    rng = np.random.default_rng(3)
    jobs = [
        (tokens[t], predictions(task, rng.uniform(0.5, 0.95), rng)) for t in range(teams) for _ in range(per_team[t])
    ]
    random.Random(1).shuffle(jobs)
    server = Server(url, args.upload_web, args.threads, env, scoring=True)
    port = server.port
    accepted, refused, failed = [], [0], [0]
    lock = threading.Lock()
    barrier = threading.Barrier(len(jobs))

    def send(token: str, body: bytes) -> None:
        boundary = uuid.uuid4().hex
        payload = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.csv"\r\n'
                f"Content-Type: text/csv\r\n\r\n"
            ).encode()
            + body
            + f"\r\n--{boundary}--\r\n".encode()
        )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        try:
            connection.request(
                "POST",
                "/api/v1/competitions/uploads/submissions",
                body=payload,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            response = connection.getresponse()
            answer = json.loads(response.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError) as exc:
            with lock:
                failed[0] += 1
                print(f"   upload failed: {type(exc).__name__}: {exc}", flush=True)
            return
        with lock:
            if response.status == 202:
                accepted.append(answer["submission"]["id"])
            elif response.status in (400, 429):  # over the daily limit
                refused[0] += 1
            else:
                failed[0] += 1

    try:
        threads = [threading.Thread(target=send, args=job) for job in jobs]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        allowed = sum(min(n, limit) for n in per_team)
        print(
            f"\n== {label}: {len(jobs)} concurrent uploads from {teams} teams, daily limit {limit}, "
            f"{args.upload_web} web processes"
        )
        print(
            f"   accepted {len(accepted)} (allowed {allowed}), refused {refused[0]}, errors {failed[0]}; "
            f"{len(accepted) / elapsed:.0f} accepted uploads/s ({elapsed:.2f} s)",
            flush=True,
        )
        db = Database(url)
        deadline = time.time() + 600
        from sqlalchemy import func, select

        from arena.db.models import Submission

        while time.time() < deadline:
            with db.session() as session:
                left = session.scalar(
                    select(func.count()).select_from(Submission).where(Submission.status.in_(("queued", "scoring")))
                )
            if not left:
                break
            time.sleep(0.5)
        with db.session() as session:
            statuses = dict(session.execute(select(Submission.status, func.count()).group_by(Submission.status)).all())
        scored = statuses.get("scored", 0)
        print(
            f"   scored {scored} of {len(accepted)} after {time.perf_counter() - began:.1f} s "
            f"(one scoring process); by status: {statuses}",
            flush=True,
        )
        db.engine.dispose()
        if failed[0]:
            print("   server log:\n" + server.log_tail(), flush=True)
        return len(accepted) == allowed and scored == len(accepted) and not failed[0]
    finally:
        server.stop()


ANSWER_KEY_BUNDLE = """name = "bigkey"
version = 1
kind = "classification"
[data]
train = "train.csv"
test = "test.parquet"
answers = "answers.parquet"
id = "id"
target = "label"
[metrics]
primary = "accuracy"
[submission]
prediction = "label"
"""

LATER_LOAD = """
import sys, time
began = time.perf_counter()
from arena.tasks import load_task
from arena.scoring.score import public_rows
task = load_task(sys.argv[1])
public_rows(task)  # what a worker needs before its first score: the answer key and the row split
print(time.perf_counter() - began)
"""


def answer_key(rows: int, env: dict) -> bool:
    """Time a ``rows``-row answer key: loaded when hosted (cache written, key hashed once and the hash
    stored), then in a new process (a web process or worker starting), with and without the stored hash."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from arena.tasks import load_task

    folder = Path(tempfile.mkdtemp(prefix="arena-bench-key-"))
    ids = np.arange(rows, dtype=np.int64)
    (folder / "task.toml").write_text(ANSWER_KEY_BUNDLE)
    (folder / "train.csv").write_text("id,label\n" + "".join(f"{-1 - i},{i % 10}\n" for i in range(20)))
    pq.write_table(pa.table({"id": ids}), folder / "test.parquet")
    pq.write_table(
        pa.table({"id": ids, "label": np.random.default_rng(0).integers(0, 10, rows)}), folder / "answers.parquet"
    )
    print(f"\n== answer key of {rows:,} rows (10 classes, Parquet)", flush=True)
    began = time.perf_counter()
    load_task(folder).answer_key  # noqa: B018 -- hosting: the first load
    print(
        f"   first load, when hosted (cache written, key hashed once): {time.perf_counter() - began:.2f} s", flush=True
    )

    def later() -> float:
        result = subprocess.run(
            [sys.executable, "-c", LATER_LOAD, str(folder)], env=env, capture_output=True, text=True
        )
        if result.returncode:
            raise SystemExit("loading the answer key failed:\n" + result.stderr[-2000:])
        return float(result.stdout.strip().splitlines()[-1])

    stored = min(later() for _ in range(3))
    print(
        f"   later load in a new process (stored hash), incl. imports and the row split: {stored:.2f} s "
        f"(target <= 3 s)",
        flush=True,
    )
    digests = list(Path(env["ARENA_HOME"]).rglob("answers.sha256"))
    for digest in digests:
        digest.unlink()
    print(f"   the same without the stored hash (hashing again, as before): {later():.2f} s", flush=True)
    return stored <= 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--per-team", type=int, default=100)
    parser.add_argument("--web", type=int, default=2, help="web processes for the board figures")
    parser.add_argument("--upload-web", type=int, default=4, help="web processes for the upload figures")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--uploads", action="store_true", help="also run the concurrent-upload figures")
    parser.add_argument("--no-boards", action="store_true", help="skip the board figures")
    parser.add_argument("--answer-key", type=int, metavar="ROWS", help="only time loading an answer key of ROWS rows")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="arena-bench-")
    env = {**os.environ, "ARENA_HOME": home}
    os.environ["ARENA_HOME"] = home
    from arena.config import installation_secret

    installation_secret()
    print(f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    if args.answer_key:
        sys.exit(0 if answer_key(args.answer_key, env) else 1)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    ok = True
    for kind in kinds:
        for part in ([] if args.no_boards else ["boards"]) + (["uploads"] if args.uploads else []):
            if kind == "sqlite":
                url = f"sqlite:///{home}/{part}.db"
            else:
                url = os.environ.get("ARENA_TEST_POSTGRES_URL")
                if not url:
                    print("\n== PostgreSQL: skipped (set ARENA_TEST_POSTGRES_URL)")
                    break
                reset_postgres(url)
            ok &= (boards if part == "boards" else uploads)(
                "SQLite" if kind == "sqlite" else "PostgreSQL", url, args, env
            )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
