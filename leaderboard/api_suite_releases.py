"""JSON API for a suite's releases and its models' verification: list and read releases, make one (organisers), and
set a model's tier or flag (organisers)."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict

from cachetools import LRUCache
from flask import Response, g, jsonify, url_for

from arena.server import suite_releases, suite_verification
from arena.server.suite_releases import ReleaseView

from .api import _body, bp
from .auth import db_session, organiser_required, transaction


@bp.errorhandler(suite_verification.NotAllowed)
def not_allowed(exc: suite_verification.NotAllowed):
    return jsonify(error=exc.headline, problems=exc.messages()), 403


def _release_json(view: ReleaseView) -> dict:
    """A release with where to see it and to download each of its files."""
    return {
        **view.to_dict(),
        "url": url_for("suite_releases.release_page", name=view.suite, number=view.number, _external=True),
        "downloads": {
            suffix: url_for(
                "suite_releases.release_download",
                name=view.suite,
                number=view.number,
                suffix=suffix,
                _external=True,
            )
            for suffix in view.files
        },
    }


@bp.get("/suites/<name>/releases")
def list_releases(name: str):
    return jsonify([_release_json(view) for view in suite_releases.releases(db_session(), name)])


@bp.get("/suites/<name>/releases/<int:number>")
def get_release(name: str, number: int):
    """The release, how to cite it, and its JSON document (the same as its .json download, parsed)."""
    view = suite_releases.release_view(db_session(), name, number)
    described = _release_json(view)
    key = (view.json_sha256, json.dumps(described, sort_keys=True, default=str))
    with _bodies_lock:
        body = _bodies.get(key)
    if body is None:  # what a release says never changes: made once per process
        body = jsonify(
            **described,
            citation=asdict(suite_releases.citation(view, described["url"])),
            document=suite_releases.release_document(view),
        ).get_data()
        with _bodies_lock:
            _bodies[key] = body
    return Response(body, mimetype="application/json")


_bodies_lock = threading.Lock()
_bodies: LRUCache[tuple, bytes] = LRUCache(maxsize=32)


@bp.post("/suites/<name>/releases")
@organiser_required
def make_release(name: str):
    data = _body()
    session = db_session()
    with transaction():
        view = suite_releases.make_release(session, name, g.user, data.get("note") or "")
    return jsonify(_release_json(view)), 201


@bp.post("/suites/<name>/models/<model>/tier")
@organiser_required
def set_tier(name: str, model: str):
    data = _body()
    session = db_session()
    with transaction():
        status = suite_verification.set_tier(
            session, name, model, data.get("tier"), data.get("note") or "", g.user, version=data.get("version")
        )
    return jsonify(status.to_dict())


@bp.post("/suites/<name>/models/<model>/flag")
@organiser_required
def flag(name: str, model: str):
    data = _body()
    session = db_session()
    with transaction():
        status = suite_verification.flag_entry(
            session, name, model, data.get("reason"), g.user, version=data.get("version")
        )
    return jsonify(status.to_dict())


@bp.delete("/suites/<name>/models/<model>/flag")
@organiser_required
def unflag(name: str, model: str):
    data = _body()
    session = db_session()
    with transaction():
        status = suite_verification.unflag_entry(session, name, model, g.user, version=data.get("version"))
    return jsonify(status.to_dict())
