"""Who is asking: Flask-Login sessions for pages (Flask-WTF CSRF on every form), bearer tokens for the API.

Login and registration are throttled with Flask-Limiter; their forms, and the account
page's, are WTForms (:mod:`leaderboard.forms`). The account page lists, creates and
revokes API tokens, changes the password and, for organisers, sets the registration policy.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from arena.db.database import Session, begin_write
from arena.db.models import User
from arena.server import accounts

from .forms import LoginForm, PasswordChangeForm, RegisterForm, TokenForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

# Failed logins per account from one client address, failed logins per client address across all accounts,
# and accounts created per address. Each is a Flask-Limiter limit string, overridable in the app's config (and
# by environment variables in create_app). No limit counts an account's failures across every address: it
# would be checked before the password is, so anyone could lock the owner out by failing from elsewhere.
LIMIT_DEFAULTS = {
    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS": "5 per minute;30 per hour",
    "LOGIN_LIMIT_PER_ADDRESS": "30 per minute;200 per hour",
    "REGISTRATION_LIMIT_PER_ADDRESS": "5 per hour;20 per day",
}
LIMITED_METHODS = ["POST"]
"""The methods the limits above count (logging in and registering); requests of any other method have none."""
CSRF_MESSAGE = "the form expired or did not come from this site; reload the page and try again."


class SignedIn(UserMixin):
    """What Flask-Login holds for a logged-in person: the account and the session generation it started in."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return accounts.session_id(self.user)


@login_manager.user_loader
def _load_session_user(remembered: str) -> SignedIn | None:
    """A page's account, from its session; the API takes bearer tokens only, never a cookie (it is CSRF-exempt)."""
    if _is_api(request):
        return None
    user = accounts.user_for_session(db_session(), remembered)
    return SignedIn(user) if user is not None else None


@login_manager.request_loader
def _load_token_user(asking: Request) -> SignedIn | None:
    """An API request's account, from its ``Authorization: Bearer`` token; a token that is not valid is refused."""
    token = _bearer_token(asking)
    if token is None:
        return None
    user = accounts.user_for_token(db_session(), token)
    if user is None:
        abort(
            401,
            description="the API token is not valid (unknown, revoked or expired); "
            "create a new one on your account page.",
        )
    return SignedIn(user)


def _is_api(asking: Request) -> bool:
    return asking.path.startswith("/api/")


def _bearer_token(asking: Request) -> str | None:
    """The token an API request carries, or None (pages never log in by token)."""
    header = asking.headers.get("Authorization", "")
    if not _is_api(asking) or not header.startswith("Bearer "):
        return None
    return header.removeprefix("Bearer ").strip()


