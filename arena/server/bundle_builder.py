"""Build a task bundle from an organiser's uploaded CSVs (train, test, answers, and optionally their own sample
submission) and the choices of a form."""

from __future__ import annotations

import json
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from arena.bundles.spec import KINDS, PREDICTIONS
from arena.config import arena_home
from arena.errors import ArenaError, BundleError
from arena.metrics.registry import METRICS
from arena.scoring.metric_task import MetricTask
from arena.tasks import load_bundle_task

FILES = ("train", "test", "answers")
OPTIONAL_FILES = ("sample_submission",)
"""Files the organiser may add: their own sample submission is offered for download instead of a trivial one."""
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
NAME_RULE = "the task's name must be 1-63 letters, digits, '-' or '_', starting with a letter or digit (no spaces)."


class BuilderError(ArenaError):
    headline = "The task cannot be built"


@dataclass(frozen=True)
class Choices:
    """What the Host page's form chose: the task's name, its columns, metric and submission format, and rules."""

    name: str
    title: str
    kind: str = "classification"
    id_column: str = "id"
    target: str = "label"
    metric: str = "accuracy"
    others: tuple[str, ...] = ()
    prediction: str = "label"
    public_fraction: float = 0.3
    daily_limit: int = 5
    final_selections: int = 2
    description: str = ""

    def problems(self) -> list[str]:
        return [message for messages in self.field_problems().values() for message in messages]

    def field_problems(self) -> dict[str, list[str]]:
        """What is wrong with each choice, by the form field it came from (a form shows each beside its field)."""
        found: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            found.setdefault(field, []).append(message)

        if not NAME.match(self.name or ""):
            add("name", NAME_RULE)
        if self.kind not in KINDS:
            add("kind", f"the kind must be one of: {', '.join(KINDS)}.")
        if self.prediction not in PREDICTIONS:
            add("prediction", f"the submission format must be one of: {', '.join(PREDICTIONS)}.")
        for field, metric in (("metric", self.metric), *(("others", other) for other in self.others)):
            if metric not in METRICS:
                add(field, f"'{metric}' is not a metric; metrics are: {', '.join(METRICS)}.")
        if not self.id_column.strip():
            add("id_column", "name the id column.")
        if not self.target.strip():
            add("target", "name the target column.")
        return found


def toml_text(choices: Choices) -> str:
    """task.toml for the chosen task (strings written as JSON strings, which TOML reads alike)."""
    q = json.dumps
    return "\n".join(
        [
            f"name = {q(choices.name)}",
            f"title = {q(choices.title or choices.name)}",
            "version = 1",
            f"kind = {q(choices.kind)}",
            "",
            "[data]",
            'train = "train.csv"',
            'test = "test.csv"',
            'answers = "answers.csv"',
            f"id = {q(choices.id_column)}",
            f"target = {q(choices.target)}",
            "",
            "[metrics]",
            f"primary = {q(choices.metric)}",
            f"others = [{', '.join(q(o) for o in choices.others)}]",
            "",
            "[submission]",
            f"prediction = {q(choices.prediction)}",
            "",
            "[competition]",
            f"public_fraction = {float(choices.public_fraction)}",
            f"daily_limit = {int(choices.daily_limit)}",
            f"final_selections = {int(choices.final_selections)}",
            "",
        ]
    )


def build(files: dict[str, Path], choices: Choices) -> Path:
    """A new bundle folder under ARENA_HOME/bundles/built/ holding task.toml, the three CSVs (and the organiser's
    sample_submission.csv when given, which the bundle then offers and checks) and a README."""
    problems = choices.problems() + [f"upload the {part} file (CSV)." for part in FILES if files.get(part) is None]
    if problems:
        raise BuilderError(problems)
    root = (arena_home() / "bundles" / "built").resolve()
    folder = root / f"{choices.name}-{secrets.token_hex(6)}"
    folder.mkdir(parents=True)
    for part in (*FILES, *OPTIONAL_FILES):
        if files.get(part) is not None:
            shutil.copyfile(files[part], folder / f"{part}.csv")
    (folder / "task.toml").write_text(toml_text(choices), encoding="utf-8")
    (folder / "README.md").write_text(choices.description or f"# {choices.title or choices.name}\n", encoding="utf-8")
    return folder


def preview(folder: Path) -> tuple[MetricTask | None, list[str]]:
    """The validated task, or every problem found in the bundle, said without the server's folders (a built bundle
    is a task.toml bundle: the preview shows its rows, classes and submission columns)."""
    try:
        return load_bundle_task(folder), []
    except BundleError as exc:
        return None, [
            message.replace(str(folder) + "/", "").replace(str(folder), "the bundle") for message in exc.messages()
        ]


def built_folder(token: str) -> Path:
    """A bundle this builder made, by its folder name (anything else is refused)."""
    root = (arena_home() / "bundles" / "built").resolve()
    folder = (root / token).resolve()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", token or "") or folder.parent != root or not folder.is_dir():
        raise BuilderError("that built task is gone; build it again from the CSVs.")
    return folder
