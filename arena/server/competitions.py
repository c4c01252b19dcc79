"""Competitions and teams: hosting a task with rules, settings, open/close, reveal, team membership."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, object_session

from arena.bundles.archives import unpack_bundle
from arena.bundles.loading import answer_key_csv, builtin_task_names
from arena.bundles.spec import FEEDBACK_MODES
from arena.codabench.bundle import slug_of
from arena.config import arena_home, private_dir
from arena.db import generations
from arena.db.models import BoardGeneration, Competition, Submission, SuiteTask, User, utcnow
from arena.errors import ArenaError
from arena.scoring.interface import TaskInterface
from arena.server import audit, snapshots
from arena.server.stages import preview
from arena.suites.efficiency import MAX_WEIGHT
from arena.tasks import load_task, phase_refs

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
PHASE_DATES = ("starts_at", "ends_at")  # a Codabench/CodaLab phase sets each stage's own
SETTINGS: dict[str, type[Any]] = {
    "title": str,
    "description": str,
    "daily_limit": int,
    "total_limit": int,
    "team_size": int,
    "final_selections": int,
    "public_fraction": float,
    "starts_at": datetime,
    "ends_at": datetime,
    "join_needs_approval": bool,
    "feedback": str,
    "submission_kind": str,
    "rank_by": str,
    "utility_time_weight": float,
    "utility_memory_weight": float,
    "rules_acceptance": bool,
    "late_submissions": bool,
    "merger_deadline": datetime,
    "data_page": str,
    "rules_page": str,
    "timeline_page": str,
}
SUBMISSION_KINDS = ("file", "code")
"""What participants upload: a predictions file, or (only for a task whose task.toml declares code) a program."""
RANK_RULES = ("score", "utility")
"""What ranks the board: the primary score (with its intervals), or in a code competition the utility of the score
against each run's wall time and peak memory (:func:`arena.server.standings.utility_of`)."""
UTILITY_WEIGHTS = ("utility_time_weight", "utility_memory_weight")
PAGES = {"description": "Overview", "data_page": "Data", "rules_page": "Rules", "timeline_page": "Timeline"}
"""The competition page's sections an organiser writes in Markdown (rendered through the one sanitiser), by title."""
MAX_PAGE_CHARS = 200_000
"""The most characters one page may hold: a long README fits; a page no participant could read is refused."""
TEXT_SETTINGS = ("title", *PAGES)
"""Settings whose text the audit log names without quoting it."""


class CompetitionError(ArenaError):
    headline = "The request cannot be done"


def task_of(competition: Competition) -> TaskInterface:
    return load_task(competition.task_ref)


def _pin(competition: Competition, task_ref: str, task: TaskInterface) -> None:
    """Point the competition at the task's snapshot (an immutable copy under ARENA_HOME) and store what pages
    show of the task; a built-in or a Codabench bundle is referenced as it is."""
    ref, source = task.stored_ref(task_ref), task.snapshot_folder(task_ref)
    if source is not None and not snapshots.is_snapshot(ref):
        competition.snapshot, folder = snapshots.take(source)
        competition.source_ref, ref = ref, str(folder)
        task = load_task(ref)
    competition.task_ref = ref
    snapshots.store_facts(competition, task)


def _adopt(session: Session, competition: Competition, task: TaskInterface) -> int:
    """Take the task's version and answer key (with a new salted commitment) and queue every submission for rescoring."""
    competition.task_version, competition.answer_sha256 = task.spec.version, task.answer_key.sha256
    commit_to_answer_key(competition, task)
    return queue_rescore(session, competition)


def commitment_of(salt: str, task: TaskInterface) -> str:
    """SHA-256 of the salt (hex text), a newline, and the answer key as canonical CSV.

    After the reveal anyone can check it on the answers file Arena then publishes (:mod:`arena.server.answers_file`):
    ``(printf '%s\\n' SALT; cat answers.csv) | sha256sum``. Without the salt, guessing the
    labels of a small test set and hashing them leads nowhere.
    """
    return hashlib.sha256(f"{salt}\n".encode() + answer_key_csv(task.answers, task.spec)).hexdigest()


def commit_to_answer_key(competition: Competition, task: TaskInterface) -> None:
    """A fresh random salt and the commitment to this answer key (published at once; the salt at the reveal)."""
    competition.commitment_salt = secrets.token_hex(16)
    competition.commitment = commitment_of(competition.commitment_salt, task)


