"""The documentation site's build, as ``make test`` runs it, fails on a broken link."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def docs_command() -> list[str]:
    """The mkdocs line of the Makefile's test target, with its variables filled in."""
    line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "mkdocs build" in line)
    words = line.strip().split()
    words = [word for word in words if not re.fullmatch(r"[A-Z0-9_]+=\S*", word)]  # environment assignments
    return [str(Path(sys.executable).parent / "mkdocs"), *words[1:]]


def build(folder: Path) -> subprocess.CompletedProcess:
    command = docs_command()
    if "--site-dir" in command:
        command[command.index("--site-dir") + 1] = str(folder / "site")
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"}
    )


def copy_of_the_docs(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    return tmp_path


def test_the_documentation_builds_strictly(tmp_path):
    done = build(copy_of_the_docs(tmp_path))
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_broken_link_fails_the_documentation_build(tmp_path):
    folder = copy_of_the_docs(tmp_path)
    with (folder / "docs" / "index.md").open("a") as index:
        index.write("\n[a page that is not there](no-such-page.md)\n")
    done = build(folder)
    assert done.returncode != 0 and "no-such-page.md" in done.stderr
