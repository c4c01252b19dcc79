"""The suite analysis attacked as a hostile participant would: comparisons, every pair, the figures, exports,
releases, tiers and flags, and the utility view, through the API, the pages and the organisers' forms, on SQLite and
PostgreSQL. Each test names an attack and asserts that it fails."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from conftest import auth
from helpers import race
from sqlalchemy import func, select

from arena.db.models import AuditEntry, Competition, Submission, SuiteRelease
from arena.server import organiser_actions
from arena.server.jobs import pending, score_one
from arena.server.suite_worker import refresh_suites

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
TRAIN, TEST = 40, 84
"""Rows of each small task; the first half of the test rows is public (the answer file's Usage column says so): 42
rows, so a score is a multiple of 1/42, which four decimals never write exactly."""
TEST_IDS = list(range(TRAIN, TRAIN + TEST))
PUBLIC = TEST_IDS[: TEST // 2]
PRIVATE = TEST_IDS[TEST // 2 :]


def task_files(name: str) -> dict[str, str]:
    """A two-class task: the label is the parity of the row's id; the answer file marks public and private rows."""
    return {
        "task.toml": f'name = "{name}"\ntitle = "Parity {name}"\nversion = 1\nkind = "classification"\n\n'
        '[data]\ntrain = "train.csv"\ntest = "test.csv"\nanswers = "answers.csv"\nid = "id"\ntarget = "label"\n\n'
        '[metrics]\nprimary = "accuracy"\n\n[submission]\nprediction = "label"\n',
        "train.csv": "id,x,label\n" + "".join(f"{i},{i * 1.5},{i % 2}\n" for i in range(TRAIN)),
        "test.csv": "id,x\n" + "".join(f"{i},{i * 1.5}\n" for i in TEST_IDS),
        "answers.csv": "id,label,Usage\n"
        + "".join(f"{i},{i % 2},{'Public' if i in PUBLIC else 'Private'}\n" for i in TEST_IDS),
    }


def predictions(wrong: set[int] | frozenset[int] = frozenset()) -> str:
    """A file for either task, wrong exactly on the rows ``wrong``."""
    return "id,label\n" + "".join(f"{i},{(i % 2) ^ int(i in wrong)}\n" for i in TEST_IDS)


def write(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def host(app, tmp_path, name: str = "atk", scales: str = "", title: str = "Attack suite") -> None:
    """Host suite ``name`` of the tasks left and right (``scales``: extra lines for each task, e.g. a floor)."""
    folders = {key: write(tmp_path / f"{name}-{key}", task_files(key)) for key in ("left", "right")}
    text = f"name = {json.dumps(name)}\ntitle = {json.dumps(title)}\nversion = 1\n"
    for key in ("left", "right"):
        text += f'\n[[tasks]]\ntask = "{folders[key]}"\n{scales}'
    suite = write(tmp_path / f"{name}-suite", {"suite.toml": text})
    with app.extensions["arena_db"].session() as session, session.begin():
        organiser_actions.host_suite(session, None, str(suite))


CARD = {
    "version": "1",
    "parameters": 1234,
    "framework": "numpy",
    "licence": "MIT",
    "code_url": "none",
    "extra_training_data": False,
    "trained_on_test_inputs": False,
}


def enter(client, token: str, name: str, left: str, right: str, suite: str = "atk", baseline: bool = False, **card):
    data = {
        "left": (io.BytesIO(left.encode()), "left.csv"),
        "right": (io.BytesIO(right.encode()), "right.csv"),
        "card": (io.BytesIO(json.dumps({"name": name, **CARD, **card}).encode()), "card.json"),
        **({"baseline": "1"} if baseline else {}),
    }
    response = client.post(
        f"/api/v1/suites/{suite}/entries", data=data, headers=auth(token), content_type="multipart/form-data"
    )
    assert response.status_code == 202, response.get_json()
    return response


def score_all(app) -> None:
    """What the worker does: score every queued submission, then compute the suites' statistics."""
    db, queue = app.extensions["arena_db"], app.extensions["arena_queue"]
    while queued := pending(db):
        for submission_id in queued:
            score_one(db, submission_id, queue.slots[0])
    refresh_suites(db)


@pytest.fixture
def atk(app, tmp_path):
    host(app, tmp_path)


@pytest.fixture
def scored(app, client, people, atk):
    """ada's 'alpha' and bob's 'beta' entered and scored, statistics computed; returns an organiser's token."""
    enter(client, people.token("ada"), "alpha", predictions(set(PUBLIC[:2])), predictions(set(PUBLIC[:3])))
    enter(client, people.token("bob"), "beta", predictions(set(PUBLIC[:9])), predictions(set(PUBLIC[:12])))
    score_all(app)
    return people.token("org", organiser=True)


def token_of(app, username: str, organiser: bool = False) -> str:
    """A new API token of ``username``, whose account is made first if there is none."""
    from conftest import PASSWORD

    from arena.db.models import User
    from arena.server import accounts

    with app.extensions["arena_db"].session() as session, session.begin():
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = accounts.register(session, username, PASSWORD, organiser=organiser)
        return accounts.create_token(session, user)


def count(app, model) -> int:
    with app.extensions["arena_db"].session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def compare(client, a: str, b: str, suite: str = "atk", **args):
    return client.get(f"/api/v1/suites/{suite}/compare", query_string={"a": a, "b": b, **args})


# --- hidden labels and precision ----------------------------------------------------------------------------------


@BOTH
def test_a_comparison_on_an_unrevealed_task_tells_nothing_of_its_private_rows(app, client, people, atk):
    """Twins on the public rows that differ only on private rows: every per-task number the comparison and the pairs
    show must be that of twins (the private rows are scored, but their labels are hidden until the reveal)."""
    same_public = set(PUBLIC[:4])
    enter(client, people.token("ada"), "twin-a", predictions(same_public | set(PRIVATE[:30])), predictions(same_public))
    enter(client, people.token("bob"), "twin-b", predictions(same_public), predictions(same_public | set(PRIVATE)))
    score_all(app)
    found = compare(client, "twin-a", "twin-b").get_json()
    assert found["pending"] is False
    for task in found["tasks"]:
        assert (task["difference"], task["ci"], task["p_a_better"], task["outcome"]) == (0, [0, 0], 0.5, "tie"), task
    assert (found["wins"], found["ties"], found["losses"]) == (0, 2, 0)
    assert found["wilcoxon"]["p_value"] == 1 and found["aggregate"]["difference"] == 0
    assert found["aggregate"]["ci"] == [0, 0] and found["aggregate"]["p_a_better"] == 0.5
    pairs = client.get("/api/v1/suites/atk/pairs").get_json()
    assert pairs["p_values"] == [[1, 1], [1, 1]] and pairs["wins"] == [[0, 0], [0, 0]]
    assert pairs["mean_ranks"] == [1.5, 1.5]


NARROW = "floor = 0.9\nceiling = 1.0\n"
"""A narrow scale: one step of the aggregate is a tenth of a step of the score."""


@BOTH
def test_a_comparison_shows_no_score_difference_to_more_digits_than_the_task_board(app, client, people, tmp_path):
    """On a narrow scale (floor 0.9, ceiling 1.0) the aggregate moves ten times faster than the score: the board
    shows the aggregate in coarser steps for that reason. The comparison's difference of aggregates, at four
    decimals, must not read the difference of two scores back finer than the task's own difference shows it."""
    host(app, tmp_path, "fine", NARROW)
    enter(client, people.token("ada"), "sharp", predictions({PUBLIC[0]}), predictions({PUBLIC[0]}), suite="fine")
    enter(client, people.token("bob"), "blunt", predictions(set(PUBLIC[:3])), predictions({PUBLIC[0]}), suite="fine")
    score_all(app)
    found = compare(client, "sharp", "blunt", suite="fine").get_json()
    with app.extensions["arena_db"].session() as session:
        exact = session.scalars(
            select(Submission.public_primary)
            .join(Competition, Competition.id == Submission.competition_id)
            .where(Competition.slug.like("fine-left%"))
        ).all()
    left = next(task for task in found["tasks"] if task["key"] == "left")
    truth = 2 / 42  # sharp is wrong on one public row of 42, blunt on three
    assert sorted(exact) == pytest.approx([39 / 42, 41 / 42])
    board_error = abs(left["difference"] - truth)  # the task's own difference, at the board's four decimals
    read_back = found["aggregate"]["difference"] * 2 * 0.1  # the other task is a tie: half the weight, scale 0.1
    assert abs(read_back - truth) >= board_error - 1e-12, (read_back, left["difference"], truth)


@BOTH
def test_the_performance_profile_shows_no_ratio_of_scores_finer_than_the_board(app, client, people, tmp_path):
    """The profile's values of tau are ratios of normalised scores. Computed from the unrounded scores they carry
    sixteen digits of a ratio of two scores the board shows to four; each must be a ratio of the scores as the
    board shows them (or one of the profile's fixed points)."""
    host(app, tmp_path, "fine", NARROW)
    enter(client, people.token("ada"), "sharp", predictions({PUBLIC[0]}), predictions({PUBLIC[0]}), suite="fine")
    enter(
        client, people.token("bob"), "blunt", predictions(set(PUBLIC[:3])), predictions(set(PUBLIC[:2])), suite="fine"
    )
    score_all(app)
    board = client.get("/api/v1/suites/fine/leaderboard").get_json()
    shown = [[(row["scores"][key]["score"] - 0.9) / 0.1 for key in ("left", "right")] for row in board["rows"]]
    ratios = {1.0} | {
        best / other
        for t in range(2)
        for best in [max(model[t] for model in shown)]
        for other in (model[t] for model in shown)
        if other > 0
    }
    taus = client.get("/api/v1/suites/fine/pairs").get_json()["profile_taus"]
    assert len(taus) >= 3
    for tau in taus[:-1]:  # the last point only closes the curves: 1.25 times the largest ratio, or 2
        assert any(abs(tau - ratio) < 1e-9 for ratio in ratios), (tau, sorted(ratios))


# --- query-string abuse ---------------------------------------------------------------------------------------------

ODD_NAMES = [
    "alpha\r\nSet-Cookie: session=stolen",
    "alpha\r\n",
    "\talpha ",
    "ＡＬＰＨＡ",  # fullwidth: one name with 'alpha' to the server, as a team's name is
    "x" * 100_000,
    "\x00",
    "alpha\x00",
    "../../etc/passwd",
    "<script>alert(1)</script>",
]


@BOTH
@pytest.mark.parametrize("fmt", [None, "csv", "latex", "markdown", "json", "parquet"])
def test_odd_model_names_in_a_comparison_get_a_clear_answer_never_a_crash(app, client, people, scored, fmt):
    args = {"format": fmt} if fmt else {}
    for odd in ODD_NAMES:
        for a, b in ((odd, "beta"), ("beta", odd)):
            response = compare(client, a, b, **args)
            assert response.status_code in (200, 400, 404), (odd, response.status_code, response.data[:300])
            disposition = response.headers.get("Content-Disposition", "")
            assert "\r" not in disposition and "\n" not in disposition and "Set-Cookie" not in response.headers
            if response.status_code == 200 and fmt:  # named by the models' stored names, never by the query
                assert re.fullmatch(
                    r"attachment; filename=atk-beta-vs-alpha\.\w+|attachment; filename=atk-alpha-vs-beta\.\w+",
                    disposition,
                ), disposition
            assert response.mimetype != "text/html", odd
            page = client.get("/s/atk/compare", query_string={"a": a, "b": b})
            assert page.status_code in (200, 400, 404) and b"<script>alert" not in page.data, odd


@BOTH
def test_odd_numbers_filters_and_formats_get_a_clear_answer_never_a_crash(app, client, people, scored):
    made = client.post("/api/v1/suites/atk/releases", json={}, headers=auth(scored))
    assert made.status_code == 201, made.get_json()
    huge = "9" * 30  # past any integer column
    paths = [
        f"/s/atk/releases/{2**31}",
        f"/s/atk/releases/{huge}",
        f"/s/atk/releases/{huge}.json",
        f"/s/atk/versions/{huge}",
        f"/s/atk/versions/{huge}.csv",
        f"/api/v1/suites/atk/releases/{huge}",
        "/s/atk/releases/1.exe",
        "/s/atk/releases/1.json%00",
        "/s/atk/releases/-1",
        "/s/atk/export.tex%00",
        "/s/atk/export." + "x" * 5000,
        "/s/atk/export.TEX",
        "/api/v1/suites/atk/export?format=" + "%0D%0A" * 50,
        "/api/v1/suites/atk/export?format=csv%00",
        "/api/v1/suites/atk/export?format=csv&format=latex",
        "/api/v1/suites/atk/export",
        "/api/v1/suites/atk/compare?a=alpha&b=beta&format=" + "y" * 5000,
        "/api/v1/suites/atk/compare?a=alpha&a=beta&b=beta&b=alpha",
        "/api/v1/suites/atk/compare?a=alpha",
        "/s/atk/compare?a=alpha",
        "/s/atk/compare?a=&b=",
    ]
    for tier in ("nope", "%00", "REFERENCE", "reference%00", "x" * 5000, "reported&tier=reference"):
        paths += [
            f"/s/atk?tier={tier}",
            f"/s/atk/leaderboard.csv?tier={tier}",
            f"/api/v1/suites/atk/leaderboard?tier={tier}",
            f"/api/v1/suites/atk/export?format=csv&tier={tier}",
            f"/s/atk/export.md?tier={tier}",
        ]
    for weights in ("accuracy=nan", "accuracy=inf", "accuracy=-1", "accuracy=1e309", "accuracy=0", "%00=1"):
        paths += [f"/s/atk/utility?{weights}", f"/api/v1/suites/atk/utility?{weights}"]
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash comes back as the 500 a visitor would get, to be listed
    wrong = []
    for path in paths:
        response = client.get(path)
        if response.status_code not in (200, 302, 400, 404):
            wrong.append((path[:100], response.status_code))
        elif response.status_code == 400 and "tier=" in path and b"tier must be one of" not in response.data:
            wrong.append((path[:100], response.data[:200]))
    for version in (10**30, -(10**30), 2**63, 2**31, 0, "1", 1.5, True, None):
        for route, body in (("tier", {"tier": "reproduced", "note": "re-ran it"}), ("flag", {"reason": "odd"})):
            response = client.post(
                f"/api/v1/suites/atk/models/alpha/{route}", json={**body, "version": version}, headers=auth(scored)
            )
            if response.status_code not in (200, 400, 404):
                wrong.append((route, version, response.status_code))
    assert wrong == []


# --- only organisers release, set tiers and flag --------------------------------------------------------------------


def verification(app) -> dict[str, tuple[str, str]]:
    """Each model's latest tier and flag reason, with how many releases and audit lines there are."""
    with app.extensions["arena_db"].session() as session:
        from arena.server.suite_verification import entry_statuses

        found = {s.model: (s.tier, s.flag_reason) for s in entry_statuses(session, "atk")}
    return {**found, "releases": count(app, SuiteRelease), "audit": count(app, AuditEntry)}


def signed_in(app, people, username: str, organiser: bool = False):
    """A browser of its own, signed in through the real form as ``username`` (made if need be)."""
    from conftest import PASSWORD, form_csrf

    token_of(app, username, organiser)
    browser = app.test_client()
    response = browser.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": form_csrf(browser)}
    )
    assert response.status_code == 302, response.data
    return browser


API_CHANGES = [
    ("post", "/api/v1/suites/atk/releases", {"note": "mine"}),
    ("post", "/api/v1/suites/atk/models/alpha/tier", {"tier": "reproduced", "note": "trust me"}),
    ("post", "/api/v1/suites/atk/models/beta/tier", {"tier": "reproduced", "note": "trust me"}),
    ("post", "/api/v1/suites/atk/models/beta/flag", {"reason": "sabotage"}),
    ("delete", "/api/v1/suites/atk/models/alpha/flag", {}),
]
WEB_CHANGES = [
    ("/s/atk/manage/release", {"note": "mine"}),
    ("/s/atk/manage/models/alpha/tier", {"tier": "reproduced", "note": "trust me"}),
    ("/s/atk/manage/models/beta/flag", {"reason": "sabotage"}),
    ("/s/atk/manage/models/alpha/unflag", {}),
]


@BOTH
def test_nobody_but_an_organiser_releases_sets_a_tier_or_flags_through_the_api(app, client, people, scored):
    assert (
        client.post("/api/v1/suites/atk/models/alpha/flag", json={"reason": "late"}, headers=auth(scored)).status_code
        == 200
    )
    before = verification(app)
    ada = people.token("ada2")  # a participant; ada herself owns alpha
    owner = people.token("ada-owner")
    organiser_browser = signed_in(app, people, "boss", organiser=True)
    for method, path, body in API_CHANGES:
        for who, headers, status in (
            ("signed out", {}, 401),
            ("bad token", auth("not-a-token"), 401),
            ("participant", auth(ada), 403),
            ("another participant", auth(owner), 403),
        ):
            response = getattr(client, method)(path, json=body, headers=headers)
            assert response.status_code == status, (who, path, response.status_code, response.data[:200])
            assert response.is_json and response.get_json()["problems"], (who, path)
        as_form = getattr(client, method)(path, data=body, headers=auth(ada))
        assert as_form.status_code == 403, (path, as_form.status_code)
        cookie_only = getattr(organiser_browser, method)(path, json=body)  # a page's session is no API login
        assert cookie_only.status_code == 401, (path, cookie_only.status_code)
    assert verification(app) == before


@BOTH
def test_the_owner_of_a_model_cannot_vouch_for_it_or_take_its_flag_off(app, client, people, scored):
    with app.extensions["arena_db"].session() as session:
        from arena.db.models import SuiteModel, User

        owner = session.scalar(
            select(User.username).join(SuiteModel, SuiteModel.user_id == User.id).where(SuiteModel.name == "alpha")
        )
    assert owner == "ada"
    assert (
        client.post("/api/v1/suites/atk/models/alpha/flag", json={"reason": "late"}, headers=auth(scored)).status_code
        == 200
    )
    before = verification(app)
    browser = signed_in(app, people, "ada")
    from conftest import form_csrf

    token = form_csrf(browser, "/account")
    for path, body in WEB_CHANGES:
        response = browser.post(path, data={**body, "csrf_token": token})
        assert response.status_code == 403, (path, response.status_code)
    assert browser.get("/s/atk/manage").status_code == 403
    assert verification(app) == before


@BOTH
def test_the_organisers_forms_refuse_the_signed_out_and_any_post_without_its_csrf_token(app, client, people, scored):
    from conftest import form_csrf

    assert (
        client.post("/api/v1/suites/atk/models/alpha/flag", json={"reason": "late"}, headers=auth(scored)).status_code
        == 200
    )
    before = verification(app)
    for path, body in WEB_CHANGES:  # signed out: sent to log in, nothing done
        response = client.post(path, data=body)
        assert response.status_code in (302, 400), (path, response.status_code)
        assert response.status_code == 400 or "/login" in response.headers["Location"]
    assert "/login" in client.get("/s/atk/manage").headers.get("Location", "")
    boss = signed_in(app, people, "boss", organiser=True)
    other = signed_in(app, people, "other-boss", organiser=True)
    foreign = form_csrf(other, "/s/atk/manage")  # a token of another organiser's session
    for path, body in WEB_CHANGES:
        for token in (None, "", "forged", foreign):
            data = {**body, **({"csrf_token": token} if token is not None else {})}
            response = boss.post(path, data=data)
            assert response.status_code == 400, (path, token, response.status_code)
            assert b"the form expired or did not come from this site" in response.data
    assert verification(app) == before
    token = form_csrf(boss, "/s/atk/manage")
    assert boss.post("/s/atk/manage/models/alpha/unflag", data={"csrf_token": token}).status_code == 302
    assert boss.post("/s/atk/manage/release", data={"note": "real", "csrf_token": token}).status_code == 302
    after = verification(app)
    assert after["alpha"] == ("reported", "") and after["releases"] == 1


# --- a release never changes ---------------------------------------------------------------------------------------


def downloads(client, release: dict) -> dict[str, bytes]:
    found = {}
    for suffix, url in release["downloads"].items():
        response = client.get(url)
        assert response.status_code == 200, (suffix, response.data[:200])
        assert hashlib.sha256(response.data).hexdigest() == release["files"][suffix]
        found[suffix] = response.data
    return found


@BOTH
def test_releases_made_at_once_get_distinct_numbers_and_none_fails(app, client, people, scored):
    def work(i: int):
        return app.test_client().post("/api/v1/suites/atk/releases", json={"note": f"race {i}"}, headers=auth(scored))

    responses = race(4, work)
    assert [r.status_code for r in responses] == [201] * 4, [r.get_json() for r in responses]
    assert sorted(r.get_json()["number"] for r in responses) == [1, 2, 3, 4]
    for response in responses:
        release = response.get_json()
        document = json.loads(downloads(client, release)["json"])
        assert (document["number"], document["note"]) == (release["number"], release["note"])
    assert count(app, SuiteRelease) == 4


@BOTH
def test_nothing_a_participant_or_an_organiser_does_afterwards_changes_a_release(app, client, people, scored):
    release = client.post("/api/v1/suites/atk/releases", json={"note": "v1"}, headers=auth(scored)).get_json()
    first = downloads(client, release)
    page = client.get("/s/atk/releases/1").get_data(as_text=True)
    api = client.get("/api/v1/suites/atk/releases/1").get_json()
    enter(client, token_of(app, "ada"), "alpha", predictions(), predictions())  # a perfect new version
    enter(client, people.token("cyd"), "gamma", predictions(set(PUBLIC[:1])), predictions())
    score_all(app)
    assert (
        client.post("/api/v1/suites/atk/models/beta/flag", json={"reason": "odd"}, headers=auth(scored)).status_code
        == 200
    )
    tier = {"tier": "reproduced", "note": "re-ran it"}
    assert client.post("/api/v1/suites/atk/models/gamma/tier", json=tier, headers=auth(scored)).status_code == 200
    with app.extensions["arena_db"].session() as session, session.begin():
        competition = session.scalars(select(Competition).where(Competition.slug.like("atk-left%"))).one()
        organiser_actions.rescore(session, competition, None)
    score_all(app)
    second = client.post("/api/v1/suites/atk/releases", json={"note": "v2"}, headers=auth(scored)).get_json()
    assert second["number"] == 2 and second["files"]["json"] != release["files"]["json"]
    assert downloads(client, release) == first
    assert client.get("/api/v1/suites/atk/releases/1").get_json() == api
    assert client.get("/s/atk/releases/1").get_data(as_text=True) == page
    live = client.get("/api/v1/suites/atk/leaderboard").get_json()
    assert {row["model"] for row in live["rows"]} == {"alpha", "beta", "gamma"}
    assert [row["model"] for row in json.loads(first["json"])["board"]["rows"]] == ["alpha", "beta"]
