"""Helpers that pages and the API share: finding a competition, a board as CSV, sending a data file."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, g, send_file

from arena.db.models import Competition, DryRun
from arena.errors import ArenaError
from arena.server import competitions, downloads, dry_runs, lifecycle, rules_acceptance, standings

from .auth import db_session, transaction


def competition_or_404(slug: str) -> Competition:
    """The competition, or a 404; a draft is a 404 to everyone but organisers."""
    try:
        competition = competitions.get(db_session(), slug)
    except competitions.CompetitionError:
        abort(404, description=f"there is no competition '{slug}'.")
    if not lifecycle.visible(competition, g.get("user")):
        abort(404, description=f"there is no competition '{slug}'.")
    return competition


def board_csv(rule: standings.RankRule) -> Callable[[list[standings.Standing]], bytes]:
    """What makes the board's CSV under its rank rule (a code competition's carries each run's measurements),
    encoded once: it is kept per board generation and sent as is (never re-encoded)."""
    return lambda board: standings.to_csv(board, rule).encode()


def board_view(args) -> str:
    """The board view a request asks for (``?view=baselines-ranked`` or ``?view=late``; none: the competition's
    board), or a 400 that names the views."""
    view = args.get("view", "")
    if view not in standings.VIEWS:
        shown = ", ".join(repr(name) for name in standings.VIEWS if name)
        abort(400, description=f"there is no board view {view[:40]!r}; ask for {shown}, or none for the board.")
    return view


def send_data_file(slug: str, name: str):
    """train.csv, test.csv (no labels) or sample_submission.csv (in a code competition public_sample.csv instead of
    test.csv), and starting_kit.zip where the task declares a starting kit; anything else is a 404. Where the
    competition asks participants to accept its rules, only those who have get a file."""
    competition = competition_or_404(slug)
    rules_acceptance.require_accepted(db_session(), competition, g.get("user"), doing="downloading the data")
    try:
        path = downloads.download_path(competition, name)
    except downloads.Withheld as exc:  # the hidden test inputs of a code competition
        abort(404, description=str(exc))
    except FileNotFoundError:
        files = ", ".join(downloads.offered(competition))
        abort(404, description=f"there is no data file '{name}'; the files are {files}.")
    except ArenaError:  # a broken bundle: the organisers see why on the admin page; no server path leaves here
        abort(
            503,
            description="this competition's data files are unavailable at the moment; the organisers can see "
            "why on their admin page. Try again later.",
        )
    kind = "application/zip" if name.endswith(".zip") else "text/csv"
    return send_file(path, as_attachment=True, download_name=f"{slug}-{name}", mimetype=kind)


def queue_dry_run(competition: Competition, upload) -> DryRun:
    """Keep an uploaded program as a dry run on the public sample and wake the queue (the API and the web form)."""
    with transaction():
        dry_run = dry_runs.request(
            db_session(),
            competition,
            g.user,
            upload.stream,
            upload.filename,
            max_bytes=current_app.config["MAX_UPLOAD_BYTES"],
        )
    current_app.extensions["arena_queue"].notify_dry_run(dry_run.id)
    return dry_run
