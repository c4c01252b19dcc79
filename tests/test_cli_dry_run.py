"""``arena submit --dry-run`` against a running server: the program runs on the public sample, the command waits for
it and prints its output, problems, time and memory, and its exit status says whether it worked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import auth, require_in_ci

from arena.cli import main
from arena.code.failures import ERROR_MESSAGE

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "code-competition"
KIT = EXAMPLE / "starting_kit" / "main.py"


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


@pytest.fixture
def code_server(live_server):
    """A live server hosting the example task as a code competition, and a participant's token."""
    need_bwrap()
    server = live_server()
    organiser = server.people.token("orga", organiser=True)
    hosted = server.client.post(
        "/api/v1/competitions",
        json={"task": str(EXAMPLE), "slug": "digits-code", "submission_kind": "code"},
        headers=auth(organiser),
    )
    assert hosted.status_code == 201, hosted.get_json()
    return server, server.people.token("ada")


def slots_left(server, token: str) -> int:
    return server.client.get("/api/v1/competitions/digits-code/submissions", headers=auth(token)).get_json()[
        "slots_left"
    ]


def test_a_dry_run_prints_the_programs_output_time_and_memory(code_server, capsys):
    server, token = code_server
    before = slots_left(server, token)
    command = ["submit", "digits-code", str(KIT), "--server", server.url, "--token", token, "--dry-run"]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert re.search(r"dry run #\d+ of main\.py queued on the public sample", out)
    assert re.search(r"trained on \d+ rows, predicted \d+ rows", out)  # the program's own output
    assert re.search(r"ok: dry run #\d+ wrote a valid predictions file", out)
    assert re.search(r"time \d+\.\d s, peak memory \d+\.\d MB", out)
    assert slots_left(server, token) == before  # never a submission


def test_a_failing_dry_run_shows_why_and_exits_non_zero(code_server, tmp_path, capsys):
    server, token = code_server
    broken = tmp_path / "main.py"
    broken.write_text("def predict(input_dir, output_dir):\n    print('about to fail')\n    raise ValueError('oops')\n")
    assert main(["submit", "digits-code", str(broken), "--server", server.url, "--token", token, "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "about to fail" in captured.out and "ValueError: oops" in captured.out  # the sample's output is shown
    assert re.search(r"dry run #\d+ failed \(error\):", captured.err) and ERROR_MESSAGE in captured.err
    assert "peak memory" in captured.err


def test_a_dry_run_in_a_file_competition_is_refused_in_words(live_server, tmp_path, capsys):
    server = live_server()
    token = server.people.token("ada")
    program = tmp_path / "main.py"
    program.write_text("def predict(input_dir, output_dir):\n    pass\n")
    assert main(["submit", "mnist1d", str(program), "--server", server.url, "--token", token, "--dry-run"]) == 1
    assert "dry runs are for code competitions" in capsys.readouterr().err