_checks: dict[tuple[str, str, str], bool] = {}


def commitment_holds(competition: Competition) -> bool | None:
    """After the reveal: does the published commitment match the answer key scored with? None before."""
    if not competition.revealed or not competition.commitment:
        return None
    key = (competition.commitment, competition.commitment_salt, competition.answer_sha256)
    if key not in _checks:
        _checks[key] = commitment_of(competition.commitment_salt, task_of(competition)) == competition.commitment
    return _checks[key]


def check_slug(session: Session, slug: str) -> str:
    """A short name that is well formed and free, or the reason it is not (checked before anything is unpacked)."""
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise CompetitionError(
            "the short name must be 2-63 lowercase letters, digits or '-', starting with a letter or digit."
        )
    if session.scalar(select(Competition).where(Competition.slug == slug)):
        raise CompetitionError(f"a competition named '{slug}' exists already; choose another short name.")
    return slug


def host(session: Session, task_ref: str, *, slug: str | None = None, **settings) -> Competition:
    """Host a task (built-in name, bundle folder, or an unpacked uploaded bundle) as a competition.

    Without an end date it is a standing benchmark. Rules default to the bundle's
    ``[competition]`` table. A Codabench/CodaLab bundle hosts each phase as a stage (``native=True``:
    scored by Arena's metric where it matches the program's).
    """
    if "#phase=" not in str(task_ref) and phase_refs(task_ref):  # a bundle of phases: each one a stage
        return host_stages(session, task_ref, slug=slug, **settings)[0]
    settings.pop("native", None)
    state = settings.pop("state", None)
    if state not in (None, "draft", "open"):
        raise CompetitionError(f'\'state\' must be "draft" (organisers only, until opened) or "open"; got {state!r}.')
    if slug is not None:
        check_slug(session, slug)
    task = load_task(task_ref)
    spec = task.spec
    slug = check_slug(session, slug or spec.name)
    defaults = spec.competition
    competition = Competition(
        slug=slug,
        title=spec.title,
        task_ref=task.stored_ref(task_ref),
        task_version=spec.version,
        answer_sha256=task.answer_key.sha256,
        description=spec.description,
        daily_limit=defaults.daily_limit,
        total_limit=defaults.total_limit,
        team_size=defaults.team_size,
        final_selections=defaults.final_selections,
        public_fraction=defaults.public_fraction,
        split_key=secrets.token_hex(16),
        lifecycle="draft" if state == "draft" else "published",
        feedback=default_feedback(task_ref, task),
    )
    _pin(competition, task_ref, task)
    commit_to_answer_key(competition, task)
    session.add(competition)
    update_settings(competition, **settings)
    session.flush()
    return competition


def default_feedback(task_ref: str, task: TaskInterface) -> str:
    """A new competition's feedback mode when the organiser names none: the bundle's ``[competition] feedback``;
    otherwise the Ladder, which keeps one-row probes and boosting off the public board (bench/RESULTS.md).

    Two kinds keep rounded scores: a built-in task (its labels come from a public data set, so there is nothing
    for probing to find, and its board shows every interval) and a Codabench/CodaLab phase (its program gives one
    number per file and no per-row results, which the Ladder's noise needs). A competition keeps its stored mode.
    """
    named = getattr(task.spec.competition, "feedback", None)
    if named:
        return named
    if not task.per_row_results or str(task_ref) in builtin_task_names():
        return "rounded"
    return "ladder"


