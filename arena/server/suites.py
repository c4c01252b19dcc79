"""Suites on the server: hosting a suite's tasks as standing competitions, and entering a model's version.

A suite's tasks are ordinary competitions without an end date: a model's file for
a task is an ordinary submission of its owner's team there, under the same limits
and the same scoring, so a suite adds no second way to score anything. For a task
whose task.toml declares code, the model may give its program instead: that
submission is a code run (checked as a code competition's upload is, run in the
sandbox on the test inputs, then scored as a file), while the task's
competition stays a file competition for everyone else. What a
suite adds is the record of which submissions make up which version of which model
(:class:`arena.db.models.SuiteEntry`); the board over them is
:mod:`arena.server.suite_boards`' job.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from arena.code.uploads import check_code_upload
from arena.db.models import Competition, SuiteEntry, SuiteEntryFile, SuiteModel, SuiteTask, User, utcnow
from arena.db.models import Suite as SuiteRecord
from arena.errors import ArenaError, SubmissionError
from arena.scoring.validation import DEFAULT_MAX_BYTES
from arena.server import accounts, files
from arena.server import submissions as store
from arena.server.competitions import SLUG, CompetitionError, host
from arena.server.snapshots import facts_of
from arena.server.teams import lock, name_key
from arena.suites.cards import MAX_CARD_BYTES, CardError, ModelCard, is_model_name, load_card, read_card
from arena.suites.folders import PROGRAM_SUFFIXES
from arena.suites.scales import task_scale
from arena.suites.spec import Suite, SuiteError, builtin_suites_dir, load_suite
from arena.tasks import load_task


class SuiteNotFound(SuiteError):
    """No suite, or no model in it, has that name (a 404 to the faces)."""

    headline = "Not found"


REFERENCE_ACCOUNT = accounts.REFERENCE_ACCOUNT
REFERENCE_SUFFIX = "-reference"
"""How a reference model's name ends: kept for organisers' reference baselines, and a built-in suite's shipped
names for the reference account alone, so that no one enters one of them first."""


@functools.cache
def shipped_names(suite_name: str) -> frozenset[str]:
    """The names of the reference models a built-in suite ships (kept for the reference account alone)."""
    folder = builtin_suites_dir() / suite_name / "models"
    if not suite_name or not is_suite_name(suite_name) or not folder.is_dir():
        return frozenset()
    return frozenset(name_key(load_card(card).name) for card in folder.glob("*/card.toml"))


Upload = tuple[BinaryIO, str]
"""A file part as the caller received it: its stream and the name it was sent under."""


@dataclass(frozen=True)
class HostedSuite:
    """What hosting did: the suite's record, the competitions it hosted anew, and whether the record changed."""

    suite: SuiteRecord
    hosted: list[Competition]
    changed: bool


@dataclass(frozen=True)
class Entered:
    """A model's new version: its entry, its model, and each task's accepted upload (``duplicate`` when the team
    had sent that very file before, which is then the submission the entry names)."""

    entry: SuiteEntry
    model: SuiteModel
    accepted: dict[str, store.Accepted]

    def new_submission_ids(self) -> list[int]:
        """The submissions this entry queued (to wake the scoring queue for)."""
        return [a.submission.id for a in self.accepted.values() if not a.duplicate]


# --- hosting ---------------------------------------------------------------------------


TIERS = {
    "reported": "predictions uploaded by the participant",
    "reproduced": "Arena ran the model's program for every task, or an organiser re-ran the submitted code and got "
    "scores within the intervals",
    "reference": "run by arena baseline, with its run record",
}
"""Each verification tier of a model's version and what it vouches for, from the least to the most."""
DEFAULT_TIER = "reported"
RAN_AS_CODE = "Arena ran this version's program for every task on the test inputs."
"""The note of a version that is ``reproduced`` because Arena itself made every one of its predictions."""


def initial_tier(is_baseline: bool, card: dict | None, *, all_code: bool = False) -> str:
    """The tier an entry starts with: ``reference`` for a baseline whose card holds a run record (what
    ``arena baseline`` enters), ``reproduced`` for a version whose every task is a program Arena runs (its scores
    are Arena's own runs), ``reported`` for everything else."""
    if is_baseline and isinstance((card or {}).get("run"), dict):
        return "reference"
    return "reproduced" if all_code else DEFAULT_TIER


