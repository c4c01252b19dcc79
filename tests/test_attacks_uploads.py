"""Hostile uploads and the file store: refused uploads leave nothing, slow uploads block no one, names cannot escape."""

from __future__ import annotations

import io
import os
import re
import secrets
import socket
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from conftest import PASSWORD, auth
from helpers import predictions_csv

from arena.bundles.loading import find_bundle
from arena.db.models import Competition, User, utcnow
from arena.server import accounts, files
from arena.server.files import files_dir, incoming_dir
from arena.server.jobs import tidy_store


@pytest.mark.parametrize("slug", ["../../escape-{}", "/tmp/escape-{}"])
def test_hosting_checks_the_short_name_before_unpacking_anything(client, people, arena_home, slug):
    people.token("org", organiser=True)
    people.login("org")
    slug = slug.format(secrets.token_hex(4))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in find_bundle("sunspots").iterdir():
            if path.is_file():
                bundle.write(path, f"sunspots/{path.name}")
    archive.seek(0)
    response = client.post(
        "/host",
        data={"csrf_token": people.csrf(), "slug": slug, "bundle": (archive, "sunspots.zip")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and b"short name" in response.data
    assert not (arena_home / "bundles" / slug).resolve().exists() and not Path(slug).exists()


def _stored_files() -> set:
    return {p.relative_to(files_dir()) for p in files_dir().rglob("*") if p.is_file()}


@pytest.mark.parametrize("route", ["api", "web"])
@pytest.mark.parametrize("refusal", ["ended", "limit", "not admitted"])
def test_a_refused_upload_leaves_nothing_in_the_store(app, client, people, route, refusal):
    """The store holds accepted submissions' files only; a refused upload's bytes are gone."""
    token = people.token("ada")
    db = app.extensions["arena_db"]
    first = client.post(
        "/api/v1/competitions/mnist1d/submissions",
        headers=auth(token),
        data={"file": (io.BytesIO(predictions_csv("mnist1d", 0.5).encode()), "first.csv")},
    )
    assert first.status_code == 202
    with db.session() as session, session.begin():
        competition = session.query(Competition).filter_by(slug="mnist1d").one()
        if refusal == "ended":
            competition.ends_at = utcnow() - timedelta(minutes=1)
        elif refusal == "limit":
            competition.daily_limit = 1
        else:
            competition.join_needs_approval = True
    if refusal == "not admitted":
        people.token("bob")
    uploader = "ada" if refusal != "not admitted" else "bob"
    before = _stored_files()
    content = io.BytesIO(predictions_csv("mnist1d", 0.7, seed=3).encode())
    if route == "api":
        with db.session() as session, session.begin():
            bearer = (
                token
                if uploader == "ada"
                else accounts.create_token(session, session.query(User).filter_by(username="bob").one())
            )
        refused = client.post(
            "/api/v1/competitions/mnist1d/submissions", headers=auth(bearer), data={"file": (content, "second.csv")}
        )
    else:
        people.login(uploader)
        refused = client.post(
            "/c/mnist1d/submissions", data={"csrf_token": people.csrf(), "file": (content, "second.csv")}
        )
    assert refused.status_code == 400, refused.data
    assert _stored_files() == before

    assert list(incoming_dir().iterdir()) == []


def test_the_store_tidies_files_no_submission_references(app, people):
    """A crash between keeping a file and recording its row leaves a file no row names; it goes."""
    sha, _ = files.store_stream(io.BytesIO(b"id,label\n4000,1\n"), 1000)
    old = time.time() - 7200
    os.utime(files.path_for(sha), (old, old))
    fresh, _ = files.store_stream(io.BytesIO(b"id,label\n4000,2\n"), 1000)  # an upload being recorded right now

    assert tidy_store(app.extensions["arena_db"]) >= 1
    assert not files.path_for(sha).exists() and files.path_for(fresh).exists()
    files.path_for(fresh).unlink()


def _slow_post(url: str, path: str, headers: dict, fields: dict, content: bytes, pause: float, sent, resumed=None):
    """POST multipart form data over a raw socket, pausing mid-file for ``pause`` seconds; returns the status.

    ``sent`` is set once the first half is out, ``resumed`` (if given) just before the second half goes."""
    boundary = "arena-slow-upload"
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    parts = urlsplit(url)
    head = {
        "Host": parts.netloc,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(body)),
        "Connection": "close",
        **headers,
    }
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\n".encode()
            + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode()
            + b"\r\n"
            + body[: len(body) // 2]
        )
        sent.set()
        time.sleep(pause)
        if resumed is not None:
            resumed.set()
        sock.sendall(body[len(body) // 2 :])
        return int(sock.makefile("rb").readline().split()[1])


@pytest.mark.slow
@pytest.mark.parametrize("route", ["api", "web"])
def test_a_slow_upload_does_not_block_another_requests_write(live_server, route):
    """On SQLite: while an upload's bytes trickle in, no transaction is open, so another
    person's write goes through at once. Before, it waited for the whole upload."""
    server = live_server()
    if route == "api":
        headers, fields = {"Authorization": f"Bearer {server.people.token('ada')}"}, {}
        path = "/api/v1/competitions/mnist1d/submissions"
    else:
        server.people.token("ada")
        browser = requests.Session()
        page = browser.get(f"{server.url}/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        logged = browser.post(
            f"{server.url}/login",
            data={"username": "ada", "password": PASSWORD, "csrf_token": csrf},
            allow_redirects=False,
        )
        assert logged.status_code == 302
        csrf = re.search(
            r'name="csrf_token" value="([^"]+)"', browser.get(f"{server.url}/c/mnist1d/submissions").text
        ).group(1)
        headers = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in browser.cookies), "Referer": server.url + "/"}
        fields, path = {"csrf_token": csrf}, "/c/mnist1d/submissions"
    bob = server.people.token("bob")
    sent, resumed, status = threading.Event(), threading.Event(), []
    content = predictions_csv("mnist1d", 0.8).encode() * 3
    upload = threading.Thread(
        target=lambda: status.append(_slow_post(server.url, path, headers, fields, content, 6.0, sent, resumed))
    )
    upload.start()
    assert sent.wait(10)
    time.sleep(0.5)  # the server is now inside the upload request, waiting for the rest of the bytes
    made = requests.post(
        f"{server.url}/api/v1/competitions/digits/teams",
        json={"name": "Quick"},
        headers={"Authorization": f"Bearer {bob}"},
        timeout=30,
    )
    answered_mid_upload = not resumed.is_set()  # a blocked write would wait for the upload's second half
    upload.join(30)
    assert made.status_code == 201 and answered_mid_upload, made.status_code
    assert status and status[0] in (202, 302, 400), status  # the upload itself is answered (three copies: bad rows)
