"""Metric plugins: an organiser's Python metrics, declared in ``task.toml`` and shipped in the bundle.

A declaration (name, direction, the prediction it needs, the file and function) is
all that pages and hosting read: the plugin's code is imported only by
:func:`plugin_metrics`, which only scoring (the worker, ``arena score``) calls.
A plugin that raises or returns a number that is not finite raises
:class:`PluginError`: a failure of the installation, never of the participant.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from arena.errors import ArenaError, Problem

PLUGIN_NEEDS = ("label", "probabilities", "value", "ranking", "text", "table")
DEFAULT_FILE = "metrics.py"


class PluginError(ArenaError):
    """An organiser's metric plugin failed; the problem holds its traceback (for the organiser only)."""

    headline = "A metric plugin of the task failed"


@dataclass(frozen=True)
class PluginSpec:
    """A plugin as ``task.toml`` declares it: ``[[metrics.plugin]]``."""

    name: str
    direction: str
    needs: str
    file: Path
    function: str | None
    confusion: str | None = None

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"


def read_plugins(raw: object, bundle: Path, problem: Callable[[str, str], None]) -> tuple[PluginSpec, ...]:
    """Validate the ``[[metrics.plugin]]`` tables, calling ``problem(key, message)`` for each fault."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        problem("metrics.plugin", "declare each plugin in its own [[metrics.plugin]] table.")
        return ()
    out, seen = [], set()
    allowed = {"name", "direction", "needs", "file", "function", "confusion"}
    for i, entry in enumerate(raw):
        key = f"metrics.plugin.{i + 1}"
        for extra in sorted(set(entry) - allowed):
            problem(key, f"unknown key '{extra}'. Keys allowed: {', '.join(sorted(allowed))}.")
        name, direction, needs = entry.get("name"), entry.get("direction"), entry.get("needs")
        file, confusion = entry.get("file", DEFAULT_FILE), entry.get("confusion")
        function = entry.get("function", name if confusion is None else None)
        if not isinstance(name, str) or not name or not all(c.isalnum() or c in "_-@" for c in name):
            problem(key, "needs name = \"...\" (letters, digits, '_', '-', '@'): the name [metrics] uses.")
            continue
        from arena.metrics.registry import is_known

        if is_known(name):
            problem(key, f"'{name}' is a built-in metric; give the plugin another name.")
        if name in seen:
            problem(key, f"'{name}' is declared twice.")
        seen.add(name)
        if direction not in ("max", "min"):
            problem(key, f'plugin \'{name}\' needs direction = "max" (higher is better) or "min" (lower is better).')
        if needs not in PLUGIN_NEEDS:
            problem(
                key, f"plugin '{name}' needs needs = one of: {', '.join(PLUGIN_NEEDS)} (what its function receives)."
            )
        for label, value in (("function", function), ("confusion", confusion)):
            if value is not None and (not isinstance(value, str) or not value.isidentifier()):
                problem(key, f"{label} must be the name of a Python function in {file}, got {value!r}.")
        if confusion is not None and needs != "label":
            problem(key, f"plugin '{name}': a confusion-matrix form needs needs = \"label\".")
        path = (bundle / str(file)).resolve()
        if not str(file).endswith(".py") or bundle.resolve() not in path.parents:
            problem(key, f"file '{file}' must be a .py file inside the bundle folder.")
        elif not path.is_file():
            problem(key, f"file '{file}' does not exist in {bundle}.")
        out.append(
            PluginSpec(
                name,
                str(direction),
                str(needs),
                path,
                function if isinstance(function, str) else None,
                confusion if isinstance(confusion, str) else None,
            )
        )
    return tuple(out)


def _module(path: Path):
    """Import a bundle's plugin file under a name unique to its content (editing it loads the new code)."""
    data = path.read_bytes()
    name = f"arena_plugin_{hashlib.sha256(data + str(path).encode()).hexdigest()[:16]}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise PluginError([Problem(path.name, "could not be imported: Python finds no loader for it.")])
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise PluginError([Problem(path.name, f"could not be imported:\n{traceback.format_exc()}")]) from exc
        sys.modules[name] = module
    return sys.modules[name]


