"""The scoring-program sandbox bounds the whole run: memory, processes, and every writable place.

Each test builds a small Codabench-style program (a folder with ``metadata`` and a
Python script), runs it with small limits under the real bubblewrap, and checks
that the run ends as a neutral failure (a ProgramError that is not ours) with the
kernel holding the limit. Where Arena makes a cgroup for the run, its counters say
how much memory and how many processes the run reached.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import require_in_ci

MB = 2**20


@pytest.fixture(autouse=True)
def _bwrap():
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


def program(tmp_path: Path, source: str) -> tuple[Path, Path, Path]:
    """A program folder running ``source`` with python3, and empty reference and submission folders."""
    folder = tmp_path / "program"
    folder.mkdir()
    (folder / "metadata").write_text("command: python3 $program/run.py $input $output\n")
    (folder / "run.py").write_text(source)
    ref, res = tmp_path / "ref", tmp_path / "res"
    ref.mkdir()
    res.mkdir()
    return folder, ref, res


def fails(folder: Path, ref: Path, res: Path, **limits):
    from arena.codabench.sandbox import FILE, ProgramError, run_program

    started = time.monotonic()
    with pytest.raises(ProgramError) as caught:
        run_program(folder, ref, res, **{"time_limit": 20, **limits})
    error = caught.value
    assert not error.ours and error.verdict == FILE, (error.report(), error.log)
    return error, time.monotonic() - started


def no_cgroup_left() -> bool:
    from arena.codabench.sandbox import _inside, _mounts, _own_cgroups

    own = _own_cgroups()
    for point, root, _, _ in _mounts():
        for path in own.values():
            folder = _inside(point, root, path)
            if (
                folder is not None
                and folder.is_dir()
                and any(p.name.startswith("arena-program-") for p in folder.iterdir())
            ):
                return False
    return True


def capped() -> str:
    """The limits in force; skips where nothing caps the number of processes (root without a cgroup)."""
    from arena.codabench.sandbox import limits_in_force

    limits = limits_in_force()
    if limits == "rlimits" and os.geteuid() == 0:
        pytest.skip("as root without a cgroup the kernel does not cap the processes of a scoring program")
    return limits


FORKING_HOG = """\
import os, sys, time
children = []
for _ in range(4):
    try:
        pid = os.fork()
    except OSError:
        print("fork refused", flush=True)
        break
    if pid == 0:
        block = b"x" * (120 * 1024 * 1024)  # written, so every page is really used
        time.sleep(1)
        os._exit(0)
    children.append(pid)
failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
print("children", len(children), "failed", len(failed), flush=True)
sys.exit(1 if failed or len(children) < 4 else 0)
"""


def test_a_forking_memory_hog_stays_under_the_total_memory_limit(tmp_path):
    limits = capped()
    cgroup = limits.startswith("cgroup")  # the total is held directly; else processes x memory per process
    error, seconds = fails(*program(tmp_path, FORKING_HOG), memory_mb=200, processes=8 if cgroup else 3, disk_mb=8)
    usage = error.usage
    if cgroup:  # all processes together: at most 200 MB, the kernel stopped the excess
        assert usage.peak_memory is None or usage.peak_memory <= 200 * MB, usage  # None: a kernel before 5.19
        assert usage.memory_kills, usage
        assert "children 4 failed" in error.log, error.log
    else:  # 200 MB per process, and the shell, the program and one child at most
        assert "fork refused" in error.log, error.log
    assert seconds < 15 and no_cgroup_left()


FORK_BOMB = """\
import os, sys, time
deadline = time.time() + 2
refused = False
while time.time() < deadline:
    try:
        os.fork()
    except OSError:
        if not refused:
            refused = True
            print("fork refused", flush=True)
        time.sleep(0.01)