def update_settings(competition: Competition, **settings) -> Competition:
    """Change rules; every bad value is reported at once."""
    problems = []
    for key, value in settings.items():
        if key not in SETTINGS:
            problems.append(f"'{key}' is not a setting; settings are: {', '.join(SETTINGS)}.")
        elif value is None and key in ("total_limit", "starts_at", "ends_at", "merger_deadline"):
            setattr(competition, key, None)
        elif not isinstance(value, SETTINGS[key]) and not (SETTINGS[key] is float and isinstance(value, int)):
            problems.append(f"'{key}' must be {SETTINGS[key].__name__}, got {value!r}.")
        elif key in PAGES and len(value) > MAX_PAGE_CHARS:
            problems.append(
                f"the {PAGES[key]} page has {len(value):,} characters; at most {MAX_PAGE_CHARS:,} fit. Shorten it, "
                "or link to a longer document."
            )
        elif key == "title" and not value.strip():
            problems.append("the title must not be empty.")
        elif key in ("daily_limit", "total_limit", "team_size", "final_selections") and value < 1:
            problems.append(f"'{key}' must be 1 or more.")
        elif key == "public_fraction" and not 0 < value < 1:
            problems.append("'public_fraction' must be between 0 and 1 (exclusive).")
        elif key == "feedback" and value not in FEEDBACK_MODES:
            problems.append(f"'feedback' must be one of: {', '.join(FEEDBACK_MODES)}; got {value!r}.")
        elif key == "feedback" and value == "ladder" and value != competition.feedback and _in_a_suite(competition):
            problems.append(
                "'feedback' cannot be 'ladder': this competition is a task of a benchmark suite, whose board shows "
                "every task's score with its interval, which would give away what the Ladder holds back. Host the "
                "task again under a new short name for a competition with the Ladder."
            )
        elif key == "submission_kind" and (why := _kind_refused(competition, value)):
            problems.append(why)
        elif key == "rank_by" and value not in RANK_RULES:
            problems.append(f"'rank_by' must be one of: {', '.join(RANK_RULES)}; got {value!r}.")
        elif key in UTILITY_WEIGHTS and not 0 <= value <= MAX_WEIGHT:
            problems.append(
                f"'{key}' must be a number from 0 to {MAX_WEIGHT:g}, got {value!r}: how much the board's spread "
                "of run times (or of peak memory) counts against the score, e.g. 0.1."
            )
        elif key == "public_fraction" and value != competition.public_fraction and (why := _split_fixed(competition)):
            problems.append(why)
        else:
            setattr(competition, key, value)
    if competition.starts_at and competition.ends_at and competition.ends_at <= competition.starts_at:
        problems.append("the end must come after the start.")
    if competition.merger_deadline and competition.ends_at and competition.merger_deadline > competition.ends_at:
        problems.append(
            "the merger deadline must come before the end (teams are fixed by then); clear it for the default, "
            "one week before the end."
        )
    if not problems:
        problems += _utility_refused(competition)
    if problems:
        raise CompetitionError(problems)
    return competition


def _utility_refused(competition: Competition) -> list[str]:
    """Why the board cannot rank by utility as set ([] when it can, or ranks by score)."""
    if competition.rank_by != "utility":
        return []
    if not is_code(competition):
        return [
            "'rank_by' can be 'utility' only in a code competition (submission_kind 'code'): Arena measures the "
            "time and memory of the programs it runs, never of an uploaded predictions file. Keep 'score'."
        ]
    if not (competition.utility_time_weight or 0) > 0 and not (competition.utility_memory_weight or 0) > 0:
        return [
            "'rank_by' is 'utility' but both 'utility_time_weight' and 'utility_memory_weight' are 0, so the "
            "utility would be the score alone: give one of them a weight above 0 (e.g. utility_time_weight=0.1), "
            "or rank by 'score'."
        ]
    return []


def change_settings(session: Session, competition: Competition, user: User | None, **settings) -> list[str]:
    """Change rules as an organiser (:func:`update_settings`) and write what changed in the audit log: one entry
    naming each changed setting, with its old and new value (a title's or description's text is only named).
    Returns the names of the settings that changed."""
    before = {key: getattr(competition, key) for key in settings if key in SETTINGS}
    update_settings(competition, **settings)
    changed = [key for key, value in before.items() if getattr(competition, key) != value]
    if changed:
        parts = [_change_of(key, before[key], getattr(competition, key)) for key in changed]
        audit.record(session, competition, user, "settings", "; ".join(parts)[:500])
    return changed


def _change_of(key: str, old: Any, new: Any) -> str:
    """One setting's change as the audit log says it: a text is named with its length, never quoted."""
    if key in TEXT_SETTINGS:
        name = f"{PAGES[key].lower()} page" if key in PAGES else key
        return f"{name} edited ({len(old or ''):,} → {len(new or ''):,} characters)"
    return f"{key}: {old} → {new}"


