"""Sending notifications: e-mail through the operator's SMTP server, and signed JSON to an organiser's webhook.

Both are bounded in time (every network step waits at most ``ARENA_NOTIFY_TIMEOUT`` seconds) and neither
ever raises: a server that is down, slow or answers an error is logged and skipped, because a notification
is a courtesy, and the scoring or the organiser's action that caused it has already happened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
SIGNATURE_HEADER = "X-Arena-Signature"
EVENT_HEADER = "X-Arena-Event"


@dataclass(frozen=True)
class Mail:
    """One e-mail to each address in ``to`` (sent one by one, so no recipient sees another's address)."""

    to: tuple[str, ...]
    subject: str
    body: str


@dataclass(frozen=True)
class Hook:
    """One POST of ``payload`` as JSON to an organiser's webhook, signed with the competition's secret."""

    url: str
    secret: str
    event: str
    payload: dict = field(hash=False)


def timeout() -> float:
    """Seconds any one step of a delivery may wait (``ARENA_NOTIFY_TIMEOUT``, default 10)."""
    try:
        return max(0.1, float(os.environ.get("ARENA_NOTIFY_TIMEOUT") or DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT


def mail_enabled() -> bool:
    """E-mail is on only where the operator named an SMTP server (``ARENA_SMTP_HOST``)."""
    return bool(os.environ.get("ARENA_SMTP_HOST", "").strip())


def public_url() -> str:
    """The site's address for links in messages (``ARENA_PUBLIC_URL``), without a trailing slash; '' if unset."""
    return os.environ.get("ARENA_PUBLIC_URL", "").strip().rstrip("/")


def signature(secret: str, body: bytes) -> str:
    """The webhook signature header's value: ``sha256=`` and the hex HMAC-SHA256 of the exact body bytes."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_mail(mail: Mail) -> int:
    """Send ``mail`` through ``ARENA_SMTP_*``; returns how many addresses took it (0 when e-mail is off or fails)."""
    if not mail_enabled() or not mail.to:
        return 0
    host = os.environ["ARENA_SMTP_HOST"].strip()
    security = (os.environ.get("ARENA_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in SECURITY:
        log.error("ARENA_SMTP_SECURITY must be one of %s; got %r: no e-mail sent", ", ".join(SECURITY), security)
        return 0
    sender = os.environ.get("ARENA_SMTP_FROM", "").strip() or "arena@localhost"
    user, password = os.environ.get("ARENA_SMTP_USER", ""), os.environ.get("ARENA_SMTP_PASSWORD", "")
    wait = timeout()
    deadline = time.monotonic() + wait * (2 + len(mail.to))
    sent = 0
    try:
        port = int(os.environ.get("ARENA_SMTP_PORT") or DEFAULT_PORTS[security])
        smtp_class = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
        with smtp_class(host, port, timeout=wait) as smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, password)
            for address in mail.to:
                if time.monotonic() > deadline:
                    log.warning("e-mail '%s': out of time after %d of %d addresses", mail.subject, sent, len(mail.to))
                    break
                smtp.send_message(_message(sender, address, mail))
                sent += 1
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        log.warning("e-mail '%s' not delivered (%d of %d sent): %s", mail.subject, sent, len(mail.to), exc)
    return sent


def _message(sender: str, address: str, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, address, mail.subject
    message["Date"], message["Message-ID"] = formatdate(localtime=False, usegmt=True), make_msgid(domain="arena")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.body)
    return message


def send_hook(hook: Hook) -> bool:
    """POST the hook's payload; True if the webhook answered 2xx in time. Redirects are not followed."""
    body = json.dumps(hook.payload, sort_keys=True, separators=(",", ":")).encode()
    request = urllib.request.Request(
        hook.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Arena-Webhook",
            EVENT_HEADER: hook.event,
            SIGNATURE_HEADER: signature(hook.secret, body),
        },
    )
    try:
        with _opener.open(request, timeout=timeout()) as response:
            return 200 <= response.status < 300
    except (OSError, ValueError) as exc:  # HTTPError and URLError are OSErrors; a bad URL is a ValueError
        log.warning("webhook %s for event %s not delivered: %s", _host_of(hook.url), hook.event, exc)
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook answer that redirects is a failure: the signed body is never sent on to another address."""

    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _host_of(url: str) -> str:
    """Only the host of a webhook's address goes to the log: its path often holds a token."""
    return urllib.parse.urlsplit(url).netloc or "(no host)"
