"""The leaderboard: best submission per team, on public rows while open, private rows after reveal."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arena.db.models import Competition, ScoreRecord, Submission, Team
from arena.scoring.score import rounded
from arena.server import ranks
from arena.server.board_cache import cached
from arena.server.ranks import RankStatistics, shared_ranks
from arena.server.snapshots import facts_of
from arena.server.submissions import run_state
from arena.suites.efficiency import Cost, Efficiency, utilities

T = TypeVar("T")


@dataclass(frozen=True)
class Standing:
    rank: int | None  # None: a reference model's row, drawn at its score but not ranked among the teams
    team: str
    score: float | None
    ci_low: float | None
    ci_high: float | None
    submission_id: int
    entries: int
    is_baseline: bool
    submitted_at: str  # when the submission shown (the ranked one) was uploaded
    last_submitted_at: str = ""  # when the team's latest scored upload was made
    values: dict = dataclass_field(default_factory=dict)  # a Codabench bundle's leaderboard columns, by key
    auto_selected: bool = False  # private board: the team chose no finals, so its best public ones were judged
    rank_interval: tuple[int, int] | None = None  # 95% range of ranks over joint resamples of the rows
    indistinguishable_from_next: bool = False  # a paired bootstrap cannot tell this team from the next one
    rank_interval_pending: bool = False  # the worker has yet to compute this board's rank intervals
    # A code competition's board: what the shown submission's run measured (None for a predictions file, such as
    # a baseline's), and under rank_by = "utility" the utility that ranks it (None: not placed, a measure missing).
    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    utility: float | None = None


MEASURED = ("wall_seconds", "cpu_seconds", "peak_memory_mb")
"""A code run's measurements, shown on a code competition's board (and nowhere on a file competition's)."""


@dataclass(frozen=True)
class RankRule:
    """What ranks a board, as its page, its JSON and its CSV say: ``score`` (the primary score, with its
    intervals) or ``utility`` (a code competition's score weighed against its runs' time and memory)."""

    rule: str
    measured: bool  # the board shows each run's wall time, CPU time and peak memory
    weights: dict[str, float]  # utility only: {"time": ..., "memory": ...}
    explanation: str

    def to_dict(self) -> dict:
        return asdict(self)


def rank_rule(competition: Competition) -> RankRule:
    """The rule that ranks this competition's boards, and a sentence that explains it to a reader."""
    from arena.server.competitions import is_code

    code = is_code(competition)
    if not (code and competition.rank_by == "utility"):
        return RankRule(
            "score",
            code,
            {},
            "Ranked by the score; the 95% interval of each score and the range of each team's rank come from "
            "resampling the test rows.",
        )
    weights = {"time": competition.utility_time_weight, "memory": competition.utility_memory_weight}
    sign = "" if competition.higher_is_better else "minus "
    return RankRule(
        "utility",
        True,
        weights,
        f"Ranked by utility = ({sign}score − {weights['time']:g} × time − {weights['memory']:g} × memory) / "
        f"(1 + {weights['time']:g} + {weights['memory']:g}), where time and memory are each run's wall time and "
        "peak memory on a log scale from 0 (the board's least) to 1 (its most). A utility has no interval (a "
        "run's time is one measurement), so ranks by utility carry no range; the score keeps its own interval.",
    )


def _eligible_where(competition: Competition, *, reference: bool = False, late: bool = False) -> tuple:
    """A submission on a board: scored, not disqualified; a team's (or with ``reference`` a reference model's),
    made before the end (or with ``late`` after it: the late board's)."""
    return (
        Submission.competition_id == competition.id,
        Submission.disqualified.is_(False),
        Team.disqualified.is_(False),
        Submission.status != "failed",
        Submission.score.is_not(None),
        Submission.is_baseline.is_(reference),
        Submission.late.is_(late),
    )


def _chosen(
    session: Session,
    competition: Competition,
    *,
    higher: bool,
    private: bool,
    reference: bool = False,
    late: bool = False,
) -> list[tuple[Submission, int, datetime]]:
    """Each team's board submission, its number of entries and when its latest one came, chosen in the database.

    A window ranks every team's eligible submissions by public score (then the earliest);
    only the chosen rows, and on the private board the few chosen finals, are loaded. With ``reference``
    the rows are the reference models' (one per model's name, whoever uploaded it), each its best public one.
    """

    def order(column) -> tuple:
        return (column.is_(None), column.desc() if higher else column.asc(), Submission.created_at, Submission.id)

    group = Submission.baseline_model if reference else Submission.team_id
    ranked = (
        select(
            Submission.id,
            group.label("row_key"),
            func.row_number().over(partition_by=group, order_by=order(Submission.public_primary)).label("place"),
            func.count().over(partition_by=group).label("entries"),
            func.max(Submission.created_at).over(partition_by=group).label("latest"),
        )
        .join(Team, Team.id == Submission.team_id)
        .where(*_eligible_where(competition, reference=reference, late=late))
        .subquery()
    )
    best = {
        row_key: (submission_id, entries, latest)
        for submission_id, row_key, entries, latest in session.execute(
            select(ranked.c.id, ranked.c.row_key, ranked.c.entries, ranked.c.latest).where(ranked.c.place == 1)
        )
    }
    # A team's best final on private rows; among its best public ones (up to the limit) if it chose none.
    if private and not reference:
        finals = (
            select(Submission.id, Submission.team_id)
            .where(*_eligible_where(competition, late=late), Submission.selected.is_(True))
            .join(Team, Team.id == Submission.team_id)
            .order_by(*order(Submission.private_primary))
        )
        picked: dict[int, int] = {}
        for submission_id, team_id in session.execute(finals):
            picked.setdefault(team_id, submission_id)
        auto = (
            select(Submission.id, Submission.team_id)
            .join(ranked, ranked.c.id == Submission.id)
            .where(ranked.c.place <= max(1, competition.final_selections))
            .order_by(*order(Submission.private_primary))
        )
        for submission_id, team_id in session.execute(auto):
            picked.setdefault(team_id, submission_id)
        best = {
            team_id: (picked.get(team_id, submission_id), entries, latest)
            for team_id, (submission_id, entries, latest) in best.items()
        }
    ids = [submission_id for submission_id, _, _ in best.values()]
    rows: dict[int, Submission] = {}
    for start in range(0, len(ids), 500):
        rows.update(
            (s.id, s) for s in session.scalars(select(Submission).where(Submission.id.in_(ids[start : start + 500])))
        )
    return [(rows[submission_id], entries, _naive(latest)) for submission_id, entries, latest in best.values()]


def _naive(moment) -> datetime:
    """A window's MAX(created_at) as the column's own naive UTC datetime (SQLite hands back text)."""
    if isinstance(moment, str):
        return datetime.fromisoformat(moment)
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def board_order(
    session: Session, competition: Competition, *, private: bool
) -> tuple[list[tuple[Submission, int]], str]:
    """Each team's board submission and its number of entries, in board order, and the score field shown:
    the private score, the Ladder's released score, or the public score. Reference models are not teams."""
    rows, field = _board_rows(session, competition, private=private)
    return [(submission, entries) for submission, entries, _ in rows], field


def _sort_key(higher: bool) -> Callable[[float | None, datetime], tuple]:
    def key(value: float | None, when: datetime) -> tuple:
        return (value is None, -(value or 0.0) if higher else (value or 0.0), when)

    return key


def _board_rows(
    session: Session, competition: Competition, *, private: bool, late: bool = False
) -> tuple[list[tuple[Submission, int, datetime]], str]:
    """The teams' rows in board order (with each team's latest upload) and the score field shown."""
    higher = competition.higher_is_better
    chosen = _chosen(session, competition, higher=higher, private=private, late=late)
    ladder = competition.feedback == "ladder" and not private and not late
    if ladder:
        chosen = ladder_choice(session, competition, chosen, higher=higher)
    field = "private_primary" if private else ("ladder_public" if ladder else "public_primary")
    key = _sort_key(higher)
    chosen.sort(key=lambda row: key(getattr(row[0], field), row[0].created_at))
    return chosen, field


def rank_statistics(competition: Competition, submissions: list[Submission], *, private: bool) -> RankStatistics:
    """The board's stored rank statistics (computed by the worker), or none where the board carries none."""
    ladder = competition.feedback == "ladder" and not private
    if not ranks.wanted(competition, private=private, ladder=ladder):
        return RankStatistics.none(len(submissions))
    return ranks.stored(competition, submissions, private=private)


def best_per_team(
    session: Session, competition: Competition, *, private: bool, rank_baselines: bool = False, late: bool = False
) -> list[Standing]:
    """Ranked standings. Public: each team's best public score. Private: the best private score
    among the team's chosen finals or, if it chose none, among its best public submissions up to the
    selection limit (as Kaggle auto-selects). The task is never loaded: its direction and columns are stored.

    Each reference model (a baseline, by its name) is a row of its own drawn at its score without a rank, as
    Kaggle draws its benchmark rows; ``rank_baselines`` ranks them among the teams instead (a view only: the
    teams' own ranks, rank intervals, shake-up and medals never count them). With ``late`` the rows are the
    teams' late submissions (after the end), none ranked: the late board never touches the competition's."""
    # A Codabench/CodaLab stage takes its direction (and its extra columns) from the bundle's leaderboard.
    facts = facts_of(competition)
    columns = [column["key"] for column in facts.get("columns", ())]
    chosen, field = _board_rows(session, competition, private=private, late=late)
    teams = {t.id: t.name for t in session.scalars(select(Team).where(Team.competition_id == competition.id))}
    shown = [rounded(getattr(submission, field)) for submission, _, _ in chosen]
    places: list[int | None] = list(shared_ranks(shown))
    statistics = (
        RankStatistics.none(len(chosen))
        if late
        else rank_statistics(competition, [submission for submission, _, _ in chosen], private=private)
    )
    rule = rank_rule(competition)
    utility: list[float | None] = [None] * len(chosen)
    if rule.rule == "utility":
        utility = utility_of(competition, [submission for submission, _, _ in chosen], shown)
        order = sorted(range(len(chosen)), key=lambda i: (utility[i] is None, -(utility[i] or 0.0), i))
        chosen, shown, utility = [chosen[i] for i in order], [shown[i] for i in order], [utility[i] for i in order]
        placed: list[float | None] = [value for value in utility if value is not None]
        others = shared_ranks(shown[len(placed) :])  # after every placed team, in the order of their scores
        places = [*shared_ranks(placed), *(len(placed) + place for place in others)]
        statistics = RankStatistics.none(len(chosen))  # the rank intervals are the score's, not the utility's
    if late:
        places = [None] * len(chosen)
    common = {"private": private, "ladder": field == "ladder_public", "columns": columns, "rule": rule}
    standings = [
        _standing(
            competition,
            submission,
            common,
            rank=places[index],
            team=teams[submission.team_id],
            score=shown[index],
            entries=entries,
            latest=latest,
            rank_interval=statistics.intervals[index],
            indistinguishable_from_next=statistics.close[index],
            rank_interval_pending=statistics.pending,
            utility=utility[index],
        )
        for index, (submission, entries, latest) in enumerate(chosen)
    ]
    if late:
        return standings
    references = [
        _standing(
            competition,
            submission,
            common,
            rank=None,
            team=reference_name(submission.baseline_model),
            score=rounded(submission.private_primary if private else submission.public_primary),
            entries=entries,
            latest=latest,
            ladder=False,
        )
        for submission, entries, latest in _chosen(
            session, competition, higher=competition.higher_is_better, private=private, reference=True
        )
    ]
    return with_references(standings, references, competition.higher_is_better, ranked=rank_baselines, rule=rule)


def reference_name(model: str) -> str:
    """A reference model's row on the board: ``baseline: cnn`` (``baseline`` for one uploaded without a name)."""
    return f"baseline: {model}" if model else "baseline"


def _standing(competition: Competition, submission: Submission, common: dict, **row) -> Standing:
    score = submission.score
    if score is None:  # the board takes scored submissions only
        raise ValueError(f"submission {submission.id} is on the board of {competition.slug!r} without a score")
    private, rule = common["private"], common["rule"]
    ci = (None, None) if row.pop("ladder", common["ladder"]) else score["private_ci" if private else "public_ci"]
    latest = row.pop("latest")
    return Standing(
        ci_low=rounded(ci[0]),
        ci_high=rounded(ci[1]),
        submission_id=submission.id,
        is_baseline=submission.is_baseline,
        submitted_at=submission.created_at.strftime("%Y-%m-%d %H:%M"),
        last_submitted_at=latest.strftime("%Y-%m-%d %H:%M"),
        values={key: rounded(score["private" if private else "public"].get(key)) for key in common["columns"]},
        auto_selected=private and not submission.selected and not submission.is_baseline,
        wall_seconds=_measure(submission.wall_seconds) if rule.measured else None,
        cpu_seconds=_measure(submission.cpu_seconds) if rule.measured else None,
        peak_memory_mb=_measure(submission.peak_memory_mb) if rule.measured else None,
        **row,
    )


def with_references(
    teams: list[Standing], references: list[Standing], higher: bool, *, ranked: bool, rule: RankRule
) -> list[Standing]:
    """The teams' rows with the reference models' rows drawn where their scores fall (after a team with the same
    score). Unranked, the teams keep their ranks and intervals; ranked (a view that counts reference models as
    teams), every row takes its place by shown score and no row shows a rank interval, as the intervals were
    computed among the teams alone. Under a utility rule the reference rows (predictions files: no run measured)
    come last, unranked."""
    if not references:
        return teams
    if rule.rule == "utility":
        return teams + references
    key = _sort_key(higher)
    rows = sorted(
        [(key(row.score, datetime.min), 0, i, row) for i, row in enumerate(teams)]
        + [(key(row.score, datetime.min), 1, i, row) for i, row in enumerate(references)],
        key=lambda item: item[:3],
    )
    merged = [row for *_, row in rows]
    if not ranked:
        return merged
    places = shared_ranks([row.score for row in merged])
    return [
        replace(row, rank=place, rank_interval=None, indistinguishable_from_next=False, rank_interval_pending=False)
        for row, place in zip(merged, places)
    ]


def utility_of(
    competition: Competition, submissions: list[Submission], scores: list[float | None]
) -> list[float | None]:
    """Each submission's utility: its shown score weighed against its run's wall time and peak memory with the
    competition's weights, by :func:`arena.suites.efficiency.utilities` (the suites' utility view, Dynabench's
    Dynascore made stable): the score stands as it is (negated where lower is better), each cost is put on a log
    scale from 0 (the cheapest of the board) to 1 (the costliest), and
    ``utility = (score - w_time * time - w_memory * memory) / (1 + w_time + w_memory)``.
    A submission is not placed (None) without a score or without a measurement whose weight is above 0."""
    sign = 1.0 if competition.higher_is_better else -1.0
    efficiencies = [
        Efficiency(
            parameters=Cost(),
            training=_cost(submission.wall_seconds),  # a program trains and predicts in its one run
            inference=Cost(),
            memory=_cost(submission.peak_memory_mb),
        )
        for submission in submissions
    ]
    weights = {
        "accuracy": 1.0,
        "training": float(competition.utility_time_weight or 0.0),
        "memory": float(competition.utility_memory_weight or 0.0),
    }
    aggregates = [None if score is None else sign * score for score in scores]
    return [rounded(value) for value in utilities(aggregates, efficiencies, weights, higher_is_better=True)]


def _cost(value: float | None) -> Cost:
    return Cost() if value is None else Cost(float(value), "measured")


def ladder_choice(
    session: Session, competition: Competition, chosen: list[tuple[Submission, int, datetime]], *, higher: bool
) -> list[tuple[Submission, int, datetime]]:
    """Under the Ladder each team shows the submission that last moved its public score, never its hidden best."""
    steps = session.scalars(
        select(Submission)
        .join(Team, Team.id == Submission.team_id)
        .where(*_eligible_where(competition), Submission.ladder_step.is_(True), Submission.ladder_public.is_not(None))
    )
    best: dict[int, tuple[float, Submission]] = {}  # each team's released score and its submission
    for submission in steps:
        value = submission.ladder_public
        if value is None:  # the query takes released scores only
            raise ValueError(f"submission {submission.id} is a Ladder step without a released score")
        held = best.get(submission.team_id)
        better = held is None or (value > held[0] if higher else value < held[0])
        if better:
            best[submission.team_id] = (value, submission)
    return [
        (best[submission.team_id][1] if submission.team_id in best else submission, entries, latest)
        for submission, entries, latest in chosen
    ]


def final_boards(
    session: Session, competition: Competition
) -> tuple[list[Standing], list[Standing], dict[str, int | None]]:
    """After the reveal: the private board, the public board, and each team's rank change (public rank minus
    private rank: positive climbed; None for a team absent from the public board)."""
    private = best_per_team(session, competition, private=True)
    public = best_per_team(session, competition, private=False)
    public_rank = {standing.team: standing.rank for standing in public if standing.rank is not None}
    changes = {
        standing.team: (public_rank[standing.team] - standing.rank if standing.team in public_rank else None)
        for standing in private
        if standing.rank is not None  # a reference model's row moves no team
    }
    return private, public, changes


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def spreadsheet_safe(value):
    """A text cell that a spreadsheet shows as text, never runs: a leading formula character gets a quote (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def shown_fields(rule: RankRule | None = None) -> list[str]:
    """The fields of a standing that a board's JSON and CSV carry under ``rule``: a file competition's board
    carries no measurements and no utility; a code competition's carries the measurements, and the utility when
    it ranks by it."""
    left_out = {"values"}
    if rule is None or not rule.measured:
        left_out |= set(MEASURED)
    if rule is None or rule.rule != "utility":
        left_out.add("utility")
    return [name for name in Standing.__dataclass_fields__ if name not in left_out]


def to_rows(standings: list[Standing], rule: RankRule | None = None) -> list[dict]:
    """The board's rows as the JSON API gives them (each with its bundle columns under ``values``)."""
    fields = [*shown_fields(rule), "values"]
    return [{name: value for name, value in asdict(standing).items() if name in fields} for standing in standings]


def to_csv(standings: list[Standing], rule: RankRule | None = None) -> str:
    """The board as CSV; team names such as ``=HYPERLINK(...)`` are neutralised for spreadsheets."""
    buffer = io.StringIO()
    columns = list(standings[0].values) if standings else []
    fields = shown_fields(rule)
    writer = csv.DictWriter(buffer, fieldnames=fields + columns, lineterminator="\n")
    writer.writeheader()
    for standing in standings:
        row = {key: value for key, value in asdict(standing).items() if key in fields} | standing.values
        writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
    return buffer.getvalue()


def board(
    session: Session, competition: Competition, user, *, private: bool | None = None, view: str = ""
) -> tuple[bool, list[Standing]]:
    """The board this user may see: private after reveal (or for organisers who ask), else public."""
    show_private = shows_private(competition, user, private)
    return show_private, list(board_for(session, competition, show_private, view=view))


def shows_private(competition: Competition, user, private: bool | None = None) -> bool:
    """Whether this user is shown the private board: after the reveal, or an organiser who asks for it."""
    from arena.server.competitions import can_see_private

    if private is None:
        return competition.revealed
    return private and can_see_private(competition, user)


def team_count(session: Session, competition: Competition) -> int:
    """How many teams are on the board: one count per board generation, never a whole board."""

    def count() -> int:
        return (
            session.scalar(
                select(func.count(func.distinct(Submission.team_id)))
                .join(Team, Team.id == Submission.team_id)
                .where(*_eligible_where(competition))
            )
            or 0
        )

    return cached(session, competition, ("teams",), count)


VIEWS = ("", "baselines-ranked", "late")
"""How a board may be viewed: the competition's (reference models drawn unranked), the same with the reference
models ranked among the teams, and the late board (the teams' submissions after the end, none ranked)."""


def derived(
    session: Session,
    competition: Competition,
    show_private: bool,
    name: str,
    make: Callable[[list[Standing]], T],
    *,
    view: str = "",
) -> T:
    """Something made from a board (its JSON, CSV or rendered table), kept as long as the board is."""
    return cached(
        session,
        competition,
        ("derived", name, show_private, view),
        lambda: make(board_for(session, competition, show_private, view=view)),
    )


def board_for(session: Session, competition: Competition, show_private: bool, *, view: str = "") -> list[Standing]:
    """The public or private board in one of :data:`VIEWS`, kept per board generation (the caller has checked who
    may see it)."""
    if view not in VIEWS:
        raise ValueError(f"no board view {view!r}; the views are {VIEWS}")
    return cached(
        session,
        competition,
        ("board", show_private, view),
        lambda: best_per_team(
            session,
            competition,
            private=show_private,
            rank_baselines=view == "baselines-ranked",
            late=view == "late",
        ),
    )


def _rounded_values(values: dict[str, float]) -> dict[str, float | None]:
    return {name: rounded(value) for name, value in values.items()}


def history_summary(records: list[ScoreRecord]) -> list[dict]:
    """Every score a submission had, one per task version: public values only, rounded (none under the Ladder,
    whose whole point is not to show them)."""
    hidden = bool(records) and _ladder_history(records[0])
    return [
        {
            "task_version": r.task_version,
            "scored_at": r.created_at.isoformat(),
            "public": None if hidden else _rounded_values(r.score["public"]),
        }
        for r in records
    ]


def _ladder_history(record: ScoreRecord) -> bool:
    from sqlalchemy.orm import object_session

    session = object_session(record)
    if session is None:
        return False
    submission = session.get(Submission, record.submission_id)
    competition = session.get(Competition, submission.competition_id) if submission is not None else None
    return competition is not None and competition.feedback == "ladder"


def _under_ladder(submission: Submission) -> bool:
    from sqlalchemy.orm import object_session

    session = object_session(submission)
    competition = session.get(Competition, submission.competition_id) if session is not None else None
    return competition is not None and competition.feedback == "ladder" and submission.ladder_public is not None


def run_summary(submission: Submission) -> dict:
    """What a code submission's run shows everyone who may see the submission: its status (queued, running,
    scoring, scored, failed), why the program failed (time, memory, error, output), wall and CPU seconds, peak
    memory. The program's output is the organisers' only: it ran on the hidden test inputs."""
    return {
        "status": run_state(submission),
        "failure": submission.code_failure,
        "wall_seconds": _measure(submission.wall_seconds),
        "cpu_seconds": _measure(submission.cpu_seconds),
        "peak_memory_mb": _measure(submission.peak_memory_mb),
    }


def _measure(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def submission_summary(submission: Submission, *, show_private: bool) -> dict:
    """What a participant sees of one submission: rounded scores, private ones only when allowed."""
    score = submission.score or {}
    summary = {
        "id": submission.id,
        "file_name": submission.file_name,
        "status": submission.status,
        "submitted_at": submission.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "note": submission.note,
        "is_baseline": submission.is_baseline,
        "selected": submission.selected,
        "disqualified": submission.disqualified,
        "disqualified_reason": submission.disqualified_reason if submission.disqualified else "",
        "late": submission.late,
        "baseline_model": submission.baseline_model,
        "problems": submission.problems or [],
        "metric": score.get("primary"),
        "public": None,
        "public_ci": None,
        "private": None,
        "private_ci": None,
    }
    if submission.run_status is not None:  # a code submission: its run's status and measurements, never its output
        summary["run"] = run_summary(submission)
    ladder = _under_ladder(submission)
    if score and ladder and not show_private:  # the Ladder shows a team its released score, nothing finer
        summary["public"] = {score["primary"]: rounded(submission.ladder_public)}
        summary["feedback"] = "ladder"
    elif score:
        summary["public"] = _rounded_values(score["public"])
        summary["public_ci"] = [rounded(v) for v in score["public_ci"]]
        if show_private:
            summary["private"] = _rounded_values(score["private"])
            summary["private_ci"] = [rounded(v) for v in score["private_ci"]]
    return summary
