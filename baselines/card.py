"""A reference model's card for a suite: the declared facts, the run record, and the TOML they are written as.

The fields are those :func:`arena.suites.cards.load_card` requires and allows; the card is checked with it before
it is written, so a card this module writes is one the server accepts.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

from arena.suites.cards import parse_card

FRAMEWORK = "JAX + Flax NNX"
CARD_VERSION = "1"  # of the reference models: raise it when a model's architecture or settings change
_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"  # present in a checkout, not in a wheel
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def project_facts(pyproject: Path = _PYPROJECT) -> tuple[str, str]:
    """The project's licence and the URL of its baselines' code (``"none"`` when none is configured).

    Read from pyproject.toml in a checkout (what the code that ran says), else from the installed metadata.
    A URL comes from ``[project.urls]``: ``Baselines`` if given, else ``Source`` or ``Repository``.
    """
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        licence = project.get("license", "")
        licence = licence if isinstance(licence, str) else licence.get("text", "")
        urls = {key.lower(): value for key, value in project.get("urls", {}).items()}
    else:
        meta = metadata.metadata("arena")
        licence = meta.get("License-Expression") or meta.get("License") or ""
        urls = {}
        for entry in meta.get_all("Project-URL") or []:
            label, _, url = entry.partition(",")
            urls[label.strip().lower()] = url.strip()
    code_url = next((urls[key] for key in ("baselines", "source", "repository") if urls.get(key)), "none")
    return licence or "unknown", code_url


def model_card(model: str, description: str, run: dict[str, Any], hardware: str, software: dict[str, str]) -> dict:
    """The card of reference model ``model`` from its run record; checked with the server's card reader."""
    licence, code_url = project_facts()
    tasks = run["tasks"]
    card = {
        "name": f"{model}-reference",
        "version": CARD_VERSION,
        "parameters": max((task["parameters"] for task in tasks.values()), default=0),
        "framework": FRAMEWORK,
        "licence": licence,
        "code_url": code_url,
        "extra_training_data": False,
        "trained_on_test_inputs": False,
        "hardware": hardware,
        "training_time": f"{run['training_seconds']:.0f} s",
        "notes": (
            f"Arena's reference {model} ({description}), trained by `arena baseline` on each task's training rows "
            "with that task's reference settings. The parameter count is the largest over the tasks; each task's "
            "own is in the run record."
        ),
        "software": software,
        "run": run,
    }
    if run.get("commit"):
        card["commit"] = run["commit"]
    parse_card(card)  # the server's own check: a card that would be refused is never written
    return card


def to_toml(data: dict[str, Any]) -> str:
    """TOML text for a card: scalars first, then one ``[table]`` per nested table (None values left out).

    A few lines instead of a dependency: cards hold only text, whole numbers, finite floats, booleans and tables.
    """
    lines: list[str] = []
    _table(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _table(data: dict[str, Any], path: list[str], lines: list[str]) -> None:
    scalars = {key: value for key, value in data.items() if value is not None and not isinstance(value, dict)}
    tables = {key: value for key, value in data.items() if isinstance(value, dict)}
    if path and (scalars or not tables):
        lines += ["", f"[{'.'.join(_key(part) for part in path)}]"]
    lines += [f"{_key(key)} = {_value(value)}" for key, value in scalars.items()]
    for key, value in tables.items():
        _table(value, [*path, key], lines)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _value(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a card holds finite numbers only, got {value!r}")
        return repr(value)
    if isinstance(value, str):
        # JSON's escapes are TOML basic-string escapes; TOML also wants DEL escaped, which JSON leaves as it is
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to a card")
