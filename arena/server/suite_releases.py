"""Frozen, citable copies of a suite's board: releases, and the last board of each suite version.

A release (``arena suite release NAME``, the organisers' page, or the API) stores the
board as it is now in several files, each written whole into the file store once and
named by its SHA-256: the JSON document (the board with every model's scores, intervals,
aggregate and ranks; every model's card with its run record, tier and flag; each task's
version and the commitment to its answer key; the suite as hosted; and the marks of the
best and not-significantly-worse models), the board's CSV, and its LaTeX, Markdown and
Parquet tables. A release is refused while the worker has yet to compute the board's
statistics, so every number in it is final. Its files are served from the store as they
were written, checked against their SHA-256 on every read: new models, rescoring and new
task versions change the live board, never a release.

A new version of a task that a suite holds starts a new version of the suite (every
model is rescored on it). Just before, :func:`freeze_suites_of` freezes the old version's
board in the same form (kind ``version``, numbered by that suite version), computing its
statistics first if the worker had not, so the old version's board stays to be seen and
cited beside the releases made while it was current.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from cachetools import LRUCache
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena import __version__
from arena.db.models import AuditEntry, Competition, SuiteEntry, SuiteRelease, SuiteTask, User, utcnow
from arena.db.models import Suite as SuiteRecord
from arena.errors import ArenaError
from arena.server import audit
from arena.server.files import files_dir, write_whole
from arena.server.suite_analysis import board_marks, store_arrays
from arena.server.suite_boards import (
    SuiteBoard,
    board_inputs,
    board_key,
    public_card,
    store,
    stored,
    suite_board,
    suite_board_csv,
)
from arena.server.suite_verification import EntryStatus, entry_statuses, kept_text, require_organiser
from arena.server.suite_worker import compute
from arena.server.suites import SuiteNotFound, get_suite
from arena.suites.exports import EXTENSIONS, MEDIA_TYPES, board_table, latex_escape, render

FORMAT = 1
"""Raised when what a release's JSON document holds changes meaning."""
KINDS = ("release", "version")
TABLE_FORMATS = ("latex", "markdown", "parquet")
"""The export formats stored beside a release's JSON document and CSV."""
SUFFIXES = {"json": "json", "csv": "csv", **{EXTENSIONS[fmt]: fmt for fmt in TABLE_FORMATS}}
"""A download's suffix -> the format it is (``.tex`` is LaTeX, ``.md`` Markdown)."""
CONTENT_TYPES = {"json": "application/json", "csv": "text/csv; charset=utf-8", **MEDIA_TYPES}
"""Each format's media type, as a download is served."""
KEPT_DOCUMENTS = 32
MAX_NUMBER = 2**31 - 1
"""The largest release or version number the database's integer column holds: a larger one names none."""


class ReleaseError(ArenaError):
    """A release that cannot be made now, with what to do about it."""

    headline = "The release cannot be made"


class ReleaseNotFound(SuiteNotFound):
    """No release, or no frozen version, has that number (a 404 to the faces)."""


class ReleaseDamaged(RuntimeError):
    """A release's stored file is missing or no longer has its SHA-256: the store was changed outside Arena.
    Never served: an operator restores the file from a backup (its name is its SHA-256)."""


@dataclass(frozen=True)
class ReleaseView:
    """A frozen board as lists and pages show it: which suite, which kind and number, when, by whom, and the
    SHA-256 of each stored file by its download suffix (json, csv, tex, md, parquet)."""

    suite: str
    title: str
    kind: str  # "release" | "version"
    number: int  # a release's number, or the suite version a "version" froze
    suite_version: int
    note: str
    created_at: str  # ISO 8601, UTC
    created_by: str | None  # None: Arena itself (a version frozen before a new task version)
    json_sha256: str
    csv_sha256: str
    files: dict[str, str]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """How to cite a release: one line for a text, and a BibTeX entry."""

    text: str
    bibtex: str


# --- making one --------------------------------------------------------------------------------


