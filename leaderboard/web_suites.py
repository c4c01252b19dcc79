"""The suites' pages: the list, a suite's board (``/s/NAME``, its CSV), and a model's page with its card, run
record and versions. Each view parses the request, calls one function of :mod:`arena.server.suite_boards`, renders;
the numbers are the worker's, computed before any request."""

from __future__ import annotations

import weakref

from flask import Blueprint, Response, abort, current_app, g, render_template, request, session
from jinja2 import Environment, Template
from markupsafe import Markup

from arena.server import suite_analysis, suite_boards
from arena.server.competitions import CompetitionError
from arena.server.suites import SuiteNotFound
from arena.suites.cards import FIELD_TITLES

from .auth import db_session
from .forms import suite_board_filters

EXPORT_FORMATS = ("csv", "parquet", "latex", "markdown")

bp = Blueprint("suites", __name__)


def _filters() -> dict[str, bool]:
    """The board's two filters, from the query string (a checked box sends "1")."""
    try:
        return suite_board_filters(request.args)
    except CompetitionError as exc:
        abort(400, description=str(exc.problems[0]))


@bp.route("/s")
def suites_page():
    return render_template("suites.html", suites=suite_boards.list_suites(db_session()))


def _same_for_everyone() -> bool:
    """Whether the page asked for is the one every visitor who is not signed in gets (no message to flash)."""
    return g.user is None and not (request.cookies and session.get("_flashes"))


@bp.route("/s/<name>")
def suite_page(name: str):
    filters = _filters()
    db = db_session()
    try:
        if _same_for_everyone():  # the whole page, rendered once per version of the board
            return suite_boards.board_derived(
                db, name, "page", lambda board: render_template("suite.html", board=board), **filters
            )
        board = suite_boards.suite_board(db, name, **filters)
        shown = suite_boards.board_derived(db, name, "content", _board_part, **filters)
    except SuiteNotFound:
        abort(404, description=f"there is no suite '{name}'.")
    return render_template(_page_around(current_app.jinja_env), board=board, content=shown)


def _board_part(board: suite_boards.SuiteBoard) -> Markup:
    """The page's content block, rendered once per version of the board: it shows nothing of who asks (the page
    around it, rendered per request, shows the signed-in account)."""
    template = current_app.jinja_env.get_template("suite.html")
    context: dict[str, object] = {"board": board}
    current_app.update_template_context(context)
    context["current_user"] = None
    return Markup("".join(template.blocks["content"](template.new_context(context))))


_around: weakref.WeakKeyDictionary[Environment, Template] = weakref.WeakKeyDictionary()


def _page_around(environment: Environment) -> Template:
    """suite.html with its content block given whole (compiled once per app)."""
    if environment not in _around:
        _around[environment] = environment.from_string(
            '{% extends "suite.html" %}{% block content %}{{ content }}{% endblock %}'
        )
    return _around[environment]


@bp.route("/s/<name>/leaderboard.csv")
def suite_csv(name: str):
    try:
        text = suite_boards.board_derived(db_session(), name, "csv", suite_boards.suite_board_csv, **_filters())
    except SuiteNotFound:
        abort(404, description=f"there is no suite '{name}'.")
    return Response(
        text,
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


@bp.route("/s/<name>/compare")
def compare_page(name: str):
    """Two models side by side (``?a=MODEL&b=MODEL``), or the form to choose them."""
    a, b = request.args.get("a", ""), request.args.get("b", "")
    db = db_session()
    try:
        board = suite_boards.suite_board(db, name)
        comparison = suite_analysis.compare_models(db, name, a, b) if a and b else None
    except SuiteNotFound as exc:
        abort(404, description=exc.messages()[0])
    return render_template("suite_compare.html", board=board, comparison=comparison, formats=EXPORT_FORMATS)


@bp.route("/s/<name>/pairs")
def pairs_page(name: str):
    """Every pair: the Holm-corrected matrix, the critical-difference diagram and the performance profile. The
    page every visitor who is not signed in gets is rendered once per version of the board."""
    db = db_session()

    def render(view: suite_analysis.PairsView) -> str:
        pictures = suite_analysis.pictures(db, name)
        return render_template(
            "suite_pairs.html",
            board=suite_boards.suite_board(db, name),
            view=view,
            cd_svg=Markup(pictures.critical_difference),  # every text in it is escaped where it is drawn
            profile_svg=Markup(pictures.profile),
        )

    try:
        if _same_for_everyone():
            return suite_analysis.pairs_derived(db, name, "page", render)
        return render(suite_analysis.pairs_view(db, name))
    except SuiteNotFound as exc:
        abort(404, description=exc.messages()[0])


def _svg(name: str, which: str) -> Response:
    try:
        pictures = suite_analysis.pictures(db_session(), name)
    except SuiteNotFound as exc:
        abort(404, description=exc.messages()[0])
    return Response(getattr(pictures, which), mimetype="image/svg+xml")


@bp.route("/s/<name>/critical-difference.svg")
def cd_svg(name: str):
    return _svg(name, "critical_difference")


@bp.route("/s/<name>/performance-profile.svg")
def profile_svg(name: str):
    return _svg(name, "profile")
