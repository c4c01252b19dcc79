"""The data files a participant downloads: train, test without labels, and a sample submission.

In a code competition the test inputs stay hidden (Arena runs the participant's program on them): it offers the
training rows, a small public sample shaped as the test inputs are (drawn from the training rows), and the
predictions format for that sample, never ``test.csv``.

A task that declares a starting kit (``[submission] starting_kit``) also offers ``starting_kit.zip``, in code and
file competitions alike: the kit's folder as the hosted snapshot holds it (never the organiser's live folder), zipped
the same way byte for byte every time.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import zipfile
from pathlib import Path

import pandas as pd

from arena.bundles.loading import find_bundle
from arena.bundles.spec import inspect_spec
from arena.code.inputs import public_sample
from arena.config import arena_home
from arena.db.models import Competition
from arena.errors import ArenaError
from arena.scoring.interface import TaskInterface
from arena.server.competitions import is_code, task_of

DOWNLOADS = ("train.csv", "test.csv", "sample_submission.csv")
CODE_DOWNLOADS = ("train.csv", "public_sample.csv", "sample_submission.csv")
STARTING_KIT = "starting_kit.zip"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
"""Every member's time in a starting kit's zip: the same folder always gives the same bytes."""
WITHHELD = (
    "this competition runs your code on the test inputs, which stay hidden: there is no test.csv to download. "
    "Develop on train.csv and public_sample.csv (rows shaped as the test inputs), and try your program with a "
    "dry run on the public sample."
)


class Withheld(FileNotFoundError):
    """A file this competition never hands out (the hidden test inputs of a code competition)."""


def offered(competition: Competition) -> tuple[str, ...]:
    """The files a participant of this competition may download."""
    files = CODE_DOWNLOADS if is_code(competition) else DOWNLOADS
    return files + ((STARTING_KIT,) if starting_kit_folder(competition) else ())


def starting_kit_folder(competition: Competition) -> Path | None:
    """The starting kit's folder in the hosted snapshot, or None when the task declares none (or cannot be read:
    the organisers see why on their admin page)."""
    try:
        return _kit_in(competition.task_ref)
    except (ArenaError, OSError):
        return None


@functools.lru_cache(maxsize=512)
def _kit_in(task_ref: str) -> Path | None:
    """Read from ``task.toml`` alone, nothing materialised; kept per reference, since a snapshot never changes."""
    try:
        bundle = find_bundle(task_ref)
    except ArenaError:  # a Codabench or CodaLab bundle: it ships its own starting kit among its files
        return None
    spec, _ = inspect_spec(bundle)
    folder = spec.starting_kit_dir if spec is not None else None
    return folder if folder is not None and folder.is_dir() else None


def download_path(competition: Competition, name: str) -> Path:
    """A participant-facing data file (train, test without labels, sample submission), cached on disk.

    The answer key is never written here: these are the only files a participant gets. In a code competition
    ``test.csv`` raises :class:`Withheld`, and ``sample_submission.csv`` lists the public sample's ids only.
    ``starting_kit.zip`` is the declared kit's folder, zipped from the hosted snapshot.
    """
    if is_code(competition) and name == "test.csv":
        raise Withheld(WITHHELD)
    if name not in offered(competition):
        raise FileNotFoundError(name)
    if name == STARTING_KIT:
        return _starting_kit_zip(competition)
    folder = _folder(competition)
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        frame = _frame(task_of(competition), name, code=is_code(competition))
        tmp = path.with_suffix(".tmp")
        frame.to_csv(tmp, index=False)
        tmp.replace(path)
    return path


def _folder(competition: Competition) -> Path:
    # The competition's id is in the path: a draft deleted and hosted again under its name never gets old files.
    return (
        arena_home()
        / "downloads"
        / competition.slug
        / f"{competition.id}-v{competition.task_version}-{competition.answer_sha256[:12]}-{competition.submission_kind}"
    )


def _starting_kit_zip(competition: Competition) -> Path:
    """The starting kit as a zip, built once per snapshot folder and kept beside the other downloads."""
    kit = starting_kit_folder(competition)
    if kit is None:
        raise FileNotFoundError(STARTING_KIT)
    key = hashlib.sha256(str(kit).encode()).hexdigest()[:12]  # a new snapshot (a new version) gets a new zip
    path = _folder(competition) / f"kit-{key}" / STARTING_KIT
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kit-", suffix=".tmp")
        os.close(handle)
        try:
            write_kit_zip(kit, Path(tmp))
            Path(tmp).replace(path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return path


def kit_files(folder: Path) -> list[Path]:
    """The kit's regular files in a fixed order: no links, no hidden files, no Python caches."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and d != "__pycache__" and not (Path(root) / d).is_symlink()
        )
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and not name.startswith(".") and not name.endswith(".pyc"):
                found.append(path)
    return found


def write_kit_zip(folder: Path, target: Path) -> None:
    """Zip the folder's files at the zip's top level (so the kit, zipped, is itself a valid upload), with fixed
    times and permissions: the same folder always gives the same bytes."""
    with zipfile.ZipFile(target, "w") as zipped:
        for path in kit_files(folder):
            member = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=ZIP_TIME)
            member.create_system = 3  # Unix, so the permissions below are read as such everywhere
            member.external_attr = 0o100644 << 16
            member.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(member, path.read_bytes(), compresslevel=9)


def _frame(task: TaskInterface, name: str, *, code: bool) -> pd.DataFrame:
    if name == "train.csv":
        return task.train
    if not code:
        return task.test if name == "test.csv" else task.sample_submission()
    sample = public_sample(task)  # type: ignore[arg-type]  # a code task is always a bundle's Task
    if name == "public_sample.csv":
        return sample
    trivial = task.sample_submission()  # the same trivial values as the program's own, for the sample's ids
    id_column = task.spec.id_column
    first = trivial.drop(columns=[id_column]).iloc[[0] * len(sample)].reset_index(drop=True)
    return pd.concat([sample[[id_column]].reset_index(drop=True), first], axis=1)