def make_release(
    session: Session, suite_name: str, user: User | None, note: str = "", *, by: str = "(command line)"
) -> ReleaseView:
    """Freeze the suite's board as its next release (1, 2, ...), in the caller's transaction; organisers only.

    Refused while the board's statistics are pending (the worker has yet to compute them: try again shortly, or
    run ``arena suite release`` on the server, which computes them first) and while no model is entered."""
    require_organiser(user)
    suite = get_suite(session, suite_name)
    note = kept_text(note, "note")
    # One release at a time per suite, so numbers never clash (FOR UPDATE on PostgreSQL; SQLite's writers queue).
    session.execute(select(SuiteRecord.id).where(SuiteRecord.id == suite.id).with_for_update())
    board = suite_board(session, suite.name)
    if not board.rows:
        raise ReleaseError(f"no model is entered in suite '{suite.name}' yet: there is nothing to release.")
    if board.pending:
        raise ReleaseError(
            f"the statistics of suite '{suite.name}' are still being computed by the scoring worker, and a release "
            "never changes once made: try again in a minute, when the board shows its intervals and ranks "
            f"(or run 'arena suite release {suite.name}' on the server, which computes them first)."
        )
    number = _next_number(session, suite, "release")
    release = _freeze(session, suite, board, "release", number, user, note)
    audit.record_suite(
        session,
        suite,
        user,
        "release",
        f"release {number} of version {suite.version}: json {release.json_sha256}" + (f"; {note}" if note else ""),
        by=by,
    )
    return _view(release, user.username if user else None, suite.name)


def freeze_suites_of(session: Session, competition: Competition) -> list[str]:
    """Before ``competition`` takes a new task version: freeze the board of every suite that holds it, at the
    suite version it shows now, and start each suite's next version; returns the suites' names.

    Call it in the transaction that adopts the new version, before anything of the competition changes (its
    task, its facts, its submissions' queue). A suite whose version was already started in this transaction
    (two of its tasks changed at once) is frozen once.
    """
    started = session.info.setdefault("arena_suite_versions_started", {})
    transaction = session.get_transaction()
    if started.get("transaction") is not transaction:
        started.clear()
        started["transaction"] = transaction
    names = []
    suites = session.scalars(
        select(SuiteRecord)
        .join(SuiteTask, SuiteTask.suite_id == SuiteRecord.id)
        .where(SuiteTask.competition_id == competition.id)
        .order_by(SuiteRecord.id)
    ).all()
    for suite in suites:
        if suite.id in started:
            continue
        frozen = freeze_version(session, suite)
        before = suite.version
        suite.version, suite.updated_at = before + 1, utcnow()
        started[suite.id] = suite.version
        audit.record_suite(
            session,
            suite,
            None,
            "version",
            f"a new version of task '{competition.slug}' starts suite version {suite.version}; the board of version "
            f"{before} is frozen" + (f" (json {frozen.json_sha256})" if frozen is not None else " (no model yet)"),
            by="Arena",
        )
        names.append(suite.name)
    session.flush()
    return names


def freeze_version(session: Session, suite: SuiteRecord) -> SuiteRelease | None:
    """Freeze the board of the suite's current version (kind "version", numbered by it), computing its statistics
    first if the worker has not; None when no model is entered. A version frozen already stays as it was."""
    found = session.scalar(
        select(SuiteRelease).where(
            SuiteRelease.suite_id == suite.id, SuiteRelease.kind == "version", SuiteRelease.number == suite.version
        )
    )
    if found is not None:
        return found
    inputs = board_inputs(session, suite)
    key = board_key(inputs)
    if key is None:
        return None
    if stored(key) is None:  # the worker has not been by: the old version's numbers are worked out here, once
        statistics, arrays = compute(inputs)
        store_arrays(key, arrays)
        store(key, statistics)
    return _freeze(session, suite, suite_board(session, suite.name), "version", suite.version, None, "")


