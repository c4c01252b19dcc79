"""A suite board's downloads for papers: ``/s/NAME/export.EXT`` in CSV, JSON, Parquet, LaTeX (``.tex``) or
Markdown (``.md``), with the board's filters from the query string, as the API gives them."""

from __future__ import annotations

from flask import Blueprint, abort, request

from arena.server.suites import SuiteNotFound
from arena.suites import exports

from .api_suite_exports import board_export, send_export
from .forms import suite_board_filters

bp = Blueprint("suite_exports", __name__)


@bp.route("/s/<name>/export.<extension>")
def suite_export(name: str, extension: str):
    fmt = exports.export_format(extension)  # an unknown one, or a filter not true or false: 400, saying why
    filters = suite_board_filters(request.args)
    try:
        body = board_export(name, fmt, filters)
    except SuiteNotFound:
        abort(404, description=f"there is no suite '{name}'.")
    return send_export(body, fmt, f"{name}-suite")
