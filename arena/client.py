"""A small HTTP client for a remote Arena server (``arena submit``, ``arena suite submit``), standard library only."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from .errors import ArenaError
from .suites.folders import prediction_files


def shown(value: object) -> str:
    """A score as the web shows it: four decimals (a server's rounded 0.5 prints as 0.5000), '-' for none."""
    return f"{value:.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "-"


class ServerError(ArenaError):
    headline = "The server refused the request"


def _request(method: str, url: str, token: str, body: bytes | None = None, content_type: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read())
            raise ServerError(payload.get("problems") or [payload.get("error", str(exc))]) from None
        except ValueError:
            raise ServerError(f"HTTP {exc.code} from {url}") from None
    except urllib.error.URLError as exc:
        raise ServerError(f"cannot reach {url}: {exc.reason}. Check --server and that the server is running.") from None


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body of text fields and (part name, file name, bytes) files, and its content type."""
    boundary = "arena-" + secrets.token_hex(12)
    clean = lambda text: str(text).replace('"', "'").replace("\r", " ").replace("\n", " ")
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{clean(name)}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    for name, file_name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{clean(name)}"; filename="{clean(file_name)}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def submit_file(
    server: str,
    token: str,
    competition: str,
    path: str | Path,
    *,
    note: str = "",
    baseline: bool = False,
    dry_run: bool = False,
    baseline_model: str = "",
) -> dict:
    """Upload a predictions file (or a program) as multipart/form-data; returns the API's JSON answer.

    With ``dry_run`` a code competition runs the program on the public sample instead (never scored, no slot used):
    the answer is ``{"dry_run": {...}}``, to follow with :func:`wait_for_dry_run`. ``baseline_model`` names the
    reference model of a baseline (organisers): each model is a row of its own on the board, ``baseline: NAME``."""
    path = Path(path)
    fields = {"note": note, "baseline": "1" if baseline or baseline_model else "0"}
    if baseline_model:
        fields["baseline_model"] = baseline_model
    if dry_run:
        fields["dry_run"] = "true"
    body, content_type = _multipart(fields, [("file", path.name, path.read_bytes())])
    url = f"{server.rstrip('/')}/api/v1/competitions/{competition}/submissions"
    return _request("POST", url, token, body, content_type)


def submit_suite(
    server: str,
    token: str,
    suite: str,
    files: Mapping[str, str | Path],
    card: str | Path,
    *,
    baseline: bool = False,
) -> dict:
    """Enter a version of a model in a suite: ``files`` maps each task's key to its predictions file (or, for a task
    that runs code, its program: a .zip or .py the server runs on the test inputs), ``card`` is the model
    card (card.toml or card.json). All or nothing: the server lists every problem at once and keeps nothing when
    there is one. Returns the API's JSON answer (the version, and each task's submission)."""
    card = Path(card)
    parts = [("card", card.name, card.read_bytes())]
    parts += [(key, Path(path).name, Path(path).read_bytes()) for key, path in files.items()]
    return _enter(server, token, suite, parts, baseline)


def submit_suite_frames(server: str, token: str, suite: str, frames: dict, card, *, baseline: bool = False) -> dict:
    """:func:`submit_suite` from a notebook: ``frames`` maps each task's key to a pandas DataFrame of predictions
    (sent as CSV, the index left out), ``card`` is a :class:`arena.suites.cards.ModelCard` or a card file's path."""
    if isinstance(card, (str, Path)):
        card_part = (Path(card).name, Path(card).read_bytes())
    else:
        card_part = ("card.json", json.dumps(card.to_dict()).encode())
    parts = [("card", *card_part)]
    parts += [(key, f"{key}.csv", frame.to_csv(index=False).encode()) for key, frame in frames.items()]
    return _enter(server, token, suite, parts, baseline)