def db_session() -> Session:
    """One SQLAlchemy session per request, closed on teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["arena_db"].read_session()  # reads never take SQLite's write lock
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
    reading_autoflush = session.autoflush  # begin_write turns it on for the write; reads go back to their own
    try:
        with session.begin():
            begin_write(session)
            yield session
    finally:
        session.autoflush = reading_autoflush


def init_security(app: Flask) -> None:
    """Sessions, CSRF, throttling and security headers for one app (each app gets its own limiter)."""
    login_manager.init_app(app, add_context_processor=False)  # pages get ``current_user`` from template_helpers
    csrf.init_app(app)
    csrf.exempt(app.blueprints["api"])  # bearer tokens, never cookies: nothing for a forged form to ride on
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "arena")
    for key, value in LIMIT_DEFAULTS.items():
        app.config.setdefault(key, value)
    limiter = Limiter(get_remote_address, app=app)
    app.extensions["arena_limiter"] = limiter

    def setting(key: str):
        return lambda: current_app.config[key]

    def failed(response: Response) -> bool:
        return response.status_code in (400, 401)

    def created(response: Response) -> bool:
        return response.status_code in (201, 202, 302)

    def per_account_and_address() -> str:
        """The pair a failure counts against: the account asked for (as typed; no real name is longer than
        64 characters) and the client address (the peer, or what ARENA_PROXY_COUNT trusted proxies say)."""
        return f"account:{_posted('username').strip().lower()[:64]}|address:{get_remote_address()}"

    # Failures only count (a right password uses none of the budget); a throttled pair is refused before the
    # password is checked, the right one included, so a throttled address learns nothing about its guesses.
    logins = [
        limiter.shared_limit(
            setting("LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"),
            "login-account-address",
            key_func=per_account_and_address,
            deduct_when=failed,
            methods=LIMITED_METHODS,
        ),
        limiter.shared_limit(
            setting("LOGIN_LIMIT_PER_ADDRESS"), "login-address", deduct_when=failed, methods=LIMITED_METHODS
        ),
    ]
    registrations = [
        limiter.shared_limit(
            setting("REGISTRATION_LIMIT_PER_ADDRESS"), "registration", deduct_when=created, methods=LIMITED_METHODS
        )
    ]

    @limiter.request_filter
    def nothing_to_limit() -> bool:
        """Every limit counts POSTs only: a page view or an API read skips the limiter's per-request work."""
        return request.method not in LIMITED_METHODS

    for endpoint, limits in (
        ("auth.login", logins),
        ("api.token", logins),
        ("auth.register", registrations),
        ("api.register", registrations),
    ):
        view = app.view_functions[endpoint]
        for limit in limits:
            view = limit(view)
        app.view_functions[endpoint] = view

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


# Pages need nothing but their own stylesheet, inline SVG and one script of their own (a waiting submission's
# status refreshing itself); no inline or foreign script, frame, plugin or foreign form target.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _posted(field: str) -> str:
    """A field from a form or a JSON body, as text ('' when absent)."""
    if request.form:
        return str(request.form.get(field, ""))
    data = request.get_json(silent=True)
    return str(data.get(field, "")) if isinstance(data, dict) else ""


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only, never another site however the URL is disguised.

    Browsers drop tabs and newlines and read backslashes as slashes, so ``/\\t/evil`` and ``/\\evil``
    would leave the site; anything but a plain local path goes to the front page.
    """
    target = target or ""
    parts = urlsplit(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)
        or parts.scheme
        or parts.netloc
    ):
        return url_for("web.index")
    return target


@bp.before_app_request
def load_user() -> None:
    """Who is asking, through Flask-Login: a page by its session, an API request by its bearer token.
    A page without a cookie, or an API request without a token, is anonymous without opening the session."""
    g.user = None
    asks_as_someone = _bearer_token(request) is not None if _is_api(request) else bool(request.cookies)
    if asks_as_someone and current_user.is_authenticated:
        g.user = current_user.user


@bp.app_context_processor
def template_helpers() -> dict:
    return {"current_user": g.get("user")}


def register_error_pages(app: Flask, render_error) -> None:
    """A refused CSRF token and a throttled request answer like every other error (JSON under /api/)."""

    @app.errorhandler(CSRFError)
    def csrf_refused(_exc):
        return render_error(400, "Bad request", CSRF_MESSAGE)

    @app.errorhandler(429)
    def throttled(exc):
        wait = getattr(getattr(exc, "limit", None), "limit", None)
        window = f" (at most {wait})" if wait is not None else ""
        return render_error(
            429,
            "Too many attempts",
            f"too many attempts from this address{window}; wait for the time in "
            "the Retry-After header (in seconds), then try again.",
        )


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            if request.path.startswith("/api/"):
                abort(
                    401,
                    description="log in: send 'Authorization: Bearer <token>' (create a token on your account page).",
                )
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


def _start_session(user: User) -> None:
    """A fresh session (nothing of the one before login survives) that remembers the user's generation."""
    session.clear()
    login_user(SignedIn(user))


