"""JSON API under /api/v1: everything the pages do, for scripts and the ``arena`` CLI.

Authentication: ``Authorization: Bearer <token>`` (POST /api/v1/auth/token gives one).
Errors: ``{"error": headline, "problems": [what to fix, ...]}`` with a 4xx status.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from arena.db import generations
from arena.db.models import Competition, utcnow
from arena.server import (
    accounts,
    competitions,
    downloads,
    dry_runs,
    lifecycle,
    organiser_actions,
    profiles,
    rules_acceptance,
    snapshots,
    standings,
    submissions,
    team_changes,
    teams,
    uploads,
)
from arena.server.split_facts import split_of

from .auth import db_session, login_required, organiser_required, transaction
from .forms import form_bool, settings_from_form
from .kept_responses import keep_competition, keep_every
from .openapi import OPENAPI
from .shared import board_csv, board_view, competition_or_404, queue_dry_run, send_data_file

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body() -> dict:
    data = request.get_json(silent=True)
    if data is None:
        data = request.form.to_dict()
    if not isinstance(data, dict):
        abort(400, description="send a JSON object.")
    return data


def competition_json(competition: Competition) -> dict:
    """A competition as the API shows it, from what was stored at hosting: the task is never loaded here."""
    is_open, why = competitions.accepting_submissions(competition)
    facts = snapshots.facts_of(competition)
    organiser = bool(g.get("user") and g.user.is_organiser)
    return {
        "slug": competition.slug,
        "title": competition.title,
        "task": facts.get("name"),
        "state": lifecycle.state_of(competition),
        **({"broken": competition.broken or None} if organiser else {}),
        "task_version": competition.task_version,
        **commitment_json(competition),
        "kind": facts.get("kind"),
        "metric": competition.metric or facts.get("metric"),
        "higher_is_better": competition.higher_is_better,
        "other_metrics": facts.get("other_metrics", []),
        "sizes": {"train_rows": competition.train_rows, "test_rows": competition.test_rows},
        "submission_columns": [facts["id_column"], *facts["prediction_columns"]] if facts else [],
        "benchmark": competitions.is_benchmark(competition),
        "accepting_submissions": is_open,
        "closed_because": why,
        "revealed": competition.revealed,
        "starts_at": competition.starts_at.isoformat() if competition.starts_at else None,
        "ends_at": competition.ends_at.isoformat() if competition.ends_at else None,
        "rules": {
            k: getattr(competition, k)
            for k in (
                "daily_limit",
                "total_limit",
                "team_size",
                "final_selections",
                "public_fraction",
                "feedback",
                "rules_acceptance",
                "late_submissions",
            )
        },
        "split": split_of(competition).to_dict(),
        "merger_deadline": _isoformat(teams.merger_deadline(competition)),
        "data": [f"/api/v1/competitions/{competition.slug}/data/{name}" for name in downloads.offered(competition)],
        "submission_kind": competition.submission_kind,
        **({"code": facts.get("code")} if competitions.is_code(competition) else {}),
        **({"ranked_by": standings.rank_rule(competition).to_dict()} if competitions.is_code(competition) else {}),
    }


def _isoformat(moment) -> str | None:
    return moment.isoformat() if moment else None


def commitment_json(competition: Competition) -> dict:
    """The salted commitment to the answer key: the hash from the launch, the salt and its check from the reveal."""
    return {
        "answer_key_commitment": competition.commitment or None,
        "commitment_salt": competition.commitment_salt if competition.revealed else None,
        "commitment_holds": competitions.commitment_holds(competition),
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@bp.post("/auth/register")
def register():
    data = _body()
    session = db_session()
    with transaction():
        user = accounts.self_register(
            session, str(data.get("username", "")), str(data.get("password", "")), str(data.get("invite_code", ""))
        )
        if not user.approved:
            return jsonify(
                username=user.username,
                approved=False,
                token=None,
                message="an organiser approves new accounts here; ask for a token once approved.",
            ), 202
        token = accounts.create_token(session, user, "registration")
    return jsonify(username=user.username, approved=True, token=token), 201


@bp.post("/auth/token")
def token():
    data = _body()
    session = db_session()
    try:
        user = accounts.authenticate(session, str(data.get("username", "")), str(data.get("password", "")))
    except accounts.AccountError as exc:
        return jsonify(error=exc.headline, problems=exc.messages()), 401
    with transaction():
        new_token = accounts.create_token(
            session, user, str(data.get("name", data.get("label", "api"))), token_days(data)
        )
    return jsonify(username=user.username, token=new_token), 201


def token_days(data: dict) -> int | None:
    """A token's lifetime in days from a JSON body: a whole number, or absent/null for no expiry."""
    days = data.get("expires_in_days")
    if days is None or days == "":
        return None
    if isinstance(days, str) and days.strip().isdigit():
        return int(days)
    if isinstance(days, int) and not isinstance(days, bool):
        return days
    raise accounts.AccountError(f"'expires_in_days' must be a whole number of days or null; got {days!r}.")


