"""A small HTTP client for a remote Arena server (``arena submit``), on the standard library only."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from pathlib import Path

from .errors import ArenaError


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


def submit_file(
    server: str, token: str, competition: str, path: str | Path, *, note: str = "", baseline: bool = False
) -> dict:
    """Upload a predictions file as multipart/form-data; returns the API's JSON answer."""
    path = Path(path)
    boundary = "arena-" + secrets.token_hex(12)
    parts = []
    for name, value in (("note", note), ("baseline", "1" if baseline else "0")):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + path.read_bytes()
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    url = f"{server.rstrip('/')}/api/v1/competitions/{competition}/submissions"
    return _request("POST", url, token, b"".join(parts), f"multipart/form-data; boundary={boundary}")


def wait_for_score(server: str, token: str, submission_id: int, timeout: float = 600) -> dict:
    """Poll until the submission is scored or failed."""
    deadline = time.monotonic() + timeout
    while True:
        data = _request("GET", f"{server.rstrip('/')}/api/v1/submissions/{submission_id}", token)
        if data["status"] in ("scored", "failed") or time.monotonic() > deadline:
            return data
        time.sleep(0.5)
