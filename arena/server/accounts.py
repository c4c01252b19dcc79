"""People: registration and its policy, passwords (Argon2, strength-checked), sessions, API tokens, organisers."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from arena.db.models import ApiToken, InstallationSetting, Invite, User, utcnow
from arena.errors import ArenaError

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
REFERENCE_ACCOUNT = "arena-reference"
"""The organiser account Arena makes to own the reference models shipped with the built-in suites: nobody may
register it, in any case, so the models entered under it are always Arena's own."""
MIN_PASSWORD = 8
MAX_PASSWORD = 128  # the strength estimator's time grows with length; no one types more
MIN_STRENGTH = 3  # zxcvbn's 0-4 scale: 3 is "safely unguessable" for an online attacker and then some
TOKEN_NAME_LENGTH = 100
MAX_TOKEN_DAYS = 3650

# OWASP's recommended Argon2id parameters: 19 MiB, 2 passes, 1 lane (about 30 ms a hash).
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_LEGACY_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # hashes made before Argon2: still verified, rehashed at login
_dummy_hash: str | None = None

REGISTRATION_POLICIES = {
    "open": "anyone may register",
    "approval": "anyone may register; an organiser approves each account before it can log in",
    "invite": "only people with an invite code from an organiser may register",
}
_POLICY_KEY = "registration_policy"


class AccountError(ArenaError):
    headline = "Account problem"


# --- passwords -------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """An Argon2id hash with its own salt and parameters."""
    return _HASHER.hash(password)


def check_password(password: str, stored: str) -> bool:
    """Whether the password matches the stored hash (Argon2id, or the scrypt hashes made before it)."""
    if stored.startswith("scrypt$"):
        try:
            _, salt, digest = stored.split("$")
            candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), dklen=32, **_LEGACY_SCRYPT)
        except ValueError:
            return False
        return hmac.compare_digest(candidate.hex(), digest)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _needs_rehash(stored: str) -> bool:
    return stored.startswith("scrypt$") or _HASHER.check_needs_rehash(stored)


def _dummy() -> str:
    """A hash to check unknown usernames against, so they cost the same time as known ones."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def password_problems(password: str, username: str = "") -> list[str]:
    """What is wrong with a new password, in words a person can act on; empty when it is good enough."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        return [f"password must have at least {MIN_PASSWORD} characters."]
    if len(password) > MAX_PASSWORD:
        return [f"password must have at most {MAX_PASSWORD} characters."]
    verdict = zxcvbn(password, user_inputs=[username, "arena"] if username else ["arena"])
    if verdict["score"] >= MIN_STRENGTH:
        return []
    feedback = verdict["feedback"]
    hints = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
    return [
        "password is too easy to guess"
        + (f": {hints}" if hints else ".")
        + " A few uncommon words together make a strong password that is easy to remember."
    ]


# --- registration and its policy ---------------------------------------------------------


def registration_policy(session: Session) -> str:
    """The installation's registration policy: open (the default), approval or invite."""
    row = session.get(InstallationSetting, _POLICY_KEY)
    return row.value if row is not None and row.value in REGISTRATION_POLICIES else "open"


def set_registration_policy(session: Session, policy: str) -> str:
    policy = (policy or "").strip()
    if policy not in REGISTRATION_POLICIES:
        raise AccountError(
            f"the registration policy must be one of: {', '.join(REGISTRATION_POLICIES)}; got {policy!r}."
        )
    row = session.get(InstallationSetting, _POLICY_KEY)
    if row is None:
        session.add(InstallationSetting(key=_POLICY_KEY, value=policy))
    else:
        row.value = policy
    session.flush()
    return policy


def register(session: Session, username: str, password: str, *, organiser: bool = False, approved: bool = True) -> User:
    """Create an account; raises AccountError saying what to change."""
    problems = []
    if not USERNAME.match(username or ""):
        problems.append("username must be 3-32 letters, digits, '.', '_' or '-'.")
    problems += password_problems(password, username)
    if not problems and session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        problems.append(f"the username '{username}' is taken; choose another.")
    if problems:
        raise AccountError(problems)
    user = User(username=username, password_hash=hash_password(password), is_organiser=organiser, approved=approved)
    session.add(user)
    session.flush()
    return user


def self_register(session: Session, username: str, password: str, invite_code: str = "") -> User:
    """Registration by the person themselves, under the installation's policy.

    Invite-only: a valid unused invite code is needed (and is used up). Approval: the
    account is created but cannot log in until an organiser approves it.
    """
    if (username or "").casefold() == REFERENCE_ACCOUNT:
        raise AccountError(f"the username '{username}' is kept for Arena's reference models; choose another.")
    policy = registration_policy(session)
    invite = None
    if policy == "invite":
        invite = session.scalar(
            select(Invite)
            .where(Invite.code_hash == _digest(invite_code.strip()), Invite.used_by.is_(None))
            .with_for_update()
        )
        if not invite_code.strip() or invite is None:
            raise AccountError(
                "registration here is by invitation: enter the invite code an organiser gave you "
                "(each code works once)."
            )
    user = register(session, username, password, approved=policy != "approval")
    if invite is not None:
        invite.used_by, invite.used_at = user.id, utcnow()
        session.flush()
    return user


def create_invite(session: Session, organiser: User) -> str:
    """A new single-use invite code (shown once; only its hash is stored)."""
    code = "invite_" + secrets.token_urlsafe(12)
    session.add(Invite(code_hash=_digest(code), created_by=organiser.id))
    session.flush()
    return code