def _next_number(session: Session, suite: SuiteRecord, kind: str) -> int:
    last = session.scalar(
        select(func.max(SuiteRelease.number)).where(SuiteRelease.suite_id == suite.id, SuiteRelease.kind == kind)
    )
    return (last or 0) + 1


def _freeze(
    session: Session, suite: SuiteRecord, board: SuiteBoard, kind: str, number: int, user: User | None, note: str
) -> SuiteRelease:
    """Store the board's files and record them."""
    created_at = utcnow()
    document = _document(session, suite, board, kind, number, created_at, user, note)
    board_dict = board.to_dict()
    marks = document["marks"]
    files = {
        "json": _store(_json_bytes(document)),
        "csv": _store(suite_board_csv(board).encode("utf-8")),
    }
    table = board_table(board_dict, marks)
    for fmt in TABLE_FORMATS:
        files[EXTENSIONS[fmt]] = _store(render(table, fmt))
    release = SuiteRelease(
        suite_id=suite.id,
        kind=kind,
        number=number,
        suite_version=suite.version,
        title=suite.title,
        note=note,
        created_at=created_at,
        created_by=user.id if user else None,
        json_sha256=files["json"],
        csv_sha256=files["csv"],
        files=files,
    )
    session.add(release)
    session.flush()
    return release


def _document(
    session: Session,
    suite: SuiteRecord,
    board: SuiteBoard,
    kind: str,
    number: int,
    created_at,
    user: User | None,
    note: str,
) -> dict:
    """Everything a frozen board holds, as plain JSON values."""
    inputs = board_inputs(session, suite)
    by_name = {model.name: model for model in inputs.models}
    models = []
    for row in board.rows:
        model = by_name.get(row.model)
        entry: SuiteEntry | None = inputs.latest.get(model.id) if model is not None else None
        card = public_card(entry.card, inputs.tasks) if entry is not None else {}
        models.append(
            {
                "model": row.model,
                "owner": row.owner,
                "version": row.version,
                "is_baseline": row.is_baseline,
                "tier": entry.tier if entry is not None else "reported",
                "tier_note": entry.tier_note if entry is not None else "",
                "flag_reason": entry.flag_reason if entry is not None else "",
                "card": card,
                "run": card.get("run"),
                "run_matches_answer_key": _run_matches(entry.card if entry is not None else None, inputs.tasks),
            }
        )
    tasks = [
        {
            "key": task.key,
            "title": competition.title,
            "competition": competition.slug,
            "task_version": competition.task_version,
            "metric": competition.metric,
            "higher_is_better": competition.higher_is_better,
            "weight": task.weight,
            "floor": task.floor,
            "ceiling": task.ceiling,
            "board": "private" if competition.revealed else "public",
            # The answer key's hash itself is never published (a small key could be found from it by trying
            # labels); its salted commitment is, and the salt once the task's competition is revealed.
            "answer_key_commitment": competition.commitment,
            "commitment_salt": competition.commitment_salt if competition.revealed else None,
        }
        for task, competition in inputs.tasks
    ]
    spec = suite.spec or {}
    return _plain(
        {
            "format": FORMAT,
            "arena_version": __version__,
            "kind": kind,
            "number": number,
            "created_at": created_at.isoformat() + "Z",
            "created_by": user.username if user else None,
            "note": note,
            "suite": {
                "name": suite.name,
                "title": suite.title,
                "version": suite.version,
                "description": suite.description,
                "method": suite.method,
                "suite_toml_sha256": suite.sha256,
                "suite_toml": spec.get("toml", ""),
            },
            "tasks": tasks,
            "board": board.to_dict(),
            "models": models,
            "marks": board_marks(session, suite.name),
        }
    )


