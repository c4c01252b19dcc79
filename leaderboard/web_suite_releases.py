"""A suite's frozen boards and its organisers' page: the releases (``/s/NAME/releases``, each with its downloads and
how to cite it), the boards of earlier suite versions (``/s/NAME/versions/V``), and ``/s/NAME/manage``, where an
organiser makes a release and sets each model's tier and flag. Each view parses the request, calls
:mod:`arena.server.suite_releases` or :mod:`arena.server.suite_verification`, renders."""

from __future__ import annotations

import threading

from cachetools import LRUCache
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask import session as web_session
from wtforms import StringField

from arena.server import suite_releases, suite_verification
from arena.server.suite_releases import ReleaseView
from arena.server.suites import SuiteNotFound

from .auth import db_session, organiser_required, transaction
from .organiser_forms import OrganiserForm

bp = Blueprint("suite_releases", __name__)
SUFFIX = "<any(json, csv, tex, md, parquet):suffix>"
"""A release's downloads, by the suffix of their file name."""


class ReleaseForm(OrganiserForm):
    note = StringField()


class TierForm(OrganiserForm):
    tier = StringField()
    note = StringField()


class FlagForm(OrganiserForm):
    reason = StringField()


def _not_found(exc: SuiteNotFound):
    abort(404, description=exc.messages()[0])


# --- releases and frozen versions ---------------------------------------------------------------


@bp.route("/s/<name>/releases")
def releases_page(name: str):
    session = db_session()
    try:
        found = suite_releases.releases(session, name)
        versions = suite_releases.releases(session, name, "version")
    except SuiteNotFound as exc:
        _not_found(exc)
    return render_template("suite_releases.html", name=name, releases=found, versions=versions)


@bp.route("/s/<name>/releases/<int:number>")
def release_page(name: str, number: int):
    return _frozen_page(name, number, "release")


@bp.route(f"/s/<name>/releases/<int:number>.{SUFFIX}")
def release_download(name: str, number: int, suffix: str):
    return _download(name, number, suffix, "release")


@bp.route("/s/<name>/versions/<int:version>")
def version_page(name: str, version: int):
    return _frozen_page(name, version, "version")


@bp.route(f"/s/<name>/versions/<int:version>.{SUFFIX}")
def version_download(name: str, version: int, suffix: str):
    return _download(name, version, suffix, "version")


def _frozen_page(name: str, number: int, kind: str):
    session = db_session()
    try:
        view = suite_releases.release_view(session, name, number, kind)
        made_then = suite_releases.releases_of_version(session, name, number) if kind == "version" else []
    except SuiteNotFound as exc:
        if kind == "version" and _is_current(name, number):
            return redirect(url_for("suites.suite_page", name=name))  # the version on show now: the live board
        _not_found(exc)
    url = url_for(f"suite_releases.{kind}_page", name=view.suite, _external=True, **{_number_of(kind): number})
    key = (view.json_sha256, url, tuple(v.number for v in made_then))
    anonymous = g.user is None and not (request.cookies and web_session.get("_flashes"))
    with _pages_lock:
        kept = _pages.get(key) if anonymous else None
    if kept is not None:  # a frozen page is the same for every visitor not signed in, for good
        return kept
    page = render_template(
        "suite_version.html" if kind == "version" else "suite_release.html",
        view=view,
        document=suite_releases.release_document(view),
        citation=suite_releases.citation(view, url),
        downloads=_downloads(view),
        made_then=made_then,
    )
    if anonymous:
        with _pages_lock:
            _pages[key] = page
    return page


_pages_lock = threading.Lock()
_pages: LRUCache[tuple, str] = LRUCache(maxsize=64)
"""Frozen pages rendered for visitors not signed in, by what they show (the release's JSON by its SHA-256)."""


def _is_current(name: str, version: int) -> bool:
    try:
        return suite_releases.current_version(db_session(), name) == version
    except SuiteNotFound:
        return False


def _number_of(kind: str) -> str:
    return "number" if kind == "release" else "version"


def _downloads(view: ReleaseView) -> list[tuple[str, str, str]]:
    """Each stored file of the release: (suffix, its URL, its SHA-256)."""
    endpoint = f"suite_releases.{view.kind}_download"
    return [
        (suffix, url_for(endpoint, name=view.suite, suffix=suffix, **{_number_of(view.kind): view.number}), sha256)
        for suffix, sha256 in view.files.items()
    ]


def _download(name: str, number: int, suffix: str, kind: str) -> Response:
    """A release's file, byte for byte as stored: it never changes, so a cache may keep it for good."""
    try:
        view = suite_releases.release_view(db_session(), name, number, kind)
        data = suite_releases.release_file(view, suffix)
    except SuiteNotFound as exc:
        _not_found(exc)
    fmt = suite_releases.SUFFIXES[suffix]
    return Response(
        data,
        content_type=suite_releases.CONTENT_TYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename={view.suite}-{kind}-{number}.{suffix}",
            "ETag": f'"{view.files[suffix]}"',
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )


# --- the organisers' page -------------------------------------------------------------------------


@bp.route("/s/<name>/manage")
@organiser_required
def manage_page(name: str):
    try:
        shown = suite_releases.management(db_session(), name)
    except SuiteNotFound as exc:
        _not_found(exc)
    return render_template("suite_manage.html", m=shown, tiers=suite_verification.TIERS)


@bp.route("/s/<name>/manage/release", methods=["POST"])
@organiser_required
def release_action(name: str):
    form = ReleaseForm().checked()
    session = db_session()
    try:
        with transaction():
            made = suite_releases.make_release(session, name, g.user, form.note.data or "")
    except SuiteNotFound as exc:
        _not_found(exc)
    flash(f"Release {made.number} is frozen: its files never change.")
    return redirect(url_for("suite_releases.release_page", name=made.suite, number=made.number))


@bp.route("/s/<name>/manage/models/<model>/<any(tier, flag, unflag):action>", methods=["POST"])
@organiser_required
def model_action(name: str, model: str, action: str):
    session = db_session()
    try:
        with transaction():
            if action == "tier":
                form = TierForm().checked()
                status = suite_verification.set_tier(
                    session, name, model, form.tier.data or "", form.note.data or "", g.user
                )
                flash(f"{status.model} version {status.version} is now '{status.tier}'.")
            elif action == "flag":
                status = suite_verification.flag_entry(session, name, model, FlagForm().checked().reason.data, g.user)
                flash(f"{status.model} version {status.version} is flagged.")
            else:
                status = suite_verification.unflag_entry(session, name, model, g.user)
                flash(f"{status.model} version {status.version} is no longer flagged.")
    except SuiteNotFound as exc:
        _not_found(exc)
    return redirect(url_for("suite_releases.manage_page", name=name))
