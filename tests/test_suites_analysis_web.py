"""The suite analysis as a researcher and an organiser use it, in a real browser (Playwright driving Debian's
Chromium) against a live server hosting the built-in suite with its four reference models, two of them ranked (the
cnn and the mlp write no text, so they are shown with dates missing, outside the analysis).

A researcher opens the board, compares two models and reads which tasks differ, reads the critical-difference
diagram's groups, and checks whether the winner survives another aggregate method. An organiser makes a release and
downloads its LaTeX table; a participant then enters a new model with ``arena suite submit``: the live board shows
it and every file of the release stays byte for byte the same. Last, the organiser flags the new model: it leaves the
ranks, its reason shown. The phone-width pages scroll inside their boxes, never the page.

A full-page screenshot of each step lands under the test's temporary folder, and is copied to the folder named by
``ARENA_SCREENSHOTS`` when it is set, for a person to look at.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import PASSWORD

from arena.cli import main
from arena.server.accounts import register
from arena.server.suite_install import prepare_builtin_suites
from arena.suites.spec import builtin_suites_dir

pytestmark = pytest.mark.slow  # a live server scores the built-in suite and a browser walks it: about a minute

REFERENCE = ("cnn-reference", "gru-reference", "mlp-reference", "transformer-reference")
RANKED = ("gru-reference", "transformer-reference")  # the two that answer every task
UNRANKED = ("cnn-reference", "mlp-reference")  # dates missing: they write no text
TASKS = ("digits", "mnist1d", "listops", "sunspots", "dates")
ORGANISER = "olga"
NEW_MODEL = "copycat-gru"
REASON = "predictions are <b>gru-reference</b>'s, byte for byte"
CARD = f"""\
name = "{NEW_MODEL}"
version = "1"
parameters = 93962
framework = "JAX + Flax NNX"
licence = "MIT"
code_url = "none"
extra_training_data = false
trained_on_test_inputs = false
"""
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 800}


class Shots:
    """Full-page screenshots, numbered in the order taken, kept under ``folder`` and copied to ``ARENA_SCREENSHOTS``."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.taken = folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        self.taken += 1
        path = self.folder / f"analysis-{self.taken:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        keep = os.environ.get("ARENA_SCREENSHOTS")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)


def reload_until(page, ready, what: str, tries: int = 240) -> None:
    """Reload ``page`` until ``ready(page)`` holds, as a person would press F5 while the worker computes (two minutes
    at most: the machine running the tests may be busy)."""
    for _ in range(tries):
        if ready(page):
            return
        page.wait_for_timeout(500)
        page.reload()
    assert ready(page), f"{what}: {page.inner_text('main')[:2000]}"


def board_is_ready(page) -> bool:
    board = page.inner_text("#suite-board")
    return "being computed" not in board and "scoring" not in page.inner_text("#suite-leaderboard")


def table(page, selector: str) -> list[list[str]]:
    """The text of each body row's cells (header cells included) of the table at ``selector``."""
    return page.eval_on_selector_all(
        f"{selector} tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.innerText.replace(/\\s+/g, ' ').trim()))",
    )


def header(page, selector: str) -> list[str]:
    return [re.sub(r"\s+", " ", text).strip() for text in page.locator(f"{selector} thead th").all_inner_texts()]


def board_ranks(page) -> dict[str, str]:
    """Each model's rank as the board shows it (its first word: "1", "2" or "—")."""
    return {
        row.get_attribute("data-model"): row.locator("td").first.inner_text().split()[0]
        for row in page.locator("#suite-leaderboard tbody tr[data-model]").all()
    }


def log_in(page, url: str, username: str) -> None:
    page.goto(url + "/")
    page.click("header >> text=Log in")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button:has-text('Log in')")
    assert page.inner_text("#account-link") == username


def download_release(page) -> dict[str, bytes]:
    """Click every download of the release page, as a person saving each file; check each against its SHA-256."""
    files = {}
    for link in page.locator("#release-downloads a[data-suffix]").all():
        suffix = link.get_attribute("data-suffix")
        with page.expect_download() as started:
            link.click()
        files[suffix] = Path(started.value.path()).read_bytes()
        shown = link.locator("xpath=ancestor::tr").locator("code.sha").inner_text()
        assert hashlib.sha256(files[suffix]).hexdigest() == shown, suffix
    assert set(files) == {"json", "csv", "tex", "md", "parquet"}
    return files