def _where(plugin: PluginSpec, function: Callable) -> str:
    return f"plugin '{plugin.name}' ({plugin.file.name}:{getattr(function, '__name__', '?')})"


def _guarded(plugin: PluginSpec, function: Callable, weighted: bool) -> Callable:
    """``function`` made to raise :class:`PluginError` when it raises or returns something that is not a number.

    A NaN is passed on: in a bootstrap resample it counts as undefined; scoring refuses
    a point value that is not finite (:func:`check_value`).
    """

    def call(*args, weight=None):
        try:
            value = function(*args, weight=weight) if weighted and weight is not None else function(*args)
        except Exception as exc:
            raise PluginError([Problem(_where(plugin, function), f"raised:\n{traceback.format_exc()}")]) from exc
        if not _numeric(value) or np.ndim(value) != 0:
            raise PluginError(
                [Problem(_where(plugin, function), f"returned {value!r:.200}; a metric returns one number.")]
            )
        return float(value)

    call.takes_weight = weighted  # type: ignore[attr-defined]  # read through getattr by arena.intervals.weighted
    return call


def _per_matrix(confusion: Callable) -> Callable:
    """A ``(k, k)`` -> number function applied to a stack of matrices ``(..., k, k)``, as the bootstrap needs."""

    def call(cm: np.ndarray):
        if cm.ndim == 2:
            return confusion(cm)
        flat = cm.reshape(-1, *cm.shape[-2:])
        return np.array([confusion(m) for m in flat]).reshape(cm.shape[:-2])

    return call


def check_value(name: str, value: float) -> None:
    """Raise :class:`PluginError` for a plugin's point value that is not a finite number."""
    if not (isinstance(value, float) and math.isfinite(value)):
        raise PluginError(
            [
                Problem(
                    f"plugin '{name}'", f"returned {value!r}; a metric must return a finite number on the scored rows."
                )
            ]
        )


def _numeric(value: object) -> bool:
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes, bool))


def plugin_metrics(plugins: tuple[PluginSpec, ...], *, weighted: bool = False) -> dict:
    """Import the plugins' code and wrap each as a :class:`~arena.metrics.registry.Metric` (scoring only).

    With ``weighted`` (the task has a weight column) each row function must take ``weight=``.
    """
    from arena.metrics.registry import Direction, Metric, Needs

    out = {}
    for plugin in plugins:
        # read_plugins reports any other direction or needs as a problem, and a task with problems never scores
        direction, needs = cast(Direction, plugin.direction), cast(Needs, plugin.needs)
        module = _module(plugin.file)
        missing = [f for f in (plugin.function, plugin.confusion) if f and not callable(getattr(module, f, None))]
        if missing:
            raise PluginError([Problem(plugin.file.name, f"has no function '{missing[0]}' (plugin '{plugin.name}').")])
        if plugin.confusion:
            kwargs = {"from_confusion": _per_matrix(_guarded(plugin, getattr(module, plugin.confusion), False))}
            out[plugin.name] = Metric(plugin.name, direction, needs, ("*",), **kwargs)
            continue
        if plugin.function is None:  # read_plugins names the plugin itself when no confusion form is given
            raise PluginError([Problem(plugin.file.name, f"plugin '{plugin.name}' names no function.")])
        rows = getattr(module, plugin.function)
        if weighted and not _takes_weight(rows):
            raise PluginError(
                [
                    Problem(
                        _where(plugin, rows),
                        "the task has a weight column, so the function must "
                        "accept weight=None (an array with each row's weight).",
                    )
                ]
            )
        out[plugin.name] = Metric(
            plugin.name, direction, needs, ("*",), from_rows=_guarded(plugin, rows, _takes_weight(rows))
        )
    return out


def _takes_weight(function: Callable) -> bool:
    import inspect

    try:
        return "weight" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
