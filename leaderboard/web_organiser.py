"""Pages for one submission, the organisers' download of a submitted file, and hosting a task built from CSVs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, g, redirect, render_template, request, send_file, url_for

from arena.db.models import Submission
from arena.metrics.registry import METRICS
from arena.server import bundle_builder, competitions, organiser_actions, reports, submissions
from arena.server.files import path_for

from .auth import db_session, login_required, organiser_required, transaction
from .forms import settings_from_form
from .organiser_forms import BuildForm, HostBuiltForm
from .shared import competition_or_404

bp = Blueprint("organiser", __name__)


def _submission_in(slug: str, submission_id: int) -> tuple:
    competition = competition_or_404(slug)
    submission = db_session().get(Submission, submission_id)
    if submission is None or submission.competition_id != competition.id:
        abort(404, description=f"there is no submission #{submission_id} in '{slug}'.")
    return competition, submission


@bp.route("/c/<slug>/submissions/<int:submission_id>")
@login_required
def submission_page(slug: str, submission_id: int):
    """Every metric with its interval, the score history across task versions and the validation report."""
    competition, submission = _submission_in(slug, submission_id)
    if not g.user.is_organiser and not submissions.belongs_to(db_session(), submission, g.user):
        abort(403, description="this submission belongs to another team.")
    show_private = competitions.can_see_private(competition, g.user)
    report = reports.submission_report(db_session(), submission, competition, show_private=show_private)
    run_log = submission.run_log if g.user.is_organiser else None  # a real run's output: organisers only
    return render_template("submission.html", c=competition, r=report, show_private=show_private, run_log=run_log)


@bp.route("/c/<slug>/admin/submissions/<int:submission_id>/file")
@organiser_required
def submitted_file(slug: str, submission_id: int):
    """The file a team uploaded, as it arrived (organisers only)."""
    _, submission = _submission_in(slug, submission_id)
    path = path_for(submission.file_sha256)
    if not path.is_file():
        abort(404, description=f"the file of submission #{submission_id} is no longer stored.")
    name = Path(submission.file_name or f"submission-{submission_id}").name or f"submission-{submission_id}"
    return send_file(
        path, as_attachment=True, download_name=f"{submission_id}-{name}", mimetype="application/octet-stream"
    )


@bp.route("/host/build", methods=["GET", "POST"])
@organiser_required
def build():
    """Build a bundle from uploaded CSVs (train, test, answers) and the form's choices; preview it, validated."""
    if request.method == "GET":
        return render_template("host_build.html", metrics=list(METRICS), form={})
    choices = BuildForm().checked().choices()
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for part in bundle_builder.FILES:
            upload = request.files.get(part)
            if upload is not None and upload.filename:
                files[part] = Path(tmp) / f"{part}.csv"
                upload.save(files[part])
        folder = bundle_builder.build(files, choices)
    task, problems = bundle_builder.preview(folder)
    return render_template(
        "host_build_preview.html",
        task=task,
        problems=problems,
        token=folder.name,
        form=request.form,
        sample=task.sample_submission().head(5) if task else None,
    )


@bp.route("/host/build/host", methods=["POST"])
@organiser_required
def host_built():
    """Host the previewed bundle, as a draft or open at once, with the rules of the form."""
    form = HostBuiltForm().checked()
    folder = bundle_builder.built_folder(form.token.data or "")
    session = db_session()
    with transaction():
        competition = organiser_actions.host(
            session,
            g.user,
            str(folder),
            described="built from CSVs",
            slug=form.slug.data or None,
            state=form.state.data or None,
            **settings_from_form(request.form),
        )
    return redirect(url_for("web.admin", slug=competition.slug))