@bp.get("/me")
@login_required
def me():
    return jsonify(username=g.user.username, organiser=g.user.is_organiser)


@bp.get("/competitions")
def list_competitions():
    version, now = generations.every_version(db_session()), utcnow()  # read first: what is kept is never newer
    shown = lifecycle.listed(db_session(), g.user)
    keep_every(version, shown, now)  # states worked out later than ``now``: a start or end between only ends it sooner
    return jsonify([competition_json(c) for c in shown])


@bp.post("/competitions")
@organiser_required
def host():
    data = _body()
    session = db_session()
    settings = settings_from_form({key: value for key, value in data.items() if key != "state"})
    with transaction():
        competition = organiser_actions.host(
            session,
            g.user,
            str(data.get("task", "")),
            slug=data.get("slug") or None,
            state=data.get("state"),
            **settings,
        )
    return jsonify(competition_json(competition)), 201


@bp.get("/competitions/<slug>")
def get_competition(slug: str):
    """One competition, with its pages' Markdown as the organisers wrote it (the list leaves the pages out)."""
    competition = competition_or_404(slug)
    pages = {key: getattr(competition, key) or "" for key in competitions.PAGES}
    return jsonify({**competition_json(competition), "pages": pages})


@bp.patch("/competitions/<slug>")
@organiser_required
def update_competition(slug: str):
    competition = competition_or_404(slug)
    with transaction():
        competitions.change_settings(db_session(), competition, g.user, **settings_from_form(_body()))
    return jsonify(competition_json(competition))


def require_confirm(data: dict, what: str) -> None:
    """Reveal, archive, disqualify, replace-and-rescore and delete cannot be undone lightly: they need
    ``"confirm": true``."""
    if not lifecycle.confirmed(data.get("confirm")):
        abort(400, description=f'{what} needs "confirm": true in the request body; send it again with it.')


@bp.post("/competitions/<slug>/<any(open, close, reveal, rescore):action>")
@bp.post("/competitions/<slug>/archive", defaults={"action": "archive"})
@organiser_required
def competition_action(slug: str, action: str):
    competition = competition_or_404(slug)
    session = db_session()
    queued = 0
    if action == "reveal":
        require_confirm(_body(), "revealing the private leaderboard (final: it cannot be undone)")
    if action == "archive":
        require_confirm(_body(), "archiving (read-only for good: it cannot be re-opened)")
    with transaction():
        if action in ("open", "close"):
            organiser_actions.set_open(session, competition, g.user, action == "open")
        elif action == "reveal":
            organiser_actions.reveal(session, competition, g.user)
        elif action == "archive":
            organiser_actions.archive(session, competition, g.user)
        else:
            queued = organiser_actions.rescore(session, competition, g.user)
    current_app.extensions["arena_queue"].notify(None)
    return jsonify(competition=competition_json(competition), queued=queued)


