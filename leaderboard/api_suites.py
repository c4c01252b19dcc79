"""JSON API for suites: the suites, a suite's board (JSON or CSV, with its filters), a model, entering a model."""

from __future__ import annotations

from dataclasses import asdict

from flask import Response, abort, current_app, g, jsonify, request

from arena.server import standings, suite_analysis, suite_boards, suites
from arena.suites import exports

from .api import bp
from .api_suite_exports import send_export
from .auth import db_session, login_required, transaction
from .forms import form_bool, suite_board_filters


@bp.errorhandler(suites.SuiteNotFound)
def suite_not_found(exc: suites.SuiteNotFound):
    return jsonify(error=exc.headline, problems=exc.messages()), 404


@bp.get("/suites")
def list_suites():
    return jsonify([asdict(summary) for summary in suite_boards.list_suites(db_session())])


@bp.get("/suites/<name>")
def get_suite(name: str):
    return jsonify(asdict(suite_boards.describe_suite(db_session(), name)))


@bp.get("/suites/<name>/leaderboard")
@bp.get("/suites/<name>/leaderboard.csv", defaults={"csv": True})
def suite_leaderboard(name: str, csv: bool = False):
    filters = suite_board_filters(request.args)
    session = db_session()  # the same answer for everyone: made once per version of the board, then kept
    if csv or request.args.get("format") == "csv":
        return Response(
            suite_boards.board_derived(session, name, "csv", suite_boards.suite_board_csv, **filters),
            mimetype="text/csv",
        )
    body = suite_boards.board_derived(
        session, name, "json", lambda board: jsonify(board.to_dict()).get_data(), **filters
    )
    return Response(body, mimetype="application/json")


@bp.get("/suites/<name>/models/<model>")
def suite_model(name: str, model: str):
    body = suite_boards.model_derived(
        db_session(), name, model, "json", lambda view: jsonify(view.to_dict()).get_data()
    )
    return Response(body, mimetype="application/json")


@bp.get("/suites/<name>/compare")
def suite_compare(name: str):
    """Two models compared (``?a=MODEL&b=MODEL``): per task the paired difference and interval, win / tie / loss,
    the Wilcoxon test and the difference of aggregates; ``&format=FMT`` gives it as a table for a paper."""
    a, b = request.args.get("a", ""), request.args.get("b", "")
    if not a or not b:
        abort(400, description="name the two models to compare: ?a=MODEL&b=MODEL.")
    fmt = request.args.get("format")
    if fmt is not None:
        fmt = exports.export_format(fmt)  # an unknown format: 400, listing the formats
    comparison = suite_analysis.compare_models(db_session(), name, a, b)
    if fmt is None:
        return jsonify(comparison)
    return send_export(
        exports.render(exports.comparison_table(comparison), fmt),
        fmt,
        f"{comparison['suite']}-{comparison['a']}-vs-{comparison['b']}",
    )


@bp.get("/suites/<name>/pairs")
def suite_pairs(name: str):
    """Every pair of ranked models: Wilcoxon p-values, raw and Holm-corrected, significant task wins, mean ranks,
    cliques and the performance profile."""
    body = suite_analysis.pairs_derived(db_session(), name, "json", lambda view: jsonify(view.to_dict()).get_data())
    return Response(body, mimetype="application/json")


@bp.post("/suites/<name>/entries")
@login_required
def enter_model(name: str):
    parts: dict[str, list] = {}
    for key, upload in request.files.items(multi=True):
        parts.setdefault(key, []).append(upload)
    twice = sorted(key for key, found in parts.items() if len(found) > 1)
    if twice:
        abort(400, description=f"send one file per task; these parts came more than once: {', '.join(twice)}.")
    card = parts.pop("card", [None])[0]
    session = db_session()
    with transaction():
        entered = suites.submit_entry(
            session,
            name,
            g.user,
            (card.stream, card.filename or "card.toml") if card is not None else None,
            {key: (found[0].stream, found[0].filename or f"{key}.csv") for key, found in parts.items()},
            max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
            is_baseline=form_bool(request.form, "baseline", False),
        )
    for submission_id in entered.new_submission_ids():
        current_app.extensions["arena_queue"].notify(submission_id)
    return jsonify(
        suite=name,
        model=entered.model.name,
        version=entered.entry.number,
        submissions={
            key: {
                **standings.submission_summary(accepted.submission, show_private=g.user.is_organiser),
                "duplicate": accepted.duplicate,
            }
            for key, accepted in entered.accepted.items()
        },
    ), 202
