"""The suites' web pages: the built-in suite with its reference models' rows, the same numbers as the API, the
filters, a model's page with every card field, and the acceptance path in a real browser: write a card, score a
folder locally, submit it, and see the model ranked with an interval, marked when its neighbour cannot be told
apart from it."""

from __future__ import annotations

import argparse
import gzip
import html
import io
import re
import shutil

import pytest
from conftest import shot

from arena.cli import main
from arena.db.models import Competition
from arena.server.jobs import pending, score_one
from arena.server.rank_worker import refresh_ranks
from arena.server.suite_install import prepare_builtin_suites
from arena.suites.spec import builtin_suites_dir, load_suite

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)
REFERENCE = ("cnn-reference", "gru-reference", "mlp-reference", "transformer-reference")
RANKED = ("gru-reference", "transformer-reference")  # cnn and mlp write no text: dates missing, never ranked
CARD = """\
name = "{name}"
version = "1"
parameters = 93962
framework = "JAX + Flax NNX"
licence = "MIT"
code_url = "none"
extra_training_data = {extra}
trained_on_test_inputs = false
notes = "<script>alert(1)</script> & friends"
paper_url = "https://example.org/paper"
"""


def scored_builtin_suite(app) -> None:
    """What a fresh ``arena serve`` does, then what its worker does: host the built-in suite, score, rank."""
    db = app.extensions["arena_db"]
    prepare_builtin_suites(db)
    for submission_id in pending(db):
        score_one(db, submission_id)
    refresh_ranks(db)


