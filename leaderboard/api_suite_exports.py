"""JSON API: a suite's board as a table for papers (``GET /api/v1/suites/NAME/export?format=FMT``), and the one
way every face sends an export (its media type and file name)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from arena.server import suite_analysis, suite_boards
from arena.suites import exports

from .api import bp
from .auth import db_session
from .forms import suite_board_filters


def board_export(name: str, fmt: str, filters: dict[str, Any]) -> bytes:
    """The suite's board in ``fmt``, with the best and the not-significantly-worse models marked: made once per
    version of the board and kept beside it, like its CSV."""
    session = db_session()

    def make(board: suite_boards.SuiteBoard) -> bytes:
        marks = suite_analysis.board_marks(session, name, **filters)
        return exports.render(exports.board_table(board.to_dict(), marks), fmt)

    return suite_boards.board_derived(session, name, f"export-{fmt}", make, **filters)


def send_export(body: bytes, fmt: str, stem: str) -> Response:
    """An export as a download: its media type, and ``STEM.EXT`` as the file's name."""
    response = Response(body, content_type=exports.MEDIA_TYPES[fmt])
    response.headers.set("Content-Disposition", "attachment", filename=f"{stem}.{exports.EXTENSIONS[fmt]}")
    return response


@bp.get("/suites/<name>/export")
def suite_export(name: str):
    fmt = exports.export_format(request.args.get("format"))  # an unknown format: 400, listing the formats
    filters = suite_board_filters(request.args)
    return send_export(board_export(name, fmt, filters), fmt, f"{name}-suite")