def _kind_refused(competition: Competition, kind: str) -> str:
    """Why the competition cannot take ``kind`` of submission ("" when it can)."""
    if kind not in SUBMISSION_KINDS:
        return f"'submission_kind' must be one of: {', '.join(SUBMISSION_KINDS)}; got {kind!r}."
    if kind == competition.submission_kind:
        return ""
    if kind == "code" and not (competition.task_facts or {}).get("code"):
        return (
            "'submission_kind' cannot be 'code': this task's task.toml declares no code submissions. Add "
            '[submission] kind = "code" (with its entry function and limits) to the bundle, publish it, and host it.'
        )
    if kind == "code" and _in_a_suite(competition):
        return (
            "'submission_kind' cannot be 'code': this competition is a task of a benchmark suite, whose models enter "
            "a predictions file per task (or, where the task declares code, their program as part of an entry). Host "
            "the task again under a new short name for a code competition."
        )
    session = object_session(competition)
    if session is not None and competition.id is not None:
        if session.scalar(select(Submission.id).where(Submission.competition_id == competition.id).limit(1)):
            return (
                f"'submission_kind' cannot change once teams have submitted: this competition takes "
                f"{competition.submission_kind} submissions. Host the task again under a new short name instead."
            )
    return ""


def is_code(competition: Competition) -> bool:
    """True when participants upload a program that Arena runs, rather than predictions."""
    return competition.submission_kind == "code"


def _in_a_suite(competition: Competition) -> bool:
    session = object_session(competition)
    if session is None:
        return False
    return session.scalar(select(SuiteTask.id).where(SuiteTask.competition_id == competition.id).limit(1)) is not None


def _split_fixed(competition: Competition) -> str:
    """Why the public fraction cannot change ("" when it can): the answer file's Usage column decides the split,
    or a submission was scored on it (or the board was revealed), and a board must never mix two splits."""
    from arena.server.split_facts import split_of

    split = split_of(competition)
    if split.decided_by == "usage":
        return (
            f"'public_fraction' has no effect here: the answer file's Usage column decides which test rows are "
            f"public ({split.public_rows} public, {split.private_rows} private: "
            f"{round(split.public_fraction * 100)}% public), and scoring follows it. To change the split, change "
            "the Usage column and host the task again under a new short name."
        )
    if not _split_frozen(competition):
        return ""
    because = "the private board is revealed" if competition.revealed else "submissions have been scored on it"
    return (
        f"'public_fraction' cannot change: {because}, so the split stays at "
        f"{round(competition.public_fraction * 100)}% public (the board never mixes two splits). Host the task "
        "again under a new short name for a different split."
    )


def _split_frozen(competition: Competition) -> bool:
    """True once the competition is revealed or any submission has been scored on its split."""
    session = object_session(competition)
    if competition.revealed:
        return True
    if session is None or competition.id is None:
        return False
    return bool(
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.competition_id == competition.id, Submission.score.is_not(None))
        )
    )


def accepting_submissions(competition: Competition, now: datetime | None = None) -> tuple[bool, str]:
    """Whether uploads are accepted now, and if not, why (for the person who tried)."""
    now = now or utcnow()
    if competition.lifecycle == "draft":
        return False, "this competition is a draft: the organisers have not opened it yet."
    if competition.lifecycle == "archived":
        return False, "this competition is archived: it is kept for reference and takes no more uploads."
    if competition.revealed:
        return False, "the private leaderboard is revealed: this competition is over and takes no more uploads."
    if not competition.is_open:
        return False, "the organisers have closed this competition."
    if competition.starts_at and now < competition.starts_at:
        return False, f"the competition opens at {competition.starts_at:%Y-%m-%d %H:%M} UTC."
    if competition.ends_at and now >= competition.ends_at:
        return False, f"the competition ended at {competition.ends_at:%Y-%m-%d %H:%M} UTC."
    return True, ""


def is_benchmark(competition: Competition) -> bool:
    return competition.ends_at is None


_BY_SLUG = (
    select(Competition, BoardGeneration.generation)
    .outerjoin(BoardGeneration, BoardGeneration.competition_id == Competition.id)
    .where(Competition.slug == bindparam("slug"))
)
"""Built once (every page of a competition runs it); the board generation comes with the row."""


