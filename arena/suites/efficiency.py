"""What a model costs, and a board ordered by a weighing of its score against those costs.

Four quantities describe a model's cost: its parameter count, its training time (seconds, summed over the suite's
tasks), its inference time (seconds per 1,000 test rows predicted) and its peak memory (MB). Each is either
*measured*, by the run record (``[run]``) of a reference run made with ``arena baseline --suite``, or *reported*, as
the model card declares it (``parameters``, ``training_seconds``, ``inference_seconds_per_1000_rows``,
``peak_memory_mb``), or missing. A page shows which, so a reader never takes a declared number for a measured one.

A version entered as code (a program per task, which Arena runs on the test inputs) carries what those runs
measured (:class:`MeasuredRuns`: wall and CPU seconds summed over the tasks, the largest peak memory, and each task's
own). Where every task was such a run, its inference time and peak memory are those measurements, marked measured;
where only some were, the card's numbers stay and the runs say they are partial: a sum over some tasks is never
passed off as the model's cost.

:func:`utilities` is the utility-weighted view, in the spirit of Dynabench's Dynascore: a reader weighs the suite's
aggregate against the costs and sees the order change. :func:`utility_weights` reads the weights from a query
string, so a view can be shared as a link.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from arena.errors import ArenaError, Problem

QUANTITIES = ("parameters", "training", "inference", "memory")
"""The costs, by the names a utility view's weights use."""
CARD_KEYS = {
    "parameters": "parameters",
    "training": "training_seconds",
    "inference": "inference_seconds_per_1000_rows",
    "memory": "peak_memory_mb",
}
"""Each cost's key, the same in a model card (reported) and in a reference run's record (measured)."""
TITLES = {
    "parameters": "Parameters",
    "training": "Training time",
    "inference": "Inference per 1,000 rows",
    "memory": "Peak memory",
}
SMALLEST = {"parameters": 1.0, "training": 0.001, "inference": 0.001, "memory": 1.0}
"""A cost below this counts as this on the log scale: a zero is the cheapest there is without being infinitely cheap."""
WEIGHTS = ("accuracy", *QUANTITIES)
DEFAULT_WEIGHTS = {"accuracy": 1.0, **dict.fromkeys(QUANTITIES, 0.0)}
"""The plain board: the aggregate alone."""
MAX_WEIGHT = 1000.0


class WeightError(ArenaError):
    """The weights of a utility view cannot be read."""

    headline = "The utility weights are not valid"


@dataclass(frozen=True)
class Cost:
    """One cost of one model: its value and where it comes from (``measured``, ``reported``; None when missing)."""

    value: float | None = None
    source: str | None = None


@dataclass(frozen=True)
class TaskRun:
    """What Arena measured running a model's program on one task's test inputs."""

    wall_seconds: float
    cpu_seconds: float | None
    peak_memory_mb: float | None
    test_rows: int | None = None


@dataclass(frozen=True)
class MeasuredRuns:
    """What Arena measured running a version's programs: over the ``measured`` tasks of the suite's ``tasks``, the
    wall and CPU seconds summed and the largest peak memory; ``runs`` by task key. ``complete`` when every task was
    a measured run: only then do they stand for the model's costs (``partial`` otherwise)."""

    tasks: int
    measured: int
    complete: bool
    wall_seconds: float | None
    cpu_seconds: float | None
    peak_memory_mb: float | None
    runs: dict[str, TaskRun]

    def shown(self) -> str:
        """As a page shows it: "12.3 s wall · 10.1 s CPU · 300 MB peak, measured on 2 of 2 tasks"."""
        parts = [f"{_seconds(self.wall_seconds)} wall"] if self.wall_seconds is not None else []
        if self.cpu_seconds is not None:
            parts.append(f"{_seconds(self.cpu_seconds)} CPU")
        if self.peak_memory_mb is not None:
            parts.append(f"{self.peak_memory_mb:,.1f} MB peak")
        where = f"measured on {self.measured} of {self.tasks} tasks"
        if not self.complete:
            where += " (partial: the card's costs stand)"
        return " · ".join(parts) + (", " if parts else "") + where


