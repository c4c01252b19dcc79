"""A real browser (Playwright driving Debian's Chromium) checks the organiser's forms and pages as a person meets them.

The name fields' patterns must compile as today's browsers read them (the ``v`` flag), so a name with a space is
caught before anything is sent; when the browser's check is bypassed, the server shows the form again with what was
typed. Hostile Markdown in the organiser's pages shows as text: no dialog opens, no script runs, in the editor's
preview or on the competition's page.
"""

from __future__ import annotations

import pytest
from conftest import ORGANISER, auth, shot
from test_browser_organiser import log_in, write_task_csvs

from arena.server.accounts import register

pytestmark = pytest.mark.slow  # a real browser against a live server: about 10 s

HOSTILE = {
    "description": "# Welcome\n<script>window.ran = 'overview'</script>\n[click me](javascript:window.ran='link')",
    "data_page": "**Columns** x1, x2\n<img src=x onerror=\"window.ran='img'\">",
    "rules_page": "No external data.\n<iframe srcdoc=\"<script>parent.ran='frame'</script>\"></iframe>",
    "timeline_page": "- merger deadline: a week before the end\n<svg onload=\"window.ran='svg'\"></svg>",
}


@pytest.fixture
def server(live_server):
    server = live_server()
    with server.app.extensions["arena_db"].session() as session, session.begin():
        register(session, *ORGANISER, organiser=True)
    return server


def test_a_name_with_a_space_is_caught_by_the_browser_and_by_the_server(browser, server, tmp_path):
    csvs = write_task_csvs(tmp_path)
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    log_in(page, server.url, *ORGANISER)
    page.goto(server.url + "/host/build")
    for part, path in csvs.items():
        page.set_input_files(f"input[name={part}]", str(path))
    page.fill("input[name=name]", "my task")
    page.fill("input[name=title]", "Cats and dogs")
    page.fill("input[name=daily_limit]", "7")
    name = page.locator("input[name=name]")
    assert name.evaluate("input => input.checkValidity()") is False  # the pattern compiles, and refuses the space
    assert name.evaluate("input => input.validity.patternMismatch") is True
    page.click("#build")
    assert page.url.endswith("/host/build") and page.locator("#build-errors").count() == 0  # nothing was sent
    page.fill("input[name=name]", "my-task")
    assert name.evaluate("input => input.checkValidity()") is True

    # A browser that checks nothing (or a person who removes the check): the server shows the form again.
    page.fill("input[name=name]", "my task")
    name.evaluate("input => input.removeAttribute('pattern')")
    page.click("#build")
    page.wait_for_selector("#name-problems")
    assert "no spaces" in page.inner_text("#name-problems")
    assert (
        page.input_value("input[name=name]") == "my task" and page.input_value("input[name=title]") == "Cats and dogs"
    )
    assert page.input_value("input[name=daily_limit]") == "7"
    assert "choose the CSV files again" in page.inner_text("#choose-files-again")
    shot(page, "build-form-kept")

    page.goto(server.url + "/host")
    slug = page.locator("input[name=slug]")
    slug.fill("my comp")
    assert slug.evaluate("input => input.checkValidity()") is False
    slug.fill("my-comp")
    assert slug.evaluate("input => input.checkValidity()") is True
    slug.fill("x")  # one character: the server's rule wants 2 to 63
    assert slug.evaluate("input => input.checkValidity()") is False


def test_hostile_markdown_in_the_pages_runs_nowhere(browser, server, tmp_path):
    token = server.people.token("pages-org", organiser=True)
    folder = tmp_path / "parity"
    folder.mkdir()
    for name, path in write_task_csvs(folder).items():
        path.rename(folder / f"{name}.csv")
    (folder / "task.toml").write_text(
        'name = "cats"\ntitle = "Cats"\nversion = 1\nkind = "classification"\n[data]\ntrain = "train.csv"\n'
        'test = "test.csv"\nanswers = "answers.csv"\nid = "id"\ntarget = "label"\n[metrics]\nprimary = "accuracy"\n'
        '[submission]\nprediction = "label"\n'
    )
    hosted = server.client.post("/api/v1/competitions", json={"task": str(folder), "slug": "cats"}, headers=auth(token))
    assert hosted.status_code == 201, hosted.get_json()
    dialogs: list[str] = []
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, server.url, *ORGANISER)
    page.goto(server.url + "/c/cats/admin")
    page.click("#edit-pages")
    for key, text in HOSTILE.items():
        page.fill(f"textarea[name={key}]", text)
    page.click("#preview-pages")
    page.wait_for_selector("#preview-data_page")
    assert page.inner_text("#preview-data_page strong") == "Columns"
    assert (
        page.locator("#pages-form .preview script, #pages-form .preview iframe, #pages-form .preview svg").count() == 0
    )
    assert page.evaluate("window.ran") is None
    assert page.input_value("textarea[name=rules_page]") == HOSTILE["rules_page"]  # the preview keeps the texts
    page.click("#save-pages")
    page.wait_for_selector(".flash")
    assert "Saved" in page.inner_text(".flash")
    page.goto(server.url + "/c/cats/admin")
    assert "timeline page edited" in page.inner_text("#audit-log")

    reader = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    reader.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    reader.goto(server.url + "/c/cats")
    for section in ("#overview-page", "#data-page", "#rules-page", "#timeline-page"):
        assert reader.locator(section).is_visible()
    assert reader.inner_text("#overview-page h1") == "Welcome"
    assert "merger deadline" in reader.inner_text("#timeline-page")
    assert reader.locator(".readme script, .readme iframe, .readme svg, .readme img").count() == 0
    link = reader.locator("#overview-page a", has_text="click me")
    assert link.count() == 0 or not (link.get_attribute("href") or "").startswith("javascript:")
    reader.click("#page-sections >> text=Rules")
    assert reader.url.endswith("#rules")
    assert reader.evaluate("window.ran") is None and dialogs == []
    shot(reader, "competition-pages")
