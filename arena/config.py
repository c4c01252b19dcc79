"""Where this installation keeps its state, and the per-installation secret."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from arena.errors import ArenaError


class MissingSecret(ArenaError):
    headline = "This installation's secret is missing"


def arena_home() -> Path:
    """Return ``ARENA_HOME`` (default ``~/.arena``), creating it (owner only, 0700) if needed."""
    home = Path(os.environ.get("ARENA_HOME", Path.home() / ".arena")).expanduser()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def private_dir(path: Path) -> Path:
    """A folder only the installation's owner may open (0700): made so, or tightened if it was open."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:  # not ours to change; the owner is told by the README
            pass
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and readable by its owner only (0600) unless it exists; returns it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    return path


def secret_path(name: str = "secret") -> Path:
    return arena_home() / name


def installation_secret(name: str = "secret") -> bytes:
    """Return a secret of this installation: ``secret`` keys the public/private row assignment,
    ``flask-secret`` signs the web sessions.

    Each is created once, atomically (two processes starting together agree on it),
    readable by its owner only, and never printed: whoever knows ``secret`` can
    tell public rows from private ones. Processes that serve or score check first
    that it exists (:func:`require_secret`), so only a first start creates it.
    """
    path = secret_path(name)
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it a moment ago
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def require_secret(*, create: bool, who: str) -> None:
    """Refuse to start ``who`` (a worker, a web process) where the installation secret is missing,
    unless told to ``create`` it: a new secret would silently move every public/private split."""
    if create:
        installation_secret()
    elif not secret_path().exists():
        raise MissingSecret(
            f"{who} found no file 'secret' in ARENA_HOME ({arena_home()}). It decides which test rows are public, "
            "so every process of one installation must share it: copy it from the machine where the installation "
            "was set up. For a new installation, run 'arena setup' (or 'arena serve') once first, which creates it."
        )


def cache_dir() -> Path:
    """Materialised tasks (train, test, answer key) live here, never under a served path, owner only."""
    return private_dir(arena_home() / "cache")