@bp.route("/register", methods=["GET", "POST"])
def register():
    policy = accounts.registration_policy(db_session())
    form = RegisterForm(policy=policy)
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("auth.html", mode="register", policy=policy, form=form), status
    try:
        with transaction():
            user = accounts.self_register(
                db_session(), form.username.data, form.password.data, form.invite_code.data or ""
            )
    except accounts.AccountError as exc:
        return render_template("auth.html", mode="register", policy=policy, form=form, problems=exc.messages()), 400
    if not user.approved:
        flash(
            f"Thank you, {user.username}: an organiser approves new accounts here. "
            "You can log in once your account is approved."
        )
        return redirect(url_for("auth.login"))
    _start_session(user)
    flash(f"Welcome, {user.username}.")
    return redirect(url_for("web.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.validate_on_submit():
        status = 401 if form.is_submitted() else 200  # a failure: it counts against the login limits
        return render_template("auth.html", mode="login", form=form), status
    try:
        with transaction():
            user = accounts.authenticate(db_session(), form.username.data, form.password.data)
    except accounts.AccountError as exc:
        return render_template("auth.html", mode="login", form=form, problems=exc.messages()), 401
    _start_session(user)
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    """Log out here and everywhere else: every session of the account ends."""
    if g.user is not None:
        with transaction():
            accounts.end_sessions(g.user)
    logout_user()
    session.clear()
    return redirect(url_for("web.index"))


def _account_page(
    status: int = 200, *, token_form: TokenForm | None = None, password_form: PasswordChangeForm | None = None, **extra
):
    session_ = db_session()
    organiser = g.user.is_organiser
    return render_template(
        "account.html",
        tokens=accounts.tokens_of(session_, g.user),
        expired=accounts.token_expired,
        policy=accounts.registration_policy(session_) if organiser else None,
        policies=accounts.REGISTRATION_POLICIES,
        pending=accounts.pending_users(session_) if organiser else [],
        token_form=token_form or TokenForm(formdata=None),
        password_form=password_form or PasswordChangeForm(formdata=None, owner=g.user.username),
        **extra,
    ), status


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    if request.method != "POST":
        return _account_page()
    form = TokenForm()
    if not form.validate():
        return _account_page(400, token_form=form)
    try:
        with transaction():
            token = accounts.create_token(db_session(), g.user, form.token_name(request.form), form.days())
    except accounts.AccountError as exc:
        return _account_page(400, token_form=form, problems=exc.messages())
    return _account_page(token=token)


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    with transaction():
        revoked = accounts.revoke_token(db_session(), g.user, token_id)
    flash(f"Token '{revoked.label or '#' + str(token_id)}' revoked; it no longer works.")
    return redirect(url_for("auth.account"))


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = PasswordChangeForm(owner=g.user.username)
    if not form.validate():
        return _account_page(400, password_form=form)
    try:
        with transaction():
            user = accounts.change_password(db_session(), g.user, form.current_password.data, form.new_password.data)
    except accounts.AccountError as exc:
        return _account_page(400, password_form=form, problems=exc.messages())
    _start_session(user)  # this session continues under the new generation; every other one has ended
    flash("Password changed. Your other sessions and all your API tokens have ended.")
    return redirect(url_for("auth.account"))


@bp.route("/account/registration/<action>", methods=["POST"])
@login_required
def registration(action: str):
    """Organisers: the registration policy, invite codes, approving accounts."""
    if not g.user.is_organiser:
        abort(403, description="only organisers may do this.")
    invite = None
    try:
        with transaction():
            if action == "policy":
                policy = accounts.set_registration_policy(db_session(), request.form.get("policy", ""))
                flash(f"Registration policy: {policy} ({accounts.REGISTRATION_POLICIES[policy]}).")
            elif action == "invite":
                invite = accounts.create_invite(db_session(), g.user)
            elif action == "approve":
                approved = accounts.approve(db_session(), request.form.get("username", ""))
                flash(f"{approved.username} is approved and can log in.")
            else:
                abort(404)
    except accounts.AccountError as exc:
        return _account_page(400, problems=exc.messages())
    if invite is not None:
        return _account_page(invite=invite)
    return redirect(url_for("auth.account"))
