"""People: registration, passwords (scrypt), API tokens, and the first organiser."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.errors import ArenaError
from arena.db.models import ApiToken, User

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
MIN_PASSWORD = 8
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class AccountError(ArenaError):
    headline = "Account problem"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_SCRYPT)
    return hmac.compare_digest(candidate.hex(), digest)


def register(session: Session, username: str, password: str, *, organiser: bool = False) -> User:
    """Create an account; raises AccountError saying what to change."""
    problems = []
    if not USERNAME.match(username or ""):
        problems.append("username must be 3-32 letters, digits, '.', '_' or '-'.")
    if len(password or "") < MIN_PASSWORD:
        problems.append(f"password must have at least {MIN_PASSWORD} characters.")
    if not problems and session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        problems.append(f"the username '{username}' is taken; choose another.")
    if problems:
        raise AccountError(problems)
    user = User(username=username, password_hash=hash_password(password), is_organiser=organiser)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The user with these credentials; one message for either mistake, so usernames can't be probed."""
    user = session.scalar(select(User).where(User.username == (username or "")))
    if user is None or not check_password(password or "", user.password_hash):
        raise AccountError("wrong username or password.")
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, label: str = "") -> str:
    """A new API token for scripts and the CLI. Only its hash is stored: it is shown once."""
    token = "arena_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), label=label[:100]))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token or "")))
    return row.user if row else None


def ensure_organiser(session: Session, username: str = "admin", password: str | None = None) -> tuple[User, str | None]:
    """Make sure an organiser exists. Returns it and, if it was just created, its password (shown once)."""
    existing = session.scalar(select(User).where(User.is_organiser.is_(True)).order_by(User.id))
    if existing is not None:
        return existing, None
    password = password or secrets.token_urlsafe(12)
    return register(session, username, password, organiser=True), password


def set_password(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user named '{username}'.")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must have at least {MIN_PASSWORD} characters.")
    user.password_hash = hash_password(password)
    return user
