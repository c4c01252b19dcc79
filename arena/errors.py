"""Errors a user sees: each problem says where, what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle or a submission file."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ArenaError(Exception):
    """Base class for errors that carry a list of problems for a person to fix."""

    headline = "Arena could not continue"

    def __init__(self, problems: list[Problem] | list[str] | str) -> None:
        if isinstance(problems, str):
            problems = [problems]
        self.problems = [p if isinstance(p, Problem) else Problem("", p) for p in problems]
        super().__init__(self.report())

    def report(self) -> str:
        """All problems, one per line, under a headline."""
        lines = [f"{self.headline} ({len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}):"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)

    def messages(self) -> list[str]:
        return [str(problem) for problem in self.problems]


class BundleError(ArenaError):
    """A task bundle is broken: the organiser must fix task.toml or its data files."""

    headline = "The task bundle is not valid"


class SubmissionError(ArenaError):
    """A predictions file cannot be scored: the participant must fix the file."""

    headline = "The submission file is not valid"


class UnknownTaskError(ArenaError):
    """No built-in task or bundle folder has that name."""

    headline = "Unknown task"


LISTED = 30
"""How many names a message lists before it says how many more there are."""


def listed(items: Iterable[object], limit: int = LISTED, sep: str = ", ") -> str:
    """Up to ``limit`` names, then "… and K more": a long list of columns stays readable, and a message never
    hides that the name a person looks for may be among those not shown."""
    names = [str(item) for item in items]
    if len(names) <= limit:
        return sep.join(names)
    return sep.join(names[:limit]) + f"{sep}… and {len(names) - limit:,} more"
