"""The answers file Arena publishes at the reveal: the exact bytes its test-set commitment hashed.

At launch a competition publishes ``SHA-256(salt + "\\n" + answers.csv)`` (see
:func:`arena.server.competitions.commitment_of`); at the reveal it publishes the salt and this file, so anyone
can recompute the hash from the download with their own tools, on any machine, and compare it with the one
published before any submission was scored. Before the reveal nothing of it is served to anyone.
"""

from __future__ import annotations

from arena.bundles.loading import answer_key_csv
from arena.db.models import Competition
from arena.server.competitions import CompetitionError, task_of

FILE_NAME = "answers.csv"


class NotRevealed(CompetitionError):
    headline = "Not published yet"


def published(competition: Competition) -> bytes:
    """The answers file of a revealed competition: id and target columns (and ``usage``, lower case, where
    the organiser's answers say which rows are public), sorted by id, ``\\n`` line ends."""
    if not competition.revealed:
        raise NotRevealed(
            f"the answers of '{competition.slug}' are published when its private leaderboard is revealed."
        )
    task = task_of(competition)
    return answer_key_csv(task.answers, task.spec)