def enter_copy_of(client, token: str, reference: str, name: str, *, extra: bool = False) -> None:
    """Enter the shipped predictions of a reference model that answers every task under another name, through the
    API."""
    folder = builtin_suites_dir() / "core" / "models" / reference
    data = {
        key: (io.BytesIO(gzip.open(folder / f"{key}.csv.gz").read()), f"{key}.csv") for key in load_suite("core").keys
    }
    data["card"] = (io.BytesIO(CARD.format(name=name, extra=str(extra).lower()).encode()), "card.toml")
    response = client.post(
        "/api/v1/suites/core/entries",
        data=data,
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()


def cells(page: str, model: str) -> list[str]:
    """The text of each cell of the board row of ``model``."""
    row = re.search(rf'<tr[^>]*data-model="{re.escape(model)}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, f"no row for {model}"
    return [
        html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]


@BOTH
def test_the_builtin_suite_shows_the_reference_models_with_the_api_s_numbers(app, client):
    scored_builtin_suite(app)
    page = client.get("/s/core").get_data(as_text=True)
    board = client.get("/api/v1/suites/core/leaderboard").get_json()
    assert not board["pending"] and "being computed" not in page
    assert {row["model"] for row in board["rows"]} == set(REFERENCE)
    assert {row["model"] for row in board["rows"] if row["ranked"]} == set(RANKED)
    for row in board["rows"]:
        rank, model, aggregate, interval, p_best, *tasks = cells(page, row["model"])[: 5 + len(board["tasks"])]
        if row["model"] not in RANKED:  # shown with what it answers, never an aggregate over fewer tasks
            assert row["missing"] == ["dates"] and row["aggregate"] is None and row["rank"] is None
            assert rank == aggregate == interval == p_best == ["—"] and "missing dates" in " ".join(model)
            assert tasks[-1] == ["missing"] and all(shown[0] != "missing" for shown in tasks[:-1])
            continue
        assert rank[0] == str(row["rank"])
        if row["rank_interval"][0] != row["rank_interval"][1]:
            assert f"({row['rank_interval'][0]}–{row['rank_interval'][1]})" in rank
        assert aggregate == [f"{row['aggregate']:.4f}"]
        assert interval == [f"[{row['aggregate_ci'][0]:.4f},", f"{row['aggregate_ci'][1]:.4f}]"]
        assert row["aggregate_ci"][0] <= row["aggregate"] <= row["aggregate_ci"][1]
        assert p_best == [f"{row['p_best']:.3f}"]
        for task, shown in zip(board["tasks"], tasks):
            score = row["scores"][task["key"]]
            assert shown[0] == f"{score['score']:.4f}"
            assert shown[1:] == [f"[{score['ci_low']:.4f},", f"{score['ci_high']:.4f}]"]
    assert "/s/core" in client.get("/s").get_data(as_text=True)
    csv = client.get("/s/core/leaderboard.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data(as_text=True) == client.get("/api/v1/suites/core/leaderboard.csv").get_data(as_text=True)


def test_until_the_worker_has_run_the_board_says_its_statistics_are_pending(app, client):
    prepare_builtin_suites(app.extensions["arena_db"])
    page = client.get("/s/core").get_data(as_text=True)
    assert all(model in page for model in REFERENCE)
    assert "scoring digits" in page  # nothing is scored yet: shown, not ranked, never zero


def test_the_web_filter_leaves_out_models_with_extra_data_and_ranks_the_others(app, client, people, tmp_path):
    scored_builtin_suite(app)
    enter_copy_of(client, people.token("ada"), "gru", "gru-with-extra", extra=True)
    db = app.extensions["arena_db"]
    for submission_id in pending(db):
        score_one(db, submission_id)
    refresh_ranks(db)
    everyone = client.get("/s/core").get_data(as_text=True)
    assert 'data-model="gru-with-extra"' in everyone and "extra data" in everyone
    filtered = client.get("/s/core?hide_extra_data=1").get_data(as_text=True)
    assert 'data-model="gru-with-extra"' not in filtered
    assert 'name="hide_extra_data" value="1" checked' in filtered
    api = client.get("/api/v1/suites/core/leaderboard?hide_extra_data=1").get_json()
    for row in api["rows"]:  # the ranked ones by their rank; the two that write no text as unranked
        assert cells(filtered, row["model"])[0][0] == (str(row["rank"]) if row["ranked"] else "—")
    assert client.get("/s/core?hide_extra_data=perhaps").status_code == 400


def test_a_model_page_shows_every_card_field_escaped_and_its_run_record(app, client, people):
    scored_builtin_suite(app)
    page = client.get("/s/core/models/cnn-reference").get_data(as_text=True)
    for title in ("Parameters", "Framework", "Licence", "Code", "Extra training data", "Trained on test inputs"):
        assert f"<th>{title}</th>" in page
    assert 'id="run-record"' in page and "answer_key_matches" in page and "peak_memory_mb" in page
    shown = client.get("/api/v1/suites/core/models/cnn-reference").get_data(as_text=True)
    with app.extensions["arena_db"].session() as session:
        hashes = [c.answer_sha256 for c in session.query(Competition)]
    for digest in hashes:  # the answer key's hash is never shown: of a small key it would give the labels away
        assert digest not in page and digest not in shown
    assert '"answer_key_matches": true' in shown.replace('":true', '": true')
    assert "JAX + Flax NNX" in page and "jax " in page  # the software versions
    assert client.get("/s/core/models/nobody").status_code == 404
    assert client.get("/s/nothing").status_code == 404
    assert client.get("/s/nothing/models/x").status_code == 404


def test_card_text_is_escaped_on_the_model_page(app, client, people):
    scored_builtin_suite(app)
    enter_copy_of(client, people.token("mallory"), "transformer", "x-model")
    page = client.get("/s/core/models/x-model").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in page


@pytest.mark.slow
def test_a_new_user_scores_submits_and_sees_their_model_ranked_in_the_browser(browser, live_server, tmp_path, capsys):
    """The acceptance path: the built-in suite shows the reference rows; a user writes a card, scores a folder with
    ``arena suite score``, submits it with ``arena suite submit``, and sees the model ranked with an interval, marked
    as indistinguishable from its neighbour (its files are the gru reference's own predictions)."""
    from arena.client import cmd_suite_submit

    server = live_server()
    prepare_builtin_suites(server.app.extensions["arena_db"])
    page = browser.new_page()
    page.goto(f"{server.url}/s/core")
    for _ in range(120):
        if "being computed" not in page.inner_text("#suite-board") and "p(best)" in page.inner_text("#suite-board"):
            break
        page.wait_for_timeout(500)
        page.reload()
    board = page.inner_text("#suite-leaderboard")
    assert all(model in board for model in REFERENCE) and "[" in board
    shot(page, "suite-core")

    predictions = tmp_path / "predictions"
    predictions.mkdir()
    for key in load_suite("core").keys:
        source = builtin_suites_dir() / "core" / "models" / "gru" / f"{key}.csv.gz"
        shutil.copy(source, predictions / f"{key}.csv.gz")
    (tmp_path / "card.toml").write_text(CARD.format(name="my-gru", extra="false"))
    assert main(["suite", "score", "core", str(predictions), "--model", str(tmp_path / "card.toml")]) == 0
    assert "aggregate (normalised_mean)" in capsys.readouterr().out
    token = server.people.token("newcomer")
    args = argparse.Namespace(
        suite="core", dir=str(predictions), model=str(tmp_path / "card.toml"), server=server.url, token=token, wait=True
    )
    assert cmd_suite_submit(args) == 0
    for _ in range(120):
        page.reload()
        row = page.locator('tr[data-model="my-gru"]')
        if row.count() and "[" in row.inner_text() and "being computed" not in page.inner_text("#suite-board"):
            break
        page.wait_for_timeout(500)
    mine = page.locator('tr[data-model="my-gru"]').inner_text()
    twin = page.locator('tr[data-model="gru-reference"]').inner_text()
    assert mine.split()[0] == twin.split()[0]  # identical predictions share a rank
    assert "≈ next" in mine or "≈ next" in twin  # and the first of the two cannot be told from the second
    shot(page, "suite-core-with-my-model")
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the wide table scrolls inside its box
    page.click("text=my-gru")
    assert "Trained on test inputs" in page.inner_text("#model-card")
    shot(page, "suite-model-phone")


def test_the_reference_models_account_does_not_stand_in_for_the_first_organiser(app):
    """``arena serve`` enters the reference models before it makes the first organiser: a fresh installation must
    still get its 'admin' with a password to log in with, not the reference account, whose password nobody knows."""
    from arena.server.accounts import ensure_organiser

    db = app.extensions["arena_db"]
    prepare_builtin_suites(db)
    with db.session() as session, session.begin():
        organiser, password = ensure_organiser(session)
        assert organiser.username == "admin" and password
        assert ensure_organiser(session) == (organiser, None)
