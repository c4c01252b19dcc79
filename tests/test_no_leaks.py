"""Crawl every page, endpoint and downloadable file: no answer-key value, no public/private assignment,
no secret and no server path ever reaches a participant."""

from __future__ import annotations

import itertools
import re

import pytest
from conftest import auth, upload
from helpers import predictions_csv, sample_csv

from arena.config import arena_home, installation_secret
from arena.scoring.score import public_rows
from arena.server.downloads import DOWNLOADS
from arena.tasks import load_task

SLUGS = ["dates", "digits", "listops", "mnist1d", "sunspots"]


def crawl(app, client, headers: dict) -> dict[str, str]:
    """Every GET route with every value of its parameters; returns url -> body text."""
    values = {"slug": SLUGS, "name": [*DOWNLOADS, "answers.csv", "../secret"], "submission_id": ["1", "2", "3"]}
    bodies = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        names = sorted(rule.arguments)
        for combo in itertools.product(*(values.get(n, ["x"]) for n in names)):
            url = rule.rule
            for name, value in zip(names, combo):
                url = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, url)
            for query in ("", "?board=private", "?board=private&format=csv"):
                response = client.get(url + query, headers=headers)
                bodies[url + query] = response.get_data(as_text=True)
    return bodies


@pytest.fixture
def bodies(app, client, people):
    ada, bob = people.token("ada"), people.token("bob")
    for slug in SLUGS:
        upload(client, ada, slug, predictions_csv(slug, 0.7) if slug != "sunspots" else sample_csv(slug))
    upload(client, bob, "mnist1d", "id,label\n4000,99\n")  # a failed one, with a validation report
    people.drain()
    collected = {}
    for who, headers in (("anonymous", {}), ("ada", auth(ada)), ("bob", auth(bob))):
        collected.update({f"{who} {url}": body for url, body in crawl(app, client, headers).items()})
    people.login("ada")
    collected.update({f"ada-web {url}": body for url, body in crawl(app, client, {}).items()})
    return collected


@pytest.mark.slow
def test_the_crawl_covers_pages_api_and_downloads(bodies):
    assert len(bodies) > 150
    assert any("/data/test.csv" in url for url in bodies)
    assert any("/api/v1/submissions/" in url for url in bodies)


@pytest.mark.slow
def test_no_hidden_regression_value_appears(bodies):
    task = load_task("sunspots")
    visible = set(task.train["sunspots"].map(repr)) | set(re.findall(r"[\d.]+", task.spec.description))  # public text
    hidden = [repr(v) for v in task.answers["sunspots"] if repr(v) not in visible]
    assert hidden
    others = ("digits", "mnist1d", "listops", "dates")  # other tasks' data hold many short decimals by chance
    for url, body in bodies.items():
        if any(f"/{slug}" in url for slug in others):
            continue
        found = [v for v in hidden if re.search(rf"(?<![\d.]){re.escape(v)}(?![\d])", body)]
        assert not found, f"{url} shows hidden values {found[:3]}"


@pytest.mark.slow
@pytest.mark.parametrize("slug", ["digits", "mnist1d", "listops", "dates"])
def test_no_response_carries_the_answer_key(bodies, slug):
    task = load_task(slug)
    spec = task.spec
    answer_lines = {f"{i},{y}" for i, y in zip(task.answers[spec.id_column], task.answers[spec.target])}
    for url, body in bodies.items():
        lines = set(body.splitlines())
        share = len(answer_lines & lines) / len(answer_lines)
        assert share < 0.3, f"{url} holds {share:.0%} of the answer key's lines"  # a constant guess gets ~10%


@pytest.mark.slow
def test_no_response_reveals_which_rows_are_public(bodies):
    for slug in ("digits", "mnist1d", "listops"):
        task = load_task(slug)
        public = public_rows(task)
        ids = task.answer_key.ids
        public_ids, private_ids = set(map(str, ids[public])), set(map(str, ids[~public]))
        for url, body in bodies.items():
            if f"/{slug}" not in url:  # ids are small integers in every task: compare within one task
                continue
            listed = set(re.findall(r"^(\d+),", body, flags=re.M))
            shown_public, shown_private = len(listed & public_ids), len(listed & private_ids)
            if shown_public + shown_private > 20:  # a file listing test ids must list public and private alike
                assert shown_public == len(public_ids) and shown_private == len(private_ids), url
        for url, body in bodies.items():
            assert "usage" not in body.lower() or "/openapi" in url, url


@pytest.mark.slow
def test_no_secret_or_server_path_appears(bodies):
    secret = installation_secret().hex()
    home = str(arena_home())
    for url, body in bodies.items():
        assert secret not in body, url
        assert home not in body and "/cache/" not in body, url
        assert "Traceback" not in body, url


def test_scores_are_shown_with_four_decimals_at_most(bodies):
    for url, body in bodies.items():
        if "/api/v1/competitions/" in url and url.endswith("/submissions"):
            assert not re.search(r"\d\.\d{5,}", body), url