def _enter(server: str, token: str, suite: str, parts: list[tuple[str, str, bytes]], baseline: bool) -> dict:
    body, content_type = _multipart({"baseline": "1" if baseline else "0"}, parts)
    url = f"{server.rstrip('/')}/api/v1/suites/{urllib.parse.quote(suite, safe='')}/entries"
    return _request("POST", url, token, body, content_type)


def wait_for_score(server: str, token: str, submission_id: int, timeout: float = 600) -> dict:
    """Poll until the submission is scored or failed."""
    deadline = time.monotonic() + timeout
    while True:
        data = _request("GET", f"{server.rstrip('/')}/api/v1/submissions/{submission_id}", token)
        if data["status"] in ("scored", "failed") or time.monotonic() > deadline:
            return data
        time.sleep(0.5)


DRY_RUN_ENDED = ("done", "failed")


def wait_for_dry_run(server: str, token: str, dry_run_id: int, timeout: float = 3600) -> dict:
    """Poll a dry run until it is done or failed (or ``timeout`` seconds pass: then its status is still
    ``queued`` or ``running``); returns what its team sees of it: status, problems, time, memory and output."""
    deadline = time.monotonic() + timeout
    while True:
        data = _request("GET", f"{server.rstrip('/')}/api/v1/dry-runs/{dry_run_id}", token)
        if data["status"] in DRY_RUN_ENDED or time.monotonic() > deadline:
            return data
        time.sleep(0.5)


def predictions_in(
    folder: str | Path, keys: list[str] | None = None, suite: str = "", *, programs: bool = False
) -> dict[str, Path]:
    """Each task's predictions file in a folder, by task key (:func:`arena.suites.folders.prediction_files`; with
    ``programs``, a task's program TASK.zip or TASK.py counts as its file); an error listing every problem of the
    folder (against the suite's task ``keys`` when given) before anything is sent."""
    found, problems = prediction_files(folder, keys, suite=suite, programs=programs)
    if problems:
        raise ArenaError(problems)
    return found


def suite_keys(server: str, token: str, suite: str) -> list[str]:
    """The task keys of a suite hosted on the server: the names its predictions files must have."""
    url = f"{server.rstrip('/')}/api/v1/suites/{urllib.parse.quote(suite, safe='')}"
    return [task["key"] for task in _request("GET", url, token)["tasks"]]


def cmd_suite_submit(args) -> int:
    """``arena suite submit SUITE DIR --model CARD --server URL [--token] [--wait] [--baseline]``: enter the folder's
    predictions (one TASK.csv per task, or TASK.zip / TASK.py, a program, for a task that runs code) as a new
    version of the card's model; with --wait, print each task's score (and a program's time and memory) and the
    model's place on the board."""
    import os
    import sys

    token = (getattr(args, "token", None) or os.environ.get("ARENA_TOKEN", "")).strip()
    if not token:
        raise ArenaError("no API token: pass --token or set ARENA_TOKEN (create a token on your account page).")
    answer = submit_suite(
        args.server,
        token,
        args.suite,
        predictions_in(args.dir, suite_keys(args.server, token, args.suite), args.suite, programs=True),
        args.model,
        baseline=getattr(args, "baseline", False),
    )
    print(f"model '{answer['model']}' version {answer['version']} entered in suite '{answer['suite']}':")
    for key, submission in answer["submissions"].items():
        again = " (identical to an earlier file: not counted again)" if submission.get("duplicate") else ""
        print(f"  {key}: submission #{submission['id']} {submission['status']}{again}")
    if not getattr(args, "wait", False):
        return 0
    failed = False
    for key, submission in answer["submissions"].items():
        done = wait_for_score(args.server, token, submission["id"])
        if done["status"] == "failed":
            failed = True
            print(f"  {key}: failed\n" + "\n".join(f"    - {p}" for p in done["problems"]), file=sys.stderr)
        elif done["status"] == "scored":
            metric = done["metric"]
            ci = done["public_ci"] or [None, None]
            ran = done.get("run") or {}
            measured = (
                f"; ran {ran['wall_seconds']} s, {ran['peak_memory_mb']} MB peak"
                if ran.get("wall_seconds") is not None
                else ""
            )
            print(
                f"  {key}: public {metric} {shown(done['public'][metric])} (95% CI [{shown(ci[0])}, {shown(ci[1])}])"
                + measured
            )
    row = _board_row(args.server, token, args.suite, answer["model"])
    if row is not None and row.get("aggregate") is not None:
        ci = row["aggregate_ci"]
        print(
            f"aggregate {shown(row['aggregate'])} (95% CI [{shown(ci[0])}, {shown(ci[1])}]), "
            f"rank {row['rank']} {row['rank_interval']}"
        )
    elif row is not None:
        print("not ranked yet: " + (f"missing {', '.join(row['missing'])}" if row["missing"] else "statistics pending"))
    return 1 if failed else 0


