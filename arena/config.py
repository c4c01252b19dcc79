"""Where this installation keeps its state, and the per-installation secret."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def arena_home() -> Path:
    """Return ``ARENA_HOME`` (default ``~/.arena``), creating it if needed."""
    home = Path(os.environ.get("ARENA_HOME", Path.home() / ".arena")).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def installation_secret() -> bytes:
    """Return the secret that keys the public/private row assignment.

    It is created once per installation, readable by its owner only, and never
    printed: whoever knows it can tell public rows from private ones.
    """
    path = arena_home() / "secret"
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def cache_dir() -> Path:
    """Materialised tasks (train, test, answer key) live here, never under a served path."""
    path = arena_home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
