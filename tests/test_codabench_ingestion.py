"""Codabench bundles with an ingestion program: participants' code runs as Codabench's compute worker runs it.

The bundles are written here in the shapes of Codabench's own examples: a
Mini-MNIST-like one (PNG digits, ``python3 run_ingestion.py --codabench`` that
imports the participant's ``model.py``, a local mode for running it by hand) and
an iris-like one (an ingestion command with ``$ingestion_program`` and
``$submission_program``, two phases). Scores are compared with what the bundle's
own programs give when run directly, outside any sandbox.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import auth, require_in_ci, upload

from arena.errors import BundleError, SubmissionError

# --- a Mini-MNIST-shaped bundle ------------------------------------------------------------

RUN_INGESTION = """\
import os, sys
import numpy as np
import pandas as pd
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--codabench" in sys.argv:
    input_dir, output_dir, submission_dir = "/app/input_data", "/app/output", "/app/ingested_program"
else:  # run by hand in the bundle folder
    input_dir = os.path.join(root, "input_data")
    output_dir = os.path.join(root, "sample_result_submission")
    submission_dir = os.path.join(root, "sample_code_submission")
sys.path.append(submission_dir)
from model import Model

def images(folder, names):
    return np.array([np.array(Image.open(os.path.join(folder, name))) for name in names])

train = pd.read_csv(os.path.join(input_dir, "train_labels.csv"))
X_train = images(os.path.join(input_dir, "train_data"), train["filename"])
test_names = sorted(os.listdir(os.path.join(input_dir, "test_data")))
X_test = images(os.path.join(input_dir, "test_data"), test_names)
model = Model()
model.fit(X_train, train["label"].to_numpy())
os.makedirs(output_dir, exist_ok=True)
np.save(os.path.join(output_dir, "predictions.npy"), model.predict(X_test))
print("predicted", len(test_names))
"""

RUN_SCORING = """\
import json, os, sys
import numpy as np
import pandas as pd

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if "--codabench" in sys.argv:
    res, ref, out = "/app/input/res", "/app/input/ref", "/app/output"
else:
    res = os.path.join(root, "sample_result_submission")
    ref = os.path.join(root, "reference_data")
    out = os.path.join(root, "scoring_output")
truth = pd.read_csv(os.path.join(ref, "test_labels.csv")).sort_values("filename")["label"].to_numpy()
predicted = np.load(os.path.join(res, "predictions.npy"))
os.makedirs(out, exist_ok=True)
json.dump({"score": float(np.mean(truth == predicted))}, open(os.path.join(out, "scores.json"), "w"))
"""

MODEL = """\
from sklearn.neighbors import KNeighborsClassifier

class Model:
    def __init__(self):
        self.clf = KNeighborsClassifier(n_neighbors=3)

    def fit(self, X, y):
        self.clf.fit(X.reshape(len(X), -1), y)

    def predict(self, X):
        return self.clf.predict(X.reshape(len(X), -1))
"""

MNIST_YAML = """\
version: 2
title: Small Digits
description: Train on a few digits per class, predict the test digits.
phases:
  - index: 0
    name: Competition Phase
    start: 2026-01-01
    end: 2027-01-01
    execution_time_limit: {time_limit}
    tasks: [0]
tasks:
  - index: 0
    name: Digits
    input_data: input_data/
    reference_data: reference_data/
    scoring_program: scoring_program/
    ingestion_program: ingestion_program/
leaderboards:
  - index: 0
    title: Results
    key: main
    columns:
      - index: 0
        title: Accuracy
        key: score
