"""A real browser (Playwright driving Debian's Chromium) walks an organiser's whole competition.

The organiser builds a task from three CSVs on the Host page, previews it, hosts it as a
draft no participant can see, then opens it; two participants register, make teams and
upload; the organiser reveals (confirming), and the final page shows both boards with
each team's rank change. Screenshots land in ``screenshots/`` for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ORGANISER, shot, wait_until_scored

pytestmark = pytest.mark.slow  # a real browser against a live server: about 15-20 s

PARTICIPANTS = {  # person: (password, team, public rows right, private rows right)
    "ada": ("copper-meadow-tundra-42", "Overfitters", 20, 24),
    "linus": ("saffron-glacier-pylon-57", "Steady Hands", 14, 36),
}
PUBLIC_ROWS, PRIVATE_ROWS = 20, 40
"""The answers carry a Kaggle Usage column, so which test rows are public is the organiser's choice here."""


def truth(row: int) -> str:
    return "cat" if row % 2 else "dog"


def other(label: str) -> str:
    return "dog" if label == "cat" else "cat"


def write_task_csvs(folder: Path) -> dict[str, Path]:
    """A two-class task: 80 training rows, 60 test rows (the first 20 public), the answers with their Usage."""
    train = ["id,x1,x2,label"] + [f"{i},{i % 7},{i % 5},{truth(i)}" for i in range(1, 81)]
    test_ids = range(101, 101 + PUBLIC_ROWS + PRIVATE_ROWS)
    test = ["id,x1,x2"] + [f"{i},{i % 7},{i % 5}" for i in test_ids]
    answers = ["id,label,Usage"] + [
        f"{i},{truth(i)},{'Public' if n < PUBLIC_ROWS else 'Private'}" for n, i in enumerate(test_ids)
    ]
    paths = {}
    for name, lines in (("train", train), ("test", test), ("answers", answers)):
        paths[name] = folder / f"{name}.csv"
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


def write_predictions(path: Path, public_right: int, private_right: int) -> Path:
    """Predictions right on the first ``public_right`` public rows and ``private_right`` private rows, wrong elsewhere."""
    lines = ["id,label"]
    for n, i in enumerate(range(101, 101 + PUBLIC_ROWS + PRIVATE_ROWS)):
        right = n < public_right if n < PUBLIC_ROWS else n - PUBLIC_ROWS < private_right
        lines.append(f"{i},{truth(i) if right else other(truth(i))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def log_in(page, site: str, username: str, password: str) -> None:
    page.goto(site + "/")
    page.click("header >> text=Log in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button:has-text('Log in')")
    assert page.inner_text("#account-link") == username


def board_rows(page, selector: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in row.inner_text().split("\t")]
        for row in page.query_selector_all(f"{selector} tbody tr")
    ]


