"""Pages for one submission, the organisers' download of a submitted file, the editor of a competition's pages
(overview, data, rules, timeline) and hosting a task built from CSVs."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, url_for

from arena.db.models import Submission
from arena.metrics.registry import METRICS
from arena.server import bundle_builder, competitions, organiser_actions, reports, submissions
from arena.server.competitions import MAX_PAGE_CHARS, PAGES, CompetitionError
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


@bp.route("/c/<slug>/admin/pages", methods=["GET", "POST"])
@organiser_required
def edit_pages(slug: str):
    """The organiser's editor of the overview, data, rules and timeline pages (Markdown): Preview shows each page as
    participants will see it, through the same sanitiser, without saving; Save changes them and logs the change."""
    competition = competition_or_404(slug)
    if request.method == "GET":
        texts = {key: getattr(competition, key) or "" for key in PAGES}
        return _editor(competition, texts, previewed=False, problems=[])
    posted = {key: request.form[key] for key in PAGES if key in request.form}
    texts = {key: getattr(competition, key) or "" for key in PAGES} | settings_from_form(posted)
    if request.form.get("preview"):
        return _editor(competition, texts, previewed=True, problems=[])
    try:
        with transaction():
            changed = competitions.change_settings(db_session(), competition, g.user, **settings_from_form(posted))
    except CompetitionError as exc:  # the texts stay in the editor, with what to fix above them
        return _editor(competition, texts, previewed=True, problems=exc.messages()), 400
    names = ", ".join(PAGES[key].lower() for key in changed)
    flash(f"Saved: the {names} page{'s' if len(changed) > 1 else ''}." if changed else "Nothing changed.")
    return redirect(url_for("organiser.edit_pages", slug=slug))


def _editor(competition, texts: dict[str, str], *, previewed: bool, problems: list[str]) -> str:
    return render_template(
        "pages.html",
        c=competition,
        texts=texts,
        titles=PAGES,
        max_chars=MAX_PAGE_CHARS,
        previewed=previewed,
        problems=problems,
    )


@bp.route("/host/build", methods=["GET", "POST"])
@organiser_required
def build():
    """Build a bundle from uploaded CSVs (train, test, answers, optionally a sample submission) and the form's
    choices; preview it, validated. A choice to fix shows the form again, every typed value kept and the message
    beside its field; "Build again" from the preview posts the choices back (``edit``) to fill the form in."""
    if request.method == "GET":
        return _build_form({})
    if request.form.get("edit"):
        return _build_form(request.form.to_dict(flat=False))
    form = BuildForm()
    errors = {name: list(messages) for name, messages in form.errors.items()} if not form.validate() else {}
    if not errors:
        errors = form.choices().field_problems()
    chosen = {part for part in (*bundle_builder.FILES, *bundle_builder.OPTIONAL_FILES) if _upload(part) is not None}
    for part in bundle_builder.FILES:
        if part not in chosen:
            errors.setdefault(part, []).append(f"choose the {part} file (CSV).")
    if errors:
        return _build_form(request.form.to_dict(flat=False), errors=errors, chosen=chosen), 400
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for part in chosen:
            files[part] = Path(tmp) / f"{part}.csv"
            _upload(part).save(files[part])
        folder = bundle_builder.build(files, form.choices())
    task, problems = bundle_builder.preview(folder)
    return render_template(
        "host_build_preview.html",
        task=task,
        problems=problems,
        token=folder.name,
        form=request.form,
        kept=_kept_choices(request.form.to_dict(flat=False)),
        sample=task.sample_submission().head(5) if task else None,
    )


def _upload(part: str):
    upload = request.files.get(part)
    return upload if upload is not None and upload.filename else None


def _kept_choices(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """The typed choices of the build form, for its link back: never the CSRF token, never a file."""
    return {name: value for name, value in values.items() if name in BuildForm.CHOICES}


def _build_form(values: dict[str, list[str]], *, errors: dict | None = None, chosen: set[str] | None = None):
    """The build form with ``values`` typed in (one list per field, as forms send them) and what to fix."""
    kept = _kept_choices(values)
    return render_template(
        "host_build.html",
        metrics=list(METRICS),
        form={name: value[0] for name, value in kept.items() if value},
        others=set(kept.get("others", [])),
        errors=errors or {},
        files=bundle_builder.FILES,
        chosen=chosen or set(),
        again=bool(kept) or errors is not None,
    )


@bp.route("/host/build/host", methods=["POST"])
@organiser_required
def host_built():
    """Host the previewed bundle, as a draft or open at once, with the rules of the form; a short name or rule to fix
    shows the preview again with everything typed kept and the message beside its field."""
    form = HostBuiltForm()
    folder = bundle_builder.built_folder(form.token.data or "")
    errors = {name: list(messages) for name, messages in form.errors.items()} if not form.validate() else {}
    if not errors:
        try:
            with transaction():
                competition = organiser_actions.host(
                    db_session(),
                    g.user,
                    str(folder),
                    described="built from CSVs",
                    slug=form.slug.data or None,
                    state=form.state.data or None,
                    **settings_from_form(request.form),
                )
            return redirect(url_for("web.admin", slug=competition.slug))
        except CompetitionError as exc:
            errors = {"host": exc.messages()}
    task, problems = bundle_builder.preview(folder)
    kept = {
        name.removeprefix("kept-"): values
        for name, values in request.form.to_dict(flat=False).items()
        if name.startswith("kept-")
    }
    return render_template(
        "host_build_preview.html",
        task=task,
        problems=problems,
        token=folder.name,
        form={"name": (kept.get("name") or [""])[0], "title": (kept.get("title") or [""])[0], **request.form},
        kept=_kept_choices(kept),
        errors=errors,
        sample=task.sample_submission().head(5) if task else None,
    ), 400