@bp.delete("/competitions/<slug>")
@organiser_required
def delete_competition(slug: str):
    competition = competition_or_404(slug)
    require_confirm(_body(), f"deleting the draft '{slug}'")
    session = db_session()
    with transaction():
        organiser_actions.delete_draft(session, competition, g.user)
    return jsonify(deleted=slug)


@bp.put("/competitions/<slug>/task")
@organiser_required
def replace_task(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    data = _body()
    if not competition.revealed:  # after the reveal the refusal says why; nothing to confirm
        require_confirm(data, "replacing the task and rescoring every submission")
    with transaction():
        queued = organiser_actions.replace_task(session, competition, g.user, str(data.get("task", "")))
    current_app.extensions["arena_queue"].notify(None)
    return jsonify(competition=competition_json(competition), queued=queued)


@bp.get("/competitions/<slug>/shakeup")
def shakeup(slug: str):
    from arena.server.shakeup import shakeup as report

    return jsonify(report(db_session(), competition_or_404(slug)))


@bp.get("/competitions/<slug>/leaderboard")
def leaderboard(slug: str):
    competition = competition_or_404(slug)
    private = {"private": True, "public": False}.get(request.args.get("board", ""))
    shown_private = standings.shows_private(competition, g.user, private)
    view = board_view(request.args)
    keep_competition(db_session(), competition, utcnow())
    rule = standings.rank_rule(competition)
    if request.args.get("format") == "csv":
        return Response(
            standings.derived(db_session(), competition, shown_private, "csv", board_csv(rule), view=view),
            mimetype="text/csv",
        )
    body = standings.derived(
        db_session(),
        competition,
        shown_private,
        "json",
        lambda board: json.dumps(
            {
                "board": "private" if shown_private else "public",
                "view": view or "board",
                "ranked_by": rule.to_dict(),
                "rows": standings.to_rows(board, rule),
            },
            separators=(",", ":"),
        ).encode(),
        view=view,
    )
    return Response(body, mimetype="application/json")  # made and encoded once per board generation, then kept


@bp.get("/competitions/<slug>/data/<name>")
def download(slug: str, name: str):
    return send_data_file(slug, name)


@bp.get("/competitions/<slug>/rules")
@login_required
def rules(slug: str):
    """Whether this competition asks you to accept its rules, and when you did (null: not yet)."""
    competition = competition_or_404(slug)
    accepted = rules_acceptance.accepted_at(db_session(), competition, g.user)
    return jsonify(required=rules_acceptance.required(competition, g.user), accepted_at=_isoformat(accepted))


@bp.post("/competitions/<slug>/rules/accept")
@login_required
def accept_rules(slug: str):
    """Accept the competition's rules (once; the first moment is kept)."""
    competition = competition_or_404(slug)
    with transaction():
        accepted = rules_acceptance.accept(db_session(), competition, g.user)
    return jsonify(required=rules_acceptance.required(competition, g.user), accepted_at=_isoformat(accepted))


@bp.get("/competitions/<slug>/team")
@login_required
def my_team(slug: str):
    competition = competition_or_404(slug)
    team = teams.team_of(db_session(), competition, g.user)
    if team is None:
        return jsonify(team=None)
    return jsonify(team=team_changes.team_state(db_session(), competition, team))


@bp.get("/users/<name>")
def user_profile(name: str):
    shown = profiles.profile(db_session(), name, g.get("user"))
    if shown is None:
        abort(404, description=f"there is no user named '{name}'.")
    return jsonify(shown.to_dict())


@bp.patch("/competitions/<slug>/team")
@login_required
def rename_team(slug: str):
    competition = competition_or_404(slug)
    with transaction() as session:
        team = team_changes.rename_team(session, competition, g.user, str(_body().get("name", "")))
        return jsonify(name=team.name)


@bp.post("/competitions/<slug>/team/leave")
@login_required
def leave_team(slug: str):
    competition = competition_or_404(slug)
    with transaction() as session:
        team_changes.leave_team(session, competition, g.user)
    return jsonify(team=None)


@bp.post("/competitions/<slug>/team/merge-requests")
@login_required
def request_merge(slug: str):
    competition = competition_or_404(slug)
    with transaction() as session:
        asked = team_changes.request_merge(session, competition, g.user, str(_body().get("team", "")))
        return jsonify(id=asked.id, from_team=asked.from_team.name, to_team=asked.to_team.name), 201


@bp.post("/competitions/<slug>/team/merge-requests/<int:request_id>/<any(accept, decline):answer>")
@login_required
def answer_merge(slug: str, request_id: int, answer: str):
    competition = competition_or_404(slug)
    if answer == "accept":
        require_confirm(_body(), "merging the other team into yours (final: it cannot be undone)")
    with transaction() as session:
        if answer == "decline":
            team_changes.decline_merge(session, competition, g.user, request_id)
            return jsonify(declined=request_id)
        merged = team_changes.accept_merge(session, competition, g.user, request_id)
        return jsonify(team=team_changes.team_state(session, competition, merged))


@bp.post("/competitions/<slug>/teams")
@login_required
def create_team(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    with transaction():
        team = teams.create_team(session, competition, g.user, str(_body().get("name", "")))
    return jsonify(name=team.name, invite_code=team.invite_code), 201


@bp.post("/competitions/<slug>/teams/join")
@login_required
def join_team(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    with transaction():
        team = teams.join_team(session, competition, g.user, str(_body().get("invite_code", "")))
    return jsonify(name=team.name)


@bp.post("/competitions/<slug>/submissions")
@login_required
def submit(slug: str):
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(
            400,
            description="send the predictions file (or, in a code competition, the program) as multipart form field 'file'.",
        )
    competition = competition_or_404(slug)  # an unknown slug, or a draft the uploader may not see: 404
    if form_bool(request.form, "dry_run", False):  # a program's run on the public sample: never scored or counted
        return _dry_run(competition, upload)
    session = db_session()
    with transaction():
        accepted = uploads.submit_stream(
            session,
            slug,
            g.user,
            upload.stream,
            upload.filename,
            note=request.form.get("note", ""),
            is_baseline=form_bool(request.form, "baseline", False),
            baseline_model=request.form.get("baseline_model", ""),
            max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
            competition=competition,
        )
    if not accepted.duplicate:
        current_app.extensions["arena_queue"].notify(accepted.submission.id)
    body = standings.submission_summary(
        accepted.submission, show_private=competitions.can_see_private(competition, g.user)
    )
    return jsonify(submission=body, duplicate=accepted.duplicate), (200 if accepted.duplicate else 202)


def _dry_run(competition: Competition, upload):
    return jsonify(dry_run=dry_runs.summary(queue_dry_run(competition, upload))), 202


@bp.post("/competitions/<slug>/dry-runs")
@login_required
def dry_run(slug: str):
    """Run a program on the public sample: its output is shown, nothing is scored, no slot is used."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, description="send the program (.py or .zip) as multipart form field 'file'.")
    return _dry_run(competition_or_404(slug), upload)


@bp.get("/competitions/<slug>/dry-runs")
@login_required
def list_dry_runs(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    team = teams.team_of(session, competition, g.user)
    rows = dry_runs.for_team(session, team) if team else []
    return jsonify(team=team.name if team else None, dry_runs=[dry_runs.summary(d) for d in rows])


@bp.get("/dry-runs/<int:dry_run_id>")
@login_required
def get_dry_run(dry_run_id: int):
    session = db_session()
    found = dry_runs.get(session, dry_run_id)
    if not g.user.is_organiser and not submissions.belongs_to(session, found, g.user):
        abort(403, description="this dry run belongs to another team.")
    return jsonify(dry_runs.summary(found))


@bp.get("/competitions/<slug>/submissions")
@login_required
def list_submissions(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    team = teams.team_of(session, competition, g.user)
    show_private = competitions.can_see_private(competition, g.user)
    rows = submissions.for_team(session, team) if team else []
    return jsonify(
        team=team.name if team else None,
        slots_left=submissions.slots_left(session, competition, team),
        submissions=[standings.submission_summary(s, show_private=show_private) for s in rows],
    )


def _own_submission(submission_id: int):
    session = db_session()
    submission = submissions.get(session, submission_id)
    competition = session.get(Competition, submission.competition_id)
    if not g.user.is_organiser and not submissions.belongs_to(session, submission, g.user):
        abort(403, description="this submission belongs to another team.")
    return submission, competition


@bp.get("/submissions/<int:submission_id>")
@login_required
def get_submission(submission_id: int):
    submission, competition = _own_submission(submission_id)
    summary = standings.submission_summary(submission, show_private=competitions.can_see_private(competition, g.user))
    summary["history"] = standings.history_summary(submissions.history(db_session(), submission))
    return jsonify(summary)


@bp.post("/submissions/<int:submission_id>/select")
@login_required
def select(submission_id: int):
    session = db_session()
    with transaction():
        submission, competition = _own_submission(submission_id)
        submissions.set_selected(session, submission, form_bool(_body(), "selected", True))
    return jsonify(id=submission.id, selected=submission.selected)


@bp.post("/submissions/<int:submission_id>/disqualify")
@organiser_required
def disqualify(submission_id: int):
    session = db_session()
    data = _body()
    disqualified = form_bool(data, "disqualified", True)
    if disqualified:
        require_confirm(data, f"disqualifying submission #{submission_id}")
    with transaction():
        submission = submissions.get(session, submission_id)
        organiser_actions.disqualify_submission(session, submission, g.user, disqualified, _reason(data))
    return jsonify(id=submission.id, disqualified=submission.disqualified, reason=submission.disqualified_reason)


def _reason(data) -> str:
    """The reason a disqualification gives the team (optional text)."""
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        abort(400, description="'reason' must be text: why the team is disqualified, which the team is shown.")
    return reason


@bp.post("/competitions/<slug>/teams/<int:team_id>/disqualify")
@organiser_required
def disqualify_team(slug: str, team_id: int):
    competition = competition_or_404(slug)
    session = db_session()
    data = _body()
    disqualified = form_bool(data, "disqualified", True)
    if disqualified:
        require_confirm(data, f"disqualifying team #{team_id}")
    with transaction():
        team = organiser_actions.disqualify_team(session, competition, g.user, team_id, disqualified, _reason(data))
    return jsonify(id=team.id, name=team.name, disqualified=team.disqualified, reason=team.disqualified_reason)


@bp.post("/competitions/<slug>/teams/<int:team_id>/clear-failures")
@organiser_required
def clear_team_failures(slug: str, team_id: int):
    competition = competition_or_404(slug)
    session = db_session()
    with transaction():
        team = organiser_actions.clear_failures(session, competition, g.user, team_id)
    return jsonify(id=team.id, name=team.name, uncharged_failures_today=0)


@bp.get("/competitions/<slug>/all-submissions")
@organiser_required
def all_submissions(slug: str):
    competition = competition_or_404(slug)
    rows = submissions.for_competition(db_session(), competition)
    return jsonify(
        [
            {
                **standings.submission_summary(s, show_private=True),
                "team": s.team.name,
                "team_id": s.team_id,
                "team_disqualified": s.team.disqualified,
                "failure_kind": s.failure_kind,
                "failure_detail": s.failure_detail,
                **({"run_log": s.run_log} if s.run_status is not None else {}),  # a real run's output: organisers
            }
            for s in rows
        ]
    )
