"""Helpers that pages and the API share: finding a competition, sending a data file."""

from __future__ import annotations

from flask import abort, send_file

from arena.db.models import Competition
from arena.server import competitions, downloads

from .auth import db_session


def competition_or_404(slug: str) -> Competition:
    try:
        return competitions.get(db_session(), slug)
    except competitions.CompetitionError:
        abort(404, description=f"there is no competition '{slug}'.")


def send_data_file(slug: str, name: str):
    """train.csv, test.csv (no labels) or sample_submission.csv; anything else is a 404."""
    competition = competition_or_404(slug)
    try:
        path = downloads.download_path(competition, name)
    except FileNotFoundError:
        abort(404, description=f"there is no data file '{name}'; the files are {', '.join(downloads.DOWNLOADS)}.")
    return send_file(path, as_attachment=True, download_name=f"{slug}-{name}", mimetype="text/csv")
