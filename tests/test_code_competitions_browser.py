"""A real browser (Playwright driving Debian's Chromium) walks a code competition as its people do.

The organiser hosts the example task through the Host form, choosing code submissions. A participant downloads the
starting kit from the competition's page, tries it with ``arena run`` on their own machine, uploads the zip through
the web form, makes a dry run and reads its output, then watches the real run go from queued (or running) to scored,
with its interval, time and memory. The hidden test inputs never reach a participant: the page offers no test.csv,
and the real run's output, which ran on them, shows on no participant page (the organiser's view of the same run
shows it, so its absence means something). Screenshots land in ``screenshots/``, one at a phone's width.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import ORGANISER, require_in_ci, shot

from arena.server import code_runs

pytestmark = pytest.mark.slow  # a real browser, real sandboxed runs, a live server: about 20-30 s

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "code-competition"
SLUG = "digits-code"
PHONE = 390
PASSWORD = "copper-meadow-tundra-42"


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


def log_in(page, site: str, username: str, password: str) -> None:
    page.goto(site + "/")
    page.click("header >> text=Log in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button:has-text('Log in')")
    assert page.inner_text("#account-link") == username


def register(page, site: str, username: str, password: str) -> None:
    page.goto(site + "/")
    page.click("header >> text=Register")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button:has-text('Register')")
    assert f"Welcome, {username}" in page.content()


def newest_run(page) -> str:
    return page.inner_text("#submissions tbody tr:first-child")


@pytest.fixture
def held_real_runs(monkeypatch):
    """Real runs wait for the test's word before they start (dry runs do not), so the page can be seen while the
    run is still queued or running; the run itself is the server's own, unchanged."""
    go = threading.Event()
    real = code_runs.run_in_slot

    def held(slot, job, limit_seconds):
        if not job.sample:
            go.wait(120)
        return real(slot, job, limit_seconds)

    monkeypatch.setattr(code_runs, "run_in_slot", held)
    yield go
    go.set()


def test_a_participant_downloads_the_kit_tries_it_dry_runs_and_is_scored(browser, site, tmp_path, held_real_runs):
    need_bwrap()

    # The organiser hosts the example task from its folder, choosing programs.
    host = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    log_in(host, site, *ORGANISER)
    host.click("header >> text=Host")
    host.fill("input[name=task_ref]", str(EXAMPLE))
    host.fill("input[name=slug]", SLUG)
    host.select_option("#submission-kind", "code")
    host.select_option("select[name=feedback]", "rounded")  # every public score with its interval
    host.click("main button:has-text('Host')")
    assert host.url.endswith(f"/c/{SLUG}/admin"), host.inner_text("main")

    # The participant finds the starting kit among the data files; the hidden test inputs are not offered.
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    register(page, site, "ada", PASSWORD)
    page.goto(f"{site}/c/{SLUG}")
    assert "code competition" in page.inner_text("#code-submissions")
    files = page.inner_text("section:has(> h2:text-is('Data')) > ul")
    assert "starting_kit.zip" in files and "public_sample.csv" in files and "test.csv" not in files
    assert not page.query_selector("a[href$='test.csv']")
    shot(page, "code-01-competition")
    with page.expect_download() as downloading:
        page.click("#starting-kit a")
    kit = tmp_path / "starting_kit.zip"
    downloading.value.save_as(kit)
    with zipfile.ZipFile(kit) as zipped:
        assert sorted(zipped.namelist()) == ["README.md", "main.py"]
        assert "arena run TASK main.py" in zipped.read("README.md").decode()

    # On their own machine: the kit's loop, `arena run` on the public sample.
    tried = subprocess.run(
        [sys.executable, "-m", "arena.cli", "run", str(EXAMPLE), str(kit)], capture_output=True, text=True, timeout=300
    )
    assert tried.returncode == 0, tried.stderr
    assert "ok: submission.csv is a valid predictions file for the public sample" in tried.stdout

    # A dry run from the submissions page shows the program's output, its time and memory, and uses no slot.
    page.click("text=My submissions")
    slots_before = re.search(r"(\d+) of \d+ submissions left", page.inner_text("main")).group(1)
    page.set_input_files("input[name=file]", str(kit))
    page.click("#dry-run-button")
    assert "Dry run #" in page.content()
    for _ in range(120):
        box = page.inner_text("#dry-runs .dry-run")
        if "done" in box or "failed" in box:
            break
        page.wait_for_timeout(500)
        page.reload()
    assert " done" in box, box
    sample_line = re.search(r"trained on \d+ rows, predicted (\d+) rows", page.inner_text("#dry-runs pre"))
    assert sample_line and re.search(r"\d+\.\d+ s · peak memory \d+ MB", box), box
    assert re.search(rf"\b{slots_before} of \d+ submissions left", page.inner_text("main"))

    # The real upload: queued or running while it waits, then scored with its interval, time and memory.
    page.set_input_files("input[name=file]", str(kit))
    page.fill("input[name=note]", "the starting kit")
    page.click("button:has-text('Submit: run on the hidden test inputs')")
    assert "queued for scoring" in page.content()
    assert re.search(r"run: (queued|running)", newest_run(page)), newest_run(page)
    shot(page, "code-02-run-queued")
    held_real_runs.set()
    for _ in range(120):
        if "scored" in newest_run(page) or "failed" in newest_run(page):
            break
        page.wait_for_timeout(500)
        page.reload()
    row = newest_run(page)
    assert "scored" in row and "run: scored" in row, row
    assert re.search(r"\[0\.\d{4}, [01]\.\d{4}\]", row), row  # the public score's 95% interval
    assert re.search(r"\d+\.\d s · CPU \d+\.\d s · \d+ MB", row), row  # its time and memory
    shot(page, "code-03-scored")

    # At a phone's width the submissions page fits: nothing scrolls sideways.
    phone = browser.new_context(viewport={"width": PHONE, "height": 844}, storage_state=context.storage_state())
    small = phone.new_page()
    small.goto(f"{site}/c/{SLUG}/submissions")
    shot(small, "code-04-submissions-phone")
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE

    # The real run's output ran on the hidden test inputs: the organiser sees it, no participant page does.
    submission_id = re.match(r"\s*(\d+)", row).group(1)
    host.goto(f"{site}/c/{SLUG}/submissions/{submission_id}")
    real_line = re.search(r"trained on \d+ rows, predicted (\d+) rows", host.inner_text("#run-log"))
    assert real_line and real_line.group(1) != sample_line.group(1)  # the test inputs' rows, not the sample's
    for path in (f"/c/{SLUG}", f"/c/{SLUG}/submissions", f"/c/{SLUG}/submissions/{submission_id}", f"/c/{SLUG}/team"):
        page.goto(site + path)
        assert real_line.group(0) not in page.content(), path
        assert not page.query_selector("#run-log"), path
    token = page.request.post(f"{site}/api/v1/auth/token", data={"username": "ada", "password": PASSWORD}).json()
    for path in (f"/api/v1/competitions/{SLUG}/submissions", f"/api/v1/competitions/{SLUG}/dry-runs"):
        answer = page.request.get(site + path, headers={"Authorization": f"Bearer {token['token']}"})
        assert answer.ok and real_line.group(0) not in answer.text(), (path, answer.status)
