"""A seeded ListOps generator in the manner of the Long Range Arena (Tay et al., 2021).

Each example is a nested list of operations on digits, written as tokens, e.g.
``[MAX 2 9 [MIN 4 7 ] 0 ]`` whose value (0-9) is the label. Solving it needs the
hierarchical structure of the whole sequence, which bag-of-words models cannot see.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _median(args: list[int]) -> int:
    """The median rounded down (the mean of the two middle values when their number is even)."""
    ordered = sorted(args)
    return (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) // 2


OPERATORS: dict[str, Callable[[list[int]], int]] = {
    "[MIN": min,
    "[MAX": max,
    "[MED": _median,
    "[SM": lambda args: sum(args) % 10,
}
OPERATOR_NAMES = tuple(OPERATORS)
VOCABULARY = OPERATOR_NAMES + ("]",) + tuple(str(d) for d in range(10))
DIGITS = tuple(str(d) for d in range(10))


def _expression(rng: np.random.Generator, depth: int, max_depth: int, max_args: int, tokens: list[str]) -> int:
    """Append a random expression's tokens to ``tokens`` and return its value.

    A digit, or an operator applied to 2..max_args sub-expressions; the deeper, the
    likelier a digit.
    """
    if depth >= max_depth or (depth > 0 and rng.random() < 0.25 + 0.15 * depth):
        digit = int(rng.integers(10))
        tokens.append(DIGITS[digit])
        return digit
    operator = OPERATOR_NAMES[int(rng.integers(len(OPERATOR_NAMES)))]
    tokens.append(operator)
    values = [
        _expression(rng, depth + 1, max_depth, max_args, tokens) for _ in range(int(rng.integers(2, max_args + 1)))
    ]
    tokens.append("]")
    return OPERATORS[operator](values)


def evaluate(tokens: list[str]) -> int:
    """The value of a token sequence, computed with a stack."""
    stack: list[list] = [[]]
    for token in tokens:
        if token in OPERATORS:
            stack.append([token])
        elif token == "]":
            operator, *args = stack.pop()
            stack[-1].append(OPERATORS[operator](args))
        else:
            stack[-1].append(int(token))
    (value,) = stack[0]
    return int(value)


def generate(
    n: int, *, seed: int, max_depth: int = 4, max_args: int = 5, min_length: int = 8, max_length: int = 64
) -> tuple[list[str], np.ndarray]:
    """``n`` distinct expressions (space-separated tokens) and their values, reproducibly from ``seed``.

    The first ``k`` expressions of ``generate(n)`` are those of ``generate(k)`` with the same arguments.
    """
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    labels: list[int] = []
    seen: set[str] = set()
    while len(texts) < n:
        tokens: list[str] = []
        value = _expression(rng, 0, max_depth, max_args, tokens)
        text = " ".join(tokens)
        if min_length <= len(tokens) <= max_length and text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(value)
    return texts, np.asarray(labels, dtype=np.int64)