def _board_row(server: str, token: str, suite: str, model: str, timeout: float = 60) -> dict | None:
    """The model's row on the suite's board once its statistics are computed (or as it is after ``timeout``)."""
    deadline = time.monotonic() + timeout
    url = f"{server.rstrip('/')}/api/v1/suites/{urllib.parse.quote(suite, safe='')}/leaderboard"
    while True:
        board = _request("GET", url, token)
        row = next((r for r in board["rows"] if r["model"] == model), None)
        if not board["pending"] or time.monotonic() > deadline:
            return row
        time.sleep(1.0)


def fetch_export(
    server: str,
    suite: str,
    fmt: str,
    *,
    compare: tuple[str, str] | None = None,
    release: int | None = None,
    filters: Mapping[str, bool | str | None] | None = None,
    token: str = "",
) -> bytes:
    """A suite's board (with ``filters``), a comparison of two models or a frozen release as a table for papers,
    in ``fmt`` (one of :data:`arena.suites.exports.FORMATS`): the bytes the server sends. A token is sent only when
    given (boards are public)."""
    from .suites.exports import EXTENSIONS

    base = f"{server.rstrip('/')}"
    quoted = urllib.parse.quote(suite, safe="")
    if release is not None:  # the stored download: byte for byte what the release froze
        url = f"{base}/s/{quoted}/releases/{release}.{EXTENSIONS[fmt]}"
    elif compare is not None:
        query = urllib.parse.urlencode({"a": compare[0], "b": compare[1], "format": fmt})
        url = f"{base}/api/v1/suites/{quoted}/compare?{query}"
    else:
        shown = {key: "1" if value is True else value for key, value in (filters or {}).items() if value}
        url = f"{base}/api/v1/suites/{quoted}/export?{urllib.parse.urlencode({'format': fmt, **shown})}"
    missing = f"the server has no release {release} of suite '{suite}'" if release is not None else None
    return _get_bytes(url, token, missing)


def fetch_comparison(server: str, suite: str, a: str, b: str, *, token: str = "") -> dict:
    """Two models of a hosted suite compared (``GET /api/v1/suites/NAME/compare``), as the API's JSON."""
    query = urllib.parse.urlencode({"a": a, "b": b})
    url = f"{server.rstrip('/')}/api/v1/suites/{urllib.parse.quote(suite, safe='')}/compare?{query}"
    return json.loads(_get_bytes(url, token))


def _get_bytes(url: str, token: str = "", missing: str | None = None) -> bytes:
    """What a GET of ``url`` answers; the server's problems, or ``missing`` for a bare 404, as a ServerError.
    A token is sent only when given (boards are public)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=600) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read())
        except ValueError:
            payload = None
        if isinstance(payload, dict) and (payload.get("problems") or payload.get("error")):
            raise ServerError(payload.get("problems") or [payload["error"]]) from None
        if exc.code == 404 and missing is not None:
            raise ServerError(f"{missing} (HTTP 404 from {url}).") from None
        raise ServerError(f"HTTP {exc.code} from {url}") from None
    except urllib.error.URLError as exc:
        raise ServerError(f"cannot reach {url}: {exc.reason}. Check --server and that the server is running.") from None