def is_program(file_name: str) -> bool:
    """Whether a suite entry's file part is a program (``TASK.zip`` or ``TASK.py``) rather than predictions."""
    return file_name.lower().endswith(PROGRAM_SUFFIXES)


def takes_code(competition: Competition) -> bool:
    """Whether a suite task's models may give a program: its task.toml declares code submissions."""
    return bool(facts_of(competition).get("code"))


def get_suite(session: Session, name: str) -> SuiteRecord:
    """The hosted suite named ``name``, or a :class:`SuiteError` saying which suites there are."""
    suite = session.scalar(select(SuiteRecord).where(SuiteRecord.name == name)) if is_suite_name(name) else None
    if suite is None:
        known = ", ".join(session.scalars(select(SuiteRecord.name).order_by(SuiteRecord.name))) or "none yet"
        raise SuiteNotFound(f"there is no suite '{name}' on this server (suites: {known}).")
    return suite


def is_suite_name(name: str) -> bool:
    """Whether ``name`` could name a suite (suite.toml's rule): anything else is looked up nowhere, NUL included."""
    return 0 < len(name) <= 64 and name.isascii() and name.replace("-", "").replace("_", "").isalnum()


def suite_tasks(session: Session, suite: SuiteRecord) -> list[tuple[SuiteTask, Competition]]:
    """The suite's tasks in their order, each with the competition that hosts it."""
    return [
        (task, competition)
        for task, competition in session.execute(
            select(SuiteTask, Competition)
            .join(Competition, Competition.id == SuiteTask.competition_id)
            .where(SuiteTask.suite_id == suite.id)
            .order_by(SuiteTask.position)
        )
    ]


def host_suite(session: Session, ref: str) -> HostedSuite:
    """Host a suite (a built-in name, a folder holding suite.toml, or the file): each task as a standing benchmark.

    A task already hosted as an open standing benchmark of the same task, version and
    answer key, scored with rounded feedback, is reused, so the suite's board and the
    task's own board rank the same submissions. Hosting a version already hosted
    changes nothing; a higher version replaces the suite's tasks and scales (models and
    their versions stay). A changed suite.toml under the same version is refused: a
    hosted version never changes.
    """
    suite = load_suite(ref)
    record = session.scalar(select(SuiteRecord).where(SuiteRecord.name == suite.name))
    if record is not None:
        if record.sha256 == suite.sha256:
            return HostedSuite(record, [], False)
        if suite.version <= record.version:
            raise SuiteError(
                f"suite '{suite.name}' is hosted at version {record.version}, and this suite.toml "
                f"(version {suite.version}) differs from the one hosted: a hosted version never changes. "
                f"Raise 'version' to {record.version + 1} to publish the change."
            )
    hosted: list[Competition] = []
    rows = []
    spec_tasks = []
    for position, suite_task in enumerate(suite.tasks):
        task = load_task(suite_task.ref)
        competition = _reusable(session, suite_task.ref, task)
        if competition is None:
            competition = host(session, suite_task.ref, slug=_free_slug(session, suite.name, suite_task.key))
            competition.feedback = "rounded"  # a suite shows every task's score with its interval
            hosted.append(competition)
        scale = task_scale(
            task, suite_task, public_fraction=competition.public_fraction, split_key=competition.split_key
        )
        rows.append(
            SuiteTask(
                competition_id=competition.id,
                key=suite_task.key,
                weight=suite_task.weight,
                floor=scale.floor,
                ceiling=scale.ceiling,
                position=position,
            )
        )
        spec_tasks.append(
            {
                "key": suite_task.key,
                "ref": suite_task.ref,
                "weight": suite_task.weight,
                "floor": suite_task.floor,  # None: measured at hosting (the row's floor)
                "ceiling": suite_task.ceiling,
                "metric": suite_task.metric,
                "higher_is_better": suite_task.higher_is_better,
                "competition": competition.slug,
            }
        )
    spec = {"version": suite.version, "method": suite.method, "tasks": spec_tasks, "toml": _text_of(suite)}
    now = utcnow()
    if record is None:
        record = SuiteRecord(name=suite.name, created_at=now)
        session.add(record)
    else:
        for old in session.scalars(select(SuiteTask).where(SuiteTask.suite_id == record.id)):
            session.delete(old)
    record.title, record.version, record.description = suite.title, suite.version, suite.description
    record.method, record.spec, record.sha256, record.updated_at = suite.method, spec, suite.sha256, now
    session.flush()
    for row in rows:
        row.suite_id = record.id
        session.add(row)
    session.flush()
    return HostedSuite(record, hosted, True)


