"""Shared fixtures: every test session gets its own ARENA_HOME, so nothing touches ~/.arena."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_HOME = tempfile.mkdtemp(prefix="arena-test-home-")
os.environ["ARENA_HOME"] = _SESSION_HOME


@pytest.fixture(scope="session")
def arena_home() -> Path:
    return Path(_SESSION_HOME)


@pytest.fixture
def write_bundle(tmp_path: Path):
    """Write a task bundle (task.toml text and data files) and return its folder."""

    def write(toml: str, files: dict[str, str] | None = None, name: str = "bundle") -> Path:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "task.toml").write_text(toml)
        for filename, text in (files or {}).items():
            (folder / filename).write_text(text)
        return folder

    return write


def require_in_ci(reason: str) -> None:
    """Skip with a clear reason locally; fail under CI=true, where every part must be present."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: this part must be installed; see .ci/services.sh)")
    pytest.skip(reason)