def measured_runs(keys: Sequence[str], runs: Mapping[str, TaskRun]) -> MeasuredRuns | None:
    """The runs of one version over the suite's task ``keys`` (``runs``: the tasks Arena ran and measured); None
    when Arena measured none of them. Measurements that are not finite numbers of 0 or more are left out."""
    kept = {key: run for key in keys if (run := runs.get(key)) is not None and _amount(run.wall_seconds) is not None}
    if not kept:
        return None
    cpu = [_amount(run.cpu_seconds) for run in kept.values()]
    memory = [value for run in kept.values() if (value := _amount(run.peak_memory_mb)) is not None]
    return MeasuredRuns(
        tasks=len(keys),
        measured=len(kept),
        complete=len(kept) == len(keys),
        wall_seconds=round(sum(float(run.wall_seconds) for run in kept.values()), 3),
        cpu_seconds=None if any(value is None for value in cpu) else round(sum(v for v in cpu if v is not None), 3),
        peak_memory_mb=max(memory) if len(memory) == len(kept) else None,
        runs=kept,
    )


def _seconds(value: float) -> str:
    return f"{value:,.3g} s" if value < 100 else f"{value:,.0f} s"


@dataclass(frozen=True)
class Efficiency:
    """A model's four costs (see :data:`QUANTITIES`)."""

    parameters: Cost
    training: Cost
    inference: Cost
    memory: Cost

    def cost(self, quantity: str) -> Cost:
        return getattr(self, quantity)

    def shown(self, quantity: str) -> str:
        """One cost as a page shows it, with its source: "93,962 (measured)", "12.3 s (reported)", "—"."""
        cost = self.cost(quantity)
        if cost.value is None:
            return "—"
        value = cost.value
        if quantity == "parameters":
            text = f"{value:,.0f}"
        elif quantity == "memory":
            text = f"{value:,.1f} MB"
        else:
            text = _seconds(value)
        return f"{text} ({cost.source})"

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return asdict(self)


def efficiency_of(card: Mapping[str, Any], *, reference: bool, runs: MeasuredRuns | None = None) -> Efficiency:
    """The four costs of a model from its card (as stored: a dict with its ``run`` table, if any), and from the
    runs Arena made of its programs.

    ``reference`` says whether the model is a reference model entered by an organiser (a board's baseline): only
    then does its run record count as *measured*. Anyone can write a ``[run]`` table by hand, so a participant's
    run record counts as what it is, their report, and a number the card declares at its top level comes first.
    A value that is not a finite number of 0 or more counts as missing.

    ``runs`` (:func:`measured_runs`), when every task was one, gives the inference time (the runs' wall seconds
    per 1,000 test rows, over every task) and the peak memory (the largest of the runs'), both *measured*; the
    parameters and the training time stay the card's (a run predicts; it does not say what training cost).
    Partial runs change no cost: a page shows them beside the card's, marked partial.
    """
    run = card.get("run")
    run = run if isinstance(run, Mapping) else {}
    costs = {}
    for quantity in QUANTITIES:
        key = CARD_KEYS[quantity]
        measured, declared = _amount(run.get(key)), _amount(card.get(key))
        if reference and measured is not None:
            costs[quantity] = Cost(measured, "measured")
        elif declared is not None:
            costs[quantity] = Cost(declared, "reported")
        elif measured is not None:
            costs[quantity] = Cost(measured, "reported")
        else:
            costs[quantity] = Cost()
    if runs is not None and runs.complete:
        rows = [run.test_rows for run in runs.runs.values()]
        if runs.wall_seconds is not None and all(rows) and sum(r or 0 for r in rows) > 0:
            costs["inference"] = Cost(1000.0 * runs.wall_seconds / sum(r or 0 for r in rows), "measured")
        if runs.peak_memory_mb is not None:
            costs["memory"] = Cost(runs.peak_memory_mb, "measured")
    return Efficiency(**costs)