def fits(page) -> bool:
    """Nothing on the page is wider than the window: wide tables and pictures scroll inside their own boxes."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_researcher_compares_groups_and_checks_the_winner_then_a_release_stays_frozen_and_a_flag_unranks(
    browser, live_server, tmp_path, capsys
):
    server = live_server()
    db = server.app.extensions["arena_db"]
    with db.session() as session, session.begin():
        register(session, ORGANISER, PASSWORD, organiser=True)
    prepare_builtin_suites(db)  # what `arena serve` does at start-up: the built-in suite and its reference models
    shot = Shots(tmp_path / "shots")
    visitor = browser.new_context(viewport=WIDE).new_page()

    # The built-in suite: four reference models with their tier; the two that answer every task ranked, each with
    # an interval, the two that write no text shown with dates missing and no aggregate.
    visitor.goto(f"{server.url}/s/core")
    reload_until(visitor, board_is_ready, "the board's statistics")
    ranks_before = board_ranks(visitor)
    assert set(ranks_before) == set(REFERENCE) and sorted(ranks_before[m] for m in RANKED) == ["1", "2"]
    for model in REFERENCE:
        row = visitor.locator(f'#suite-leaderboard tr[data-model="{model}"]')
        assert row.locator(".tag.tier").inner_text() == "reference"
        if model in RANKED:
            assert re.search(r"\[\d\.\d{4}, \d\.\d{4}\]", row.locator("td.ci").first.inner_text())
        else:
            assert ranks_before[model] == "—" and row.locator("td.aggregate").inner_text() == "—"
            assert row.locator(".tag.missing").inner_text() == "missing dates"
    shot(visitor, "board")

    # Does the winner survive another aggregate method? The panel says so, and its table agrees.
    assert visitor.locator("#suite-sensitivity").is_visible()
    columns = header(visitor, "#suite-sensitivity")[1:]
    assert columns[0].startswith("normalised mean") and "mean rank" in columns
    assert any(c.startswith("without ") for c in columns)  # each task left out in turn
    rows = [r for r in table(visitor, "#suite-sensitivity") if r[0] in REFERENCE]
    assert {r[0] for r in rows} == set(RANKED)  # the analysis covers the ranked models only
    winner = next(r[0] for r in rows if r[1] == "1")
    assert ranks_before[winner] == "1"  # the suite's own column is the board's order
    firsts = [{r[0] for r in rows if r[1 + c] == "1"} for c in range(len(columns))]
    changes = sum(winner not in first for first in firsts[1:])
    if changes:
        said = visitor.inner_text("#winner-changes")
        assert f"changes under {changes} of {len(columns) - 1} alternatives" in said
    else:
        assert "holds under every alternative" in visitor.inner_text("#winner-holds")
    tau = next(r for r in table(visitor, "#suite-sensitivity") if r[0] == "Kendall's τ")
    assert tau[1] == "1.000"  # the suite's order compared with itself

    # Two models side by side: which tasks differ, by the paired interval.
    visitor.click("#compare-link")
    visitor.select_option("#compare-form select[name=a]", "gru-reference")
    visitor.select_option("#compare-form select[name=b]", "transformer-reference")
    visitor.click("#compare-form button")
    assert "a=gru-reference" in visitor.url and "b=transformer-reference" in visitor.url
    reload_until(visitor, lambda p: p.locator("#compare-pending").count() == 0, "the paired intervals")
    assert header(visitor, "#compare-table")[:4] == ["Task", "Outcome", "A: gru-reference", "B: transformer-reference"]
    compared = {
        row.get_attribute("data-task"): [re.sub(r"\s+", " ", t).strip() for t in row.locator("td").all_inner_texts()]
        for row in visitor.locator("#compare-table tbody tr[data-task]").all()
    }
    assert list(compared) == list(TASKS)
    api = server.client.get("/api/v1/suites/core/compare?a=gru-reference&b=transformer-reference").get_json()
    expected = {t["key"]: t for t in api["tasks"]}
    named = {"win": "A better", "loss": "B better", "tie": "indistinguishable"}
    outcomes = {}
    for key, (task, outcome, a, b, difference, ci, chance) in compared.items():
        assert task.startswith(expected[key]["title"]) and expected[key]["metric"] in task, task
        found = re.fullmatch(r"\[(-?\d+\.\d{4}), (-?\d+\.\d{4})\]", ci)
        assert found, (key, ci)
        low, high = (float(x) for x in found.groups())
        assert [low, high] == expected[key]["ci"], key
        assert abs(float(a) - float(b) - float(difference)) <= 2e-4, key  # in the metric's own units
        assert low <= float(difference) <= high and 0 <= float(chance) <= 1, key
        assert outcome == named[expected[key]["outcome"]], key
        assert (outcome != "indistinguishable") == (low > 0 or high < 0), (key, ci, outcome)  # 0 outside: differs
        outcomes[key] = outcome
    task, outcome, *_scores, ci, _chance = (
        re.sub(r"\s+", " ", t).strip() for t in visitor.locator("#compare-aggregate td").all_inner_texts()
    )
    low, high = api["aggregate"]["ci"]
    assert task.startswith("Aggregate") and ci == f"[{low:.4f}, {high:.4f}]"
    assert outcome == (
        "indistinguishable" if low <= 0 <= high else "A better" if low > 0 else "B better"
    )  # higher: better
    summary = visitor.inner_text("#compare-summary")
    wins, ties, losses = (list(outcomes.values()).count(o) for o in ("A better", "indistinguishable", "B better"))
    assert f"better on {wins}, indistinguishable on {ties}, worse on {losses} of {len(TASKS)} tasks" in summary
    assert "too few tasks for this test" in summary  # five tasks: the signed-rank test cannot reach 5%
    shot(visitor, "compare")

    # Every pair: the critical-difference diagram and the groups it draws.
    visitor.goto(f"{server.url}/s/core")
    visitor.click("#pairs-link")
    reload_until(visitor, lambda p: p.locator("#pairs-pending").count() == 0, "the pairwise tests")
    diagram = visitor.locator("#critical-difference svg")
    assert diagram.is_visible() and diagram.bounding_box()["width"] > 300
    drawn = " ".join(diagram.locator(".cd-model title").all_text_contents())
    assert all(model in drawn for model in RANKED) and not any(model in drawn for model in UNRANKED)
    groups = visitor.locator("#cliques .clique").all_inner_texts()
    # Five tasks: no pairwise signed-rank test can reach 5%, so the two ranked models are one group, one bar.
    assert "Groups that cannot be told apart" in visitor.inner_text("#cliques")
    assert [sorted(g.split(", ")) for g in groups] == [sorted(RANKED)]
    assert diagram.locator(".cd-clique").count() == 1
    assert all(model in diagram.locator(".cd-clique title").text_content() for model in RANKED)
    matrix = table(visitor, "#pairs-matrix")
    assert len(matrix) == 2 and all(len(r) == 3 for r in matrix)
    assert visitor.locator("#pairs-matrix td.significant").count() == 0
    assert "a suite needs at least 6 tasks" in visitor.inner_text("#pairwise-matrix")
    assert visitor.locator("#performance-profile svg").is_visible()
    shot(visitor, "pairs")

    # An organiser makes a release on the manage page and downloads its files, the LaTeX table among them.
    organiser = browser.new_context(viewport=WIDE, accept_downloads=True).new_page()
    log_in(organiser, server.url, ORGANISER)
    organiser.goto(f"{server.url}/s/core")
    organiser.click("#manage-link")
    organiser.fill("#manage-release input[name=note]", "The board of the paper's Table 2 & <i>all</i> its intervals")
    organiser.click("#manage-release button")
    assert organiser.url.endswith("/s/core/releases/1")
    assert "Release 1 is frozen" in organiser.inner_text("main")
    assert organiser.inner_text("#release-note") == "The board of the paper's Table 2 & <i>all</i> its intervals"
    released = download_release(organiser)
    assert fits(organiser), "the release page (its BibTeX above all) is wider than the window"
    latex = released["tex"].decode()
    assert r"\begin{tabular}" in latex and r"\end{table}" in latex
    frozen = json.loads(released["json"])["board"]
    for row in frozen["rows"]:  # each model's aggregate and task scores, each with its 95% interval
        line = next(line for line in latex.splitlines() if f" & {row['model']} & " in line)
        if row["model"] in RANKED:
            low, high = row["aggregate_ci"]
            assert f"{row['aggregate']:.3f} [{low:.3f}, {high:.3f}]" in line, line
        else:  # no aggregate over fewer tasks, and no score for the task it does not answer
            assert row["aggregate"] is None and row["scores"]["dates"]["score"] is None and " & -- & " in line, line
        for key, score in row["scores"].items():
            if score["score"] is not None:
                assert f"{score['score']:.3f} [{score['ci_low']:.3f}, {score['ci_high']:.3f}]" in line, (key, line)
    assert {row["model"] for row in frozen["rows"]} == set(REFERENCE)
    assert set(table_models(organiser, "#release-leaderboard")) == set(REFERENCE)
    shot(organiser, "release")

    # A participant enters a new model from the command line; the live board shows it ...
    folder = tmp_path / "predictions"
    folder.mkdir()
    for key in TASKS:
        shutil.copy(builtin_suites_dir() / "core" / "models" / "gru" / f"{key}.csv.gz", folder / f"{key}.csv.gz")
    (tmp_path / "card.toml").write_text(CARD)
    token = server.people.token("newcomer")
    entered = ["suite", "submit", "core", str(folder), "--model", str(tmp_path / "card.toml")]
    assert main([*entered, "--server", server.url, "--token", token, "--wait"]) == 0
    assert f"model '{NEW_MODEL}' version 1 entered" in capsys.readouterr().out
    visitor.goto(f"{server.url}/s/core")
    reload_until(
        visitor, lambda p: board_is_ready(p) and board_ranks(p).get(NEW_MODEL, "—") != "—", "the new model's rank"
    )
    new_row = visitor.locator(f'#suite-leaderboard tr[data-model="{NEW_MODEL}"]')
    assert new_row.locator(".tag.tier").inner_text() == "reported"
    shot(visitor, "board-with-new-model")

    # ... and the release has not changed a byte, nor its page.
    organiser.reload()
    assert download_release(organiser) == released
    assert NEW_MODEL not in table_models(organiser, "#release-leaderboard")

    # The organiser flags the new model: it leaves the ranks, its reason shown (as text, never as markup).
    organiser.goto(f"{server.url}/s/core/manage")
    entry = organiser.locator(f'#manage-entries tr[data-model="{NEW_MODEL}"]')
    entry.locator("input[name=reason]").fill(REASON)
    entry.locator("button:has-text('Flag')").click()
    assert f"{NEW_MODEL} version 1 is flagged" in organiser.inner_text("main")
    assert "flag" in organiser.inner_text("#audit-log")
    shot(organiser, "manage-after-flag")
    visitor.goto(f"{server.url}/s/core")
    reload_until(visitor, lambda p: board_is_ready(p) and board_ranks(p)[NEW_MODEL] == "—", "the flag on the board")
    after = board_ranks(visitor)
    assert after == {**ranks_before, NEW_MODEL: "—"}  # the others' ranks are as before the model came
    flag = visitor.locator(f'#suite-leaderboard tr[data-model="{NEW_MODEL}"] .flag')
    assert flag.inner_text() == f"flagged: {REASON}" and flag.is_visible()
    assert visitor.locator("#suite-leaderboard b").count() == 0  # the reason's markup stays text
    assert NEW_MODEL not in [r[0] for r in table(visitor, "#suite-sensitivity")]
    shot(visitor, "board-flagged")

    # At phone width each page fits: its wide tables and pictures scroll inside their own boxes.
    phone = browser.new_context(viewport=PHONE).new_page()
    for path, name in (
        ("/s/core", "phone-board"),
        ("/s/core/compare?a=gru-reference&b=transformer-reference", "phone-compare"),
        ("/s/core/pairs", "phone-pairs"),
    ):
        phone.goto(server.url + path)
        assert fits(phone), f"{path} is wider than a phone's screen"
        shot(phone, name)
        if name == "phone-compare":  # each task's outcome is read without scrolling sideways
            tags = phone.locator("#compare-table td.outcome .tag").all()
            assert len(tags) == len(TASKS) + 1  # each task's, and the aggregate's
            for box in (tag.bounding_box() for tag in tags):
                assert box["x"] + box["width"] <= PHONE["width"], box
        if name == "phone-pairs":  # the pictures keep their size, names legible, and scroll inside their boxes
            for svg in phone.locator(".figure svg").all():
                shown = svg.evaluate("s => [s.getBoundingClientRect().width, s.viewBox.baseVal.width]")
                assert shown[0] >= shown[1] - 0.5, shown


def table_models(page, selector: str) -> list[str]:
    return [row.get_attribute("data-model") for row in page.locator(f"{selector} tbody tr[data-model]").all()]
