"""Server-rendered pages. Each view parses the request, calls one arena function, renders."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup

from arena.db import generations
from arena.db.models import Competition, utcnow
from arena.server import (
    announcements,
    audit,
    competitions,
    downloads,
    dry_runs,
    lifecycle,
    organiser_actions,
    profiles,
    rules_acceptance,
    snapshots,
    stages,
    standings,
    submissions,
    team_changes,
    teams,
    uploads,
)
from arena.server.feedback import probing_warning
from arena.server.split_facts import split_of

from .auth import db_session, login_required, organiser_required, transaction
from .forms import form_bool, settings_from_form
from .history_chart import history_chart
from .kept_responses import keep_competition, keep_every
from .organiser_forms import HostForm, ReplaceTaskForm, TeamLimitForm
from .shared import board_csv, board_view, competition_or_404, queue_dry_run, send_data_file

bp = Blueprint("web", __name__)


def _notify(submission_id: int) -> None:
    current_app.extensions["arena_queue"].notify(submission_id)


@bp.route("/")
def index():
    version, now = generations.every_version(db_session()), utcnow()  # read first: what is kept is never newer
    rows = []
    for competition in lifecycle.listed(db_session(), g.user):
        rows.append((competition, standings.team_count(db_session(), competition)))
    keep_every(version, [competition for competition, _ in rows], now)
    return render_template("index.html", rows=rows, now=now)


@bp.route("/c/<slug>")
def competition_page(slug: str):
    competition, now = competition_or_404(slug), utcnow()  # one moment for the state shown and the answer kept
    want_private = request.args.get("board") == "private" if "board" in request.args else None
    show_private = standings.shows_private(competition, g.user, want_private)  # the table below is the board
    task = snapshots.task_view(competition)  # stored at hosting: the page never loads the task
    is_open, why = competitions.accepting_submissions(competition, now)
    view = board_view(request.args)  # "": the board; "baselines-ranked": reference models ranked; "late"
    final = _final_tables(competition, task) if competition.revealed and want_private is None and not view else None
    siblings = stages.siblings(db_session(), competition)
    if not siblings:  # a stage also shows its siblings, which another competition's changes move
        keep_competition(db_session(), competition, now)
    return render_template(
        "competition.html",
        c=competition,
        show_private=show_private,
        board_table=None
        if final
        else _board_table(competition, task, show_private, everyone=request.args.get("teams") == "all", view=view),
        view=view,
        late_table=_board_table(competition, task, show_private, view="late")
        if competition.late_submissions and view != "late"
        else None,
        late_open=submissions.takes_late(competition, now),
        split=split_of(competition),
        rules_required=rules_acceptance.required(competition, g.user),
        rules_accepted_at=rules_acceptance.accepted_at(db_session(), competition, g.user),
        task=task,
        is_open=is_open,
        why_closed=why,
        can_see_private=competitions.can_see_private(competition, g.user),
        commitment_holds=competitions.commitment_holds(competition),
        admitted=teams.is_admitted(db_session(), competition, g.user) if g.user else None,
        stages=siblings,
        final=final,
        state=lifecycle.state_of(competition, now),
        now=now,
        announcements=announcements.shown(db_session(), competition),
        starting_kit=downloads.starting_kit_folder(competition) is not None,
    )


def _board_columns(task) -> list:
    """A Codabench/CodaLab stage's own leaderboard columns (besides its primary), shown beside the score."""
    return task.spec.columns[1:] if task.spec.kind == "program" and not task.spec.native else []


BOARD_PAGE = 100
"""Teams in the competition page's table unless every team is asked for (``?teams=all``); the API and CSV hold all."""


