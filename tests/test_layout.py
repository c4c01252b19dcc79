"""Who may import whom (DESIGN.md), checked statically: every import in every module, inside functions too.

The scoring library knows nothing of databases, the web or JAX; the persistence
layer knows nothing of the rules above it; the core imports neither face; the
leaderboard never loads JAX and the baselines never the server.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ["flask", "werkzeug", "markdown", "jinja2", "markupsafe"]
JAX = ["jax", "jaxlib", "flax", "optax"]
FACES = ["leaderboard", "baselines"]
DATABASE = ["sqlalchemy", "alembic"]

# package prefix -> modules it must never import (a prefix matches the module and everything under it)
FORBIDDEN = {
    "arena.scoring": ["arena.server", "arena.db", "arena.cli", "arena.client", *DATABASE, *WEB, *JAX, *FACES,
                      "redis", "rq"],
    "arena.db": ["arena.server", "arena.scoring", "arena.cli", *WEB, *JAX, *FACES],
    "arena.server": ["arena.cli", *WEB, *JAX, *FACES],
    "arena": [*WEB, *JAX, *FACES],
    "leaderboard": ["baselines", *JAX, *DATABASE],
    "baselines": ["leaderboard", "arena.server", "arena.db", *DATABASE, *WEB],
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, relative imports made absolute, wherever the statement stands."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def rules_for(module: str) -> list[str]:
    """The most specific rule that covers a module (arena.scoring.metrics -> arena.scoring)."""
    owners = [prefix for prefix in FORBIDDEN if module == prefix or module.startswith(prefix + ".")]
    return FORBIDDEN[max(owners, key=len)] if owners else []


def matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def source_files() -> list[Path]:
    return sorted(p for top in ("arena", "leaderboard", "baselines") for p in (ROOT / top).rglob("*.py"))


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_imports_only_what_its_layer_may(path):
    module = module_name(path)
    forbidden = rules_for(module)
    broken = [f"{path.relative_to(ROOT)}:{line} imports {name}" for line, name in imports_of(path)
              if any(matches(name, prefix) for prefix in forbidden)]
    assert not broken, "\n".join(broken)


def test_the_checker_sees_an_import_hidden_inside_a_function(tmp_path):
    fake = ROOT / "arena" / "scoring" / "_layout_probe.py"
    fake.write_text("def f():\n    from ..server import jobs\n    import flask\n")
    try:
        names = [name for _, name in imports_of(fake)]
    finally:
        fake.unlink()
    assert "arena.server.jobs" in names and "flask" in names
    assert any(matches(n, p) for n in names for p in rules_for("arena.scoring._layout_probe"))


CHECK = """
import sys
import {modules}
print(sorted(name for name in ("flask", "jax", "flax", "sqlalchemy", "leaderboard", "baselines") if name in sys.modules))
"""


def loaded_after_import(modules: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", CHECK.format(modules=modules)], capture_output=True, text=True, check=True)
    return ast.literal_eval(result.stdout)


def test_scoring_a_file_loads_no_database_no_web_and_no_jax():
    assert loaded_after_import("arena, arena.scoring.score, arena.scoring.datasets, arena.scoring.stats") == []


def test_the_server_layer_loads_neither_the_web_nor_jax():
    assert loaded_after_import("arena.server.jobs, arena.server.standings, arena.server.uploads") == ["sqlalchemy"]


def test_the_leaderboard_never_loads_jax_or_the_baselines():
    assert loaded_after_import("leaderboard") == ["flask", "leaderboard", "sqlalchemy"]
