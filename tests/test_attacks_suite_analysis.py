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


# --- hostile bytes come out inert -------------------------------------------------------------------------------------

HOSTILE = (
    '<script>alert(1)</script> "><img src=x onerror=alert(1)> \\input{/etc/passwd} \\write18{id} }{ '
    '[x](javascript:alert(1)) | =HYPERLINK("http://evil.example") %$#_&~^ @misc{x,'
)


def balanced(text: str) -> bool:
    """Whether every unescaped brace of ``text`` is closed, in order (LaTeX and BibTeX read them so)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "{}" and (i == 0 or text[i - 1] != "\\"):
            depth += 1 if ch == "{" else -1
            if depth < 0:
                return False
    return depth == 0


def inert_html(text: str, where: str) -> None:
    assert "<script>alert" not in text and "<img src=x" not in text, where
    assert 'href="javascript' not in text.lower(), where


def inert_latex(text: str, where: str) -> None:
    assert "\\input{" not in text and "\\write18" not in text and "<script>" not in text, where
    assert all(balanced(line) for line in text.splitlines() if not line.startswith("%")), where


def inert_markdown(text: str, where: str) -> None:
    unescaped = [r"(?<!\\)<script", r"(?<!\\)<img", r"(?<!\\)\]\(javascript:"]
    assert not any(re.search(pattern, text) for pattern in unescaped), where
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    widths = {len(re.findall(r"(?<!\\)\|", line)) for line in rows}
    assert len(widths) == 1, (where, widths)  # no text opened a new cell


def inert_csv(text: str, where: str) -> None:
    import csv

    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not (cell[:1] in "=+@" and "HYPERLINK" in cell), (where, cell)


@BOTH
def test_hostile_text_in_flags_notes_titles_and_cards_comes_out_inert_everywhere(app, client, people, tmp_path):
    host(app, tmp_path, "atk", title=f"Evil {HOSTILE}")
    hostile_card = {
        "framework": "<script>alert(1)</script>",
        "licence": "\\input{/etc/passwd} }{",
        "code_url": '=HYPERLINK("http://evil.example","x")',
        "paper_url": "javascript:alert(1)",
        "notes": "[x](javascript:alert(1)) | a | b |",
    }
    enter(client, people.token("ada"), "alpha", predictions({PUBLIC[0]}), predictions(), **hostile_card)
    enter(client, people.token("bob"), "beta", predictions(set(PUBLIC[:5])), predictions({PUBLIC[1]}))
    enter(client, people.token("cyd"), "gamma", predictions(set(PUBLIC[:3])), predictions(set(PUBLIC[:4])))
    organiser = people.token("org", organiser=True)
    score_all(app)
    headers = auth(organiser)
    assert (
        client.post("/api/v1/suites/atk/models/beta/flag", json={"reason": HOSTILE}, headers=headers).status_code == 200
    )
    tier = {"tier": "reproduced", "note": HOSTILE}
    assert client.post("/api/v1/suites/atk/models/gamma/tier", json=tier, headers=headers).status_code == 200
    score_all(app)
    made = client.post("/api/v1/suites/atk/releases", json={"note": HOSTILE}, headers=headers)
    assert made.status_code == 201, made.get_json()
    release = made.get_json()
    files = downloads(client, release)
    boss = signed_in(app, people, "boss", organiser=True)
    pages = {
        path: client.get(path).get_data(as_text=True)
        for path in (
            "/s",
            "/s/atk",
            "/s/atk?tier=reproduced",
            "/s/atk/pairs",
            "/s/atk/compare?a=alpha&b=gamma",
            "/s/atk/utility",
            "/s/atk/releases",
            "/s/atk/releases/1",
            "/s/atk/models/alpha",
        )
    }
    pages["manage"] = boss.get("/s/atk/manage").get_data(as_text=True)
    for where, text in pages.items():
        inert_html(text, where)
    assert "flagged: &lt;script&gt;" in pages["/s/atk"] and "&lt;script&gt;" in pages["manage"]
    assert "&lt;script&gt;" in pages["/s/atk/releases/1"]
    for which in ("critical-difference", "performance-profile"):
        svg = client.get(f"/s/atk/{which}.svg")
        assert svg.mimetype == "image/svg+xml" and b"<script" not in svg.data
        import xml.etree.ElementTree as ElementTree

        ElementTree.fromstring(svg.data)  # well formed: nothing a name holds broke out of its element
    exports = {
        "release.tex": files["tex"].decode(),
        "release.md": files["md"].decode(),
        "release.csv": files["csv"].decode(),
        "export.tex": client.get("/s/atk/export.tex").get_data(as_text=True),
        "export.md": client.get("/s/atk/export.md").get_data(as_text=True),
        "export.csv": client.get("/s/atk/export.csv").get_data(as_text=True),
        "leaderboard.csv": client.get("/s/atk/leaderboard.csv").get_data(as_text=True),
        "compare.tex": compare(client, "alpha", "gamma", format="latex").get_data(as_text=True),
        "compare.md": compare(client, "alpha", "gamma", format="markdown").get_data(as_text=True),
        "compare.csv": compare(client, "alpha", "gamma", format="csv").get_data(as_text=True),
    }
    for where, text in exports.items():
        if where.endswith(".tex"):
            inert_latex(text, where)
        elif where.endswith(".md"):
            inert_markdown(text, where)
        else:
            inert_csv(text, where)
    assert "textless{}script" in exports["export.tex"]  # the flag's reason is there, escaped
    assert "'=HYPERLINK" in exports["release.csv"]  # the card's field is there, as text
    bibtex = client.get("/api/v1/suites/atk/releases/1").get_json()["citation"]["bibtex"]
    assert balanced(bibtex) and "\\input{" not in bibtex and bibtex.count("@misc{") == 1
    document = json.loads(files["json"])
    flags = {m["model"]: m["flag_reason"] for m in document["models"]}
    assert document["note"] == HOSTILE and flags["beta"] == HOSTILE  # data, as written


@BOTH
def test_a_reference_run_record_never_publishes_an_answer_key_s_hash(app, client, people, atk):
    """An organiser's ``arena baseline --submit`` records, per task, the SHA-256 of the answer key it was scored
    against. That hash is kept from every page, download and release: a small hidden answer key could be found from it
    by trying labels (a release publishes a salted commitment instead, and says whether each run matched)."""
    with app.extensions["arena_db"].session() as session:
        hashes = dict(
            session.execute(
                select(Competition.slug, Competition.answer_sha256).where(Competition.slug.like("atk-%"))
            ).all()
        )
    run = {
        "command": "arena baseline --suite atk mlp",
        "seed": 0,
        "tasks": {
            key: {"version": 1, "answer_sha256": sha, "metric": "accuracy"}
            for slug, sha in hashes.items()
            for key in ("left", "right")
            if slug.startswith(f"atk-{key}")
        },
    }
    organiser = people.token("org", organiser=True)
    enter(client, organiser, "mlp-reference", predictions({PUBLIC[0]}), predictions(), baseline=True, run=run)
    enter(client, people.token("ada"), "alpha", predictions(set(PUBLIC[:4])), predictions({PUBLIC[2]}))
    score_all(app)
    made = client.post("/api/v1/suites/atk/releases", json={}, headers=auth(organiser))
    assert made.status_code == 201, made.get_json()
    document = json.loads(downloads(client, made.get_json())["json"])
    matched = {m["model"]: m["run_matches_answer_key"] for m in document["models"]}
    assert matched["mlp-reference"] == {"left": True, "right": True}  # what a reader needs: the run used this key
    seen = {
        "release json": json.dumps(document),
        "release api": client.get("/api/v1/suites/atk/releases/1").get_data(as_text=True),
        "release page": client.get("/s/atk/releases/1").get_data(as_text=True),
        "model api": client.get("/api/v1/suites/atk/models/mlp-reference").get_data(as_text=True),
        "model page": client.get("/s/atk/models/mlp-reference").get_data(as_text=True),
        "board": client.get("/api/v1/suites/atk/leaderboard").get_data(as_text=True),
        "export": client.get("/s/atk/export.json").get_data(as_text=True),
    }
    for where, text in seen.items():
        for slug, sha in hashes.items():
            assert sha not in text, (where, slug)


# --- caches: nobody's view for another, never stale -------------------------------------------------------------------


@BOTH
def test_a_signed_in_organiser_s_page_is_never_served_to_a_visitor(app, client, people, scored):
    boss = signed_in(app, people, "bigboss", organiser=True)
    paths = ("/s/atk", "/s/atk?tier=reproduced", "/s/atk/pairs", "/s/atk/compare?a=alpha&b=beta", "/s/atk/utility")
    for path in paths:  # the organiser first, so that whatever is kept was made for them
        mine = boss.get(path).get_data(as_text=True)
        assert "bigboss" in mine and 'name="csrf_token"' in mine, path
    token = re.search(r'name="csrf_token" value="([^"]+)"', boss.get("/s/atk/manage").get_data(as_text=True))
    flagged = boss.post("/s/atk/manage/models/beta/flag", data={"reason": "late", "csrf_token": token.group(1)})
    assert flagged.status_code == 302  # a message waits in the organiser's session for their next page
    score_all(app)
    for path in paths:
        for visitor in (client, app.test_client()):
            page = visitor.get(path).get_data(as_text=True)
            assert "bigboss" not in page and "csrf_token" not in page and "is flagged" not in page, path
            assert "Log in" in page or "login" in page, path
    after = boss.get("/s/atk").get_data(as_text=True)
    assert "bigboss" in after and "beta version 1 is flagged" in after


@BOTH
def test_a_flag_or_a_tier_shows_on_the_next_request_everywhere_and_in_another_process(app, client, people, scored):
    from conftest import make_app

    url = app.extensions["arena_db"].engine.url.render_as_string(hide_password=False)
    other = make_app(DATABASE_URL=url)  # a second server process on the same database keeps its own boards
    try:
        views = ("/s/atk", "/s/atk/export.md", "/api/v1/suites/atk/leaderboard", "/api/v1/suites/atk/pairs")
        for server in (client, other.test_client()):
            for path in views:
                assert server.get(path).status_code == 200  # every view kept before the change
            rows = server.get("/api/v1/suites/atk/leaderboard").get_json()["rows"]
            assert [row["model"] for row in rows if row["rank"] == 1] == ["alpha"]
        assert (
            client.post(
                "/api/v1/suites/atk/models/alpha/flag", json={"reason": "copied"}, headers=auth(scored)
            ).status_code
            == 200
        )
        tier = {"tier": "reproduced", "note": "re-ran commit abc"}
        assert client.post("/api/v1/suites/atk/models/beta/tier", json=tier, headers=auth(scored)).status_code == 200
        for server in (client, other.test_client()):  # before the worker's statistics: shown, never ranked
            rows = {row["model"]: row for row in server.get("/api/v1/suites/atk/leaderboard").get_json()["rows"]}
            assert rows["alpha"]["flag_reason"] == "copied" and rows["alpha"]["rank"] is None
            assert "flagged: copied" in server.get("/s/atk").get_data(as_text=True)
            assert "copied" in server.get("/s/atk/export.md").get_data(as_text=True)
            vouched = server.get("/api/v1/suites/atk/leaderboard?tier=reproduced").get_json()["rows"]
            assert [row["model"] for row in vouched] == ["beta"]
        score_all(app)
        for server in (client, other.test_client()):
            rows = {row["model"]: row for row in server.get("/api/v1/suites/atk/leaderboard").get_json()["rows"]}
            assert rows["alpha"]["rank"] is None and rows["beta"]["rank"] == 1
            assert server.get("/api/v1/suites/atk/pairs").get_json()["models"] == ["beta"]
            found = server.get("/api/v1/suites/atk/compare?a=alpha&b=beta").get_json()
            assert found["pending"] is False and found["aggregate"] is None  # a flagged model has no aggregate
            marks = server.get("/s/atk/export.json").get_json()["rows"]
            assert [row["model"] for row in marks if row["aggregate_mark"] == "best"] == ["beta"]
    finally:
        other.extensions["arena_db"].engine.dispose()


@BOTH
def test_the_pairs_page_and_its_figures_answer_while_there_is_nothing_to_draw(app, client, people, atk):
    """A suite with no model yet, a board whose statistics the worker has yet to compute (after any new entry or
    flag), and a board with no ranked model: the pairs page says so and the figures are empty, never an error."""
    paths = (
        "/s/atk/pairs",
        "/s/atk/critical-difference.svg",
        "/s/atk/performance-profile.svg",
        "/api/v1/suites/atk/pairs",
    )
    app.config["PROPAGATE_EXCEPTIONS"] = False
    wrong = []

    def check(when: str) -> None:
        for path in paths:
            for visitor in (client, signed_in(app, people, "viewer")):
                response = visitor.get(path)
                if response.status_code != 200:
                    wrong.append((when, path, response.status_code))

    check("no model")
    enter(client, people.token("ada"), "alpha", predictions({PUBLIC[0]}), "id,label\n")  # right's file is empty
    check("pending")
    score_all(app)
    check("no ranked model")
    assert wrong == []


# --- stored files: never served, never named ----------------------------------------------------------------------


def stored_statistics(arena_home) -> list:
    return sorted((arena_home / "files" / "suites").rglob("*.*"))


@BOTH
def test_no_url_serves_the_stored_draws_or_names_where_they_are(app, client, people, scored, arena_home):
    made = client.post("/api/v1/suites/atk/releases", json={}, headers=auth(scored))
    assert made.status_code == 201
    found = stored_statistics(arena_home)
    key = next(path.stem for path in found if path.suffix == ".npz")
    relative = f"suites/{key[:2]}/{key}"
    attempts = [
        f"/files/{relative}.npz",
        f"/static/../files/{relative}.npz",
        f"/static/..%2f..%2ffiles/{relative}.npz",
        f"/s/atk/..%2f..%2f{relative}.npz",
        "/s/atk/releases/1.npz",
        "/s/atk/versions/1.npz",
        "/s/atk/export.npz",
        "/api/v1/suites/atk/export?format=npz",
        "/api/v1/suites/atk/releases/1.npz",
        f"/s/atk/releases/{key}",
        "/api/v1/suites/atk/releases/1?format=npz",
    ]
    for path in attempts:
        response = client.get(path)
        assert not response.data.startswith(b"PK\x03\x04") and b"NUMPY" not in response.data, path
        assert response.status_code in (200, 301, 302, 308, 400, 404), (path, response.status_code)
    everything = [
        client.get(path).get_data(as_text=True)
        for path in (
            "/s/atk",
            "/s/atk/pairs",
            "/s/atk/compare?a=alpha&b=beta",
            "/api/v1/suites/atk/leaderboard",
            "/api/v1/suites/atk/pairs",
            "/api/v1/suites/atk/compare?a=alpha&b=beta",
            "/api/v1/suites/atk/releases/1",
            "/s/atk/releases/1",
            "/s/atk/releases/1.json",
            "/s/atk/export.json",
        )
    ]
    for text in everything:
        assert key not in text and str(arena_home) not in text


@BOTH
def test_a_damaged_stored_file_names_no_path_in_any_answer(app, client, people, scored, arena_home):
    from arena.server import suite_analysis, suite_cache, suite_releases

    release = client.post("/api/v1/suites/atk/releases", json={}, headers=auth(scored)).get_json()
    for path in stored_statistics(arena_home):
        if path.suffix == ".npz":
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # cut short, as a full disk leaves it
    json_file = suite_releases.release_path(release["files"]["json"])
    json_file.write_bytes(b'{"damaged": true}')
    suite_analysis._draws.clear()  # as a restarted server finds them
    suite_releases._read.clear()
    suite_cache.forget()
    app.config["PROPAGATE_EXCEPTIONS"] = False
    wrong = []
    for path in (
        "/s/atk/compare?a=alpha&b=beta",
        "/api/v1/suites/atk/compare?a=alpha&b=beta",
        "/api/v1/suites/atk/compare?a=alpha&b=beta&format=latex",
        "/s/atk/pairs",
        "/s/atk",
        "/s/atk/releases/1",
        "/s/atk/releases/1.json",
        "/api/v1/suites/atk/releases/1",
    ):
        response = client.get(path)
        text = response.get_data(as_text=True)
        if str(arena_home) in text or "Traceback" in text or "releases/" + release["files"]["json"][:2] in text:
            wrong.append((path, "names a path"))
        if "compare" in path and response.status_code >= 500:  # damaged draws: the comparison waits for them
            wrong.append((path, response.status_code))
    assert wrong == []


# --- no work or memory that grows with what a visitor asks for ------------------------------------------------------------


def kept_sizes(app) -> tuple[int, int]:
    """How many values the suite caches hold for this app's database, and how many locks they keep."""
    from arena.server import suite_cache

    engine = app.extensions["arena_db"].engine
    with suite_cache._lock:
        values = sum(len(kept.values) for kept in suite_cache._kept.get(engine, {}).values())
        locks = len(suite_cache._computing.get(engine, {}))
    return values, locks


@BOTH
def test_made_up_names_and_weights_fill_no_cache(app, client, people, scored):
    """Whatever a visitor puts in a URL (a model name, weights, a pair to compare), what the server keeps for the
    suite stays bounded: a new name costs one look-up and is forgotten."""

    def visit(batch: range) -> None:
        for i in batch:
            fake = f"nobody{i}"
            assert client.get(f"/s/atk/models/{fake}").status_code == 404
            assert client.get(f"/api/v1/suites/atk/models/{fake}").status_code == 404
            assert compare(client, fake, "beta").status_code == 404
            assert (
                compare(client, "alpha", "beta" if i % 2 else "BETA", format=("csv", "latex")[i % 2]).status_code == 200
            )
            assert client.get(f"/api/v1/suites/atk/utility?accuracy={1 + i}&parameters={i / 7}").status_code == 200
            assert client.get(f"/s/atk/utility?accuracy=1&training={i}").status_code == 200

    visit(range(20))
    before = kept_sizes(app)
    visit(range(20, 220))
    assert kept_sizes(app) == before
