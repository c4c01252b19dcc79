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


def installation_secret(name: str = "secret") -> bytes:
    """Return a secret of this installation: ``secret`` keys the public/private row assignment,
    ``flask-secret`` signs the web sessions.

    Each is created once, atomically (two processes starting together agree on it),
    readable by its owner only, and never printed: whoever knows ``secret`` can
    tell public rows from private ones.
    """
    path = arena_home() / name
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
