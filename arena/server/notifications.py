"""Notifications: who is told what when a submission is scored, an announcement is posted or a board revealed.

Every message is worked out inside the transaction that caused it (from what that transaction sees) and
kept in the session's outbox; it is sent only once the transaction commits, in a thread of its own, so a
rolled-back action tells no one and a slow mail server or webhook never holds a database transaction or a
scoring job (:mod:`arena.server.delivery` bounds each in time and never raises). Nothing is sent unless a
user asked for e-mail on their account page and the operator configured an SMTP server, or an organiser set
a webhook. A message carries only what its readers may already see on the site: a submission's public score
as the team's own page shows it, never a private score, a hidden label or which rows are public.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterable

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from arena.db.models import Competition, Membership, Submission, User, utcnow
from arena.server import audit, standings
from arena.server.accounts import AccountError
from arena.server.competitions import CompetitionError
from arena.server.delivery import Hook, Mail, public_url, send_hook, send_mail, timeout

log = logging.getLogger(__name__)

_OUTBOX = "arena_notifications"
_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()
MAX_WEBHOOK_URL = 500
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254


# --- the outbox: sent after commit ----------------------------------------------------------------


def _outbox(session: Session) -> list[Mail | Hook]:
    if _OUTBOX not in session.info:
        session.info[_OUTBOX] = []
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
    return session.info[_OUTBOX]


def _after_commit(session: Session) -> None:
    items, session.info[_OUTBOX] = session.info.get(_OUTBOX, []), []
    if items:
        thread = threading.Thread(target=_send_all, args=(items,), name="arena-notifications", daemon=True)
        with _threads_lock:
            _threads[:] = [t for t in _threads if t.is_alive()] + [thread]
        thread.start()


def _after_rollback(session: Session) -> None:
    session.info[_OUTBOX] = []


def _send_all(items: list[Mail | Hook]) -> None:
    for item in items:
        try:
            send_mail(item) if isinstance(item, Mail) else send_hook(item)
        except Exception:  # never let one message stop the others
            log.exception("a notification could not be sent")


def wait(seconds: float | None = None) -> None:
    """Let the messages sent so far go out, waiting at most ``seconds`` in all (default: three delivery steps).

    A process that ends right after a job (an ``arena worker`` job's own process) calls this first."""
    deadline = time.monotonic() + (3 * timeout() if seconds is None else seconds)
    with _threads_lock:
        threads = list(_threads)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def _queue(session: Session, items: Iterable[Mail | Hook]) -> None:
    _outbox(session).extend(items)


def _link(path: str) -> str:
    return public_url() + path


def _addresses(users: Iterable[User]) -> tuple[str, ...]:
    return tuple(sorted({u.email for u in users if u.email}))


def _hook(competition: Competition, name: str, payload: dict) -> list[Hook]:
    if not competition.webhook_url or not competition.webhook_secret:
        return []
    body = {"event": name, "competition": competition.slug, "sent_at": utcnow().isoformat(timespec="seconds") + "Z"}
    return [Hook(competition.webhook_url, competition.webhook_secret, name, body | payload)]


# --- events -------------------------------------------------------------------------------------


def submission_done(session: Session, submission: Submission, competition: Competition) -> None:
    """A submission was scored or failed: its team's members who asked are e-mailed, the webhook is called.

    Called inside the transaction that records the result; any error here is logged, never raised, so
    working out a message can never fail the scoring it reports."""
    try:
        _queue(session, _submission_messages(session, submission, competition))
    except Exception:
        log.exception("notifications for submission %s could not be prepared", submission.id)


def _submission_messages(session: Session, submission: Submission, competition: Competition) -> list[Mail | Hook]:
    shown = standings.submission_summary(submission, show_private=False)  # what the team's own page shows
    metric, value = shown["metric"], (shown["public"] or {}).get(shown["metric"])
    path = f"/c/{competition.slug}/submissions/{submission.id}"
    members = session.scalars(
        select(User).join(Membership, Membership.user_id == User.id).where(Membership.team_id == submission.team_id)
    )
    if submission.status == "scored":
        outcome = f"is scored: public {metric} {value}" if value is not None else "is scored"
    else:
        outcome = "failed: " + "; ".join(shown["problems"][:3]) if shown["problems"] else "failed"
    mail = Mail(
        _addresses(u for u in members if u.notify_scores),
        f"[{competition.title}] submission #{submission.id} {submission.status}",
        f"Your submission #{submission.id} ({submission.file_name}) to {competition.title} {outcome}.\n\n"
        f"See it: {_link(path)}\n\n"
        "You get this because you asked for score e-mails on your account page; untick it there to stop them.\n",
    )
    payload = {
        "submission": submission.id,
        "team": submission.team.name,
        "status": submission.status,
        "metric": metric,
        "public_score": value,
        "public_interval": shown["public_ci"],
        "url": _link(path),
    }
    return [mail, *_hook(competition, "submission." + submission.status, payload)]


def announced(session: Session, competition: Competition, body: str) -> None:
    """An announcement was posted: the participants who asked are e-mailed, the webhook is called."""
    participants = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.competition_id == competition.id, User.notify_announcements.is_(True))
    )
    path = f"/c/{competition.slug}"
    mail = Mail(
        _addresses(participants),
        f"[{competition.title}] announcement",
        f"{body}\n\n-- \n{competition.title}: {_link(path)}\n"
        "You get this because you asked for announcement e-mails on your account page; untick it there to stop them.\n",
    )
    _queue(session, [mail, *_hook(competition, "announcement", {"body": body, "url": _link(path)})])