sys.exit(3)
"""


@pytest.mark.slow
def test_a_fork_bomb_stops_at_the_process_cap(tmp_path):
    limits = capped()
    error, seconds = fails(*program(tmp_path, FORK_BOMB), memory_mb=256, processes=20, disk_mb=8)
    assert "fork refused" in error.log, error.log
    usage = error.usage
    if limits.startswith("cgroup"):
        assert usage.process_refusals and usage.process_refusals > 0, usage
        assert usage.peak_processes is None or usage.peak_processes <= 20 + 3, usage  # + the sandbox's own
    assert seconds < 15 and no_cgroup_left()


DISK_FILLER = """\
import json, os, sys
written = {}
for place in ["/app", "/app/output", "/app/shared", "/tmp", "/dev/shm", "/", "/dev", "/app/program", "/app/input"]:
    total, names = 0, []
    try:
        for i in range(64):  # 64 MB at most, in files of 1 MB
            name = os.path.join(place, f"fill-{i}")
            names.append(name)
            with open(name, "wb") as handle:
                handle.write(b"x" * (1024 * 1024))
            total += 1024 * 1024
    except OSError as exc:
        total += os.path.getsize(names[-1]) if os.path.exists(names[-1]) else 0
    written[place] = total
    for name in names:
        if os.path.exists(name):
            os.remove(name)
try:
    with open("/tmp/one-big-file", "wb") as handle:
        handle.write(b"x" * (20 * 1024 * 1024))
    written["one file"] = os.path.getsize("/tmp/one-big-file")
except OSError:
    written["one file"] = os.path.getsize("/tmp/one-big-file")
print(json.dumps(written), flush=True)
sys.exit(1)
"""


def test_every_writable_place_stops_at_its_size(tmp_path):
    error, seconds = fails(*program(tmp_path, DISK_FILLER), memory_mb=256, processes=16, disk_mb=8)
    written = json.loads(error.log.strip().splitlines()[-1])
    for place in ("/app", "/app/output", "/app/shared", "/tmp", "/dev/shm"):
        assert 4 * MB <= written[place] <= 8 * MB, (place, written)
    assert written["/app/input"] <= 8 * MB  # a folder of /app, inside its size
    for place in ("/", "/dev", "/app/program"):
        assert written[place] == 0, (place, written)
    assert written["one file"] <= 8 * MB
    assert seconds < 15 and not (tmp_path / "program" / "fill-0").exists()


def test_a_flood_of_output_and_a_process_left_behind_cost_nothing(tmp_path):
    from arena.codabench.sandbox import run_program

    source = """\
import json, os, subprocess, sys, time
if os.fork() == 0:  # left behind, writing on: stopped when the program ends
    time.sleep(0.5)
    json.dump({"accuracy": 0.0}, open("/app/output/scores.json", "w"))
    os._exit(0)
sys.stdout.write(("noise " * 1000 + "\\n") * 8000)  # about 48 MB of output
json.dump({"accuracy": 0.5}, open("/app/output/scores.json", "w"))
print("the end")
"""
    folder, ref, res = program(tmp_path, source)
    started = time.monotonic()
    run = run_program(folder, ref, res, time_limit=20, memory_mb=256, processes=16, disk_mb=8)
    assert run.scores == {"accuracy": 0.5}
    assert len(run.log) <= 4000 and run.log.rstrip().endswith("the end")
    assert time.monotonic() - started < 15 and no_cgroup_left()


def test_scores_that_point_elsewhere_are_refused(tmp_path):
    from arena.codabench.sandbox import PROGRAM, ProgramError, run_program

    source = """\
import os
os.symlink("/app/input/ref/truth.csv", "/app/output/scores.json")
"""
    folder, ref, res = program(tmp_path, source)
    (ref / "truth.csv").write_text('{"accuracy": 1}')
    with pytest.raises(ProgramError) as caught:
        run_program(folder, ref, res, time_limit=20, memory_mb=256, processes=16, disk_mb=8)
    assert caught.value.verdict == PROGRAM and not caught.value.ours
    assert "scores.json could not be opened" in caught.value.report()


def test_without_a_cgroup_each_process_keeps_its_own_limits(tmp_path, monkeypatch):
    from arena.codabench.sandbox import run_program

    monkeypatch.setenv("ARENA_PROGRAM_CGROUP", "off")
    source = """\