"""


def need_bwrap() -> None:
    if shutil.which("bwrap") is None:
        require_in_ci("bubblewrap is not installed (apt-get install bubblewrap; .ci/services.sh does it)")


def mnist_bundle(folder: Path, *, time_limit: int = 120) -> Path:
    """Digits of 8 x 8 pixels as PNG files: 8 a class to train on, 3 a class to predict; labels of the test digits
    only in reference_data."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(3)
    train, test = [], []
    for label in range(10):
        chosen = rng.permutation(np.flatnonzero(digits.target == label))[:11]
        train += [(i, label) for i in chosen[:8]]
        test += [(i, label) for i in chosen[8:]]
    for sub in ("input_data/train_data", "input_data/test_data", "reference_data"):
        (folder / sub).mkdir(parents=True)
    order = rng.permutation(len(test))  # test files are not in label order
    for part, rows, names in (
        ("train", train, [f"train_{n:03d}.png" for n in range(len(train))]),
        ("test", [test[k] for k in order], [f"test_{n:03d}.png" for n in range(len(test))]),
    ):
        for (index, _), name in zip(rows, names):
            pixels = (digits.images[index] * 15).astype(np.uint8)
            Image.fromarray(pixels).save(folder / "input_data" / f"{part}_data" / name)
        table = "filename,label\n" + "".join(f"{name},{label}\n" for (_, label), name in zip(rows, names))
        if part == "train":
            (folder / "input_data" / "train_labels.csv").write_text(table)
        else:
            (folder / "reference_data" / "test_labels.csv").write_text(table)
    for name, script, command in (
        ("ingestion_program", RUN_INGESTION, "python3 run_ingestion.py --codabench"),
        ("scoring_program", RUN_SCORING, "python3 run_scoring.py --codabench"),
    ):
        (folder / name).mkdir()
        (folder / name / f"run_{name.split('_')[0]}.py").write_text(script)
        (folder / name / "metadata.yaml").write_text(f"command: {command}\n")
    (folder / "sample_code_submission").mkdir()
    (folder / "sample_code_submission" / "model.py").write_text(MODEL)
    (folder / "competition.yaml").write_text(MNIST_YAML.format(time_limit=time_limit))
    return folder


