"""The utility view of a suite's board (``/s/NAME/utility?accuracy=1&parameters=0.5``): the aggregate weighed against
each model's costs, ordered by the result beside the board's own rank. The weights live in the query string, so a
view is shared by its link; the view reads them, calls one function of :mod:`arena.server.suite_efficiency`,
renders."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request, session

from arena.server import suite_efficiency
from arena.server.suites import SuiteNotFound
from arena.suites.efficiency import DEFAULT_WEIGHTS, QUANTITIES, TITLES, WeightError, utility_weights

from .auth import db_session

bp = Blueprint("suite_utility", __name__)


@bp.route("/s/<name>/utility")
def utility_page(name: str):
    try:
        weights = utility_weights(request.args)
    except WeightError as exc:  # the form again, holding what was typed, above what to fix
        typed = {key: request.args.get(key, "") for key in DEFAULT_WEIGHTS}
        return _page(name, None, typed, exc.messages()), 400
    typed = {key: f"{value:g}" for key, value in weights.items()}
    db = db_session()
    try:
        if g.user is None and not (request.cookies and session.get("_flashes")):  # the page everyone gets
            return suite_efficiency.utility_derived(
                db, name, weights, "page", lambda board: _page(name, board, typed, [])
            )
        board = suite_efficiency.utility_board(db, name, weights)
    except SuiteNotFound:
        abort(404, description=f"there is no suite '{name}'.")
    return _page(name, board, typed, [])


def _page(name: str, board: suite_efficiency.UtilityBoard | None, typed: dict[str, str], problems: list[str]) -> str:
    return render_template(
        "suite_utility.html",
        name=name,
        board=board,
        typed=typed,
        problems=problems,
        quantities=QUANTITIES,
        titles=TITLES,
    )