def get(session: Session, slug: str) -> Competition:
    """The competition named ``slug``.

    Its board generation is read in the same query and remembered for the transaction:
    the kept board a page serves next is checked against it without another round trip.
    """
    found = session.execute(_BY_SLUG, {"slug": slug}).first() if "\x00" not in slug else None
    if found is None:
        raise CompetitionError(f"there is no competition '{slug}'.")
    competition, counter = found
    generations.remember(session, competition.id, counter)
    return competition


_ALL = (
    select(Competition, BoardGeneration.generation)
    .outerjoin(BoardGeneration, BoardGeneration.competition_id == Competition.id)
    .order_by(Competition.created_at, Competition.id)
)


def list_all(session: Session) -> list[Competition]:
    """Every competition, oldest first; their board generations are read in the same query (see :func:`get`)."""
    found = []
    for competition, counter in session.execute(_ALL):
        generations.remember(session, competition.id, counter)
        found.append(competition)
    return found


def unpack_uploaded_bundle(archive: Path, slug: str) -> Path:
    """An organiser's uploaded bundle, unpacked into its own new folder under ARENA_HOME/bundles.

    The slug is checked first, and the folder must lie inside ARENA_HOME/bundles,
    so a name such as ``../../x`` or ``/tmp/x`` unpacks nothing anywhere.
    """
    if not isinstance(slug, str) or not SLUG.match(slug):
        raise CompetitionError(
            "the short name must be 2-63 lowercase letters, digits or '-', starting with a letter or digit."
        )
    bundles = private_dir(arena_home() / "bundles").resolve()  # owner-only: uploaded bundles hold answer keys
    target = (bundles / slug / secrets.token_hex(6)).resolve()
    if not target.is_relative_to(bundles):
        raise CompetitionError("the bundle must be unpacked inside the installation's bundles folder.")
    return unpack_bundle(archive, target)


def host_uploaded_bundle(session: Session, archive: Path, slug: str | None, **settings) -> Competition:
    """Host an uploaded bundle archive: the short name is checked before a byte is unpacked."""
    if slug is not None:
        check_slug(session, slug)
    return host(session, str(unpack_uploaded_bundle(archive, slug or "upload")), slug=slug, **settings)


def unpack_for_preview(session: Session, archive: Path, slug: str | None) -> Path:
    """An uploaded Codabench/CodaLab archive, unpacked into its own folder (the short name checked first)."""
    if slug is not None:
        check_slug(session, slug)
    return unpack_uploaded_bundle(archive, slug or "upload")


def host_stages(
    session: Session, ref: str | Path, *, slug: str | None = None, native: bool = False, **settings
) -> list[Competition]:
    """Host every phase of a bundle as linked competitions (``native``: score where Arena's metric matches).

    Dates come from the phases; other settings given here apply to every stage.
    """
    settings = {key: value for key, value in settings.items() if not (key in PHASE_DATES and value is None)}
    stages = preview(ref, detect_native=native)
    base = slug or slug_of(stages[0].title)
    if len(stages) > 1 and any(settings.get(key) is not None for key in PHASE_DATES):
        raise CompetitionError(
            "the bundle's phases set each stage's dates; change them on each stage's admin page after hosting."
        )
    slugs = [base] + [f"{base}-{stage.number}" for stage in stages[1:]]
    for stage_slug in slugs:
        check_slug(session, stage_slug)
    hosted = []
    for stage, stage_slug in zip(stages, slugs):
        phase = stage.phase
        stage_ref = stage.task.spec.ref + (
            f"&native={stage.detection.metric}" if native and stage.detection.metric else ""
        )
        dates = {"starts_at": phase.starts_at, "ends_at": phase.ends_at}
        hosted.append(host(session, stage_ref, slug=stage_slug, **{**dates, **settings}))
    return hosted


NewVersionHook = Callable[[Session, Competition], object]
"""Called with a competition about to take a new task version, before anything of it changes: the suites that hold
it freeze their boards there (:func:`arena.server.suite_releases.freeze_suites_of`, which this module cannot import:
the suites import it)."""