import json
try:
    block = b"x" * (300 * 1024 * 1024)
    result = 0
except MemoryError:
    result = 1
json.dump({"refused": result}, open("/app/output/scores.json", "w"))
"""
    folder, ref, res = program(tmp_path, source)
    run = run_program(folder, ref, res, time_limit=20, memory_mb=200, processes=16, disk_mb=8)
    assert run.scores == {"refused": 1.0} and run.usage.limits == "rlimits"


def test_a_program_cannot_make_a_user_namespace_to_mount_a_file_system_of_its_own(tmp_path):
    from arena.codabench.sandbox import _bwrap_knows, run_program

    if not _bwrap_knows("--disable-userns"):
        pytest.skip("needs bubblewrap 0.8 or later")
    source = """\
import ctypes, json
libc = ctypes.CDLL(None, use_errno=True)
made = libc.unshare(0x10000000 | 0x00020000) == 0  # CLONE_NEWUSER | CLONE_NEWNS, then it could mount a tmpfs
json.dump({"refused": int(not made)}, open("/app/output/scores.json", "w"))
"""
    folder, ref, res = program(tmp_path, source)
    run = run_program(folder, ref, res, time_limit=20, memory_mb=256, processes=16, disk_mb=8)
    assert run.scores == {"refused": 1.0}, run.log


# --- a run's output folder, handed back ------------------------------------------------------------------------


def test_a_runs_output_folder_comes_back_without_its_links_and_with_what_it_used(tmp_path):
    """An ingestion program's or a participant's predictions come back as files; a link it leaves (to the inputs,
    or to /) is dropped, never followed, so a link cannot carry a host file out of the sandbox."""
    from arena.codabench.sandbox import run_sandboxed

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "test.csv").write_text("id,x\n1,secret-input\n")
    command = (
        "mkdir -p /app/output/deep && cp /app/input/test.csv /app/output/copy.csv && echo 7 > /app/output/deep/n.txt"
        " && ln -s /app/input/test.csv /app/output/link.csv && ln -s / /app/output/root"
        " && python3 -c 'import numpy; print(numpy.ones(2_000_000).sum())'"
    )
    out = tmp_path / "out"
    run = run_sandboxed(command, [(inputs, "/app/input")], time_limit=30, workdir="/app", output_to=out)
    kept = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert kept == ["copy.csv", "deep", "deep/n.txt"]
    assert (out / "copy.csv").read_text() == (inputs / "test.csv").read_text()
    assert run.scores == {} and "2000000.0" in run.log
    assert run.wall_seconds is not None and run.wall_seconds > 0
    assert run.cpu_seconds is not None and run.cpu_seconds > 0
    assert run.peak_memory is not None and run.peak_memory > 16 * MB  # numpy's array alone is 16 MB


def test_output_past_its_cap_is_refused_and_nothing_is_kept(tmp_path):
    from arena.codabench.sandbox import FILE, ProgramError, run_sandboxed

    out = tmp_path / "out"
    with pytest.raises(ProgramError) as caught:
        run_sandboxed(
            "head -c 3000000 /dev/zero > /app/output/big.bin",
            [],
            time_limit=30,
            workdir="/app",
            output_to=out,
            output_mb=2,
            what="your code",
        )
    assert caught.value.verdict == FILE and not caught.value.ours
    assert "more than the 2097152 allowed" in caught.value.messages()[0]
    assert not out.exists() or not any(out.iterdir())


def test_the_mounted_folders_cannot_be_written(tmp_path):
    from arena.codabench.sandbox import ProgramError, run_sandboxed

    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "test.csv").write_text("id\n1\n")
    with pytest.raises(ProgramError, match="exit status"):
        run_sandboxed("echo changed > /app/input/test.csv", [(inputs, "/app/input")], time_limit=30, workdir="/app")
    assert (inputs / "test.csv").read_text() == "id\n1\n"