def _board_table(
    competition: Competition, task, show_private: bool, *, everyone: bool = False, view: str = ""
) -> Markup:
    """The board's table (its first BOARD_PAGE teams, or all) in one of the board's views, rendered once per board
    generation: it is the same for every viewer."""
    return standings.derived(
        db_session(),
        competition,
        show_private,
        "html-all" if everyone else "html",
        lambda rows: Markup(
            render_template(
                "_board.html",
                board=rows if everyone else rows[:BOARD_PAGE],
                show_private=show_private,
                metric=task.spec.primary_metric,
                columns=_board_columns(task),
                rule=standings.rank_rule(competition),
                hidden=0 if everyone else max(0, len(rows) - BOARD_PAGE),
                late=view == "late",
                board_id="late-leaderboard" if view == "late" else "leaderboard",
            )
        ),
        view=view,
    )


def _final_tables(competition: Competition, task) -> tuple[Markup, Markup]:
    """After the reveal: the final private and public tables, rendered once per board generation."""

    def render(_board) -> tuple[Markup, Markup]:
        private, public, changes = standings.final_boards(db_session(), competition)
        common = {
            "metric": task.spec.primary_metric,
            "columns": _board_columns(task),
            "rule": standings.rank_rule(competition),
        }
        return (
            Markup(render_template("_board.html", board=private, show_private=True, changes=changes, **common)),
            Markup(
                render_template(
                    "_board.html",
                    board=public,
                    show_private=False,
                    changes=None,
                    board_id="public-leaderboard",
                    **common,
                )
            ),
        )

    return standings.derived(db_session(), competition, True, "final-html", render)


@bp.route("/c/<slug>/data/<name>")
def download(slug: str, name: str):
    return send_data_file(slug, name)


@bp.route("/c/<slug>/shakeup")
def shakeup_page(slug: str):
    from arena.server.shakeup import shakeup

    competition = competition_or_404(slug)
    return render_template("shakeup.html", c=competition, report=shakeup(db_session(), competition))


@bp.route("/c/<slug>/leaderboard.csv")
def leaderboard_csv(slug: str):
    competition = competition_or_404(slug)
    board = request.args.get("board")  # absent: the board the page shows by default (private after the reveal)
    shown_private = standings.shows_private(competition, g.user, None if board is None else board == "private")
    view = board_view(request.args)
    keep_competition(db_session(), competition, utcnow())
    return Response(
        standings.derived(
            db_session(), competition, shown_private, "csv", board_csv(standings.rank_rule(competition)), view=view
        ),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={slug}-leaderboard.csv"},
    )


@bp.route("/c/<slug>/rules/accept", methods=["POST"])
@login_required
def accept_rules(slug: str):
    competition = competition_or_404(slug)
    with transaction():
        accepted = rules_acceptance.accept(db_session(), competition, g.user)
    flash(f"You accepted the rules on {accepted:%Y-%m-%d %H:%M} UTC: the data and submissions are open to you.")
    return redirect(url_for("web.competition_page", slug=slug) + "#rules")


@bp.route("/c/<slug>/join-request", methods=["POST"])
@login_required
def join_request(slug: str):
    competition = competition_or_404(slug)
    with transaction():
        asked = teams.request_to_join(db_session(), competition, g.user)
    flash("You are admitted." if asked.approved else "Your request to join is sent; an organiser will approve it.")
    return redirect(url_for("web.competition_page", slug=slug))