def replace_task(
    session: Session, competition: Competition, task_ref: str, *, before_new_version: NewVersionHook | None = None
) -> int:
    """Switch to a new version of the task; every submission is queued for rescoring.

    Old scores stay in each submission's history (ScoreRecord). Returns how many
    submissions were queued. ``before_new_version`` runs once the new version is
    known to be new, before the competition changes.
    """
    if competition.revealed:
        raise CompetitionError(
            "the private leaderboard is revealed, and a reveal is final: the task cannot change. "
            "Host the new version under a new short name."
        )
    task = load_task(task_ref)
    if task.answer_key.sha256 == competition.answer_sha256 and task.spec.version == competition.task_version:
        raise CompetitionError("this bundle has the same version and answer key as the current task.")
    if before_new_version is not None:
        before_new_version(session, competition)
    _pin(competition, task_ref, task)
    return _adopt(session, competition, task)


def sync_task_versions(session: Session, *, before_new_version: NewVersionHook | None = None) -> list[str]:
    """Notice bundles changed on disk (a new version, new labels): adopt them and rescore everything.

    Called when the server starts, so an organiser who edits a bundle in place only
    has to restart: the new version gets its own snapshot. A moved or broken folder
    changes nothing (the snapshot carries on); a snapshot that cannot be loaded marks
    the competition broken, for organisers to see. Returns the competitions that changed.
    ``before_new_version`` runs for each of them before it changes (see :func:`replace_task`).
    """
    changed = []
    for competition in list_all(session):
        try:
            current = load_task(competition.task_ref)
        except (ArenaError, OSError) as exc:
            snapshots.mark_broken(competition, exc)
            continue
        if competition.broken or not competition.task_facts:
            snapshots.store_facts(competition, current)
        if competition.revealed:  # a reveal is final: its ranking never moves
            continue
        source, task = competition.source_ref or competition.task_ref, current
        if source != competition.task_ref:
            try:
                task = load_task(source)
            except (ArenaError, OSError):  # the organiser's folder moved or broke: the snapshot carries on
                task = current
        if (task.spec.version, task.answer_key.sha256) != (competition.task_version, competition.answer_sha256):
            if before_new_version is not None:
                before_new_version(session, competition)
            _pin(competition, source, task)
            queued = _adopt(session, competition, task)
            audit.record(
                session,
                competition,
                None,
                "replace",
                f"task version {competition.task_version} found at the server's start; {queued} submissions queued "
                "for rescoring",
                by="(Arena)",
            )
            changed.append(competition.slug)
            continue
        if current.snapshot_folder(competition.task_ref) is not None and not snapshots.is_snapshot(
            competition.task_ref
        ):
            _pin(competition, competition.task_ref, task)  # hosted before snapshots: it gets one now
        if not competition.commitment:  # hosted before commitments were salted
            commit_to_answer_key(competition, task)
    return changed


def queue_rescore(session: Session, competition: Competition) -> int:
    """Put every scored submission back in the queue (its current score stays visible meanwhile).

    Refused after the reveal: a reveal is final, and the bundle on disk may have moved on.
    """
    if competition.revealed:
        raise CompetitionError("the private leaderboard is revealed, and a reveal is final: its scores are not redone.")
    rows = session.scalars(
        select(Submission).where(
            Submission.competition_id == competition.id, Submission.status.in_(("scored", "scoring"))
        )
    )
    count = 0
    for submission in rows:
        submission.status, submission.attempts = "queued", 0
        count += 1
    return count


def set_open(competition: Competition, is_open: bool) -> None:
    """Open or close uploads (opening a draft publishes it); a revealed or archived competition stays closed."""
    if is_open and competition.lifecycle == "archived":
        raise CompetitionError(
            "this competition is archived and cannot be re-opened; host the task again for a new round."
        )
    if is_open and competition.revealed:
        raise CompetitionError(
            "the private leaderboard is revealed, and a reveal is final: this competition cannot "
            "be re-opened. Host the task again under a new short name for a new round."
        )
    if is_open and competition.lifecycle == "draft":
        competition.lifecycle = "published"
    competition.is_open = is_open


def reveal(competition: Competition) -> None:
    """Publish the private leaderboard and the commitment's salt, and close uploads: final, never undone."""
    if competition.lifecycle == "draft":
        raise CompetitionError("this competition is a draft: open it (and let teams submit) before revealing anything.")
    if not competition.revealed:
        competition.revealed_at = utcnow()
    competition.revealed = True
    competition.is_open = False


def can_see_private(competition: Competition, user: User | None) -> bool:
    """Private scores are for organisers only, until the organiser reveals them."""
    return competition.revealed or bool(user and user.is_organiser)
