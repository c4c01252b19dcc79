"""A real browser (Playwright driving Debian's Chromium) walks the README's path for a new user.

Register, create a team, download the data, upload the sample submission, see it
scored and ranked with a CI; then an organiser reveals the private board.
Screenshots of the main pages land in ``screenshots/`` for a person to look at.
"""

from __future__ import annotations

import pytest
from conftest import shot, wait_until_scored

pytestmark = pytest.mark.slow  # a real browser against a live server: about 15-20 s


def test_new_user_registers_uploads_and_is_ranked_then_organiser_reveals(browser, site, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(site + "/")
    shot(page, "01-competitions")
    page.click("text=Register")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=password]", "hopper-1906")
    page.click("button:has-text('Register')")
    assert "Welcome, grace" in page.content()

    page.click("text=Handwritten digits, 8x8")
    page.click("text=Team")
    page.fill("form:has(input[value=create]) input[name=name]", "Compilers")
    page.click("button:has-text('Create team')")
    assert page.inner_text("#team-name") == "Compilers"
    shot(page, "02-team")

    page.goto(site + "/c/digits")
    with page.expect_download() as download_info:
        page.click("text=sample_submission.csv")
    sample = tmp_path / "sample_submission.csv"
    download_info.value.save_as(sample)
    assert sample.read_text().startswith("id,0,1,2")
    shot(page, "03-competition")

    page.click("text=My submissions")
    page.set_input_files("input[name=file]", str(sample))
    page.fill("input[name=note]", "the sample, as the README says")
    page.click("button:has-text('Upload')")
    assert "queued for scoring" in page.content()
    wait_until_scored(page)
    shot(page, "04-my-submissions")

    page.goto(site + "/c/digits")
    board = page.inner_text("#leaderboard")
    assert "Compilers" in board and "[" in board  # ranked, with its 95% CI
    shot(page, "05-leaderboard")

    page.click("button:has-text('Log out')")
    page.click("text=Log in")
    page.fill("input[name=username]", "organiser")
    page.fill("input[name=password]", "organiser-pass-7781")
    page.click("button:has-text('Log in')")
    page.goto(site + "/c/digits/admin")
    shot(page, "06-admin")
    page.click("#action-reveal")
    assert "A reveal is final" in page.inner_text("#confirm-question")
    page.click("#confirm")
    assert "The private leaderboard is now public" in page.content()
    page.goto(site + "/c/digits")
    assert "(private rows)" in page.content() and "Compilers" in page.inner_text("#leaderboard")
    shot(page, "07-private-board")