def _run_matches(card: dict | None, tasks: list[tuple[SuiteTask, Competition]]) -> dict[str, bool] | None:
    """Per task, whether the card's run record says it was scored against the answer key the board scores with
    (None without a run record): a reader checks a reference run without the key's hash being published here."""
    run = (card or {}).get("run")
    if not isinstance(run, dict) or not isinstance(run.get("tasks"), dict):
        return None
    recorded = run["tasks"]
    return {
        task.key: isinstance(recorded.get(task.key), dict)
        and recorded[task.key].get("answer_sha256") == competition.answer_sha256
        for task, competition in tasks
    }


def _plain(value):
    """JSON values only: tuples as lists, NaN and infinities as null (JSON has no number for them)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_bytes(document: dict) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n").encode()


# --- the file store ---------------------------------------------------------------------------


def release_path(sha256: str) -> Path:
    """Where a release's file with this SHA-256 is kept (beside the store's uploads, never cleaned up with them)."""
    return files_dir() / "releases" / sha256[:2] / sha256


def _store(data: bytes) -> str:
    """Keep ``data`` under its SHA-256, written whole, and return it. A file already there with these very bytes
    stays; one that no longer has them (damaged outside Arena) is written again."""
    sha256 = hashlib.sha256(data).hexdigest()
    path = release_path(sha256)
    try:
        intact = hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        intact = False
    if not intact:
        write_whole(path, data)
    return sha256


_read: LRUCache[str, bytes] = LRUCache(maxsize=KEPT_DOCUMENTS)  # a file under a SHA-256 never changes
_read_lock = threading.Lock()


def stored_bytes(sha256: str) -> bytes:
    """The file stored under ``sha256``, checked against it, or :class:`ReleaseDamaged`."""
    with _read_lock:
        hit = _read.get(sha256)
    if hit is not None:
        return hit
    path = release_path(sha256)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReleaseDamaged(f"the release file {path} is missing ({exc}); restore it from a backup.") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ReleaseDamaged(f"the release file {path} no longer has its SHA-256; restore it from a backup.")
    if len(data) <= 8 * 2**20:
        with _read_lock:
            _read[sha256] = data
    return data


# --- reading them -----------------------------------------------------------------------------


def releases(session: Session, suite_name: str, kind: str = "release") -> list[ReleaseView]:
    """The suite's releases (or frozen versions), newest first."""
    suite = get_suite(session, suite_name)
    found = session.execute(
        select(SuiteRelease, User.username)
        .outerjoin(User, User.id == SuiteRelease.created_by)
        .where(SuiteRelease.suite_id == suite.id, SuiteRelease.kind == _kind(kind))
        .order_by(SuiteRelease.number.desc())
    ).all()
    return [_view(release, username, suite.name) for release, username in found]


def release_view(session: Session, suite_name: str, number: int, kind: str = "release") -> ReleaseView:
    """One release (or frozen version) of the suite, or a :class:`ReleaseNotFound` saying which there are."""
    suite = get_suite(session, suite_name)
    found = (
        session.execute(
            select(SuiteRelease, User.username)
            .outerjoin(User, User.id == SuiteRelease.created_by)
            .where(SuiteRelease.suite_id == suite.id, SuiteRelease.kind == _kind(kind), SuiteRelease.number == number)
        ).first()
        if 0 < number <= MAX_NUMBER
        else None
    )
    if found is None:
        numbers = session.scalars(
            select(SuiteRelease.number)
            .where(SuiteRelease.suite_id == suite.id, SuiteRelease.kind == kind)
            .order_by(SuiteRelease.number)
        ).all()
        what = "release" if kind == "release" else "frozen version"
        there = ", ".join(map(str, numbers)) or "none yet"
        raise ReleaseNotFound(f"suite '{suite.name}' has no {what} {number} ({what}s: {there}).")
    return _view(found[0], found[1], suite.name)


def release_file(view: ReleaseView, suffix: str) -> bytes:
    """A stored file of the release by its download suffix (json, csv, tex, md, parquet), byte for byte."""
    if suffix not in view.files:
        formats = ", ".join(f".{known}" for known in view.files)
        raise ReleaseNotFound(f"this release has no .{suffix[:20]} file: it has {formats}.")
    return stored_bytes(view.files[suffix])


