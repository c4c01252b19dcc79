"""No two modules of the server layer import each other in a circle (an import inside a function counts)."""

from __future__ import annotations

import ast
from pathlib import Path

SERVER = Path(__file__).resolve().parent.parent / "arena" / "server"


def server_imports() -> dict[str, set[str]]:
    """Each server module's name and the server modules it imports, anywhere in its source."""
    names = {path.stem for path in SERVER.glob("*.py")}
    graph = {}
    for path in SERVER.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "arena.server":
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("arena.server."):
                found.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[2] for alias in node.names if alias.name.startswith("arena.server.")}
        graph[path.stem] = (found & names) - {path.stem}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import path that leads from a module back to itself, found by a depth-first walk."""
    found, done = [], set()

    def walk(name: str, path: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in path:
                found.append(path[path.index(target) :] + [target])
            elif target not in done:
                walk(target, path + [target])
        done.add(name)

    for name in sorted(graph):
        walk(name, [name])
    return found


def test_no_server_modules_import_each_other_in_a_circle():
    assert circles(server_imports()) == []


def test_the_checker_sees_a_circle_closed_by_an_import_inside_a_function():
    assert circles({"jobs": {"rank_worker"}, "rank_worker": {"jobs"}}) == [["jobs", "rank_worker", "jobs"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
