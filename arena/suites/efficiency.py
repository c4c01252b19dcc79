"""What a model costs, and a board ordered by a weighing of its score against those costs.

Four quantities describe a model's cost: its parameter count, its training time (seconds, summed over the suite's
tasks), its inference time (seconds per 1,000 test rows predicted) and its peak memory (MB). Each is either
*measured*, by the run record (``[run]``) of a reference run made with ``arena baseline --suite``, or *reported*, as
the model card declares it (``parameters``, ``training_seconds``, ``inference_seconds_per_1000_rows``,
``peak_memory_mb``), or missing. A page shows which, so a reader never takes a declared number for a measured one.

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
            text = f"{value:,.3g} s" if value < 100 else f"{value:,.0f} s"
        return f"{text} ({cost.source})"

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return asdict(self)


def efficiency_of(card: Mapping[str, Any], *, reference: bool) -> Efficiency:
    """The four costs of a model from its card (as stored: a dict with its ``run`` table, if any).

    ``reference`` says whether the model is a reference model entered by an organiser (a board's baseline): only
    then does its run record count as *measured*. Anyone can write a ``[run]`` table by hand, so a participant's
    run record counts as what it is, their report, and a number the card declares at its top level comes first.
    A value that is not a finite number of 0 or more counts as missing.
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