def pending_users(session: Session) -> list[User]:
    """Accounts waiting for an organiser's approval, oldest first."""
    return list(session.scalars(select(User).where(User.approved.is_(False)).order_by(User.id)))


def approve(session: Session, username: str) -> User:
    user = _by_name(session, username)
    user.approved = True
    session.flush()
    return user


# --- logging in and sessions -------------------------------------------------------------


def authenticate(session: Session, username: str, password: str) -> User:
    """The user with these credentials; one message and about the same time for either mistake,
    so usernames can't be probed. A hash made with older parameters is upgraded in place."""
    user = session.scalar(select(User).where(User.username == (username or "")))
    if user is None:
        check_password(password or "", _dummy())
        raise AccountError("wrong username or password.")
    if not check_password(password or "", user.password_hash):
        raise AccountError("wrong username or password.")
    if not user.approved:
        raise AccountError("your account waits for an organiser's approval; try again once they have approved it.")
    if _needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def session_id(user: User) -> str:
    """What a login session remembers: the user and their session generation."""
    return f"{user.id}:{user.session_generation}"


def user_for_session(session: Session, remembered: str) -> User | None:
    """The user of a session, or None when the session was ended (logout, password change) or is malformed."""
    user_id, _, generation = (remembered or "").partition(":")
    if not user_id.isdigit() or not generation.isdigit():
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.approved or user.session_generation != int(generation):
        return None
    return user


def end_sessions(user: User) -> None:
    """End every login session of this user (each remembers the generation it started in)."""
    user.session_generation = (user.session_generation or 0) + 1


def change_password(session: Session, user: User, current: str, new: str) -> User:
    """Change one's own password: the current one is needed. Other sessions and every API token end."""
    if not check_password(current or "", user.password_hash):
        raise AccountError("the current password is wrong.")
    return _replace_password(session, user, new)


def set_password(session: Session, username: str, password: str) -> User:
    """Reset a password (organiser's command line). Every session and API token of the user ends."""
    return _replace_password(session, _by_name(session, username), password)


def _replace_password(session: Session, user: User, password: str) -> User:
    problems = password_problems(password, user.username)
    if problems:
        raise AccountError(problems)
    user.password_hash = hash_password(password)
    end_sessions(user)
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.flush()
    return user


def _by_name(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user named '{username}'.")
    return user


# --- API tokens ------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, user: User, label: str = "", expires_in_days: int | None = None) -> str:
    """A new named API token for scripts and the CLI, valid for ``expires_in_days`` (None: until revoked).

    Only its hash is stored: it is shown once.
    """
    name = (label or "").strip()
    if len(name) > TOKEN_NAME_LENGTH:
        raise AccountError(f"a token name has at most {TOKEN_NAME_LENGTH} characters.")
    expires_at = None
    if expires_in_days is not None:
        if (
            isinstance(expires_in_days, bool)
            or not isinstance(expires_in_days, int)
            or not 1 <= expires_in_days <= MAX_TOKEN_DAYS
        ):
            raise AccountError(
                f"a token's lifetime must be a whole number of days from 1 to {MAX_TOKEN_DAYS}, "
                "or left empty for a token that lasts until revoked."
            )
        expires_at = utcnow() + timedelta(days=expires_in_days)
    token = "arena_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), label=name, expires_at=expires_at))
    session.flush()
    return token


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    """A user's API tokens, newest first (names and dates only: the secrets are not kept)."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    """Delete one of the user's own tokens; it stops working at once."""
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise AccountError(f"you have no token #{token_id}; your tokens are listed on your account page.")
    session.delete(row)
    session.flush()
    return row


def token_expired(row: ApiToken, now: datetime | None = None) -> bool:
    return row.expires_at is not None and row.expires_at <= (now or utcnow())


def user_for_token(session: Session, token: str) -> User | None:
    """The user a token belongs to; None for an unknown, revoked or expired token."""
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(token or ""))
    ).first()  # one round trip
    if found is None or token_expired(found.ApiToken) or not found.User.approved:
        return None
    return found.User


# --- organisers ------------------------------------------------------------------------


def ensure_organiser(session: Session, username: str = "admin", password: str | None = None) -> tuple[User, str | None]:
    """Make sure an organiser exists. Returns it and, if it was just created, its password (shown once)."""
    people = select(User).where(User.is_organiser.is_(True), User.username != REFERENCE_ACCOUNT)  # Arena's own
    existing = session.scalar(people.order_by(User.id))
    if existing is not None:
        return existing, None
    password = password or secrets.token_urlsafe(12)
    return register(session, username, password, organiser=True), password


def make_organiser(session: Session, username: str, password: str, *, promote: bool = False) -> tuple[User, str]:
    """Create an organiser, or reset an organiser's password; promoting a participant needs ``promote``.

    Returns the user and a sentence saying what was done.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return register(session, username, password, organiser=True), f"created the organiser '{username}'."
    if not user.is_organiser and not promote:
        raise AccountError(
            f"'{username}' is a participant, not an organiser; nothing was changed. "
            "Add --promote to make them an organiser (and set this password)."
        )
    _replace_password(session, user, password)
    if not user.is_organiser:
        user.is_organiser = True
        return (
            user,
            f"promoted the participant '{username}' to organiser and set the password; their other sessions and API tokens ended.",
        )
    return user, f"set a new password for the organiser '{username}'; their other sessions and API tokens ended."
