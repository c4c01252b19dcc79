"""A seeded ListOps generator in the manner of the Long Range Arena (Tay et al., 2021).

Each example is a nested list of operations on digits, written as tokens, e.g.
``[MAX 2 9 [MIN 4 7 ] 0 ]`` whose value (0-9) is the label. Solving it needs the
hierarchical structure of the whole sequence, which bag-of-words models cannot see.
"""

from __future__ import annotations

import numpy as np

OPERATORS = {
    "[MIN": lambda args: min(args),
    "[MAX": lambda args: max(args),
    "[MED": lambda args: int(np.median(args)),
    "[SM": lambda args: sum(args) % 10,
}
OPERATOR_NAMES = tuple(OPERATORS)
VOCABULARY = OPERATOR_NAMES + ("]",) + tuple(str(d) for d in range(10))


def _tree(rng: np.random.Generator, depth: int, max_depth: int, max_args: int) -> list[str] | str:
    """A random expression: a digit, or an operator applied to 2..max_args sub-expressions."""
    if depth >= max_depth or (depth > 0 and rng.random() < 0.25 + 0.15 * depth):
        return str(int(rng.integers(10)))
    operator = OPERATOR_NAMES[int(rng.integers(len(OPERATOR_NAMES)))]
    args = [_tree(rng, depth + 1, max_depth, max_args) for _ in range(int(rng.integers(2, max_args + 1)))]
    return [operator, *args]


def _tokens(tree: list | str) -> list[str]:
    if isinstance(tree, str):
        return [tree]
    return [tree[0], *(token for arg in tree[1:] for token in _tokens(arg)), "]"]


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


def generate(n: int, *, seed: int, max_depth: int = 4, max_args: int = 5,
             min_length: int = 8, max_length: int = 64) -> tuple[list[str], np.ndarray]:
    """``n`` distinct expressions (space-separated tokens) and their values, reproducibly from ``seed``."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < n:
        tokens = _tokens(_tree(rng, 0, max_depth, max_args))
        text = " ".join(tokens)
        if min_length <= len(tokens) <= max_length and text not in seen:
            seen.add(text)
            texts.append(text)
    labels = np.array([evaluate(text.split()) for text in texts], dtype=np.int64)
    return texts, labels
