"""JSON API of notifications: a user's e-mail preferences (``PUT /api/v1/me/notifications``) and a
competition's webhook (``PUT /api/v1/competitions/SLUG/webhook``, organisers; its answer holds the secret)."""

from __future__ import annotations

from flask import g, jsonify

from arena.server import notifications

from .api import _body, bp
from .auth import db_session, login_required, organiser_required, transaction
from .forms import form_bool
from .shared import competition_or_404


@bp.put("/me/notifications")
@login_required
def put_notifications():
    """``{"email": "...", "scores": true, "announcements": false}``; fields left out keep their values."""
    data = _body()
    with transaction():
        user = g.user
        notifications.set_preferences(
            user,
            email=str(data.get("email", user.email)),
            scores=form_bool(data, "scores", user.notify_scores),
            announcements=form_bool(data, "announcements", user.notify_announcements),
        )
    return jsonify(email=user.email, scores=user.notify_scores, announcements=user.notify_announcements)


@bp.put("/competitions/<slug>/webhook")
@organiser_required
def put_webhook(slug: str):
    """``{"url": "https://..."}`` sets the webhook (``""`` removes it); the answer gives the signing secret."""
    competition = competition_or_404(slug)
    with transaction():
        secret = notifications.set_webhook(db_session(), competition, g.user, str(_body().get("url", "")))
    return jsonify(url=competition.webhook_url or None, secret=secret or None)