def _amount(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def utilities(
    aggregates: Sequence[float | None],
    efficiencies: Sequence[Efficiency],
    weights: Mapping[str, float],
    *,
    higher_is_better: bool = True,
) -> list[float | None]:
    """Each model's utility: its aggregate weighed against its costs; None for a model that cannot be placed.

    Dynabench's Dynascore (Ma et al., 2021, "Dynaboard") puts every metric in units of performance with its
    *average marginal rate of substitution*: how much performance the models on the board give up, on average,
    per unit of that metric, estimated from the models themselves. Then a weighted mean of the converted metrics,
    costs counting against, is the score; a user who changes the weights sees the order change.

    Arena keeps the idea and makes the conversion simpler, and stable with a handful of models, where a rate
    estimated from the pool swings with every model entered (and is undefined when the models do not differ):

    - accuracy is the aggregate as it stands, already on the suite's scale (0 = the trivial submission, 1 = the
      ceiling); a lower-is-better aggregate (a mean rank ``r`` among the ``n`` models placed) becomes
      ``(n - r) / (n - 1)``, the share of the others a model beats (1 when it is alone);
    - each cost is put on a 0 to 1 scale across the models placed, on a log scale (a model 10 times larger is as
      much costlier at any size): 0 is the cheapest, 1 the costliest; when one model alone has it, or all have
      the same, it is 0 for each;
    - ``utility = (w_accuracy * accuracy - sum_k w_k * cost_k) / (w_accuracy + sum_k w_k)``.

    So equal weights on accuracy and on parameters say that going from the trivial submission to the ceiling is
    worth as much as going from the smallest model shown to the largest. Dividing by the weights' sum changes no
    order; it keeps utilities of different weightings on one scale.

    A model is placed when it has an aggregate and a value for every cost whose weight is not 0; a cost left out
    of ``weights`` weighs 0.

    >>> small = Efficiency(Cost(1e3, "measured"), Cost(), Cost(), Cost())
    >>> large = Efficiency(Cost(1e6, "measured"), Cost(), Cost(), Cost())
    >>> utilities([0.8, 0.9], [small, large], {"accuracy": 1, "parameters": 1})
    [0.4, -0.05]
    """
    weight = {name: float(weights.get(name, 0.0)) for name in WEIGHTS}
    total = sum(weight.values())
    if len(aggregates) != len(efficiencies):
        raise ValueError("one efficiency per aggregate")
    if not total > 0:
        raise ValueError("the weights must add up to more than 0")
    weighed = [quantity for quantity in QUANTITIES if weight[quantity] > 0]
    placed = [
        i
        for i, value in enumerate(aggregates)
        if value is not None
        and math.isfinite(value)
        and all(efficiencies[i].cost(quantity).value is not None for quantity in weighed)
    ]
    result: list[float | None] = [None] * len(aggregates)
    if not placed:
        return result
    accuracy = np.array([aggregates[i] for i in placed], dtype=np.float64)
    if not higher_is_better:
        n = len(placed)
        accuracy = (n - accuracy) / (n - 1) if n > 1 else np.ones(n)
    utility = weight["accuracy"] * accuracy
    for quantity in weighed:
        values = np.array([efficiencies[i].cost(quantity).value for i in placed], dtype=np.float64)
        utility -= weight[quantity] * cost_scale(values, SMALLEST[quantity])
    for i, value in zip(placed, utility / total):
        result[i] = round(float(value), 12)
    return result


def cost_scale(values: np.ndarray, smallest: float) -> np.ndarray:
    """Costs on a 0 (cheapest) to 1 (costliest) log scale; all 0 when they do not differ (or there is one)."""
    logs = np.log(np.maximum(values, smallest))
    low, high = float(logs.min()), float(logs.max())
    if high - low <= 1e-12:
        return np.zeros_like(logs)
    return (logs - low) / (high - low)


def utility_weights(args: Mapping[str, str]) -> dict[str, float]:
    """The weights of a utility view from a query string (``?accuracy=1&parameters=0.2``).

    Each of :data:`WEIGHTS` is a number from 0 to :data:`MAX_WEIGHT`; one not given (or left blank) takes its
    default (:data:`DEFAULT_WEIGHTS`: accuracy 1, the costs 0). Only their ratios matter, and at least one must be
    above 0. :class:`WeightError` names every wrong one at once.
    """
    problems: list[Problem] = []
    weights = dict(DEFAULT_WEIGHTS)
    for key in args:
        if key not in WEIGHTS:
            close = difflib.get_close_matches(key, WEIGHTS, n=1)
            hint = f"Did you mean '{close[0]}'?" if close else f"The weights are: {', '.join(WEIGHTS)}."
            problems.append(Problem(f"weight '{_quoted(key)}'", f"is not a weight. {hint}"))
            continue
        text = (args.get(key) or "").strip()
        if not text:
            continue
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not 0 <= value <= MAX_WEIGHT:
            problems.append(
                Problem(
                    f"weight '{key}'",
                    f"must be a number from 0 to {MAX_WEIGHT:g}, got '{_quoted(text)}'. "
                    f"Write e.g. {key}=0.5; only the weights' ratios matter.",
                )
            )
            continue
        weights[key] = value
    if not problems and not sum(weights.values()) > 0:
        problems.append(Problem("weights", "are all 0: give at least one a weight above 0, e.g. accuracy=1."))
    if problems:
        raise WeightError(problems)
    return weights


def _quoted(text: str) -> str:
    """A user's text as a message repeats it: its start only."""
    return text if len(text) <= 40 else text[:40] + "…"
