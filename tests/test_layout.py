"""Who may import whom (DESIGN.md), checked statically: every import in every module, inside functions too.

The library folders (bundles, scoring, metrics, intervals, the speed internals,
Codabench) know nothing of databases, the web or JAX, and import each other in one
direction only: no two modules, and no two folders, import each other in a circle
(an import under ``if TYPE_CHECKING:`` never runs, so it does not count there). The
persistence layer knows nothing of the rules above it; the core imports neither face;
the leaderboard never loads JAX and the baselines never the server.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB = ["flask", "werkzeug", "markdown", "jinja2", "markupsafe"]
JAX = ["jax", "jaxlib", "flax", "optax"]
FACES = ["leaderboard", "baselines"]
DATABASE = ["sqlalchemy", "alembic"]

LIBRARY = ["arena.server", "arena.db", "arena.cli", "arena.client", *DATABASE, *WEB, *JAX, *FACES, "redis", "rq"]
LIBRARY_FOLDERS = [
    "arena.bundles",
    "arena.scoring",
    "arena.metrics",
    "arena.intervals",
    "arena._fast",
    "arena.codabench",
    "arena.code",
    "arena.suites",
]

# package prefix -> modules it must never import (a prefix matches the module and everything under it)
FORBIDDEN = {
    "arena.bundles": [
        *LIBRARY,
        "arena.scoring",
        "arena.intervals",
        "arena.codabench",
        "arena.code",
        "arena.tasks",
        "arena.suites",
    ],
    "arena.metrics": [
        *LIBRARY,
        "arena.bundles",
        "arena.scoring",
        "arena.intervals",
        "arena.codabench",
        "arena.code",
        "arena.tasks",
        "arena.suites",
    ],
    "arena.intervals": [
        *LIBRARY,
        "arena.bundles",
        "arena.scoring",
        "arena.codabench",
        "arena.code",
        "arena.tasks",
        "arena.suites",
    ],
    "arena.scoring": [*LIBRARY, "arena.codabench", "arena.code", "arena.tasks", "arena.suites"],
    "arena.codabench": [*LIBRARY, "arena.code", "arena.tasks", "arena.suites"],
    "arena.code": [*LIBRARY, "arena.tasks", "arena.suites"],
    "arena.tasks": [*LIBRARY, "arena.suites"],
    "arena.suites": LIBRARY,
    "arena.db": ["arena.server", *LIBRARY_FOLDERS, "arena.tasks", "arena.cli", *WEB, *JAX, *FACES],
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
    """The most specific rule that covers a module (arena.metrics.registry -> arena.scoring)."""
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
    broken = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for line, name in imports_of(path)
        if any(matches(name, prefix) for prefix in forbidden)
    ]
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


def runtime_imports_of(path: Path) -> list[tuple[int, str]]:
    """:func:`imports_of`, less the imports under ``if TYPE_CHECKING:`` (they never run)."""
    tree = ast.parse(path.read_text(), str(path))
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden |= {
                child.lineno
                for statement in node.body
                for child in ast.walk(statement)
                if isinstance(child, (ast.Import, ast.ImportFrom))
            }
    return [(line, name) for line, name in imports_of(path) if line not in hidden]


def arena_files() -> list[Path]:
    return sorted((ROOT / "arena").rglob("*.py"))


def module_graph(files: list[Path]) -> dict[str, set[str]]:
    """Module -> the arena modules it imports (``from package import module`` names the module)."""
    modules = {module_name(path): path for path in files}
    return {
        module: {name for _, name in runtime_imports_of(path) if name in modules and name != module}
        for module, path in modules.items()
    }


def folder_of(module: str) -> str:
    """arena.metrics.registry -> arena.metrics; a top-level module (arena.tasks, arena.cli) is its own folder."""
    return ".".join(module.split(".")[:2])


def folder_graph(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    folders = defaultdict(set)
    for module, imported in modules.items():
        folders[folder_of(module)] |= {folder_of(name) for name in imported} - {folder_of(module)}
    return dict(folders)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_arena_modules_import_each_other_in_a_circle():
    assert circles(module_graph(arena_files())) == []


def test_no_arena_folders_import_each_other_in_a_circle():
    assert circles(folder_graph(module_graph(arena_files()))) == []


def probing(files: dict[str, str]):
    """Write probe modules into the tree for a test of the checks themselves; they are removed after."""

    class Probes:
        def __enter__(self):
            self.paths = [ROOT / name for name in files]
            for path, text in zip(self.paths, files.values()):
                path.write_text(text)
            return self.paths

        def __exit__(self, *_):
            for path in self.paths:
                path.unlink(missing_ok=True)

    return Probes()


def test_the_circle_checks_see_imports_inside_functions_and_ignore_type_checking_ones():
    probes = {
        "arena/bundles/_probe_a.py": "def f():\n    from arena.bundles import _probe_b\n",
        "arena/bundles/_probe_b.py": "from arena.bundles._probe_a import f\n",
        "arena/bundles/_probe_c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from arena.bundles._probe_d import g\n",
        "arena/bundles/_probe_d.py": "from arena.bundles import _probe_c\n",
        "arena/metrics/_probe_e.py": "def f():\n    import arena.bundles.spec\n",
    }
    with probing(probes) as paths:
        modules = module_graph(arena_files())
    found = circles(modules)
    assert ["arena.bundles._probe_a", "arena.bundles._probe_b"] in found
    assert not any("arena.bundles._probe_c" in circle for circle in found)  # TYPE_CHECKING: no circle
    assert any({"arena.bundles", "arena.metrics"} <= set(circle) for circle in circles(folder_graph(modules)))
    assert all(path.parent.is_dir() and not path.exists() for path in paths)


FAST_USERS = ("arena.metrics", "arena.intervals", "arena.scoring")


def fast_import_problems(files: list[Path]) -> list[str]:
    """Imports of the speed internals from outside metrics, intervals and scoring, or of their modules from outside
    arena._fast (only its package interface is used); and anything arena._fast imports beyond numpy, pyarrow,
    numba, the standard library and itself."""
    problems = []
    for path in files:
        module = module_name(path)
        for line, name in imports_of(path):
            where = f"{path.relative_to(ROOT)}:{line} imports {name}"
            if matches(module, "arena._fast"):
                top = name.split(".")[0]
                if not (
                    matches(name, "arena._fast")
                    or top in ("numpy", "pyarrow", "numba", "__future__")
                    or top in sys.stdlib_module_names
                ):
                    problems.append(where)
            elif matches(name, "arena._fast"):
                if not any(matches(module, user) for user in FAST_USERS):
                    problems.append(where + " (only metrics, intervals and scoring use the speed internals)")
                elif name != "arena._fast" and (ROOT / "arena" / "_fast" / (name.split(".")[2] + ".py")).is_file():
                    problems.append(where + " (use the arena._fast interface, not its modules)")
    return problems


def test_only_metrics_intervals_and_scoring_use_the_speed_internals_and_only_through_their_interface():
    assert fast_import_problems(arena_files()) == []


def test_the_speed_internals_check_sees_a_module_import_and_a_user_outside_the_three():
    probes = {
        "arena/scoring/_probe_fast.py": "def f():\n    from arena._fast import memory\n",
        "arena/bundles/_probe_fast.py": "import arena._fast\n",
        "arena/_fast/_probe.py": "import pandas\n",
    }
    with probing(probes) as paths:
        found = fast_import_problems(paths)
    assert len(found) == 3, found


def program_task_imports(files: list[Path]) -> list[str]:
    """Imports of ProgramTask outside arena/codabench and arena/tasks.py: everything else holds a task through the
    task interface (arena.scoring.interface) and never asks which kind it is."""
    allowed = ("arena.codabench", "arena.tasks")
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in files
        for line, name in imports_of(path)
        if name == "arena.codabench.programs.ProgramTask"
        and not any(matches(module_name(path), prefix) for prefix in allowed)
    ]


def test_nothing_outside_codabench_holds_a_program_task_by_name():
    files = [p for top in ("arena", "leaderboard", "baselines") for p in (ROOT / top).rglob("*.py")]
    assert program_task_imports(files) == []


def task_kind_checks(files: list[Path]) -> list[str]:
    """``isinstance`` tests against a kind of task (a bundle's MetricTask or a Codabench ProgramTask) outside
    arena/codabench and arena/tasks.py: elsewhere a task's kind shows only through the interface's members."""
    allowed = ("arena.codabench", "arena.tasks")
    found = []
    for path in files:
        if any(matches(module_name(path), prefix) for prefix in allowed):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
                named = {n.id if isinstance(n, ast.Name) else getattr(n, "attr", "") for n in ast.walk(node.args[1])}
                if named & {"MetricTask", "ProgramTask"}:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} asks which kind of task it holds")
    return found


def test_nothing_outside_codabench_asks_which_kind_of_task_it_holds():
    files = [p for top in ("arena", "leaderboard", "baselines") for p in (ROOT / top).rglob("*.py")]
    assert task_kind_checks(files) == []


def test_the_task_kind_check_sees_an_isinstance_test():
    probes = {
        "arena/server/_probe_kind.py": "def f(task):\n    return isinstance(task, (str, metric_task.MetricTask))\n",
        "arena/codabench/_probe_kind.py": "def f(task):\n    return isinstance(task, ProgramTask)\n",
    }
    with probing(probes) as paths:
        found = task_kind_checks(paths)
    assert found == ["arena/server/_probe_kind.py:2 asks which kind of task it holds"]


def test_the_program_task_check_sees_an_import_inside_a_function():
    probes = {
        "arena/server/_probe_program.py": "def f():\n    from arena.codabench.programs import ProgramTask\n",
        "arena/codabench/_probe_program.py": "from arena.codabench.programs import ProgramTask\n",
    }
    with probing(probes) as paths:
        found = program_task_imports(paths)
    assert found == ["arena/server/_probe_program.py:2 imports arena.codabench.programs.ProgramTask"]


CHECK = """
import sys
import {modules}
print(sorted(name for name in ("flask", "jax", "flax", "sqlalchemy", "leaderboard", "baselines", "numba") if name in sys.modules))
"""


def loaded_after_import(modules: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(modules=modules)], capture_output=True, text=True, check=True
    )
    return ast.literal_eval(result.stdout)


def test_scoring_a_file_loads_no_database_no_web_and_no_jax():
    assert loaded_after_import("arena, arena.tasks, arena.scoring.score, arena.intervals.confidence") == []


def test_the_server_layer_loads_neither_the_web_nor_jax():
    assert loaded_after_import("arena.server.jobs, arena.server.standings, arena.server.uploads") == ["sqlalchemy"]


def test_the_leaderboard_never_loads_jax_or_the_baselines():
    assert loaded_after_import("leaderboard") == ["flask", "leaderboard", "sqlalchemy"]


def _shipped_folders() -> set[str]:
    """Every folder of the tree that ships: the packages' own, their data folders, and tasks/ as arena.builtin_tasks."""
    root = ROOT
    found = set()
    for top, name in (("arena", "arena"), ("leaderboard", "leaderboard"), ("baselines", "baselines")):
        for folder in [root / top, *(root / top).rglob("*")]:
            if folder.is_dir() and "__pycache__" not in folder.parts and any(p.is_file() for p in folder.iterdir()):
                found.add(".".join([name, *folder.relative_to(root / top).parts]))
    for folder in [root / "tasks", *(root / "tasks").rglob("*")]:
        if folder.is_dir() and "__pycache__" not in folder.parts:
            found.add(".".join(["arena.builtin_tasks", *folder.relative_to(root / "tasks").parts]))
    return found


def test_every_folder_that_ships_is_listed_as_a_package():
    """A folder missing from pyproject's packages is left out of the wheel (or installed with a warning)."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert _shipped_folders() == listed
