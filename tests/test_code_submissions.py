"""Code submissions: a participant's program runs in the sandbox on test inputs it never shows anyone.

The starting kit runs through ``arena run`` and a real run scores through the one scoring path, with an interval.
Uploads that cannot run are refused with a message saying how to fix them. Then the attacks, each under the real
bubblewrap: the program cannot open the host's files (answers, ARENA_HOME, another submission), reach the network,
write outside /app/output, leave a process behind or smuggle links out; a fork bomb, a memory or disk hog and a
program that never ends each stop at their limit with a neutral verdict; and no participant-facing message of a
real run carries a test value, even when the program prints them all.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import textwrap
import uuid
import zipfile
from pathlib import Path

import pytest
from conftest import require_in_ci

from arena.code.failures import ERROR, MEMORY, MESSAGES, OUTPUT, TIME, CodeFailed, log_shown
from arena.code.runtime import describe_runtime
from arena.errors import BundleError, SubmissionError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "code-competition"
KIT = EXAMPLE / "starting_kit" / "main.py"
TOKEN = "TESTROW"  # every hidden test row's text feature starts with it
COPY_SAMPLE = "import shutil; shutil.copy('/app/input/sample_submission.csv', '/app/output/submission.csv')"


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


@pytest.fixture(scope="module")
def code_task(tmp_path_factory):
    """A tiny code task whose test rows each hold a unique text value, to look for in every message."""
    from arena.tasks import load_bundle_task

    folder = tmp_path_factory.mktemp("code-task")
    (folder / "task.toml").write_text(
        textwrap.dedent(
            """
            name = "tiny-code"
            version = 1
            kind = "classification"
            [data]
            train = "train.csv"
            test = "test.csv"
            answers = "answers.csv"
            [metrics]
            primary = "accuracy"
            [submission]
            prediction = "label"
            kind = "code"
            [submission.limits]
            wall_seconds = 60
            memory_mb = 1024
            """
        )
    )
    rows = range(40)
    (folder / "train.csv").write_text(
        "id,note,x,label\n" + "".join(f"{i},train{i},{i % 7},{'ab'[i % 2]}\n" for i in rows)
    )
    test_ids = [100 + i for i in rows]
    secret = {i: f"{TOKEN}{uuid.uuid4().hex[:12]}" for i in test_ids}
    (folder / "test.csv").write_text("id,note,x\n" + "".join(f"{i},{secret[i]},{i % 5}\n" for i in test_ids))
    (folder / "answers.csv").write_text("id,label\n" + "".join(f"{i},{'ab'[i % 3 == 0]}\n" for i in test_ids))
    return load_bundle_task(folder)


def run(task, tmp_path: Path, source: str, *, sample: bool = False, work: str = "work"):
    from arena.code.runner import run_code

    upload = tmp_path / f"{work}.py"
    upload.write_text(textwrap.dedent(source))
    return run_code(task, upload, file_name="main.py", sample=sample, work=tmp_path / work)


def fails(task, tmp_path: Path, source: str, verdicts: tuple[str, ...]) -> CodeFailed:
    with pytest.raises(CodeFailed) as caught:
        run(task, tmp_path, source)
    error = caught.value
    assert not error.ours and error.verdict in verdicts, (error.verdict, error.detail, error.log)
    assert error.messages() == [MESSAGES[error.verdict]]  # the participant's whole view: one fixed sentence
    return error


# --- the starting kit and the normal scoring path ---------------------------------------------------------------


def test_the_starting_kit_passes_arena_run(capsys):
    from arena.cli import main

    need_bwrap()
    assert main(["run", str(EXAMPLE), str(KIT)]) == 0
    out = capsys.readouterr().out
    assert "predicted 20 rows" in out and "ok: submission.csv is a valid predictions file" in out
    assert "of 300 s" in out and "peak memory" in out

    assert main(["run", str(EXAMPLE), str(KIT), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["ok"] and found["predictions"] == "submission.csv" and found["limits"]["wall_seconds"] == 300


def test_arena_run_shows_the_programs_error_on_the_sample(tmp_path, capsys):
    from arena.cli import main

    need_bwrap()
    broken = tmp_path / "main.py"
    broken.write_text("def predict(input_dir, output_dir):\n    print('starting')\n    raise ValueError('no model')\n")
    assert main(["run", str(EXAMPLE), str(broken)]) == 1
    err = capsys.readouterr().err
    assert "starting" in err and "ValueError: no model" in err and "failed (error)" in err


def test_arena_run_refuses_a_task_that_takes_files(capsys):
    from arena.cli import main

    assert main(["run", "sunspots", str(KIT)]) == 1
    assert "takes predictions files, not programs" in capsys.readouterr().err


def test_a_real_run_validates_and_scores_with_an_interval(tmp_path):
    from arena.code.outputs import validate_output
    from arena.code.runner import run_code
    from arena.scoring.score import score_submission
    from arena.tasks import load_bundle_task

    need_bwrap()
    task = load_bundle_task(EXAMPLE)
    done = run_code(task, KIT, file_name="main.py", sample=False, work=tmp_path / "work")
    assert f"predicted {len(task.test)} rows" in done.log and not log_shown(task.spec.code.logs, sample=False)
    assert done.wall_seconds and done.cpu_seconds and done.peak_memory_mb
    validate_output(task, done, sample=False)
    score = score_submission(task, done.predictions)
    low, high = score.public_ci
    assert score.public["accuracy"] > 0.9 and low is not None and low <= score.public["accuracy"] <= high


def test_the_sample_is_training_rows_shaped_as_the_test_inputs(code_task):
    from arena.code.inputs import public_sample

    sample = public_sample(code_task)
    assert list(sample.columns) == list(code_task.test.columns) and len(sample) == 20
    assert set(sample["id"]) <= set(code_task.train["id"]) and not set(sample["id"]) & set(code_task.test["id"])
    assert sample["id"].dtype == code_task.test["id"].dtype and not sample["note"].str.startswith(TOKEN).any()


def test_a_sample_run_is_checked_against_the_sample_with_exact_messages(code_task, tmp_path):
    from arena.code.outputs import validate_output

    need_bwrap()
    done = run(code_task, tmp_path, f"def predict(i, o):\n    {COPY_SAMPLE}\n", sample=True)
    validate_output(code_task, done, sample=True)
    wrong = run(
        code_task,
        tmp_path,
        "def predict(i, o):\n    open(o + '/p.csv', 'w').write('id,label\\n1,a\\n')\n",
        sample=True,
        work="wrong",
    )
    with pytest.raises(SubmissionError) as caught:
        validate_output(code_task, wrong, sample=True)
    assert not isinstance(caught.value, CodeFailed) and "test ids have no prediction" in caught.value.report()


# --- task.toml ----------------------------------------------------------------------------------------------------


def test_a_code_task_declares_entry_limits_runtime_and_logs(tmp_path):
    from arena.bundles.loading import find_bundle
    from arena.bundles.spec import load_spec

    spec = load_spec(EXAMPLE)
    assert spec.code is not None and spec.code.entry == "predict" and spec.code.limits.output_mb == 16
    folder = tmp_path / "t"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = (folder / "task.toml").read_text()
    (folder / "task.toml").write_text(
        toml.replace('kind = "code"', 'kind = "code"\nlimts = 1').replace("wall_seconds = 300", "wal_seconds = 0")
    )
    (folder / "task.toml").write_text((folder / "task.toml").read_text().replace('"server"', '"venv:env"'))
    with pytest.raises(BundleError) as caught:
        load_spec(folder)
    report = caught.value.report()
    assert "Did you mean 'limits'" in report and "Did you mean 'wall_seconds'" in report
    assert "python -m venv env" in report  # every problem at once, each saying how to fix it
    assert load_spec(find_bundle("sunspots")).code is None


def test_the_installation_lowers_limits_and_never_raises_them(monkeypatch):
    from arena.bundles.spec import load_spec
    from arena.code.runner import limits_in_force

    code = load_spec(EXAMPLE).code
    monkeypatch.setenv("ARENA_CODE_WALL_SECONDS", "30")
    monkeypatch.setenv("ARENA_CODE_MEMORY_MB", "999999")
    limits = limits_in_force(code)
    assert (limits.wall_seconds, limits.memory_mb) == (30, 2048)


def test_the_servers_runtime_names_its_python_and_its_stacks_versions():
    import numpy
    import sklearn

    runtime = describe_runtime(EXAMPLE, "server")
    assert runtime.python == platform.python_version()
    assert {("numpy", numpy.__version__), ("scikit-learn", sklearn.__version__)} <= set(runtime.packages)
    assert runtime.line().startswith(f"Python {platform.python_version()}; numpy {numpy.__version__}")


def test_a_runtime_in_the_bundle_gives_its_own_packages(tmp_path):
    import subprocess
    import sys

    from arena.tasks import load_bundle_task

    need_bwrap()
    folder = tmp_path / "task"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = folder / "task.toml"
    toml.write_text(toml.read_text().replace('runtime = "server"', 'runtime = "venv:env"'))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "env")], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    package = folder / "env" / "lib" / version / "site-packages" / "organisers_pick"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("ANSWER = 42\n")
    listed = package.parent / "organisers_pick-1.2.dist-info"
    listed.mkdir()
    (listed / "METADATA").write_text("Metadata-Version: 2.1\nName: organisers_pick\nVersion: 1.2\n")
    runtime = describe_runtime(folder, "venv:env")  # what participants are told they run with
    assert runtime.python == platform.python_version() and runtime.packages == (("organisers_pick", "1.2"),)
    source = f"""
    import organisers_pick
    def predict(i, o):
        print("pick", organisers_pick.ANSWER)
        try:
            import pandas
            print("server packages visible")
        except ImportError:
            print("only the runtime's packages")
        {COPY_SAMPLE}
    """
    done = run(load_bundle_task(folder), tmp_path, source, sample=True)
    assert "pick 42" in done.log and "only the runtime's packages" in done.log


# --- uploads ------------------------------------------------------------------------------------------------------


def zipped(path: Path, members: dict[str, str], links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16) | 0
            archive.writestr(info, target)
    return path


PREDICT = "def predict(input_dir, output_dir):\n    pass\n"


@pytest.mark.parametrize(
    ("members", "links", "message"),
    [
        ({"model.pkl": "x"}, None, "your zip has no main.py: put your predict(input_dir, output_dir) function in"),
        ({"a.py": PREDICT, "b.py": PREDICT}, None, "no main.py but 2 .py files"),
        ({"main.py": PREDICT, "../escape.txt": "x"}, None, "points outside the zip"),
        ({"main.py": PREDICT}, {"answers.csv": "/etc/passwd"}, "is a symbolic link"),
        ({"main.py": "def run(i, o):\n    pass\n"}, None, "main.py has no predict() function"),
        ({"main.py": "def predict(:\n"}, None, "main.py is not valid Python"),
    ],
)
def test_uploads_that_cannot_run_are_refused_saying_how_to_fix(tmp_path, members, links, message):
    from arena.code.uploads import check_code_upload

    with pytest.raises(SubmissionError) as caught:
        check_code_upload(zipped(tmp_path / "s.zip", members, links), "s.zip")
    assert message in caught.value.report()


def test_an_oversized_or_foreign_upload_is_refused(tmp_path, monkeypatch):
    from arena.code import uploads

    monkeypatch.setattr(uploads, "MAX_UNPACKED_BYTES", 1000)
    big = zipped(tmp_path / "big.zip", {"main.py": PREDICT, "weights.bin": "0" * 5000})
    with pytest.raises(SubmissionError, match="unpacks to more than"):
        uploads.check_code_upload(big, "big.zip")
    (tmp_path / "x.txt").write_text(PREDICT)
    with pytest.raises(SubmissionError, match="neither a .zip nor a .py"):
        uploads.check_code_upload(tmp_path / "x.txt", "x.txt")


def test_a_py_file_or_a_zipped_folder_is_accepted(tmp_path):
    from arena.code.uploads import check_code_upload, unpack_code

    (tmp_path / "mine.py").write_text("from model import predict\n")
    check_code_upload(tmp_path / "mine.py", "mine.py")
    archive = zipped(tmp_path / "s.zip", {"kit/main.py": PREDICT, "kit/model.txt": "w", "__MACOSX/kit/._main.py": ""})
    program = unpack_code(archive, "s.zip", tmp_path / "out")
    assert program.module == "main" and (program.root / "main.py").is_file() and program.root.name == "kit"


# --- attacks --------------------------------------------------------------------------------------------------------


def test_the_program_cannot_open_host_files_or_see_the_servers_environment(code_task, tmp_path, monkeypatch):
    from arena.config import arena_home, cache_dir

    need_bwrap()
    secret = tmp_path / "secret.txt"
    secret.write_text("HOSTSECRET")
    home_secret = arena_home() / f"installation-secret-{uuid.uuid4().hex[:6]}"
    home_secret.write_text("HOSTSECRET")
    monkeypatch.setenv("ARENA_SECRET_KEY", "HOSTSECRET")
    answers = [str(p) for p in cache_dir().rglob("answers.parquet")] + [str(code_task.spec.answers_file)]
    other = run(code_task, tmp_path, f"# HOSTSECRET\ndef predict(i, o):\n    {COPY_SAMPLE}\n", work="other")
    paths = [
        str(secret),
        str(home_secret),
        *answers,
        str(other.predictions),
        str(tmp_path / "other.py"),
    ]
    source = f"""
    import os
    def predict(i, o):
        for path in {paths!r}:
            try:
                print("OPENED:", path, open(path, errors="replace").read()[:100])
            except OSError as exc:
                print("denied", type(exc).__name__)
        print("ENV", sorted(os.environ))
        print("ENV has secret", any("HOSTSECRET" in v for v in os.environ.values()))
        {COPY_SAMPLE}
    """
    done = run(code_task, tmp_path, source)
    assert "OPENED:" not in done.log and "HOSTSECRET" not in done.log, done.log
    assert done.log.count("denied") == len(paths) and "ENV has secret False" in done.log


def test_the_program_cannot_read_the_servers_environment_through_proc(code_task, tmp_path, monkeypatch):
    need_bwrap()
    monkeypatch.setenv("ARENA_SECRET_KEY", "HOSTSECRET")
    source = f"""
    import glob
    def predict(i, o):
        for path in glob.glob("/proc/[0-9]*/environ"):
            try:
                print(path, b"HOSTSECRET" in open(path, "rb").read())
            except OSError as exc:
                print(path, "denied")
        {COPY_SAMPLE}
    """
    done = run(code_task, tmp_path, source)
    assert "True" not in done.log, done.log


def test_the_program_cannot_reach_the_network(code_task, tmp_path):
    need_bwrap()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    source = f"""
    import socket
    def predict(i, o):
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=3)
            print("CONNECTED")
        except OSError as exc:
            print("no network:", type(exc).__name__)
        {COPY_SAMPLE}
    """
    try:
        done = run(code_task, tmp_path, source)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever knocked
    finally:
        listener.close()
    assert "CONNECTED" not in done.log and "no network" in done.log


def test_the_program_cannot_write_outside_its_output_folder(code_task, tmp_path):
    need_bwrap()
    host = tmp_path / "host-folder"
    host.mkdir()
    targets = [str(host / "planted"), "/app/submission/planted", "/app/input/test.csv", "/etc/planted", "/planted"]
    source = f"""
    def predict(i, o):
        for path in {targets!r}:
            try:
                open(path, "w").write("x")
                print("WROTE", path)
            except OSError:
                print("refused")
        {COPY_SAMPLE}
    """
    done = run(code_task, tmp_path, source)
    assert "WROTE" not in done.log and done.log.count("refused") == len(targets)
    assert list(host.iterdir()) == [] and not (tmp_path / "work" / "submission" / "planted").exists()


def test_links_in_the_output_are_dropped_not_followed(code_task, tmp_path):
    need_bwrap()
    source = """
    import os
    def predict(i, o):
        os.symlink("/app/input/test.csv", o + "/submission.csv")
        os.symlink("/", o + "/root")
    """
    error = fails(code_task, tmp_path, source, (OUTPUT,))
    output = tmp_path / "work" / "output"
    assert not [p for p in output.rglob("*") if p.is_symlink()] if output.exists() else True
    assert TOKEN not in error.detail


def test_no_process_outlives_the_run(code_task, tmp_path):
    need_bwrap()
    marker = f"arena-sleeper-{uuid.uuid4().hex}"
    source = f"""
    import subprocess, sys
    def predict(i, o):
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"], start_new_session=True)
        {COPY_SAMPLE}
    """
    run(code_task, tmp_path, source)
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                left.append(cmdline.parent.name)
        except OSError:
            continue
    assert left == []


def test_a_program_past_the_wall_limit_is_stopped(code_task, tmp_path, monkeypatch):
    need_bwrap()
    monkeypatch.setenv("ARENA_CODE_WALL_SECONDS", "2")
    fails(code_task, tmp_path, "import time\ndef predict(i, o):\n    time.sleep(120)\n", (TIME,))


def test_a_memory_hog_is_stopped_with_the_memory_verdict(code_task, tmp_path, monkeypatch):
    need_bwrap()
    monkeypatch.setenv("ARENA_CODE_MEMORY_MB", "300")
    source = "def predict(i, o):\n    hog = []\n    while True:\n        hog.append(b'x' * (16 << 20))\n"
    fails(code_task, tmp_path, source, (MEMORY,))


def test_a_fork_bomb_stops_at_the_process_limit(code_task, tmp_path, monkeypatch):
    need_bwrap()
    monkeypatch.setenv("ARENA_CODE_PROCESSES", "8")
    monkeypatch.setenv("ARENA_CODE_WALL_SECONDS", "10")
    source = "import os\ndef predict(i, o):\n    while True:\n        os.fork()\n"
    fails(code_task, tmp_path, source, (ERROR, TIME, MEMORY))


def test_filling_the_disk_stops_at_the_disk_limit(code_task, tmp_path, monkeypatch):
    need_bwrap()
    monkeypatch.setenv("ARENA_CODE_DISK_MB", "16")
    source = f"""
    def predict(i, o):
        for folder in ("/tmp", "/dev/shm", o):
            written = 0
            try:
                with open(folder + "/fill", "wb") as out:
                    while written < 64:
                        out.write(b"x" * (1 << 20))
                        out.flush()
                        written += 1
            except OSError:
                pass
            print("filled", folder, written)
            import os; os.remove(folder + "/fill")
        {COPY_SAMPLE}
    """
    done = run(code_task, tmp_path, source)
    filled = [int(line.split()[-1]) for line in done.log.splitlines() if line.startswith("filled")]
    assert len(filled) == 3 and max(filled) <= 16, done.log


def test_a_real_runs_messages_never_carry_a_test_value(code_task, tmp_path):
    from arena.code.outputs import validate_output

    need_bwrap()
    printer = "def predict(i, o):\n    print(open(i + '/test.csv').read())\n    raise SystemExit(3)\n"
    error = fails(code_task, tmp_path, printer, (ERROR,))
    assert TOKEN in error.log  # the organiser sees the output ...
    assert TOKEN not in error.report() and TOKEN not in str(error)  # ... the participant one fixed sentence

    copier = """
    import pandas as pd
    def predict(i, o):
        test = pd.read_csv(i + "/test.csv")
        pd.DataFrame({"id": test["id"], "label": test["note"]}).to_csv(o + "/p.csv", index=False)
    """
    done = run(code_task, tmp_path, copier, work="copier")
    with pytest.raises(CodeFailed) as caught:
        validate_output(code_task, done, sample=False)
    assert caught.value.verdict == OUTPUT and TOKEN in caught.value.detail
    assert caught.value.messages() == [MESSAGES[OUTPUT]] and TOKEN not in caught.value.report()
    assert not log_shown("sample", sample=False) and log_shown("always", sample=False) and log_shown("sample", True)


def test_code_failed_keeps_the_sandboxs_own_failures_apart():
    from arena.code.failures import OURS_MESSAGE

    ours = CodeFailed(ERROR, detail="bubblewrap is missing", ours=True)
    assert ours.ours and ours.messages() == [OURS_MESSAGE] and "bubblewrap" not in ours.report()
    assert os.environ.get("ARENA_CODE_WALL_SECONDS") is None
