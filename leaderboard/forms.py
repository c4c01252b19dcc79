"""The forms of the pages: the account forms (WTForms), and competition settings from form fields or JSON
values; every message is one a person can act on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, Form, PasswordField, StringField
from wtforms.validators import InputRequired, Regexp, ValidationError

from arena.server import accounts
from arena.server.competitions import PAGES, SETTINGS, CompetitionError
from arena.server.suite_boards import TIERS


def settings_from_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """Typed settings from a form or a JSON body; blank optional fields mean 'none'."""
    settings: dict[str, Any] = {}
    problems = []
    for key, kind in SETTINGS.items():
        if key not in data:
            continue
        raw = data[key]
        if raw is None and key in ("total_limit", "starts_at", "ends_at", "merger_deadline"):  # JSON null: none
            settings[key] = None
            continue
        if key in PAGES and isinstance(raw, str):  # Markdown as written (its indentation means something); blank clears
            settings[key] = raw.replace("\r\n", "\n")
            continue
        if isinstance(raw, str):
            raw = raw.strip()
            if raw == "":
                if key in ("total_limit", "starts_at", "ends_at", "merger_deadline"):
                    settings[key] = None
                continue
        try:
            if kind is datetime:
                settings[key] = (
                    raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw)).replace(tzinfo=None)
                )
            elif kind is int:
                settings[key] = int(raw) if not isinstance(raw, bool) else _bad()
            elif kind is float:
                settings[key] = float(raw)
            elif kind is bool:
                settings[key] = form_bool({key: raw}, key, False)
            else:
                settings[key] = str(raw)
        except (TypeError, ValueError):
            example = {datetime: "2026-12-31T23:59", int: "5", float: "0.3", str: "text"}[kind]
            problems.append(f"'{key}' must look like {example}; got {raw!r}.")
        except CompetitionError as exc:
            problems.extend(exc.messages())
    if problems:
        raise CompetitionError(problems)
    return settings


def _bad():
    raise ValueError


TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def form_bool(data: Mapping[str, Any], key: str, default: bool) -> bool:
    """A yes/no field from a form or a JSON body: true/false, 1/0, yes/no, on/off; anything else is refused.

    ``bool("false")`` is True, so strings are never passed to ``bool``.
    """
    raw = data.get(key, default)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise CompetitionError(f"'{key}' must be true or false (or 1 or 0); got {raw!r}.")


def suite_board_filters(args: Mapping[str, Any]) -> dict[str, Any]:
    """A suite board's filters from a query string (a checked box sends "1"; ``tier`` is the lowest verification
    tier shown); refused as ``form_bool`` refuses, or with the tiers listed."""
    tier = args.get("tier") or "reported"
    if tier not in TIERS:
        raise CompetitionError(f"tier must be one of {', '.join(TIERS)} (the lowest tier shown), not {tier!r}.")
    return {
        "hide_extra_data": form_bool(args, "hide_extra_data", False),
        "hide_trained_on_test": form_bool(args, "hide_trained_on_test", False),
        "tier": tier,
    }


# --- the account forms ----------------------------------------------------------------------
# The forms check what a person typed; the rules (a name taken, a wrong password, a token's lifetime) are
# arena.server.accounts', which the API shares, so a rule's message is the same on either route.


class AccountForm(FlaskForm):
    """An account form. Flask-WTF's CSRFProtect checks every POST's token before any view runs (and answers
    a refused one like every other error), so the form does not check it a second time."""

    class Meta:
        csrf = False


class NewPassword:
    """A new password passes the server's rules (:func:`accounts.password_problems`: its length, then how
    easy it is to guess, also from the account's name)."""

    field_flags = {"required": True, "minlength": accounts.MIN_PASSWORD, "maxlength": accounts.MAX_PASSWORD}

    def __call__(self, form: Form, field: Field) -> None:
        problems = accounts.password_problems(field.data or "", form.account_name())
        if problems:
            raise ValidationError(" ".join(problems))


USERNAME_RULE = "username must be 3-32 letters, digits, '.', '_' or '-'."


class LoginForm(AccountForm):
    username = StringField("Username", [InputRequired("enter your username.")])
    password = PasswordField("Password", [InputRequired("enter your password.")])


class RegisterForm(AccountForm):
    """A new account; an invite code is needed where registration is by invitation (``policy="invite"``)."""

    username = StringField("Username", [InputRequired(USERNAME_RULE), Regexp(accounts.USERNAME, message=USERNAME_RULE)])
    password = PasswordField("Password", [NewPassword()])
    invite_code = StringField("Invite code")

    def __init__(self, *args: Any, policy: str = "open", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy

    def account_name(self) -> str:
        return self.username.data or ""

    def validate_invite_code(self, field: Field) -> None:
        if self.policy == "invite" and not (field.data or "").strip():
            raise ValidationError(
                "registration here is by invitation: enter the invite code an organiser gave "
                "you (each code works once)."
            )


class PasswordChangeForm(AccountForm):
    """One's own password; the current one is checked by the server."""

    current_password = PasswordField("Current password", [InputRequired("enter your current password.")])
    new_password = PasswordField("New password", [NewPassword()])

    def __init__(self, *args: Any, owner: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner  # the account's name: a new password must not be guessable from it

    def account_name(self) -> str:
        return self.owner


class TokenForm(AccountForm):
    """A new API token: a name, and a lifetime in days (empty: until revoked)."""

    name = StringField("Name")
    expires_in_days = StringField(
        "Expires after (days; empty = until revoked)", filters=[lambda text: (text or "").strip()]
    )

    def validate_expires_in_days(self, field: Field) -> None:
        if field.data and not (field.data.isascii() and field.data.isdigit()):
            raise ValidationError("a token's lifetime is a whole number of days, or empty for no expiry.")

    def token_name(self, posted: Mapping[str, str]) -> str:
        """The token's name (``label`` is the field's earlier name)."""
        return self.name.data if "name" in posted else posted.get("label", "")

    def days(self) -> int | None:
        return int(self.expires_in_days.data) if self.expires_in_days.data else None
