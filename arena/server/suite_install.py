"""The built-in suites at start-up: hosted over the built-in benchmarks, with their reference models entered.

``arena serve`` and ``arena setup`` call :func:`prepare_builtin_suites` after the
built-in tasks are hosted, so a suite reuses their competitions. A suite already
hosted at its version costs one read of its suite.toml, and a reference model
already entered one query: a restart stays fast. Reference models are the
predictions shipped beside a suite (``models/MODEL/card.toml`` and one
``TASK.csv.gz`` per task), entered as baselines by an account of Arena's own, as a
participant's model would be. A reference model that cannot read one of the suite's
tasks (an image model writes no text) has no file for it, and its run record says so
(``run.skipped``): it is entered with the files it has and shown without an
aggregate, as any model missing a task is. A folder missing a file its run record
does not explain is left out.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from arena.db.database import Database
from arena.db.models import SuiteModel, User
from arena.errors import ArenaError
from arena.server import organiser_actions, submissions, suites
from arena.server.accounts import register
from arena.server.teams import name_key, team_for_upload
from arena.suites.cards import ModelCard, load_card
from arena.suites.spec import builtin_suite_names, load_suite

log = logging.getLogger("arena.suites")
REFERENCE_ACCOUNT = suites.REFERENCE_ACCOUNT
"""The organiser account that owns the shipped reference models (its password is random and never shown)."""
SUFFIXES = (".csv.gz", ".csv", ".parquet")


def prepare_builtin_suites(db: Database) -> list[str]:
    """Host every built-in suite and enter its reference models not yet entered; returns the models entered."""
    entered: list[str] = []
    for name in builtin_suite_names():
        try:
            with db.session() as session, session.begin():
                organiser_actions.host_suite(session, None, name, by="Arena")
        except ArenaError as exc:
            log.warning("the built-in suite %s was not hosted:\n%s", name, exc.report())
            continue
        entered += enter_reference_models(db, name)
    return entered


def enter_reference_models(db: Database, suite_name: str, ref: str | Path | None = None) -> list[str]:
    """Enter each reference model shipped with the suite (``ref``: where it was hosted from, by default its
    built-in name) that is not entered yet, as a baseline; returns their names."""
    suite = load_suite(ref or suite_name)
    folder = suite.folder / "models"
    if not folder.is_dir():
        return []
    entered: list[str] = []
    for model_folder in sorted(path for path in folder.iterdir() if path.is_dir()):
        card_path = model_folder / "card.toml"
        try:
            card = load_card(card_path) if card_path.is_file() else None
            found = {key: _predictions(model_folder, key) for key in suite.keys}
            files = {key: path for key, path in found.items() if path is not None}
            skipped = [key for key in suite.keys if key not in files and key in _skipped(card)]
            if card is None or not files or len(files) + len(skipped) < len(suite.keys):
                log.info("reference model %s of suite %s is incomplete: left out", model_folder.name, suite_name)
                continue
            with db.session() as session, session.begin():
                if _entered(session, suite_name, card.name):
                    continue
                account = _reference_account(session)
                if account is None:
                    return entered
                _make_room(session, suite_name, account)
                handles = {key: path.open("rb") for key, path in files.items()}
                try:
                    suites.submit_entry(
                        session,
                        suite_name,
                        account,
                        card,
                        {key: (handle, Path(handle.name).name) for key, handle in handles.items()},
                        is_baseline=True,
                        skipped=skipped,
                    )
                finally:
                    for handle in handles.values():
                        handle.close()
            entered.append(card.name)
        except ArenaError as exc:
            log.warning(
                "reference model %s of suite %s was not entered:\n%s", model_folder.name, suite_name, exc.report()
            )
    return entered


def _predictions(folder: Path, key: str) -> Path | None:
    return next((folder / f"{key}{suffix}" for suffix in SUFFIXES if (folder / f"{key}{suffix}").is_file()), None)


def _skipped(card: ModelCard | None) -> list[str]:
    """The tasks the card's run record says its model did not train on, because it cannot read them."""
    skipped = ((card.run if card is not None else None) or {}).get("skipped") or []
    return [key for key in skipped if isinstance(key, str)]


def _entered(session: Session, suite_name: str, model_name: str) -> bool:
    suite = suites.get_suite(session, suite_name)
    return (
        session.scalar(
            select(SuiteModel.id).where(SuiteModel.suite_id == suite.id, SuiteModel.name_key == name_key(model_name))
        )
        is not None
    )


def _reference_account(session: Session) -> User | None:
    """Arena's own organiser account for reference models, made on first use; None (with a warning) when a
    participant already holds its name, whose account must never enter anything in Arena's name."""
    user = session.scalar(select(User).where(User.username == REFERENCE_ACCOUNT))
    if user is None:
        return register(session, REFERENCE_ACCOUNT, secrets.token_urlsafe(24) + "-Aa1", organiser=True)
    if not user.is_organiser:
        log.warning("the account '%s' is a participant's: reference models are not entered", REFERENCE_ACCOUNT)
        return None
    return user


def _make_room(session: Session, suite_name: str, account: User) -> None:
    """Reference models are entered at start-up, several on one day: the reference account's team in each task's
    competition gets one more slot for the day when it has none left (its own override, never anyone else's)."""
    for _, competition in suites.suite_tasks(session, suites.get_suite(session, suite_name)):
        team = team_for_upload(session, competition, account)
        if submissions.slots_left(session, competition, team) < 1:
            submissions.set_team_daily_limit(session, team, submissions.daily_limit(competition, team) + 1)
