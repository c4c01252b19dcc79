"""The test suite itself: every test checks something, and the markers it relies on are declared."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# Calls that check by themselves: pytest's (raises, warns, fail), numpy's and pandas' assert_*, Playwright's expect().
CHECKING_PREFIXES = ("assert", "check", "expect")
CHECKING_NAMES = {"raises", "warns", "deprecated_call", "fail"}


def called_name(call: ast.Call) -> str:
    """``f`` for ``f(...)`` and for ``a.b.f(...)``; "" for anything else."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def checks_directly(function: ast.AST, helpers: set[str]) -> bool:
    """Whether ``function`` holds an assert, a raise of AssertionError, or a call that checks."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Raise) and node.exc is not None and "AssertionError" in ast.unparse(node.exc):
            return True
        if isinstance(node, ast.Call):
            name = called_name(node)
            if name.startswith(CHECKING_PREFIXES) or name in CHECKING_NAMES or name in helpers:
                return True
    return False


def parsed_test_files() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text(), filename=str(path)) for path in sorted(TESTS.glob("*.py"))}


def checking_helpers(modules: dict[Path, ast.Module]) -> set[str]:
    """Names of the suite's own helpers that check: module-level functions and methods of module-level classes
    (``wait_for``, ``People.login``, ``report``) that assert themselves. Nested functions do not count: their
    short names (``attempt``, ``send``) would vouch for unrelated calls elsewhere."""
    functions = [node for module in modules.values() for node in module.body if isinstance(node, ast.FunctionDef)]
    functions += [
        node
        for module in modules.values()
        for cls in module.body
        if isinstance(cls, ast.ClassDef)
        for node in cls.body
        if isinstance(node, ast.FunctionDef)
    ]
    return {f.name for f in functions if not f.name.startswith("test") and checks_directly(f, set())}


def unchecked_tests() -> list[str]:
    modules = parsed_test_files()
    helpers = checking_helpers(modules)
    return [
        f"{path.name}:{node.lineno} {node.name}"
        for path, module in modules.items()
        if path.name.startswith("test_")
        for node in ast.walk(module)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test")
        and not checks_directly(node, helpers)
    ]


def test_every_test_checks_something():
    assert unchecked_tests() == [], "these tests would pass whatever the code did: make them assert"


def test_the_scan_tells_a_test_that_checks_from_one_that_does_not():
    module = ast.parse(
        "def test_quiet(x):\n    x.run()\n\n"
        "def test_loud(x):\n    assert x.run()\n\n"
        "def test_raising(x):\n    with pytest.raises(ValueError):\n        x.run()\n\n"
        "def test_by_helper(x):\n    wait_for(x.ready)\n"
    )
    verdicts = {node.name: checks_directly(node, {"wait_for"}) for node in module.body}
    assert verdicts == {"test_quiet": False, "test_loud": True, "test_raising": True, "test_by_helper": True}


def test_the_slow_marker_is_registered(pytestconfig):
    declared = [line.split(":", 1)[0].strip() for line in pytestconfig.getini("markers")]
    assert "slow" in declared, "pyproject.toml declares the 'slow' marker that `pytest -m 'not slow'` relies on"
