"""Pages for one submission, the organisers' download of a submitted file, and hosting a task built from CSVs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, g, redirect, render_template, request, send_file, url_for

from arena.db.models import Submission
from arena.scoring.metrics import METRICS
from arena.server import audit, bundle_builder, competitions, lifecycle, reports, submissions
from arena.server.files import path_for

from .auth import db_session, login_required, organiser_required, transaction
from .forms import settings_from_form
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
    return render_template("submission.html", c=competition, r=report, show_private=show_private)


@bp.route("/c/<slug>/admin/submissions/<int:submission_id>/file")
@organiser_required
def submitted_file(slug: str, submission_id: int):
    """The file a team uploaded, as it arrived (organisers only)."""
    _, submission = _submission_in(slug, submission_id)
    path = path_for(submission.file_sha256)
    if not path.is_file():
        abort(404, description=f"the file of submission #{submission_id} is no longer stored.")
    name = Path(submission.file_name or f"submission-{submission_id}").name or f"submission-{submission_id}"
    return send_file(path, as_attachment=True, download_name=f"{submission_id}-{name}",
                     mimetype="application/octet-stream")


def _choices(form) -> bundle_builder.Choices:
    def number(key: str, kind, default):
        try:
            return kind(form.get(key, "").strip() or default)
        except ValueError:
            abort(400, description=f"'{key}' must be a number; got {form.get(key)!r}.")

    return bundle_builder.Choices(
        name=form.get("name", "").strip(), title=form.get("title", "").strip(), kind=form.get("kind", "classification"),
        id_column=form.get("id_column", "id").strip(), target=form.get("target", "label").strip(),
        metric=form.get("metric", "accuracy"), others=tuple(o for o in form.getlist("others") if o),
        prediction=form.get("prediction", "label"), public_fraction=number("public_fraction", float, 0.3),
        daily_limit=number("daily_limit", int, 5), final_selections=number("final_selections", int, 2),
        description=form.get("description", ""))


@bp.route("/host/build", methods=["GET", "POST"])
@organiser_required
def build():
    """Build a bundle from uploaded CSVs (train, test, answers) and the form's choices; preview it, validated."""
    if request.method == "GET":
        return render_template("host_build.html", metrics=list(METRICS), form={})
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for part in bundle_builder.FILES:
            upload = request.files.get(part)
            if upload is not None and upload.filename:
                files[part] = Path(tmp) / f"{part}.csv"
                upload.save(files[part])
        folder = bundle_builder.build(files, _choices(request.form))
    task, problems = bundle_builder.preview(folder)
    return render_template("host_build_preview.html", task=task, problems=problems, token=folder.name,
                           form=request.form, sample=task.sample_submission().head(5) if task else None)


@bp.route("/host/build/host", methods=["POST"])
@organiser_required
def host_built():
    """Host the previewed bundle, as a draft or open at once, with the rules of the form."""
    folder = bundle_builder.built_folder(request.form.get("token", ""))
    session = db_session()
    with transaction():
        competition = competitions.host(session, str(folder), slug=request.form.get("slug", "").strip() or None,
                                        state=request.form.get("state") or None, **settings_from_form(request.form))
        audit.record(session, competition, g.user, "host", f"built from CSVs as {lifecycle.state_of(competition)}")
    return redirect(url_for("web.admin", slug=competition.slug))
