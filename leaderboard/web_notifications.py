"""Pages' parts that keep people informed: the live status of submissions, e-mail preferences, the webhook.

The status endpoints are small JSON documents that the submission pages poll (``static/live.js``) while a
submission waits to be scored; when the state they report changes, the script fetches the page again and swaps
in its refreshed parts, so nobody has to reload. They say no more than the pages do, to the same people.
"""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, request, url_for

from arena.db.models import Competition, DryRun, Submission, User
from arena.server import accounts, delivery, dry_runs, notifications, submissions, teams
from arena.server.competitions import CompetitionError

from .auth import _account_page, db_session, login_required, organiser_required, transaction
from .forms import form_bool
from .shared import competition_or_404
from .web import bp

WAITING = ("queued", "scoring", "running")


def _state(items: list[Submission] | list[DryRun], prefix: str) -> tuple[str, bool]:
    """A short text that changes whenever one item's status does, and whether every item is done."""
    parts, done = [], True
    for item in items:
        run = getattr(item, "run_status", None)
        parts.append(f"{prefix}{item.id}:{item.status}{':' + run if run else ''}")
        done = done and item.status not in WAITING and run not in WAITING
    return ",".join(parts), done


def submission_state(submission: Submission) -> tuple[str, bool]:
    return _state([submission], "s")


def team_state(session, competition: Competition, user: User) -> tuple[str, bool]:
    """The state of a user's team's submissions and dry runs in a competition (empty without a team)."""
    team = teams.team_of(session, competition, user)
    if team is None:
        return "", True
    shown, shown_done = _state(submissions.for_team(session, team), "s")
    tried, tried_done = _state(dry_runs.for_team(session, team), "d")
    return f"{shown};{tried}", shown_done and tried_done


def _live_submission(submission_id: int) -> tuple[str, bool]:
    submission = db_session().get(Submission, submission_id)
    return submission_state(submission) if submission is not None else ("", True)


def _live_team(competition: Competition) -> tuple[str, bool]:
    return team_state(db_session(), competition, g.user) if g.get("user") else ("", True)


@bp.app_context_processor
def _live_helpers() -> dict:
    """For the templates: whether e-mail is on, and the live state of a submission or of the user's team."""
    return {"mail_enabled": delivery.mail_enabled, "live_submission": _live_submission, "live_team": _live_team}


@bp.route("/c/<slug>/submissions/<int:submission_id>/status.json")
@login_required
def submission_status(slug: str, submission_id: int):
    """One submission's status, for its team and the organisers (as its page)."""
    competition = competition_or_404(slug)
    submission = db_session().get(Submission, submission_id)
    if submission is None or submission.competition_id != competition.id:
        abort(404, description=f"there is no submission #{submission_id} in '{slug}'.")
    if not g.user.is_organiser and not submissions.belongs_to(db_session(), submission, g.user):
        abort(403, description="this submission belongs to another team.")
    state, done = submission_state(submission)
    return _no_store(
        jsonify(id=submission.id, status=submission.status, run_status=submission.run_status, state=state, done=done)
    )


@bp.route("/c/<slug>/submissions/status.json")
@login_required
def team_status(slug: str):
    """The status of the user's own team's submissions and dry runs (nothing of any other team's)."""
    state, done = team_state(db_session(), competition_or_404(slug), g.user)
    return _no_store(jsonify(state=state, done=done))


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/account/notifications", methods=["POST"])
@login_required
def account_notifications():
    """A user's e-mail address and which e-mails they want (none unless they tick them)."""
    try:
        with transaction():
            notifications.set_preferences(
                g.user,
                email=request.form.get("email", ""),
                scores=form_bool(request.form, "notify_scores", False),
                announcements=form_bool(request.form, "notify_announcements", False),
            )
    except accounts.AccountError as exc:
        return _account_page(400, problems=exc.messages())
    flash("Notification settings saved.")
    return redirect(url_for("auth.account"))


@bp.route("/c/<slug>/webhook", methods=["POST"])
@organiser_required
def webhook(slug: str):
    """Set or remove the competition's webhook (the admin page shows its signing secret)."""
    competition = competition_or_404(slug)
    try:
        with transaction():
            url = request.form.get("url", "")
            notifications.set_webhook(db_session(), competition, g.user, url)
    except CompetitionError as exc:
        flash("The webhook was not saved: " + " ".join(exc.messages()))
        return redirect(url_for("web.admin", slug=slug))
    flash("Webhook saved: each event is sent to it, signed with the secret shown." if url else "Webhook removed.")
    return redirect(url_for("web.admin", slug=slug))
