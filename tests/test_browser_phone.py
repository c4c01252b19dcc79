"""A real browser (Playwright driving Debian's Chromium) on a participant's and an organiser's pages:

- a waiting submission's status refreshes by itself until scored, with no page reload;
- the test-set check on a revealed competition's page, followed as written, reproduces the published hash
  from the downloaded answers file;
- every page a participant or an organiser reaches fits a 390 px wide phone (wide tables scroll in their
  own box); a screenshot of each lands in ``screenshots/phone-*.png`` for a person to look at.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess

import pytest
from conftest import ORGANISER, PASSWORD, auth, shot, upload
from helpers import predictions_csv, sample_csv

pytestmark = pytest.mark.slow  # a real browser against a live server

PHONE = {"width": 390, "height": 844}


def log_in(page, site: str, username: str, password: str = PASSWORD) -> None:
    page.goto(site + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")


def test_a_waiting_submission_refreshes_itself_until_scored(browser, live_server):
    server = live_server()
    queue = server.app.extensions["arena_queue"]
    queue.stop()  # nothing is scored until the test says so
    ada = server.people.token("ada")
    sid = upload(server.client, ada, "digits", sample_csv("digits")).get_json()["submission"]["id"]
    page = browser.new_page(viewport=PHONE)
    log_in(page, server.url, "ada")
    page.goto(f"{server.url}/c/digits/submissions")
    assert "queued" in page.inner_text("#submissions")
    other = browser.new_page(viewport=PHONE)
    log_in(other, server.url, "ada")
    other.goto(f"{server.url}/c/digits/submissions/{sid}")
    assert "queued" in other.inner_text("#status")
    for p in (page, other):
        p.evaluate("window.notReloaded = true")  # a reload or a navigation would forget it
    page.fill("input[name=note]", "typed while waiting")
    queue.drain()
    for p, where in ((page, "#submissions"), (other, "#status")):  # no reload here: the pages update themselves
        for _ in range(60):
            if "scored" in p.inner_text(where):
                break
            p.wait_for_timeout(500)
        assert "scored" in p.inner_text(where), p.inner_text(where)
    assert page.evaluate("window.notReloaded") and other.evaluate("window.notReloaded")
    assert page.input_value("input[name=note]") == "typed while waiting"
    assert "accuracy" in other.inner_text("#metrics")  # the scores arrived too
    shot(other, "phone-submission-scored")


def test_the_commitment_check_reproduces_the_hash_from_the_download(browser, live_server, tmp_path):
    server = live_server()
    org, ada = server.people.token("org", organiser=True), server.people.token("ada")
    hosted = server.client.post(
        "/api/v1/competitions",
        json={"task": "mnist1d", "slug": "mnist-contest", "ends_at": "2099-01-01T00:00:00"},
        headers=auth(org),
    )
    assert hosted.status_code == 201, hosted.get_json()
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.goto(f"{server.url}/c/mnist-contest")
    committed = page.inner_text("#commitment-hash").strip()
    assert page.locator("#answers-download").count() == 0  # nothing to download before the reveal
    upload(server.client, ada, "mnist-contest", predictions_csv("mnist1d", 0.8))
    server.client.post("/api/v1/competitions/mnist-contest/close", headers=auth(org))
    server.client.post("/api/v1/competitions/mnist-contest/reveal", json={"confirm": True}, headers=auth(org))

    page.goto(f"{server.url}/c/mnist-contest")
    assert page.inner_text("#commitment-hash").strip() == committed  # the hash published before any score
    recipe = page.inner_text("#commitment-recipe").strip()
    salt = page.inner_text("#commitment-salt").strip()
    assert recipe == f"(printf '%s\\n' {salt}; cat answers.csv) | sha256sum"
    with page.expect_download() as download:
        page.click("#answers-download")
    answers = tmp_path / "answers.csv"
    download.value.save_as(answers)
    printed = re.search(r"printf '%s\\n' ([0-9a-f]+);", recipe).group(1)  # the recipe, step by step
    assert hashlib.sha256(printed.encode() + b"\n" + answers.read_bytes()).hexdigest() == committed
    if shutil.which("sha256sum"):  # and as a shell runs it, where one can
        ran = subprocess.run(["sh", "-c", recipe], cwd=tmp_path, capture_output=True, text=True, check=True)
        assert ran.stdout.split()[0] == committed


def fits(page, site: str, path: str, name: str, problems: list[str]) -> None:
    response = page.goto(site + path)
    assert response is not None and response.status < 400, (path, response and response.status)
    width = page.evaluate("document.documentElement.scrollWidth")
    shot(page, f"phone-{name}")
    if width > PHONE["width"]:
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.scroll'))
                 .slice(0, 5).map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)"""
        )
        problems.append(f"{path}: {width} px wide ({', '.join(wide)})")


def test_every_page_fits_a_phone(browser, live_server):
    server = live_server()
    with server.app.extensions["arena_db"].session() as session, session.begin():
        from arena.server.accounts import register

        register(session, *ORGANISER, organiser=True)
    server.app.extensions["arena_queue"].stop()  # scored below, all of it, before the pages are seen
    org, ada = server.people.token("org", organiser=True), server.people.token("ada")
    server.client.post(
        "/api/v1/competitions/digits/teams", json={"name": "A team with a rather long name"}, headers=auth(ada)
    )
    ids = [
        upload(server.client, ada, "digits", predictions_csv("digits", share), name=f"try-{share}.csv").get_json()[
            "submission"
        ]["id"]
        for share in (0.6, 0.8)
    ]
    server.client.post(
        "/api/v1/competitions",
        json={"task": "mnist1d", "slug": "revealed", "ends_at": "2099-01-01T00:00:00"},
        headers=auth(org),
    )
    upload(server.client, ada, "revealed", predictions_csv("mnist1d", 0.7))
    server.app.extensions["arena_queue"].drain()
    server.client.post("/api/v1/competitions/revealed/close", headers=auth(org))
    server.client.post("/api/v1/competitions/revealed/reveal", json={"confirm": True}, headers=auth(org))
    page = browser.new_page(viewport=PHONE)
    problems: list[str] = []
    for path, name in (("/", "home"), ("/login", "login"), ("/register", "register"), ("/c/digits", "competition")):
        fits(page, server.url, path, name, problems)
    log_in(page, server.url, "ada")
    participant = [
        ("/c/digits", "competition-participant"),
        ("/c/digits/team", "team"),
        ("/c/digits/submissions", "submissions"),
        (f"/c/digits/submissions/{ids[-1]}", "submission"),
        ("/c/revealed", "revealed"),
        ("/c/revealed/shakeup", "shakeup"),
        ("/account", "account"),
        ("/u/ada", "profile"),
        ("/s", "suites"),
    ]
    for path, name in participant:
        fits(page, server.url, path, name, problems)
    suite = page.locator("main a[href^='/s/']").first
    if suite.count():
        fits(page, server.url, suite.get_attribute("href"), "suite", problems)
    page.click("button:has-text('Log out')")
    log_in(page, server.url, *ORGANISER)
    for path, name in (
        ("/c/digits/admin", "admin"),
        ("/host", "host"),
        ("/host/build", "build"),
        ("/account", "account-organiser"),
    ):
        fits(page, server.url, path, name, problems)
    assert not problems, "pages wider than a 390 px phone:\n" + "\n".join(problems)