def revealed(session: Session, competition: Competition) -> None:
    """The private leaderboard was revealed: the webhook is told where the board and the answers file are."""
    path = f"/c/{competition.slug}"
    payload = {
        "url": _link(path),
        "leaderboard": _link(path + "/leaderboard.csv"),
        "answers": _link(path + "/answers.csv"),
        "commitment": competition.commitment or None,
        "commitment_salt": competition.commitment_salt or None,
    }
    _queue(session, _hook(competition, "reveal", payload))


# --- settings -----------------------------------------------------------------------------------


def set_webhook(session: Session, competition: Competition, user: User | None, url: str) -> str:
    """Set (or with ``''`` remove) the competition's webhook; returns its signing secret ('' when removed).

    A first webhook gets a new random secret; changing the address keeps it, so the organiser's
    receiver goes on checking signatures. The audit log names only the host: a path often holds a token."""
    url = (url or "").strip()
    if not url:
        competition.webhook_url, competition.webhook_secret = "", ""
        audit.record(session, competition, user, "webhook", "removed")
        return ""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CompetitionError(
            f"a webhook is an http:// or https:// address, such as https://example.org/hook; got {url!r}."
        )
    if len(url) > MAX_WEBHOOK_URL:
        raise CompetitionError(
            f"a webhook address holds at most {MAX_WEBHOOK_URL} characters; this one has {len(url)}."
        )
    competition.webhook_url = url
    competition.webhook_secret = competition.webhook_secret or secrets.token_hex(32)
    audit.record(session, competition, user, "webhook", f"set to {parts.scheme}://{parts.hostname}")
    return competition.webhook_secret


def set_preferences(user: User, *, email: str, scores: bool, announcements: bool) -> None:
    """An account's e-mail address and what it asked to be told; asking for e-mail needs an address."""
    email = (email or "").strip()
    if email and (len(email) > MAX_EMAIL or not EMAIL.match(email)):
        raise AccountError(f"'{email[:80]}' is not an e-mail address; write it as name@example.org.")
    if (scores or announcements) and not email:
        raise AccountError("give an e-mail address to be told of scores or announcements.")
    user.email, user.notify_scores, user.notify_announcements = email, scores, announcements
