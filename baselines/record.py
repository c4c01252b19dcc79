"""What a run measured about where it ran: the code's commit, the hardware, the software, the peak memory.

A model card declares; the run record (the card's ``[run]`` table) lets a reader check and reproduce. Each fact is
best effort: outside a git checkout, or without ``git``, the commit is ``None`` rather than a failed run.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from importlib import metadata
from pathlib import Path

SOFTWARE = ("arena", "jax", "flax", "optax", "numpy")  # the packages whose versions decide the predictions
_CODE = Path(__file__).resolve().parent  # the commit recorded is that of the code that ran, not of the caller's folder


def git_state(folder: Path = _CODE) -> tuple[str | None, bool | None]:
    """The checkout's commit and whether it has uncommitted changes; ``(None, None)`` outside a checkout."""
    try:
        commit = _git(folder, "rev-parse", "HEAD").strip()
        dirty = bool(_git(folder, "status", "--porcelain").strip())
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, dirty


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=30).stdout


def cpu_model() -> str:
    """The CPU's marketing name (Linux's /proc/cpuinfo), else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def accelerator() -> str:
    """What JAX computes on: ``cpu``, or the first device's kind (e.g. a GPU's name) and how many there are."""
    import jax

    devices = jax.devices()
    if devices[0].platform == "cpu":
        return "cpu"
    return f"{len(devices)} x {devices[0].device_kind}"


def hardware() -> dict:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count() or 0,
        "accelerator": accelerator(),
        "system": f"{platform.system()} {platform.machine()}",
    }


def describe_hardware(facts: dict) -> str:
    """One line for the card's ``hardware`` field."""
    return f"{facts['cpu']}, {facts['cores']} cores; computed on {facts['accelerator']}"


def software() -> dict[str, str]:
    """Installed versions of the packages that decide the predictions (absent ones left out)."""
    versions = {}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, in MB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)
