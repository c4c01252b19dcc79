"""A real browser hosts a Codabench-format bundle: preview, host, upload the Codabench zip, see the bundle's columns."""

from __future__ import annotations

import shutil

import pytest
from conftest import require_in_ci, shot, wait_until_scored
from test_codabench import YAML_V2, expected_accuracy, submission_zip, truth_rows, with_mistakes, write_v2, zip_folder

pytestmark = pytest.mark.slow  # a real browser against a live server: about 15-20 s


def test_an_organiser_hosts_a_codabench_bundle_and_a_submission_is_ranked_with_its_columns(browser, site, tmp_path):
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")
    yaml_text = (
        YAML_V2.format(time_limit=60)
        .replace("start: 1-1-2026", "start: 1-1-2020")
        .replace("start: 2027-01-01\n    end: 2027-02-01", "start: 2099-01-01\n    end: 2099-02-01")
    )
    archive = zip_folder(write_v2(tmp_path / "bundle", yaml_text=yaml_text), tmp_path / "tiny-labels.zip")
    rows = truth_rows()
    predicted = with_mistakes(rows, 3)
    submission = submission_zip(predicted, tmp_path / "submission.zip")

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(site + "/login")
    page.fill("input[name=username]", "organiser")
    page.fill("input[name=password]", "organiser-pass-7781")
    page.click("button:has-text('Log in')")
    page.goto(site + "/host")
    page.set_input_files("input[name=bundle]", str(archive))
    page.fill("input[name=slug]", "tiny")
    page.click("button:has-text('Host')")
    preview = page.inner_text("#stages")
    assert "Development" in preview and "Final" in preview and "Arena can score it natively" in preview
    shot(page, "codabench-01-preview")
    page.click('button:has-text("Host with the bundle\'s scoring program")')

    page.goto(site + "/c/tiny")
    assert "Final" in page.inner_text("#stages")
    page.click("text=My submissions")
    page.set_input_files("input[name=file]", str(submission))
    page.click("button:has-text('Upload')")
    assert "queued for scoring" in page.content()
    wait_until_scored(page)

    page.goto(site + "/c/tiny")
    board = page.inner_text("#leaderboard")
    errors = round(len(rows) * (1 - expected_accuracy(rows, predicted)))
    assert "Errors" in board and f"{expected_accuracy(rows, predicted):.4f}" in board and f"{errors:.4f}" in board
    shot(page, "codabench-02-leaderboard")
