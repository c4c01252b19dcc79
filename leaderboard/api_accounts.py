"""JSON API for accounts: one's tokens and password, the registration policy, joining competitions that need approval."""

from __future__ import annotations

from flask import g, jsonify

from arena.db.models import ApiToken
from arena.server import accounts, teams

from .api import _body, bp, token_days
from .auth import db_session, login_required, organiser_required, transaction
from .shared import competition_or_404


def token_json(row: ApiToken) -> dict:
    return {
        "id": row.id,
        "name": row.label,
        "created_at": row.created_at.isoformat(),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
        "expired": accounts.token_expired(row),
    }


@bp.get("/me/tokens")
@login_required
def list_tokens():
    return jsonify(tokens=[token_json(row) for row in accounts.tokens_of(db_session(), g.user)])


@bp.post("/me/tokens")
@login_required
def create_token():
    data = _body()
    with transaction():
        token = accounts.create_token(db_session(), g.user, str(data.get("name", "")), token_days(data))
    return jsonify(token=token, tokens=[token_json(row) for row in accounts.tokens_of(db_session(), g.user)]), 201


@bp.delete("/me/tokens/<int:token_id>")
@login_required
def revoke_token(token_id: int):
    with transaction():
        revoked = accounts.revoke_token(db_session(), g.user, token_id)
    return jsonify(revoked=revoked.id)


@bp.post("/me/password")
@login_required
def change_password():
    """Change the password: every session and token ends, the one used here included; a new token is returned."""
    data = _body()
    with transaction():
        user = accounts.change_password(
            db_session(), g.user, str(data.get("current_password", "")), str(data.get("new_password", ""))
        )
        token = accounts.create_token(db_session(), user, "after password change")
    return jsonify(username=user.username, token=token)


@bp.get("/installation/registration")
@organiser_required
def registration_policy():
    session = db_session()
    return jsonify(
        policy=accounts.registration_policy(session),
        policies=accounts.REGISTRATION_POLICIES,
        pending=[u.username for u in accounts.pending_users(session)],
    )


@bp.put("/installation/registration")
@organiser_required
def set_registration_policy():
    with transaction():
        policy = accounts.set_registration_policy(db_session(), str(_body().get("policy", "")))
    return jsonify(policy=policy)


@bp.post("/installation/invites")
@organiser_required
def create_invite():
    with transaction():
        code = accounts.create_invite(db_session(), g.user)
    return jsonify(invite_code=code), 201


@bp.post("/users/<username>/approve")
@organiser_required
def approve_user(username: str):
    with transaction():
        user = accounts.approve(db_session(), username)
    return jsonify(username=user.username, approved=user.approved)


@bp.post("/competitions/<slug>/join-request")
@login_required
def request_to_join(slug: str):
    competition = competition_or_404(slug)
    with transaction():
        request = teams.request_to_join(db_session(), competition, g.user)
    return jsonify(competition=slug, approved=request.approved), 202 if not request.approved else 200


@bp.get("/competitions/<slug>/join-requests")
@organiser_required
def join_requests(slug: str):
    competition = competition_or_404(slug)
    return jsonify(
        [
            {"username": r.user.username, "approved": r.approved, "asked_at": r.created_at.isoformat()}
            for r in teams.join_requests(db_session(), competition)
        ]
    )


@bp.post("/competitions/<slug>/join-requests/<username>/approve")
@organiser_required
def admit(slug: str, username: str):
    competition = competition_or_404(slug)
    with transaction():
        request = teams.admit(db_session(), competition, username)
    return jsonify(username=username, approved=request.approved)