_documents: LRUCache[str, dict] = LRUCache(maxsize=KEPT_DOCUMENTS)
_documents_lock = threading.Lock()


def release_document(view: ReleaseView) -> dict:
    """The release's JSON document, parsed once per process (what is stored under a SHA-256 never changes; the
    same dict is handed to every caller, who must not change it)."""
    with _documents_lock:
        hit = _documents.get(view.json_sha256)
    if hit is not None:
        return hit
    document = json.loads(stored_bytes(view.json_sha256))
    with _documents_lock:
        _documents[view.json_sha256] = document
    return document


def versions_frozen(session: Session, suite_name: str) -> list[ReleaseView]:
    """The suite's frozen versions, newest first."""
    return releases(session, suite_name, "version")


def releases_of_version(session: Session, suite_name: str, version: int) -> list[ReleaseView]:
    """The releases made while the suite was at ``version``, newest first."""
    return [view for view in releases(session, suite_name) if view.suite_version == version]


def current_version(session: Session, suite_name: str) -> int:
    """The suite version the live board shows."""
    return get_suite(session, suite_name).version


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return kind


def _view(release: SuiteRelease, username: str | None, suite_name: str) -> ReleaseView:
    return ReleaseView(
        suite=suite_name,
        title=release.title,
        kind=release.kind,
        number=release.number,
        suite_version=release.suite_version,
        note=release.note,
        created_at=release.created_at.isoformat() + "Z",
        created_by=username,
        json_sha256=release.json_sha256,
        csv_sha256=release.csv_sha256,
        files=dict(release.files),
    )


@dataclass(frozen=True)
class Management:
    """What the organisers' page of a suite shows: each model's latest version with its tier and flag, the releases
    and frozen versions, and the suite's audit log (newest first)."""

    name: str
    title: str
    version: int
    entries: list[EntryStatus]
    releases: list[ReleaseView]
    versions: list[ReleaseView]
    log: list[AuditEntry]


def management(session: Session, suite_name: str) -> Management:
    suite = get_suite(session, suite_name)
    return Management(
        name=suite.name,
        title=suite.title,
        version=suite.version,
        entries=entry_statuses(session, suite.name),
        releases=releases(session, suite.name),
        versions=releases(session, suite.name, "version"),
        log=audit.suite_entries(session, suite),
    )


# --- citing one -------------------------------------------------------------------------------


def citation(view: ReleaseView, url: str) -> Citation:
    """How to cite a release found at ``url``: its suite's title, number, suite version, date, URL and the JSON's
    SHA-256, as a line of text and as a BibTeX ``@misc`` entry (the title escaped for LaTeX)."""
    date = view.created_at[:10]
    suite = f"the Arena benchmark suite '{view.suite}'"
    if view.kind == "release":
        what = f"release {view.number}"
        text = f"{view.title}, release {view.number} of {suite} (suite version {view.suite_version}), {date}."
        note = f"release {view.number} of suite version {view.suite_version}"
    else:
        what = f"suite version {view.number}, frozen"
        text = f"{view.title}, the frozen board of suite version {view.number} of {suite}, {date}."
        note = f"the frozen board of suite version {view.number}"
    text += f" {url}. JSON SHA-256: {view.json_sha256}."
    month = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")[int(date[5:7]) - 1]
    bibtex = "\n".join(
        [
            f"@misc{{arena-{view.suite}-{view.kind}-{view.number},",
            f"  title = {{{{{latex_escape(view.title)}}}: {what}}},",
            f"  howpublished = {{\\url{{{url}}}}},",
            f"  url = {{{url}}},",
            f"  year = {{{date[:4]}}},",
            f"  month = {month},",
            f"  note = {{Arena benchmark suite {latex_escape(view.suite)}, {note}; JSON SHA-256 {view.json_sha256}}},",
            "}",
        ]
    )
    return Citation(text, bibtex)
