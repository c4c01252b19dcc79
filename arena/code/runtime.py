"""What a code task's runtime is: its Python version and the packages a participant's program can import.

Participants need the exact versions to test against (a model pickled with one scikit-learn may not load in
another), so ``arena tasks show`` and the competition's page give them. The server's runtime lists the packages
of its stack that are installed; a bundle's own virtual environment lists everything in its site-packages.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

SERVER_STACK = ("numpy", "pandas", "pyarrow", "scipy", "scikit-learn", "pillow", "jax", "flax", "optax")
"""The server's packages a program is likely to use; others installed on the server are importable too."""


@dataclass(frozen=True)
class Runtime:
    """A runtime as a participant reads it: ``python`` (e.g. ``3.11.9``) and ``(package, version)`` pairs."""

    python: str
    packages: tuple[tuple[str, str], ...]

    def line(self) -> str:
        listed = ", ".join(f"{name} {version}" for name, version in self.packages) or "no packages"
        return f"Python {self.python}; {listed}"


def describe_runtime(bundle_dir: str | Path, runtime: str) -> Runtime:
    """The runtime a code task names: ``"server"``, or ``"venv:FOLDER"`` (a virtual environment in the bundle)."""
    if not runtime.startswith("venv:"):
        installed = []
        for name in SERVER_STACK:
            try:
                installed.append((name, metadata.version(name)))
            except metadata.PackageNotFoundError:
                continue
        return Runtime(platform.python_version(), tuple(installed))
    venv = Path(bundle_dir) / runtime.partition(":")[2]
    config = read_pyvenv(venv / "pyvenv.cfg")
    python = config.get("version") or config.get("version_info") or "unknown"
    site = sorted(venv.glob("lib/python*/site-packages"))
    found = {
        (str(dist.metadata["Name"]), str(dist.version))
        for dist in (metadata.distributions(path=[str(site[0])]) if site else [])
        if dist.metadata["Name"] and dist.metadata["Name"] not in ("pip", "setuptools", "wheel")
    }
    return Runtime(python, tuple(sorted(found, key=lambda pair: pair[0].lower())))


def read_pyvenv(path: Path) -> dict[str, str]:
    """The ``key = value`` settings of a virtual environment's ``pyvenv.cfg`` (none where it is missing)."""
    if not path.is_file():
        return {}
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}
