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
            else:
                settings[key] = str(raw)
        except (TypeError, ValueError):
            example = {datetime: "2026-12-31T23:59", int: "5", float: "0.3", str: "text"}[kind]
            problems.append(f"'{key}' must look like {example}; got {raw!r}.")
    if problems:
        raise CompetitionError(problems)
    return settings


def _bad():
    raise ValueError
