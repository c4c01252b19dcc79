"""The answers file of a revealed competition, for the test-set check: ``/c/SLUG/answers.csv`` and
``/api/v1/competitions/SLUG/answers.csv`` (the same bytes; a 404 before the reveal, to everyone)."""

from __future__ import annotations

from flask import Response, abort

from arena.server import answers_file

from . import api, web
from .shared import competition_or_404


def _download(slug: str) -> Response:
    competition = competition_or_404(slug)
    try:
        body = answers_file.published(competition)
    except answers_file.NotRevealed as exc:
        abort(404, description=" ".join(exc.messages()))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{answers_file.FILE_NAME}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@web.bp.route("/c/<slug>/answers.csv")
def answers_page_download(slug: str) -> Response:
    return _download(slug)


@api.bp.get("/competitions/<slug>/answers.csv")
def answers_api_download(slug: str) -> Response:
    return _download(slug)