def _text_of(suite: Suite) -> str:
    """The suite.toml text as hosted (what its SHA-256 is of), kept so a board can always say what it ranks by."""
    try:
        return (suite.folder / "suite.toml").read_text(encoding="utf-8")
    except OSError:
        return ""


def _reusable(session: Session, ref: str, task) -> Competition | None:
    """The oldest competition a suite may share for this task: the same task, version and answer key, standing
    (no end date), open, published, not revealed, not broken, a file competition (a suite's models send their
    predictions, and their programs only as an entry's own choice), and not under the Ladder (whose public board
    releases nothing finer than its steps, while a suite shows each score with its interval)."""
    stored = task.stored_ref(ref)
    return session.scalar(
        select(Competition)
        .where(
            or_(Competition.task_ref == stored, Competition.source_ref == stored),
            Competition.task_version == task.spec.version,
            Competition.answer_sha256 == task.answer_key.sha256,
            Competition.ends_at.is_(None),
            Competition.revealed.is_(False),
            Competition.is_open.is_(True),
            Competition.lifecycle == "published",
            Competition.broken == "",
            Competition.submission_kind == "file",
            Competition.feedback != "ladder",
        )
        .order_by(Competition.id)
        .limit(1)
    )


def _free_slug(session: Session, suite_name: str, key: str) -> str:
    """``SUITE-TASK`` as a competition's short name (lowercase, '_' as '-'), numbered if taken."""
    base = re.sub(r"[^a-z0-9-]+", "-", f"{suite_name}-{key}".lower()).strip("-")[:58] or "suite-task"
    for number in range(1, 1000):
        slug = base if number == 1 else f"{base}-{number}"
        if SLUG.match(slug) and not session.scalar(select(Competition.id).where(Competition.slug == slug)):
            return slug
    raise CompetitionError(f"no free short name for task '{key}' of suite '{suite_name}'; host it by hand first.")


# --- entering a model ------------------------------------------------------------------


