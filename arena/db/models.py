"""SQLAlchemy 2 models. Plain records: the rules live in the functions beside them, not here."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored naive, always UTC


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_organiser: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Accounts and sessions (revision 0002): False while registration waits for an organiser's approval;
    # the generation is part of every session, so raising it ends them all.
    approved: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Notifications (revision 0018): an address for e-mail, and what the user asked to be told (nothing by default).
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    notify_scores: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    notify_announcements: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")  # the token's name
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # revision 0002; None: never
    user: Mapped[User] = relationship()


class InstallationSetting(Base):
    """One installation-wide setting an organiser may change, such as the registration policy (revision 0002)."""

    __tablename__ = "installation_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class Invite(Base):
    """A single-use invitation to register, for invite-only installations (revision 0002). Only its hash is kept."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    used_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class JoinRequest(Base):
    """A participant's request to enter a competition that needs approval (revision 0002)."""

    __tablename__ = "join_requests"
    __table_args__ = (UniqueConstraint("competition_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[User] = relationship()


class Competition(Base):
    __tablename__ = "competitions"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    task_ref: Mapped[str] = mapped_column(String(500))  # built-in name or bundle folder on the server
    task_version: Mapped[int] = mapped_column(Integer, default=1)
    answer_sha256: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_limit: Mapped[int] = mapped_column(Integer, default=5)
    total_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    team_size: Mapped[int] = mapped_column(Integer, default=4)
    final_selections: Mapped[int] = mapped_column(Integer, default=2)
    public_fraction: Mapped[float] = mapped_column(Float, default=0.3)
    join_needs_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")  # revision 0002
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Integrity of the final ranking (revision 0003). An empty split_key is a competition hosted before
    # it existed: its rows stay split by task name, so no score moves.
    split_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    commitment_salt: Mapped[str] = mapped_column(String(64), default="", server_default="")
    commitment: Mapped[str] = mapped_column(String(64), default="", server_default="")
    revealed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Statistics (revision 0005): what participants see of public scores (arena.bundles.spec.FEEDBACK_MODES).
    feedback: Mapped[str] = mapped_column(String(16), default="rounded", server_default="rounded")
    # Organisers (revision 0006): draft | published | archived (open, closed and revealed stay in is_open and
    # revealed); the snapshot the task is hosted from and the organiser's folder it was copied from; what pages
    # show of the task, stored at hosting so no page materialises it; why the bundle is broken ("" when it is not).
    lifecycle: Mapped[str] = mapped_column(String(16), default="published", server_default="published")
    snapshot: Mapped[str] = mapped_column(String(64), default="", server_default="")
    source_ref: Mapped[str] = mapped_column(String(500), default="", server_default="")
    metric: Mapped[str] = mapped_column(String(64), default="", server_default="")
    higher_is_better: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    train_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    test_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    task_facts: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    broken: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    # Revision 0013: "file" (participants upload predictions) or "code" (a program Arena runs on the test inputs,
    # only for a task whose task.toml declares code).
    submission_kind: Mapped[str] = mapped_column(String(8), default="file", server_default="file")
    # Revision 0014: what ranks the board ("score", or in a code competition "utility": the score weighed against
    # each run's wall time and peak memory, arena.server.standings) and the weights of time and memory.
    rank_by: Mapped[str] = mapped_column(String(16), default="score", server_default="score")
    utility_time_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    utility_memory_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Revision 0015: the last moment teams may merge or take a new member (None: one week before the end, or
    # halfway through a competition shorter than two weeks; a benchmark without an end has none).
    merger_deadline: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The organisers' outgoing webhook (revision 0018): none by default; its secret signs every payload.
    webhook_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    webhook_secret: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # Revision 0017: the organiser's Markdown for the page's Data, Rules and Timeline sections ("" shows only the
    # facts Arena states itself); the overview is ``description``.
    data_page: Mapped[str] = mapped_column(Text, default="", server_default="")
    rules_page: Mapped[str] = mapped_column(Text, default="", server_default="")
    timeline_page: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Revision 0016: participants accept the rules before downloading data or submitting (recorded per user in
    # RulesAcceptance); uploads after the end are taken as late submissions, shown on a late board, never ranked.
    rules_acceptance: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    late_submissions: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("competition_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    name: Mapped[str] = mapped_column(String(64))
    invite_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    disqualified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # revision 0003
    daily_limit_override: Mapped[int | None] = mapped_column(Integer, nullable=True)  # revision 0006
    # Revision 0009: uncharged failures before this moment no longer count against the team's daily allowance.
    failures_cleared_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    disqualified_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")  # revision 0016
    members: Mapped[list[Membership]] = relationship(back_populates="team")


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("competition_id", "user_id"),)  # one team per person per competition
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    team: Mapped[Team] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class TeamMergeRequest(Base):
    """One team's request to merge into another (revision 0015), waiting for a member of the other team to accept
    or decline it. A request answered, withdrawn or made moot by a merge is deleted; the audit log keeps it."""

    __tablename__ = "team_merge_requests"
    __table_args__ = (UniqueConstraint("from_team_id", "to_team_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), index=True)
    from_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    to_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    from_team: Mapped[Team] = relationship(foreign_keys=[from_team_id])
    to_team: Mapped[Team] = relationship(foreign_keys=[to_team_id])


class Submission(Base):
    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued|scoring|scored|failed
    utc_day: Mapped[str] = mapped_column(String(10))  # the UTC date that the daily limit counts against
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    scoring_started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Workers (revision 0004): who holds the claim ("host:pid:nonce") and when it last said it was alive.
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    problems: Mapped[list | None] = mapped_column(JSON, nullable=True)  # what a person must fix, if failed
    score: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # arena.scoring.Score.to_dict()
    public_primary: Mapped[float | None] = mapped_column(Float, nullable=True)
    private_primary: Mapped[float | None] = mapped_column(Float, nullable=True)
    scored_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
    disqualified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Statistics (revision 0005): the per-row results of the primary metric in the file store (by SHA-256,
    # "" before), and under the Ladder the public score this submission shows and whether it moved the team's.
    rows_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    ladder_public: Mapped[float | None] = mapped_column(Float, nullable=True)
    ladder_step: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Revision 0008: why scoring failed on our side (a traceback), for organisers only, never participants.
    failure_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Revision 0009: kills for time so far (bounded, across restarts), and why the file failed without costing a
    # slot: "ours", "timeout" or "program" (None for a scored file, or one the reader refused).
    timeouts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Revision 0013, code submissions only (None for a predictions file): the run's status (queued | running |
    # scoring | scored | failed), why the participant's code failed ("time", "memory" or "error": it costs a slot),
    # what the run measured, and its output, for organisers only (it may carry the hidden test inputs).
    run_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    code_failure: Mapped[str | None] = mapped_column(String(16), nullable=True)
    wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    run_log: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Revision 0016: a reference model's name (its own row on the board; "" for a team's submission), whether it
    # came after the end (a late submission: its own board, never ranked) and why the organisers disqualified it.
    baseline_model: Mapped[str] = mapped_column(String(64), default="", server_default="")
    late: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disqualified_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    team: Mapped[Team] = relationship()
    user: Mapped[User] = relationship()


class DryRun(Base):
    """A participant's program run on the public sample (revision 0013): validated, never scored or ranked, and
    its output shown to its team. ``status``: queued | running | done | failed."""

    __tablename__ = "dry_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    utc_day: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    code_failure: Mapped[str | None] = mapped_column(String(16), nullable=True)  # time | memory | error | ours
    problems: Mapped[list | None] = mapped_column(JSON, nullable=True)  # what the team must fix
    log: Mapped[str | None] = mapped_column(Text, nullable=True)  # the program's output on the sample, truncated
    wall_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    cpu_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)


class ScoreRecord(Base):
    """Every score a submission ever had: a new task version rescores, and the old score stays here."""

    __tablename__ = "score_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    task_version: Mapped[int] = mapped_column(Integer)
    answer_sha256: Mapped[str] = mapped_column(String(64))
    score: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditEntry(Base):
    """One organiser action on a competition (who hosted, revealed, disqualified or rescored, and when: revision
    0006) or on a suite (a release, a model's tier or flag: revision 0012)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int | None] = mapped_column(
        Integer, nullable=True, index=True
    )  # kept after a draft's deletion
    competition_slug: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Revision 0012: an action on a suite (a release, a model's tier or flag) names the suite, not a competition.
    suite_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class Announcement(Base):
    """A message from the organisers shown on the competition's page (revision 0006)."""

    __tablename__ = "announcements"
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    author: Mapped[User | None] = relationship()


class RulesAcceptance(Base):
    """One participant's acceptance of a competition's rules, and when (revision 0016)."""

    __tablename__ = "rules_acceptances"
    __table_args__ = (UniqueConstraint("competition_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BoardGeneration(Base):
    """A counter per competition, raised by every transaction that changes its board (revision 0007).

    Web processes keep a computed board while the counter stays where it was; no row means 0.
    """

    __tablename__ = "board_generations"
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RankClaim(Base):
    """A worker computing one board's rank statistics (revision 0010): the row is the claim, taken atomically,
    so two workers never compute the same board at once; a claim older than its stale age is taken over."""

    __tablename__ = "rank_claims"
    board_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker: Mapped[str] = mapped_column(String(100))
    claimed_at: Mapped[datetime] = mapped_column(DateTime)


class Suite(Base):
    """A benchmark suite as hosted (revision 0011): its tasks, weights, floors, ceilings and aggregate method,
    kept as they were when this version was hosted (``spec``), with the SHA-256 of its ``suite.toml`` text."""

    __tablename__ = "suites"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SuiteTask(Base):
    """One task of a suite's current version: the competition that hosts it, its weight, and its scale (the floor
    as measured at hosting when the suite declares none) and its place among the suite's tasks (revision 0011)."""

    __tablename__ = "suite_tasks"
    __table_args__ = (UniqueConstraint("suite_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id"), index=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    key: Mapped[str] = mapped_column(String(64))
    weight: Mapped[float] = mapped_column(Float)
    floor: Mapped[float] = mapped_column(Float)
    ceiling: Mapped[float] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer)


class SuiteModel(Base):
    """A system entered in a suite by one account (revision 0011); its versions are its entries. ``name_key`` is
    the name compared case- and width-blind, so no one can enter a look-alike of another's model."""

    __tablename__ = "suite_models"
    __table_args__ = (UniqueConstraint("suite_id", "name"), UniqueConstraint("suite_id", "name_key"))
    id: Mapped[int] = mapped_column(primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    is_baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user: Mapped[User] = relationship()


class SuiteEntry(Base):
    """One version of a model (revision 0011): its card as submitted and one submission per task
    (:class:`SuiteEntryFile`). A new version leaves the earlier ones in the model's history."""

    __tablename__ = "suite_entries"
    __table_args__ = (UniqueConstraint("model_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("suite_models.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    card: Mapped[dict] = mapped_column(JSON)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Verification (revision 0012): how far the scores are vouched for (arena.server.suites.TIERS:
    # reported, reproduced, reference) with the organiser's note, and why an organiser flagged it ("": not flagged).
    tier: Mapped[str] = mapped_column(String(16), default="reported", server_default="reported")
    tier_note: Mapped[str] = mapped_column(Text, default="", server_default="")
    flag_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    flagged_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    flagged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)


class SuiteRelease(Base):
    """A suite's board frozen (revision 0012): a citable release (``kind`` "release", numbered 1, 2, ... per
    suite) or the last board of a suite version before a new task version replaced it (``kind`` "version",
    numbered by that suite version). Its files are in the file store by SHA-256 and never change."""

    __tablename__ = "suite_releases"
    __table_args__ = (UniqueConstraint("suite_id", "kind", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    number: Mapped[int] = mapped_column(Integer)
    suite_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))  # the suite's title as frozen
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # None: Arena itself
    json_sha256: Mapped[str] = mapped_column(String(64))
    csv_sha256: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict] = mapped_column(JSON)  # every stored format (json, csv, and the other exports) -> SHA-256
    creator: Mapped[User | None] = relationship()


class SuiteEntryFile(Base):
    """An entry's submission for one task (revision 0011). A link, not a column of the submission: two entries
    may name the same submission (an identical file from the same team is one submission)."""

    __tablename__ = "suite_entry_files"
    __table_args__ = (UniqueConstraint("entry_id", "competition_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("suite_entries.id"), index=True)
    competition_id: Mapped[int] = mapped_column(ForeignKey("competitions.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # the task's key in the suite when the entry was made


# Each team's submissions of one competition together: the board's per-team best reads them in order (revision 0007).
Index("ix_submissions_competition_team", Submission.competition_id, Submission.team_id)
