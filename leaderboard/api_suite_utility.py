"""JSON API of a suite's utility view: the board weighed against each model's costs, with the weights in the query
string (``GET /api/v1/suites/NAME/utility?accuracy=1&inference=0.5``), as the page shows it."""

from __future__ import annotations

from flask import Response, jsonify, request

from arena.server import suite_efficiency
from arena.suites.efficiency import utility_weights

from .api import bp
from .auth import db_session


@bp.get("/suites/<name>/utility")
def suite_utility(name: str):
    """Wrong weights are a 400 naming each (an :class:`arena.errors.ArenaError`); an unknown suite a 404."""
    weights = utility_weights(request.args)
    body = suite_efficiency.utility_derived(
        db_session(), name, weights, "json", lambda view: jsonify(view.to_dict()).get_data()
    )
    return Response(body, mimetype="application/json")