def submit_entry(
    session: Session,
    suite_name: str,
    user: User,
    card: ModelCard | Upload | None,
    uploads: dict[str, Upload],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    is_baseline: bool = False,
    now: datetime | None = None,
    skipped: Collection[str] = (),
) -> Entered:
    """Enter a version of a model: its card and one predictions file per task, all or nothing.

    For a task whose task.toml declares code, the file may instead be the model's program (a part whose name ends
    in ``.zip`` or ``.py``): it is checked as a code competition's upload is before anything is kept, and its
    submission is a code run (Arena runs it in the sandbox on the test inputs, then scores its predictions
    as a file's), what it measured feeding the suite's costs. A program for a task that declares no code is
    refused. A version whose every task is a program starts at the ``reproduced`` tier.

    The model is (owner, card name): a new name makes a new model, the owner's own name
    its next version (earlier versions stay in its history), another account's name is
    refused, and so is a new version whose every file another model's version already
    names (a repeated file costs no slot, so copies would fill the board for free).
    Every problem is reported at once (the card's, a file for a task the suite does not
    have, a task without a file, a file over the size limit, a task's limits) and then
    nothing is kept: no entry, no submission, no file, no slot used.

    Each file is an ordinary upload to its task's competition, received and checked as
    :func:`arena.server.uploads.submit_stream` does, but every file is received before
    the transaction touches the database (no lock is held while bytes move), and files
    enter the store only after every task has accepted its own: a refusal on the last
    task leaves no file of the first ones behind. Call it inside the caller's transaction.

    ``skipped`` names tasks this version does not answer, only for Arena's reference models, whose run record
    names the tasks their model cannot read (an image model writes no text): those tasks need no file and stay
    missing on the board, so the model is shown there without an aggregate or a rank.
    """
    received: dict[str, files.Received] = {}
    problems: list[str] = []
    try:
        for key, (stream, _) in uploads.items():
            try:
                received[key] = files.receive(stream, max_bytes)
            except SubmissionError as exc:
                problems += [f"task '{key}': {message}" for message in exc.messages()]
        card = _card_of(card, problems)
        suite = get_suite(session, suite_name)
        tasks = suite_tasks(session, suite)
        keys = [task.key for task, _ in tasks]
        for key in uploads:
            if key not in keys:
                problems.append(
                    f"there is no task '{key}' in suite '{suite.name}': its tasks are {', '.join(keys)}. "
                    f"Leave the file for '{key}' out, or name it after one of them."
                )
        for key in keys:
            if key not in uploads and key not in skipped:
                problems.append(
                    f"no predictions file for task '{key}': every version of a model has one file per task "
                    f"(a part named '{key}', or {key}.csv in the folder you submit)."
                )
        programs = {key for key, (_, name) in uploads.items() if key in keys and is_program(name or "")}
        if skipped and not is_baseline:
            problems.append("only Arena's reference models may leave a task without a file.")
        tasks = [(task, competition) for task, competition in tasks if task.key not in skipped or task.key in uploads]
        if not tasks and not problems:
            problems.append("no predictions file at all: a version answers at least one task.")
        for task, competition in tasks:
            if task.key in programs and task.key in received:
                problems += _program_problems(task.key, competition, received[task.key], uploads[task.key][1])
        if is_baseline and not user.is_organiser:
            problems.append("only organisers may enter a model as a baseline; enter it without the baseline flag.")
        lock(session, User, user.id)  # one account's entries one at a time: their version numbers never clash
        model = _model_for(session, suite, user, card, problems)
        if problems:
            raise SuiteError(problems)
        if card is None or model is None:  # a card problem or a name problem was reported above
            raise SuiteError("the model card could not be read.")
        model.is_baseline = is_baseline  # its newest version says what it is
        number = (session.scalar(select(func.max(SuiteEntry.number)).where(SuiteEntry.model_id == model.id)) or 0) + 1
        note = f"suite {suite.name}: {card.name} version {number}"
        accepted: dict[str, store.Accepted] = {}
        for task, competition in tasks:
            upload = received[task.key]
            program = task.key in programs
            try:
                accepted[task.key] = store.accept(
                    session,
                    competition,
                    user,
                    file_sha256=upload.sha256,
                    file_name=files.kept_file_name(uploads[task.key][1], f"{task.key}.csv"),
                    file_size=upload.size,
                    note=note,
                    is_baseline=is_baseline,
                    now=now,
                    program=program,
                )
            except ArenaError as exc:
                problems += [f"task '{task.key}': {message}" for message in exc.messages()]
                continue
            if accepted[task.key].duplicate and (accepted[task.key].submission.run_status is not None) != program:
                earlier = "a program" if not program else "a predictions file"
                problems.append(
                    f"task '{task.key}': the team sent this very file before as {earlier}; send it as it was sent "
                    "then (a program ends in .zip or .py), or change the file."
                )
        if not problems and all(a.duplicate for a in accepted.values()):
            problems += _copy_of(session, suite, model, [a.submission.id for a in accepted.values()])
        if problems:
            raise SuiteError(problems)
        tier = initial_tier(is_baseline, card.to_dict(), all_code=len(programs) == len(tasks) > 0)
        entry = SuiteEntry(
            model_id=model.id,
            number=number,
            card=card.to_dict(),
            user_id=user.id,
            created_at=now or utcnow(),
            tier=tier,
            tier_note=RAN_AS_CODE if tier == "reproduced" else "",
        )
        session.add(entry)
        session.flush()
        for task, competition in tasks:
            session.add(
                SuiteEntryFile(
                    entry_id=entry.id,
                    competition_id=competition.id,
                    submission_id=accepted[task.key].submission.id,
                    key=task.key,
                )
            )
        session.flush()
        for key, upload in received.items():
            if not accepted[key].duplicate:
                files.keep(upload)
        return Entered(entry, model, accepted)
    finally:
        for upload in received.values():
            files.discard(upload)


