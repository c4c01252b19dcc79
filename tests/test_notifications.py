"""Notifications: score-ready and announcement e-mails through a real SMTP server, the organisers' signed
webhook, both off by default, and no failure to deliver ever failing the scoring it reports."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import auth, upload
from helpers import predictions_csv, sample_csv

from arena.server import notifications

BOTH = pytest.mark.parametrize("app", ["sqlite", "postgresql"], indirect=True)


class Inbox:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps every message it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((tuple(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for rcpt, m in self.messages if address in rcpt]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox(monkeypatch):
    box = Inbox()
    box.controller.start()
    monkeypatch.setenv("ARENA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ARENA_SMTP_PORT", str(box.controller.port))
    monkeypatch.setenv("ARENA_SMTP_SECURITY", "none")
    monkeypatch.setenv("ARENA_SMTP_FROM", "arena@example.org")
    monkeypatch.setenv("ARENA_PUBLIC_URL", "https://arena.example.org/")
    monkeypatch.setenv("ARENA_NOTIFY_TIMEOUT", "2")
    yield box
    box.controller.stop()


class Receiver:
    """A webhook receiver on a free loopback port: keeps each request; answers ``status`` after ``delay`` s."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook/t0ken"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for _, body in self.requests]


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(**kwargs) -> Receiver:
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.server.shutdown()


def until(check, seconds: float = 10.0):
    """Wait for a delivery made in the background (never asserts on how long it took)."""
    end = time.monotonic() + seconds
    while not check() and time.monotonic() < end:
        time.sleep(0.05)
    return check()