@bp.route("/c/<slug>/team", methods=["GET", "POST"])
@login_required
def team(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    if request.method == "POST":
        with transaction():
            flash(_team_action(competition, request.form.get("action", "create")))
        return redirect(url_for("web.team", slug=slug))
    team = teams.team_of(session, competition, g.user)
    return render_template(
        "team.html",
        c=competition,
        team=team,
        state=team_changes.team_state(session, competition, team) if team else None,
        may_grow=teams.teams_may_grow(competition),
    )


def _team_action(competition: Competition, action: str) -> str:
    """One change of the team page's forms (inside its transaction); returns what to tell the person."""
    session, form, user = db_session(), request.form, g.user
    if action == "join":
        return f"You joined team {teams.join_team(session, competition, user, form.get('invite_code', '')).name}."
    if action == "leave":
        return f"You left team {team_changes.leave_team(session, competition, user).name}."
    if action == "rename":
        return f"Your team is now called {team_changes.rename_team(session, competition, user, form.get('name', '')).name}."
    if action == "merge-request":
        asked = team_changes.request_merge(session, competition, user, form.get("team", ""))
        return f"Your request to merge into team {asked.to_team.name} is sent; a member of that team accepts it."
    if action in ("merge-accept", "merge-decline"):
        request_id = _form_id("request_id")
        if action == "merge-decline":
            team_changes.decline_merge(session, competition, user, request_id)
            return "The merge request is withdrawn or declined."
        if not lifecycle.confirmed(form.get("confirm")):
            abort(400, description="tick the box that says a merge cannot be undone, then accept again.")
        merged = team_changes.accept_merge(session, competition, user, request_id)
        return f"The teams are merged: you are all in team {merged.name} now."
    created = teams.create_team(session, competition, user, form.get("name", ""))
    return f"Team {created.name} created. Share the invite code with your teammates."


@bp.route("/u/<name>")
def profile(name: str):
    shown = profiles.profile(db_session(), name, g.user)
    if shown is None:
        abort(404, description=f"there is no user named '{name}'.")
    return render_template("profile.html", profile=shown)


@bp.route("/c/<slug>/submissions", methods=["GET", "POST"])
@login_required
def my_submissions(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            abort(400, description="choose a file to upload.")
        if request.form.get("dry_run") == "1":  # the program on the public sample: shown, never scored or counted
            dry_run = queue_dry_run(competition, upload)
            flash(f"Dry run #{dry_run.id} queued: its output shows below when it ends.")
            return redirect(url_for("web.my_submissions", slug=slug))
        with transaction():
            accepted = uploads.submit_stream(
                session,
                slug,
                g.user,
                upload.stream,
                upload.filename,
                note=request.form.get("note", ""),
                max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
                competition=competition,
            )
        if accepted.duplicate:
            flash(f"This file is identical to submission #{accepted.submission.id}; it was not counted again.")
        else:
            _notify(accepted.submission.id)
            flash(f"Submission #{accepted.submission.id} received and queued for scoring.")
        return redirect(url_for("web.my_submissions", slug=slug))
    team = teams.team_of(session, competition, g.user)
    show_private = competitions.can_see_private(competition, g.user)
    rows = [
        standings.submission_summary(s, show_private=show_private)
        for s in (submissions.for_team(session, team) if team else [])
    ]
    return render_template(
        "submissions.html",
        c=competition,
        team=team,
        rows=rows,
        show_private=show_private,
        slots_left=submissions.slots_left(session, competition, team),
        daily_limit=submissions.daily_limit(competition, team),
        chart=history_chart(rows),
        dry_runs=[dry_runs.summary(d) for d in dry_runs.for_team(session, team)] if team else [],
        is_open=competitions.accepting_submissions(competition)[0] or submissions.takes_late(competition, utcnow()),
        late_open=submissions.takes_late(competition, utcnow()),
        why_closed=competitions.accepting_submissions(competition)[1],
        team_disqualified_reason=team.disqualified_reason if team is not None and team.disqualified else "",
        rules_required=rules_acceptance.required(competition, g.user)
        and rules_acceptance.accepted_at(session, competition, g.user) is None,
    )


@bp.route("/c/<slug>/submissions/<int:submission_id>/select", methods=["POST"])
@login_required
def select_final(slug: str, submission_id: int):
    competition = competition_or_404(slug)
    session = db_session()
    with transaction():
        submission = submissions.get(session, submission_id)
        if submission.competition_id != competition.id:
            abort(404, description=f"there is no submission #{submission_id} in '{slug}'.")
        if not submissions.belongs_to(session, submission, g.user):
            abort(403, description="you can only choose your own team's submissions.")
        submissions.set_selected(session, submission, form_bool(request.form, "selected", False))
    return redirect(url_for("web.my_submissions", slug=slug))


# --- organisers ------------------------------------------------------------------------


@bp.route("/c/<slug>/admin")
@organiser_required
def admin(slug: str):
    competition = competition_or_404(slug)
    session = db_session()
    rows = [
        (s.team.name, standings.submission_summary(s, show_private=True), s.user.username, s.failure_detail)
        for s in submissions.for_competition(session, competition)
    ]
    return render_template(
        "admin.html",
        c=competition,
        rows=rows,
        teams=submissions.teams_of(session, competition),
        failures=submissions.uncharged_failures_by_team(session, competition),
        failure_limit=submissions.failure_limit(),
        join_requests=teams.join_requests(session, competition),
        state=lifecycle.state_of(competition),
        uploads_state=lifecycle.uploads_state(competition),
        log=audit.entries(session, competition),
        announcements=announcements.of(session, competition),
        probing=probing_warning(competition, submissions.teams_of(session, competition)),
    )


CONFIRM = {
    "reveal": "Reveal the private leaderboard? A reveal is final: the competition closes for good, and the ranking "
    "on private rows becomes public.",
    "disqualify": "Disqualify this submission? It leaves the board and cannot be chosen as a final.",
    "disqualify-team": "Disqualify this team? All its submissions leave the board and it cannot upload again.",
    "delete": "Delete this draft and everything made in it? This cannot be undone.",
    "archive": "Archive this competition? It becomes read-only for good: it cannot be re-opened, takes no more "
    "uploads, and is listed as archived.",
    "unannounce": "Remove this announcement? Participants no longer see it on the competition's page.",
}
"""Actions the web asks an organiser to confirm on a page of their own (replacing the task has a box to tick)."""


@bp.route("/c/<slug>/admin/<action>", methods=["POST"])
@organiser_required
def admin_action(slug: str, action: str):
    competition = competition_or_404(slug)
    session = db_session()
    undo = form_bool(request.form, "undo", False)
    if action in CONFIRM and not undo and not lifecycle.confirmed(request.form.get("confirm")):
        fields = {key: value for key, value in request.form.items() if key not in ("csrf_token", "confirm")}
        return render_template("confirm.html", c=competition, action=action, question=CONFIRM[action], fields=fields)
    replacing = ReplaceTaskForm().checked() if action == "task" else None
    with transaction():
        if action in ("delete", "archive", "announce", "unannounce", "team-limit", "clear-failures"):
            return _organise(session, competition, action)
        if action == "settings":
            competitions.change_settings(session, competition, g.user, **settings_from_form(request.form))
            flash("Settings saved.")
        elif action in ("open", "close"):
            organiser_actions.set_open(session, competition, g.user, action == "open")
            flash(f"Competition {'opened' if action == 'open' else 'closed'}.")
        elif action == "reveal":
            organiser_actions.reveal(session, competition, g.user)
            flash("The private leaderboard is now public.")
        elif action == "admit":
            admitted = teams.admit(session, competition, request.form.get("username", ""))
            flash(f"{admitted.user.username} is admitted.")
        elif action == "rescore":
            queued = organiser_actions.rescore(session, competition, g.user)
            flash(f"{queued} submissions queued for rescoring.")
        elif action == "task":
            queued = _replace_task(session, competition, replacing)
            flash(f"New task version; {queued} submissions queued for rescoring.")
        elif action == "disqualify":
            submission = submissions.get(session, _form_id("submission_id"))
            if submission.competition_id != competition.id:
                abort(404, description=f"there is no submission #{submission.id} in '{slug}'.")
            organiser_actions.disqualify_submission(
                session, submission, g.user, not undo, request.form.get("reason", "")
            )
        elif action == "disqualify-team":
            team = organiser_actions.disqualify_team(
                session, competition, g.user, _form_id("team_id"), not undo, request.form.get("reason", "")
            )
            flash(f"Team {team.name} {'is disqualified' if team.disqualified else 'is back on the board'}.")
        else:
            abort(404)
    current_app.extensions["arena_queue"].notify(None)
    return redirect(url_for("web.admin", slug=slug))


def _organise(session, competition: Competition, action: str):
    """The lifecycle, announcement and per-team limit actions of the admin page (inside its transaction)."""
    if action == "delete":
        organiser_actions.delete_draft(session, competition, g.user)
        flash(f"The draft '{competition.slug}' is deleted.")
        return redirect(url_for("web.index"))
    if action == "clear-failures":
        team = organiser_actions.clear_failures(session, competition, g.user, _form_id("team_id"))
        flash(f"Team {team.name} may upload again today: its failed uploads so far no longer count.")
    elif action == "archive":
        organiser_actions.archive(session, competition, g.user)
        flash("The competition is archived: kept for reference, read-only.")
    elif action == "announce":
        organiser_actions.announce(session, competition, g.user, request.form.get("body", ""))
        flash("Announcement published on the competition's page.")
    elif action == "unannounce":
        organiser_actions.unannounce(session, competition, g.user, _form_id("announcement_id"))
        flash("Announcement removed.")
    else:
        form = TeamLimitForm().checked()
        team = organiser_actions.set_team_limit(session, competition, g.user, form.team_id.data, form.limit())
        flash(
            f"Team {team.name}: {team.daily_limit_override or competition.daily_limit} submissions per day"
            f"{'' if team.daily_limit_override else ' (the competition limit)'}."
        )
    return redirect(url_for("web.admin", slug=competition.slug))


def _form_id(field: str) -> int:
    try:
        return int(request.form.get(field, ""))
    except ValueError:
        abort(400, description=f"'{field}' must be a number.")


def _replace_task(session, competition: Competition, form: ReplaceTaskForm) -> int:
    upload = form.upload()
    if upload is not None:
        with tempfile.TemporaryDirectory() as tmp:
            archive = Path(tmp) / "bundle.zip"
            upload.save(archive)
            return organiser_actions.replace_task_with_upload(session, competition, g.user, archive)
    return organiser_actions.replace_task(session, competition, g.user, form.task_ref.data or "")


@bp.route("/host", methods=["GET", "POST"])
@organiser_required
def host():
    from arena.bundles.loading import builtin_task_names

    if request.method == "POST":
        session = db_session()
        form = HostForm()
        if not form.validate():  # the form again, as typed, with the message beside its field
            return render_template(
                "host.html", builtins=builtin_task_names(), form=request.form, errors=form.errors
            ), 400
        with transaction():
            upload, task_ref, slug = form.upload(), form.task_ref.data or "", form.short_name()
            settings = settings_from_form(request.form)
            competition = None
            if upload is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    archive = Path(tmp) / "bundle.zip"
                    upload.save(archive)
                    if stages.names_stages(archive):  # a Codabench/CodaLab bundle: unpacked, then previewed
                        task_ref = str(competitions.unpack_for_preview(session, archive, slug))
                    else:
                        competition = organiser_actions.host_uploaded_bundle(
                            session,
                            g.user,
                            archive,
                            slug,
                            state=form.chosen_state(),
                            described=task_ref or "an uploaded bundle",
                            **settings,
                        )
            if competition is None and stages.names_stages(task_ref) and form.confirm.data != "1":
                return render_template(
                    "host_preview.html",
                    stages=stages.preview(task_ref),
                    task_ref=task_ref,
                    slug=slug or "",
                    form=request.form,
                )
            if competition is None:
                competition = organiser_actions.host(
                    session,
                    g.user,
                    task_ref,
                    slug=slug,
                    described=task_ref or "an uploaded bundle",
                    native=form.native.data == "1",
                    state=form.chosen_state(),
                    **settings,
                )
        return redirect(url_for("web.admin", slug=competition.slug))
    return render_template("host.html", builtins=builtin_task_names(), form={}, errors={})
