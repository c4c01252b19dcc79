"""Who may import whom: the core needs neither Flask nor JAX; the server never loads JAX."""

from __future__ import annotations

import ast
import subprocess
import sys

CHECK = """
import sys
import {modules}
print(sorted(name for name in ("flask", "jax", "flax", "leaderboard", "baselines") if name in sys.modules))
"""


def loaded_after_import(modules: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", CHECK.format(modules=modules)], capture_output=True, text=True, check=True)
    return ast.literal_eval(result.stdout)


def test_the_core_imports_neither_flask_nor_jax():
    assert loaded_after_import("arena.cli, arena.scoring, arena.jobs, arena.standings, arena.uploads") == []


def test_the_server_never_imports_jax_or_the_baselines():
    assert loaded_after_import("leaderboard") == ["flask", "leaderboard"]