def _program_problems(key: str, competition: Competition, upload: files.Received, file_name: str) -> list[str]:
    """What is wrong with a program given for one task: a task that takes predictions only, or a program that
    cannot run (the checks of a code competition's upload)."""
    name = files.kept_file_name(file_name, f"{key}.zip")
    if not takes_code(competition):
        return [
            f"task '{key}': {name} is a program, but this task takes a predictions file only (its task.toml "
            f"declares no code submissions). Send its predictions as {key}.csv instead."
        ]
    entry = (facts_of(competition).get("code") or {}).get("entry", "predict")
    try:
        check_code_upload(upload.path, name, entry=entry)
    except SubmissionError as exc:
        return [f"task '{key}': {message}" for message in exc.messages()]
    return []


def _copy_of(session: Session, suite: SuiteRecord, model: SuiteModel, submission_ids: list[int]) -> list[str]:
    """The problem with an entry whose every file another model's version already names (each file a duplicate
    costs no slot, so copies under new names would fill the board for free); none for a version of the same model."""
    copied = session.execute(
        select(SuiteModel.name, SuiteEntry.number)
        .join(SuiteEntry, SuiteEntry.model_id == SuiteModel.id)
        .join(SuiteEntryFile, SuiteEntryFile.entry_id == SuiteEntry.id)
        .where(
            SuiteModel.suite_id == suite.id,
            SuiteModel.id != model.id,
            SuiteEntryFile.submission_id.in_(submission_ids),
        )
        .group_by(SuiteModel.name, SuiteEntry.number)
        .having(func.count() == len(submission_ids))
        .limit(1)
    ).first()
    if copied is None:
        return []
    return [
        f"these files are already entered as model '{copied.name}' version {copied.number}: one model per set of "
        f"files. Enter them as a new version of '{copied.name}', or change a file."
    ]


def _card_of(card: ModelCard | Upload | None, problems: list[str]) -> ModelCard | None:
    """The card as given, or read from its file part (at most MAX_CARD_BYTES are read); its problems are noted."""
    if isinstance(card, ModelCard):
        return card
    if card is None:
        problems.append("no model card: send it as the part named 'card' (card.toml or card.json).")
        return None
    stream, file_name = card
    try:
        return read_card(stream.read(MAX_CARD_BYTES + 1), file_name or "card.toml")
    except CardError as exc:
        problems += exc.messages()
        return None


def _model_for(
    session: Session, suite: SuiteRecord, user: User, card: ModelCard | None, problems: list[str]
) -> SuiteModel | None:
    """The user's model of this name, made if new (and nothing wrong so far); another account's name is refused.

    Names are compared case- and width-blind, so 'CNN' cannot sit beside someone's 'cnn'; names ending in
    '-reference' are the reference account's alone, so a reference model shipped later finds its name free.
    """
    if card is None:
        return None
    key = name_key(card.name)
    arena_itself = user.username == REFERENCE_ACCOUNT and user.is_organiser
    if (
        key.endswith(REFERENCE_SUFFIX)
        and not arena_itself
        and (not user.is_organiser or key in shipped_names(suite.name))
    ):
        problems.append(
            f"model names ending in '{REFERENCE_SUFFIX}' are kept for Arena's reference models and organisers' "
            "reference baselines; give your model another name in its card."
        )
        return None
    model = session.scalar(select(SuiteModel).where(SuiteModel.suite_id == suite.id, SuiteModel.name_key == key))
    if model is not None and model.user_id != user.id:
        problems.append(
            f"the model '{model.name}' in suite '{suite.name}' belongs to another account: only its owner may "
            "enter new versions. Give your model another name in its card."
        )
        return None
    if model is not None or problems:
        return model
    model = SuiteModel(suite_id=suite.id, user_id=user.id, name=card.name, name_key=key, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(model)
            session.flush()
    except IntegrityError:
        problems.append(
            f"another account entered a model named '{card.name}' at the same moment; give yours another name."
        )
        return None
    return model


def model_named(session: Session, suite: SuiteRecord, name: str) -> SuiteModel:
    """The suite's model of this name (compared as names are), or a :class:`SuiteError`."""
    model = (
        session.scalar(select(SuiteModel).where(SuiteModel.suite_id == suite.id, SuiteModel.name_key == name_key(name)))
        if is_model_name(name_key(name))
        else None
    )
    if model is None:
        raise SuiteNotFound(f"there is no model '{name}' in suite '{suite.name}'.")
    return model