def test_organiser_builds_hosts_opens_and_reveals_a_competition(browser, site, tmp_path):
    csvs = write_task_csvs(tmp_path)
    host = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    log_in(host, site, *ORGANISER)

    # The Host page leads to the builder; three CSVs and a few choices make a task.
    host.click("header >> text=Host")
    host.click("#build-link")
    for part, path in csvs.items():
        host.set_input_files(f"input[name={part}]", str(path))
    host.fill("input[name=name]", "pets")
    host.fill("input[name=title]", "Cats or dogs")
    host.fill("textarea[name=description]", "Tell **cats** from dogs by two numbers.")
    shot(host, "organiser-01-build")
    host.click("#build")

    # The preview: what the task is, the sample submission, and the hosting choices.
    assert host.query_selector("#build-problems") is None, host.inner_text("main")
    preview = host.inner_text("#task-preview")
    assert "classification" in preview and "80 train · 60 test" in preview and "cat, dog" in preview
    assert host.inner_text("#sample").startswith("id,label")
    shot(host, "organiser-02-preview")
    host.select_option("#host-state", "draft")
    host.click("#host-built")

    # Hosted as a draft: the admin page says so.
    assert host.inner_text("#admin-state") == "draft"
    assert host.is_disabled("#action-reveal")  # nothing to reveal before anyone could take part
    slug = re.search(r"/c/([^/]+)/admin", host.url).group(1)
    assert slug == "pets"
    assert "host" in host.inner_text("#audit-log")
    shot(host, "organiser-03-draft-admin")

    # A participant registers and sees no trace of the draft.
    people = {}
    for username, (password, *_rest) in PARTICIPANTS.items():
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.goto(site + "/")
        page.click("header >> text=Register")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main button:has-text('Register')")
        assert f"Welcome, {username}" in page.content()
        people[username] = page
    ada = people["ada"]
    assert "Cats or dogs" not in ada.inner_text("main")
    response = ada.goto(f"{site}/c/{slug}")
    assert response.status == 404 and "there is no competition 'pets'" in ada.content()
    shot(ada, "organiser-04-draft-hidden")

    # The organiser opens it; now it is listed for everyone.
    host.click("#action-open")
    assert host.inner_text("#admin-state") == "open"
    for username, (_password, team, public_right, private_right) in PARTICIPANTS.items():
        page = people[username]
        page.goto(site + "/")
        page.click("text=Cats or dogs")
        assert page.inner_text("#state") == "open"
        if username == "ada":
            shot(page, "organiser-05-open-competition")
        page.click("nav.tabs >> text=Team")
        page.fill("form:has(input[value=create]) input[name=name]", team)
        page.click("button:has-text('Create team')")
        assert page.inner_text("#team-name") == team
        page.goto(f"{site}/c/{slug}/submissions")
        predictions = write_predictions(tmp_path / f"{username}.csv", public_right, private_right)
        page.set_input_files("input[name=file]", str(predictions))
        page.click("button:has-text('Upload')")
        assert "queued for scoring" in page.content()
    for page in people.values():
        wait_until_scored(page)
    linus = people["linus"]
    linus.click(
        "#submissions button:has-text('Choose')"
    )  # Steady Hands picks its final; Overfitters leaves it to Arena
    assert "Chosen ✓" in linus.inner_text("#submissions")
    shot(linus, "organiser-06-my-submissions")

    # While open, the public board ranks the team that fits the public rows first.
    ada.goto(f"{site}/c/{slug}")
    public = board_rows(ada, "#leaderboard")
    assert [row[1] for row in public] == ["Overfitters", "Steady Hands"]
    assert public[0][2] == "1.0000" and public[1][2] == "0.7000"
    assert "0.9000" not in ada.inner_text("#leaderboard")  # no private score leaks before the reveal
    shot(ada, "organiser-07-public-board")

    # The reveal asks first; after the confirmation the competition is over.
    host.goto(f"{site}/c/{slug}/admin")
    shot(host, "organiser-08-admin-open")
    host.click("#action-reveal")
    assert "A reveal is final" in host.inner_text("#confirm-question")
    shot(host, "organiser-09-confirm-reveal")
    host.click("#confirm")
    assert "The private leaderboard is now public" in host.content()
    assert host.inner_text("#admin-state") == "revealed"
    assert "reveal" in host.inner_text("#audit-log")

    # Everyone sees both boards, and who climbed and who fell.
    for page in people.values():
        page.goto(f"{site}/c/{slug}")
        private = board_rows(page, "#final-boards #leaderboard")
        public = board_rows(page, "#final-boards #public-leaderboard")
        assert [(row[0], row[1]) for row in private] == [("1", "Steady Hands"), ("2", "Overfitters auto")]
        assert private[0][2] == "0.9000" and private[1][2] == "0.6000"
        assert [row[4] for row in private] == ["+1", "−1"]
        assert [(row[0], row[1]) for row in public] == [("1", "Overfitters"), ("2", "Steady Hands")]
        assert page.inner_text("#state") == "revealed" and "uploads are off" in page.inner_text("#uploads-off")
    shot(linus, "organiser-10-final-boards")