def zipped(files: dict[str, str | bytes], path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def answers_of(folder: Path) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(folder / "reference_data" / "test_labels.csv").sort_values("filename")["label"].to_numpy()


def run_locally(folder: Path) -> float:
    """The bundle's own programs run by hand, as its local mode does: ingestion, then scoring, no sandbox."""
    for script in ("ingestion_program/run_ingestion.py", "scoring_program/run_scoring.py"):
        subprocess.run([sys.executable, str(folder / script)], check=True, capture_output=True, timeout=120)
    return json.loads((folder / "scoring_output" / "scores.json").read_text())["score"]


def test_a_code_submission_scores_what_the_bundles_own_programs_give(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    folder = mnist_bundle(tmp_path / "digits")
    task = load_task(folder)
    assert task.spec.ingestion and not task.spec.code_only
    local = shutil.copytree(folder, tmp_path / "by-hand")
    expected = run_locally(local)
    assert 0.5 < expected < 1.0  # a real model on real digits, neither a constant nor a copy of the answers

    code = zipped({"model.py": MODEL, "__MACOSX/._model.py": b"\x00\x05\x16\x07"}, tmp_path / "code.zip")
    assert score_submission(task, code).public == {"score": expected}

    # A results submission (predictions only) is scored as it is; the ingestion program does not run.
    truth = answers_of(folder)
    predicted = np.where(np.arange(len(truth)) % 4 == 0, (truth + 1) % 10, truth)
    np.save(tmp_path / "predictions.npy", predicted)
    results = zipped({"predictions.npy": (tmp_path / "predictions.npy").read_bytes()}, tmp_path / "results.zip")
    assert score_submission(task, results).public == {"score": float(np.mean(predicted == truth))}


# --- an iris-shaped bundle ----------------------------------------------------------------

IRIS_INGESTION = """\
import os, sys
input_dir, output_dir, program_dir, submission_dir = sys.argv[1:5]
sys.path.append(program_dir)
sys.path.append(submission_dir)
from reader import read
if not os.path.exists(os.path.join(submission_dir, "model.py")):
    print("no model.py: nothing to run")
    sys.exit(0)
from model import model
X, y = read(os.path.join(input_dir, "train.data"), labelled=True)
m = model()
m.fit(X, y)
X_test, _ = read(os.path.join(input_dir, "test.data"), labelled=False)
with open(os.path.join(output_dir, "test.predict"), "w") as out:
    out.write("".join(f"{label}\\n" for label in m.predict(X_test)))
"""

IRIS_READER = """\
import numpy as np
def read(path, labelled):
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return (rows[:, :-1], rows[:, -1].astype(int)) if labelled else (rows, None)
"""

IRIS_SCORING = """\
import os, sys, yaml
inp, out = sys.argv[1], sys.argv[2]
truth = [line.strip() for line in open(os.path.join(inp, "ref", "test.solution")) if line.strip()]
guess = [line.strip() for line in open(os.path.join(inp, "res", "test.predict")) if line.strip()]
right = sum(a == b for a, b in zip(truth, guess)) / len(truth)
try:
    run = yaml.safe_load(open(os.path.join(inp, "res", "metadata")))
    recorded = 1 if run["ingestionExitCode"] == 0 and run["ingestionElapsedTime"] >= 0 else 0
except (OSError, KeyError, TypeError):
    recorded = 0
with open(os.path.join(out, "scores.txt"), "w") as scores:
    scores.write(f"set1_score: {right}\\nrecorded: {recorded}\\n")
"""

IRIS_MODEL = """\
import numpy as np
class model:
    def fit(self, X, y):
        self.classes = np.unique(y)
        self.centres = np.array([X[y == c].mean(axis=0) for c in self.classes])
    def predict(self, X):
        distances = ((X[:, None, :] - self.centres[None]) ** 2).sum(axis=2)
        return self.classes[distances.argmin(axis=1)]
"""

IRIS_YAML = """\
version: 2
title: Flowers
tasks:
  - index: 0
    name: Development Task
    input_data: input_data
    reference_data: reference_data/valid
    scoring_program: scoring_program
    ingestion_program: ingestion_program
  - index: 1
    name: Final Task
    input_data: input_data
    reference_data: reference_data/test
    scoring_program: scoring_program
    ingestion_program: ingestion_program
phases:
  - index: 1
    name: Final
    start: 1-1-2027
    max_submissions_per_day: 0
    max_submissions: 50
    execution_time_limit: 120
    tasks: [1]
  - index: 0
    name: Development
    start: 1-1-2026
    end: 12-31-2026
    max_submissions_per_day: 5
    execution_time_limit: 120
    starting_kit: starting_kit
    public_data: input_data
    auto_migrate_to_this_phase: false
    hide_output: true
    tasks: [0]
leaderboards:
  - index: 0
    title: Results
    key: Results
    columns:
      - {title: Prediction score, key: set1_score, index: 0, sorting: desc}
      - {title: Run recorded, key: recorded, index: 1, sorting: desc}
"""


def iris_bundle(folder: Path) -> Path:
    """Three classes of points around three centres; the test labels differ between the two phases' references."""
    rng = np.random.default_rng(11)
    centres = np.array([[0.0, 0.0], [2.0, 0.5], [0.5, 2.0]])

    def points(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 3, n)
        return centres[y] + rng.normal(0, 0.8, (n, 2)), y

    X, y = points(60)
    X_test, y_test = points(30)
    (folder / "input_data").mkdir(parents=True)
    np.savetxt(folder / "input_data" / "train.data", np.column_stack([X, y]), delimiter=",", fmt="%.6f")
    np.savetxt(folder / "input_data" / "test.data", X_test, delimiter=",", fmt="%.6f")
    for phase, labels in (("valid", y_test), ("test", (y_test + (np.arange(30) % 5 == 0)) % 3)):
        (folder / "reference_data" / phase).mkdir(parents=True)
        (folder / "reference_data" / phase / "test.solution").write_text("".join(f"{v}\n" for v in labels))
    (folder / "ingestion_program").mkdir()
    (folder / "ingestion_program" / "ingestion.py").write_text(IRIS_INGESTION)
    (folder / "ingestion_program" / "reader.py").write_text(IRIS_READER)
    (folder / "ingestion_program" / "metadata").write_text(
        "command: python $ingestion_program/ingestion.py $input $output $ingestion_program $submission_program\n"
    )
    (folder / "scoring_program").mkdir()
    (folder / "scoring_program" / "score.py").write_text(IRIS_SCORING)
    (folder / "scoring_program" / "metadata").write_text("command: python $program/score.py $input $output\n")
    (folder / "starting_kit").mkdir()
    (folder / "starting_kit" / "README.md").write_text("Submit model.py, zipped.\n")
    (folder / "competition.yaml").write_text(IRIS_YAML)
    return folder


IRIS_CODE = {"metadata": "description: a model for the ingestion program to run\n", "model.py": IRIS_MODEL}


def iris_by_hand(folder: Path, work: Path, reference: str) -> float:
    """The iris-shaped programs run directly, with the folders as arguments (no sandbox, no run record)."""
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "model.py").write_text(IRIS_MODEL)
    (work / "input" / "res").mkdir(parents=True)
    (work / "out").mkdir()
    shutil.copytree(folder / "reference_data" / reference, work / "input" / "ref")
    ingestion = folder / "ingestion_program"
    for argv in (
        [ingestion / "ingestion.py", folder / "input_data", work / "input" / "res", ingestion, work / "sub"],
        [folder / "scoring_program" / "score.py", work / "input", work / "out"],
    ):
        subprocess.run([sys.executable, *map(str, argv)], check=True, capture_output=True, timeout=60)
    return float((work / "out" / "scores.txt").read_text().split()[1])


def test_every_phase_setting_of_codabenchs_examples_is_read_as_codabench_reads_it(tmp_path):
    from arena.codabench.bundle import DEFAULT_TOTAL_LIMIT, load_competition
    from arena.tasks import load_task

    folder = iris_bundle(tmp_path / "flowers")
    bundle = load_competition(folder)
    dev, final = bundle.phases  # in the order of their index, as Codabench orders them
    assert (dev.name, dev.daily_limit, dev.total_limit, dev.time_limit) == ("Development", 5, DEFAULT_TOTAL_LIMIT, 120)
    assert (final.name, final.daily_limit, final.total_limit) == ("Final", None, 50)  # 0 a day: no daily limit
    assert bundle.tasks[1].ingestion_program == (folder / "ingestion_program").resolve()
    assert bundle.tasks[1].input_data == (folder / "input_data").resolve()
    # Arena's competitions always have a daily limit: with none, the phase's total limit holds each day too.
    assert load_task(f"{folder}#phase=2").spec.competition.daily_limit == 50

    text = (folder / "competition.yaml").read_text()
    (folder / "competition.yaml").write_text(
        text.replace("max_submissions: 50", "max_submissions: -2").replace(
            "    ingestion_program: ingestion_program\n  - index: 1",
            "    ingestion_program: missing_program\n    ingestion_only_during_scoring: true\n  - index: 1",
        )
    )
    with pytest.raises(BundleError) as caught:
        load_competition(folder)
    report = caught.value.report()
    for expected in (
        "[tasks[0].ingestion_program]: 'missing_program' does not exist in the bundle",
        "[tasks[0].ingestion_only_during_scoring]: Arena runs the ingestion program in the prediction step only",
        "max_submissions]: must be 0 (no limit) or more, got -2",
    ):
        assert expected in report, report


def test_an_iris_shaped_bundle_runs_code_with_a_description_only_metadata_and_scores_results(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    folder = iris_bundle(tmp_path / "flowers")
    for phase, reference in ((1, "valid"), (2, "test")):
        task = load_task(f"{folder}#phase={phase}")
        expected = iris_by_hand(folder, tmp_path / f"by-hand-{phase}", reference)
        score = score_submission(task, zipped(IRIS_CODE, tmp_path / f"code-{phase}.zip"))
        # the scoring program found Codabench's record of the run (exit codes, times) in input/res/metadata
        assert score.public == {"set1_score": expected, "recorded": 1.0}
    assert 0.6 < expected < 1.0

    truth = (folder / "reference_data" / "test" / "test.solution").read_text().split()
    guesses = ["0"] * len(truth)
    results = zipped({"test.predict": "\n".join(guesses) + "\n"}, tmp_path / "results.zip")
    right = sum(a == b for a, b in zip(truth, guesses)) / len(truth)
    assert score_submission(task, results).public == {"set1_score": right, "recorded": 0.0}


OWN_PROGRAM = """\
import os
rows = open("/app/input_data/test.data").read().split()
with open("/app/output/test.predict", "w") as out:
    out.write("2\\n" * len(rows))
"""


def test_a_submission_with_its_own_metadata_command_runs_as_a_program(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    folder = iris_bundle(tmp_path / "flowers")
    task = load_task(folder)
    upload_zip = zipped(
        {"metadata": "command: python3 $program/predict.py\n", "predict.py": OWN_PROGRAM}, tmp_path / "own.zip"
    )
    truth = (folder / "reference_data" / "valid" / "test.solution").read_text().split()
    score = score_submission(task, upload_zip)
    assert score.public["set1_score"] == sum(label == "2" for label in truth) / len(truth)


def test_a_code_only_phase_refuses_results_and_runs_code(tmp_path):
    from arena.codabench.programs import RESULTS_REFUSED
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    folder = iris_bundle(tmp_path / "flowers")
    task = load_task(f"{folder}#phase=1&code_only=1")
    assert task.spec.code_only and task.stored_ref(folder).endswith("#phase=1&code_only=1")
    results = zipped({"test.predict": "0\n" * 30, "__MACOSX/._test.predict": b"\x00"}, tmp_path / "results.zip")
    with pytest.raises(SubmissionError) as refused:
        score_submission(task, results)
    assert refused.value.messages() == [RESULTS_REFUSED]
    assert score_submission(task, zipped(IRIS_CODE, tmp_path / "code.zip")).public["recorded"] == 1.0
    from arena.tasks import phase_refs

    every_phase = phase_refs(f"{folder}#code_only=1")  # hosting the whole bundle keeps the option on each stage
    assert len(every_phase) == 2 and all(load_task(ref).spec.code_only for ref in every_phase)

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "ref").mkdir()
    (plain / "ref" / "truth.csv").write_text("id,label\n")
    shutil.copytree(folder / "scoring_program", plain / "scoring_program")
    (plain / "competition.yaml").write_text(
        "version: 2\ntitle: Plain\ntasks:\n  - {index: 0, reference_data: ref, scoring_program: scoring_program}\n"
        "phases:\n  - {name: One, tasks: [0]}\nleaderboards:\n  - columns: [{key: set1_score}]\n"
    )
    with pytest.raises(BundleError, match="'code_only=1' needs a phase with an ingestion program"):
        load_task(f"{plain}#phase=1&code_only=1")


# --- hostile uploads ------------------------------------------------------------------------

PEEKING_MODEL = """\
import os
import numpy as np

def find_answers():
    for path in ("/app/input/ref/test_labels.csv", "{host_reference}/test_labels.csv"):
        if os.path.exists(path):
            return path
    for top in ("/app", "/tmp", "/"):
        for folder, _, files in os.walk(top):
            if "test_labels.csv" in files:
                return os.path.join(folder, "test_labels.csv")
            if top == "/" and folder.count(os.sep) > 2:
                break
    return None

class Model:
    def fit(self, X, y):
        self.found = find_answers()

    def predict(self, X):
        if self.found is None:
            return np.zeros(len(X), dtype=int)
        import pandas as pd
        return pd.read_csv(self.found).sort_values("filename")["label"].to_numpy()
"""


def test_code_in_the_prediction_step_cannot_reach_the_answers(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    folder = mnist_bundle(tmp_path / "digits")
    task = load_task(folder)
    model = PEEKING_MODEL.replace("{host_reference}", str(task.reference_dir))
    score = score_submission(task, zipped({"model.py": model}, tmp_path / "peek.zip"))
    assert score.public == {"score": float(np.mean(answers_of(folder) == 0))}  # it found nothing: all zeros


def test_an_upload_with_a_link_or_a_path_out_of_its_folder_is_refused(tmp_path):
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    folder = mnist_bundle(tmp_path / "digits")
    task = load_task(folder)
    escaping = zipped({"model.py": MODEL, "../escape.py": "print(1)"}, tmp_path / "escape.zip")
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as archive:
        archive.writestr("model.py", MODEL)
        entry = zipfile.ZipInfo("answers")
        entry.external_attr = 0o120777 << 16  # a symbolic link
        archive.writestr(entry, str(folder / "reference_data" / "test_labels.csv"))
    for archive in (escaping, link):
        with pytest.raises(SubmissionError, match="must stay inside"):
            score_submission(task, archive)


def test_code_that_runs_past_the_time_limit_fails_with_the_time_verdict(tmp_path):
    from arena.codabench.programs import CODE_TIME_LIMIT, ProgramFailed
    from arena.codabench.sandbox import TIME
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    task = load_task(mnist_bundle(tmp_path / "digits", time_limit=2))
    slow = MODEL.replace(
        "    def fit(self, X, y):\n", "    def fit(self, X, y):\n        import time; time.sleep(60)\n"
    )
    with pytest.raises(ProgramFailed) as failed:
        score_submission(task, zipped({"model.py": slow}, tmp_path / "slow.zip"))
    assert failed.value.verdict == TIME and failed.value.messages()[0] == CODE_TIME_LIMIT
    assert "the ingestion program took longer than the time limit of 2 s" in failed.value.log


def test_code_that_crashes_gives_a_neutral_message_and_the_organiser_its_output(tmp_path):
    from arena.codabench.programs import CODE_FAILED, ProgramFailed
    from arena.scoring.score import score_submission
    from arena.tasks import load_task

    need_bwrap()
    task = load_task(mnist_bundle(tmp_path / "digits"))
    broken = MODEL.replace("self.clf.fit(", "raise ValueError('secret-detail'); self.clf.fit(")
    with pytest.raises(ProgramFailed) as failed:
        score_submission(task, zipped({"model.py": broken}, tmp_path / "broken.zip"))
    assert failed.value.messages()[0] == CODE_FAILED
    assert not any("secret-detail" in message for message in failed.value.messages())
    assert "secret-detail" in failed.value.log and "ingestion program stopped with an error" in failed.value.log


# --- hosted on the server --------------------------------------------------------------------


def test_a_hosted_phase_scores_code_uploaded_through_the_api(people_factory, tmp_path):
    from arena.server import competitions

    need_bwrap()
    app, client, people = people_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'arena.db'}")
    folder = mnist_bundle(tmp_path / "digits")
    with app.extensions["arena_db"].session() as session, session.begin():
        competitions.host(session, str(folder), slug="small-digits")
    expected = run_locally(shutil.copytree(folder, tmp_path / "by-hand"))
    token = people.token("ada")
    code = zipped({"model.py": MODEL}, tmp_path / "code.zip")
    answer = upload(client, token, "small-digits", code.read_bytes(), name="code.zip")
    assert answer.status_code == 202, answer.data
    people.drain()
    submission = client.get(
        f"/api/v1/submissions/{answer.get_json()['submission']['id']}", headers=auth(token)
    ).get_json()
    assert submission["status"] == "scored", submission
    board = client.get("/api/v1/competitions/small-digits/leaderboard").get_json()
    assert board["rows"][0]["score"] == pytest.approx(round(expected, 4))
