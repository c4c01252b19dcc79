"""Who is asking: session login for pages (with CSRF), bearer tokens for the API."""

from __future__ import annotations

import functools
import hmac
import secrets
from contextlib import contextmanager
from typing import Iterator

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for

from arena.db.database import Session
from arena.db.models import User
from arena.server import accounts

bp = Blueprint("auth", __name__)


def db_session() -> Session:
    """One SQLAlchemy session per request, closed on teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["arena_db"].session()
    return g.db_session


@contextmanager
def transaction() -> Iterator[Session]:
    """A write transaction on the request's session, committed at the end (rolled back on error).

    The request may already have read (who is logged in, which competition); that
    read-only transaction is ended first so the write starts with a fresh lock.
    """
    session = db_session()
    if session.in_transaction():
        session.commit()
    with session.begin():
        yield session


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.before_app_request
def load_user() -> None:
    g.user = None
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/"):
        if header.startswith("Bearer "):
            g.user = accounts.user_for_token(db_session(), header.removeprefix("Bearer ").strip())
            if g.user is None:
                abort(401, description="the API token is not valid; create a new one on your account page.")
        return
    user_id = session.get("user_id")
    if user_id is not None:
        g.user = db_session().get(User, user_id)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not hmac.compare_digest(sent, session.get("csrf", "")) or not sent:
            abort(400, description="the form expired or did not come from this site; reload the page and try again.")


@bp.app_context_processor
def template_helpers() -> dict:
    return {"csrf_token": csrf_token, "current_user": g.get("user")}


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            if request.path.startswith("/api/"):
                abort(401, description="log in: send 'Authorization: Bearer <token>' (create a token on your account page).")
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def organiser_required(view):
    @functools.wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not g.user.is_organiser:
            abort(403, description="only organisers may do this.")
        return view(*args, **kwargs)

    return wrapped


@bp.route("/register", methods=["GET", "POST"])
def register():
    if request.method == "POST":
        try:
            with transaction():
                user = accounts.register(db_session(), request.form.get("username", ""), request.form.get("password", ""))
        except accounts.AccountError as exc:
            return render_template("auth.html", mode="register", problems=exc.messages()), 400
        session.clear()
        session["user_id"] = user.id
        flash(f"Welcome, {user.username}.")
        return redirect(url_for("web.index"))
    return render_template("auth.html", mode="register")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        try:
            user = accounts.authenticate(db_session(), request.form.get("username", ""), request.form.get("password", ""))
        except accounts.AccountError as exc:
            return render_template("auth.html", mode="login", problems=exc.messages()), 401
        session.clear()
        session["user_id"] = user.id
        target = request.args.get("next", "")
        return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("web.index"))
    return render_template("auth.html", mode="login")


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for("web.index"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    token = None
    if request.method == "POST":
        with transaction():
            token = accounts.create_token(db_session(), g.user, request.form.get("label", ""))
    return render_template("account.html", token=token)
