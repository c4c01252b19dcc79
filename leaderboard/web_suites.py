"""The suites' pages: the list, a suite's board (``/s/NAME``, its CSV), and a model's page with its card, run
record and versions. Each view parses the request, calls one function of :mod:`arena.server.suite_boards`, renders;
the numbers are the worker's, computed before any request."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from arena.server import suite_boards
from arena.server.competitions import CompetitionError
from arena.server.suites import SuiteNotFound
from arena.suites.cards import FIELD_TITLES

from .auth import db_session
from .forms import form_bool

bp = Blueprint("suites", __name__)


def _filters() -> dict[str, bool]:
    """The board's two filters, from the query string (a checked box sends "1")."""
    try:
        return {
            "hide_extra_data": form_bool(request.args, "hide_extra_data", False),
            "hide_trained_on_test": form_bool(request.args, "hide_trained_on_test", False),
        }
    except CompetitionError as exc:
        abort(400, description=str(exc.problems[0]))


@bp.route("/s")
def suites_page():
    return render_template("suites.html", suites=suite_boards.list_suites(db_session()))


@bp.route("/s/<name>")
def suite_page(name: str):
    try:
        board = suite_boards.suite_board(db_session(), name, **_filters())
    except SuiteNotFound:
        abort(404, description=f"there is no suite '{name}'.")
    return render_template("suite.html", board=board)


@bp.route("/s/<name>/leaderboard.csv")
def suite_csv(name: str):
    try:
        board = suite_boards.suite_board(db_session(), name, **_filters())
    except SuiteNotFound:
        abort(404, description=f"there is no suite '{name}'.")
    return Response(
        suite_boards.suite_board_csv(board),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}-suite.csv"},
    )


@bp.route("/s/<name>/models/<model>")
def model_page(name: str, model: str):
    try:
        view = suite_boards.model_view(db_session(), name, model)
    except SuiteNotFound:
        abort(404, description=f"there is no model '{model}' in suite '{name}'.")
    return render_template("suite_model.html", view=view, titles=FIELD_TITLES)
