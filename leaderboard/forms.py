"""Turn form fields or JSON values into typed competition settings, with messages a person can act on."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from arena.server.competitions import SETTINGS, CompetitionError


def settings_from_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """Typed settings from a form or a JSON body; blank optional fields mean 'none'."""
    settings: dict[str, Any] = {}
    problems = []
    for key, kind in SETTINGS.items():
        if key not in data:
            continue
        raw = data[key]
        if isinstance(raw, str):
            raw = raw.strip()
            if raw == "":
                if key in ("total_limit", "starts_at", "ends_at"):
                    settings[key] = None
                continue
        try:
            if kind is datetime:
                settings[key] = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw)).replace(tzinfo=None)
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