def opt_in(client, token: str, email: str, **choices) -> dict:
    response = client.put("/api/v1/me/notifications", json={"email": email, **choices}, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def set_hook(client, token: str, slug: str, url: str) -> str:
    response = client.put(f"/api/v1/competitions/{slug}/webhook", json={"url": url}, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["secret"]


@BOTH
def test_a_score_ready_email_reaches_the_members_who_asked_and_shows_only_the_public_score(client, people, inbox):
    ada, bob = people.token("ada"), people.token("bob")
    opt_in(client, ada, "ada@example.org", scores=True)
    opt_in(client, bob, "bob@example.org", scores=False, announcements=True)  # asked for announcements only
    sid = upload(client, ada, "digits", sample_csv("digits")).get_json()["submission"]["id"]
    upload(client, bob, "digits", sample_csv("digits"))
    people.drain()
    notifications.wait()
    assert until(lambda: inbox.to("ada@example.org"))
    [mail] = inbox.to("ada@example.org")
    body = mail.get_payload(decode=True).decode()
    assert f"#{sid}" in mail["Subject"] and "scored" in mail["Subject"]
    mine = client.get(f"/api/v1/submissions/{sid}", headers=auth(ada)).get_json()
    shown = mine["public"][mine["metric"]]
    assert f"public accuracy {shown}" in body and f"https://arena.example.org/c/digits/submissions/{sid}" in body
    assert "private" not in body.lower()
    assert inbox.to("bob@example.org") == []


def test_a_failed_upload_is_told_with_its_reasons(client, people, inbox):
    ada = people.token("ada")
    opt_in(client, ada, "ada@example.org", scores=True)
    upload(client, ada, "mnist1d", "id,label\n4000,3\n")
    people.drain()
    notifications.wait()
    assert until(lambda: inbox.to("ada@example.org"))
    [mail] = inbox.to("ada@example.org")
    assert "failed" in mail["Subject"] and "failed:" in mail.get_payload(decode=True).decode()


def test_nothing_is_sent_by_default(client, people, inbox, receiver, monkeypatch):
    """No SMTP server configured: an opted-in user gets nothing; no webhook set: nothing is called."""
    monkeypatch.delenv("ARENA_SMTP_HOST")
    ada = people.token("ada")
    opt_in(client, ada, "ada@example.org", scores=True)
    upload(client, ada, "digits", sample_csv("digits"))
    people.drain()
    notifications.wait()
    time.sleep(0.3)
    assert inbox.messages == []
    page = client.get("/api/v1/competitions/digits/submissions", headers=auth(ada)).get_json()
    assert page["submissions"][0]["status"] == "scored"


@BOTH
def test_announcements_and_the_reveal_reach_the_webhook_signed_and_hidden_data_never(
    app, client, people, inbox, receiver
):
    org, ada, cy = people.token("org", organiser=True), people.token("ada"), people.token("cyd")
    opt_in(client, ada, "ada@example.org", announcements=True)
    opt_in(client, cy, "cyd@example.org", announcements=True)  # takes part in no competition here
    upload(client, ada, "mnist1d", predictions_csv("mnist1d", 0.8))
    hook = receiver()
    secret = set_hook(client, org, "mnist1d", hook.url)
    people.drain()
    people.login("org")
    response = client.post(
        "/c/mnist1d/admin/announce", data={"body": "New data **tomorrow**", "csrf_token": people.csrf()}
    )
    assert response.status_code == 302
    assert until(lambda: inbox.to("ada@example.org"))
    [mail] = inbox.to("ada@example.org")
    assert "announcement" in mail["Subject"] and "New data **tomorrow**" in mail.get_payload(decode=True).decode()
    assert inbox.to("cyd@example.org") == []
    client.post("/api/v1/competitions/mnist1d/close", headers=auth(org))
    client.post("/api/v1/competitions/mnist1d/reveal", json={"confirm": True}, headers=auth(org))
    assert until(lambda: {"submission.scored", "announcement", "reveal"} <= set(hook.events()))
    for headers, body in hook.requests:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Arena-Signature"], expected)
        payload = json.loads(body)
        assert payload["competition"] == "mnist1d" and headers["X-Arena-Event"] == payload["event"]
        assert "private" not in body.decode() and "label" not in payload
    scored = next(json.loads(b) for _, b in hook.requests if json.loads(b)["event"] == "submission.scored")
    assert scored["team"] == "ada" and scored["public_score"] is not None


def test_a_rolled_back_action_tells_no_one(app, client, people, receiver):
    from arena.server import competitions

    org = people.token("org", organiser=True)
    hook = receiver()
    set_hook(client, org, "digits", hook.url)
    with pytest.raises(RuntimeError), app.extensions["arena_db"].session() as session, session.begin():
        notifications.announced(session, competitions.get(session, "digits"), "never sent")
        raise RuntimeError("the action failed after its message was prepared")
    people.login("org")
    client.post("/c/digits/admin/announce", data={"body": "x" * 6000, "csrf_token": people.csrf()})  # refused
    notifications.wait()
    time.sleep(0.3)
    assert hook.requests == []


@pytest.mark.parametrize("trouble", ["smtp down", "webhook 500", "webhook timeout"])
def test_a_failure_to_deliver_never_fails_the_scoring(client, people, inbox, receiver, monkeypatch, trouble):
    org, ada = people.token("org", organiser=True), people.token("ada")
    opt_in(client, ada, "ada@example.org", scores=True)
    if trouble == "smtp down":
        monkeypatch.setenv("ARENA_SMTP_PORT", str(free_port()))  # nothing listens there
    hook = receiver(status=500) if trouble == "webhook 500" else receiver(delay=3)  # past the 2 s limit
    set_hook(client, org, "digits", hook.url)
    sid = upload(client, ada, "digits", sample_csv("digits")).get_json()["submission"]["id"]
    people.drain()
    notifications.wait()
    mine = client.get(f"/api/v1/submissions/{sid}", headers=auth(ada)).get_json()
    assert mine["status"] == "scored" and mine["public"]
    if trouble != "smtp down":
        assert until(lambda: hook.requests)  # it was tried, and failed, after the scoring was recorded


def test_preferences_and_webhook_refuse_bad_input_and_strangers(client, people):
    org, ada = people.token("org", organiser=True), people.token("ada")
    bad = client.put("/api/v1/me/notifications", json={"email": "not an address"}, headers=auth(ada))
    assert bad.status_code == 400 and "name@example.org" in bad.get_json()["problems"][0]
    no_address = client.put("/api/v1/me/notifications", json={"scores": True}, headers=auth(ada))
    assert no_address.status_code == 400 and "e-mail address" in no_address.get_json()["problems"][0]
    stranger = client.put("/api/v1/competitions/digits/webhook", json={"url": "https://x.org/h"}, headers=auth(ada))
    assert stranger.status_code == 403
    for url in ("ftp://x.org/h", "javascript:alert(1)", "https://"):
        refused = client.put("/api/v1/competitions/digits/webhook", json={"url": url}, headers=auth(org))
        assert refused.status_code == 400 and "http://" in refused.get_json()["problems"][0]
    first = set_hook(client, org, "digits", "https://hooks.example.org/abc/s3cret-path")
    assert set_hook(client, org, "digits", "https://hooks.example.org/other") == first  # the receiver keeps checking
    people.login("org")
    admin = client.get("/c/digits/admin").get_data(as_text=True)
    assert (
        first in admin
        and "set to https://hooks.example.org" in admin
        and "s3cret-path" not in admin.split("Log of organiser actions")[1]
    )
    people.login("ada")
    assert client.post("/c/digits/webhook", data={"url": "", "csrf_token": people.csrf()}).status_code == 403


def test_the_account_page_keeps_the_address_and_choices(client, people):
    people.token("ada")
    people.login("ada")
    page = client.get("/account").get_data(as_text=True)
    assert 'id="notifications-form"' in page and 'id="mail-off"' in page
    refused = client.post("/account/notifications", data={"notify_scores": "1", "csrf_token": people.csrf()})
    assert refused.status_code == 400 and "give an e-mail address" in refused.get_data(as_text=True)
    saved = client.post(
        "/account/notifications",
        data={"email": "ada@example.org", "notify_scores": "1", "csrf_token": people.csrf()},
    )
    assert saved.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert 'value="ada@example.org"' in page
    assert 'name="notify_scores" value="1" checked' in page and 'name="notify_announcements" value="1">' in page


def test_the_live_status_tells_a_team_its_own_submissions_and_no_one_else(client, people):
    ada = people.token("ada")
    people.token("bob")
    sid = upload(client, ada, "digits", sample_csv("digits")).get_json()["submission"]["id"]
    assert client.get(f"/c/digits/submissions/{sid}/status.json").status_code == 302  # to the login page
    people.login("bob")
    assert client.get(f"/c/digits/submissions/{sid}/status.json").status_code == 403
    assert client.get(f"/c/mnist1d/submissions/{sid}/status.json").status_code == 404
    assert client.get("/c/digits/submissions/status.json").get_json() == {"state": "", "done": True}
    people.login("ada")
    waiting = client.get(f"/c/digits/submissions/{sid}/status.json")
    assert waiting.headers["Cache-Control"] == "no-store"
    assert waiting.get_json()["status"] == "queued" and not waiting.get_json()["done"]
    assert not client.get("/c/digits/submissions/status.json").get_json()["done"]
    people.drain()
    assert client.get(f"/c/digits/submissions/{sid}/status.json").get_json()["done"]
    assert client.get("/c/digits/submissions/status.json").get_json() == {"state": f"s{sid}:scored;", "done": True}
