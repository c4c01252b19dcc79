"""The test-set commitment is checkable with anyone's own tools: the hash published at launch is the SHA-256
of the salt, a newline and the exact bytes of the answers file that Arena publishes at the reveal, and
nothing of that file is served to anyone before the reveal."""

from __future__ import annotations

import hashlib

import pytest
from conftest import auth, upload
from test_organiser_files import kaggle_bundle

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


def host_kaggle(client, org: str, tmp_path, slug: str = "wine"):
    solution = kaggle_bundle(tmp_path / "wine", usage="Usage")  # the organiser's file: "Usage", "Public", "PRIVATE"
    response = client.post(
        "/api/v1/competitions",
        json={"task": str(tmp_path / "wine"), "slug": slug, "ends_at": "2099-01-01T00:00:00"},
        headers=auth(org),
    )
    assert response.status_code == 201, response.get_json()
    return solution


@BOTH
def test_nothing_of_the_answers_is_served_before_the_reveal(client, people, tmp_path):
    org, ada = people.token("org", organiser=True), people.token("ada")
    host_kaggle(client, org, tmp_path)
    paths = ("/c/wine/answers.csv", "/api/v1/competitions/wine/answers.csv", "/c/wine/data/answers.csv")
    for headers in ({}, auth(ada), auth(org)):
        for path in paths:
            response = client.get(path, headers=headers)
            assert response.status_code == 404, (path, response.status_code)
            assert b"PRIVATE" not in response.data and b"Private" not in response.data
    assert client.get("/api/v1/competitions/wine").get_json()["commitment_salt"] is None
    client.post("/api/v1/competitions/wine/close", headers=auth(org))  # closed is not revealed
    assert client.get("/c/wine/answers.csv").status_code == 404
    assert client.get("/c/digits/answers.csv").status_code == 404  # a benchmark never reveals


@BOTH
def test_the_published_file_reproduces_the_commitment_as_the_page_says(client, people, tmp_path):
    org, ada = people.token("org", organiser=True), people.token("ada")
    solution = host_kaggle(client, org, tmp_path)
    upload(client, ada, "wine", "id,label\n" + "".join(f"{i},0\n" for i in solution["id"]))
    people.drain()
    client.post("/api/v1/competitions/wine/close", headers=auth(org))
    assert client.post("/api/v1/competitions/wine/reveal", json={"confirm": True}, headers=auth(org)).status_code == 200
    facts = client.get("/api/v1/competitions/wine").get_json()
    web, api = client.get("/c/wine/answers.csv"), client.get("/api/v1/competitions/wine/answers.csv")
    assert web.status_code == api.status_code == 200 and web.data == api.data
    salt = facts["commitment_salt"]
    assert hashlib.sha256(salt.encode() + b"\n" + web.data).hexdigest() == facts["answer_key_commitment"]
    lines = web.data.decode().split("\n")
    assert lines[0] == "id,label,usage" and len(lines) == len(solution) + 2 and lines[-1] == ""
    assert sorted(int(line.split(",")[0]) for line in lines[1:-1]) == sorted(solution["id"])
    page = client.get("/c/wine").get_data(as_text=True)
    assert f"(printf '%s\\n' {salt}; cat answers.csv) | sha256sum" in page and 'id="answers-download"' in page
