"""Check an uploaded program before it is stored, and unpack it for a run.

A program is a single ``.py`` file, or a ``.zip`` holding ``main.py`` (or exactly one ``.py`` file) at its top
level, or inside the one folder the zip holds. The entry function (``predict`` unless the task names another) must
be defined, or imported, at the top of that file. A zip is refused whole if any member is a link, an absolute path or
a path with ``..`` in it, or if it unpacks too large: nothing of a refused upload is kept.
"""

from __future__ import annotations

import ast
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from arena.errors import SubmissionError

MAX_SOURCE_BYTES = 10 << 20
"""A single .py file's largest size: code, not data (ship a model's weights in a zip)."""
MAX_UNPACKED_BYTES = 256 << 20
"""The most a zip may unpack to: code and a trained model's weights."""
MAX_MEMBERS = 10_000
MAIN = "main.py"
FIX = "put your {entry}(input_dir, output_dir) function in main.py at the zip's top level"
ARCHIVE_ONLY = ".zip or a single .py file"


@dataclass(frozen=True)
class Program:
    """Where an unpacked program's module lives: its folder and the module the launcher imports."""

    root: Path
    module: str


def check_code_upload(path: Path, file_name: str, *, entry: str = "predict") -> None:
    """Refuse an upload that cannot run: raises :class:`SubmissionError` saying what is wrong and how to fix it."""
    _inspect(path, file_name, entry)


def unpack_code(path: Path, file_name: str, target: Path, *, entry: str = "predict") -> Program:
    """Check the upload, then unpack it into the new folder ``target``; returns where its module lives."""
    root, module = _inspect(path, file_name, entry)
    target.mkdir(parents=True)
    if _is_python(file_name):
        shutil.copyfile(path, target / MAIN)
        return Program(target, "main")
    with zipfile.ZipFile(path) as zipped:
        for member in zipped.infolist():
            if not _skipped(member.filename):
                zipped.extract(member, target)
    return Program(target / root if root else target, module)


def _is_python(file_name: str) -> bool:
    return file_name.lower().endswith(".py")


def _skipped(name: str) -> bool:
    """Folders macOS and Python leave behind, which are never part of a program."""
    parts = PurePosixPath(name).parts
    return bool(parts) and parts[0] == "__MACOSX" or "__pycache__" in parts


def _inspect(path: Path, file_name: str, entry: str) -> tuple[str, str]:
    """The folder inside the zip that holds the module ('' for its top) and the module's name."""
    if _is_python(file_name):
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise SubmissionError(
                f"{file_name} is {size / 2**20:.1f} MiB; a single .py file may be at most {MAX_SOURCE_BYTES >> 20} MiB. "
                "Upload a .zip holding main.py and your model's files instead."
            )
        _check_source(path.read_bytes(), file_name, entry)
        return "", "main"
    if not file_name.lower().endswith(".zip"):
        raise SubmissionError(
            f"{file_name} is neither a .zip nor a .py file. Upload a {ARCHIVE_ONLY}: {FIX.format(entry=entry)}."
        )
    try:
        with zipfile.ZipFile(path) as zipped:
            members = [m for m in zipped.infolist() if not _skipped(m.filename)]
            _check_members(members, file_name)
            root, name = _main_module(members, entry)
            try:
                source = zipped.read(f"{root}/{name}" if root else name)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
                raise SubmissionError(
                    f"{file_name}: {name} cannot be read from the zip ({exc}). Zip it again."
                ) from None
    except zipfile.BadZipFile:
        raise SubmissionError(
            f"{file_name} is not a readable .zip archive. Zip your program again (e.g. `zip -r submission.zip main.py`)."
        ) from None
    _check_source(source, name, entry)
    return root, name[: -len(".py")]


def _check_members(members: list[zipfile.ZipInfo], file_name: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise SubmissionError(f"{file_name} holds more than {MAX_MEMBERS:,} files. Zip only what your program needs.")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise SubmissionError(
            f"{file_name} unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB. Zip only your code and model files."
        )
    for member in members:
        name = member.filename
        if name.startswith("/") or "\\" in name or ".." in PurePosixPath(name).parts:
            raise SubmissionError(
                f"{file_name}: '{name[:200]}' points outside the zip. Zip your program's folder with relative paths "
                "(e.g. `cd my_program && zip -r ../submission.zip .`)."
            )
        if (member.external_attr >> 16) & 0o170000 == 0o120000:
            raise SubmissionError(
                f"{file_name}: '{name[:200]}' is a symbolic link; links are not allowed. Zip the file itself "
                "(`zip -r` without -y copies what a link points at)."
            )


def _main_module(members: list[zipfile.ZipInfo], entry: str) -> tuple[str, str]:
    """main.py at the top, or the top's only .py file; the same inside a zip that holds one folder."""
    names = [PurePosixPath(m.filename) for m in members if not m.is_dir()]
    tops = {n.parts[0] for n in names}
    roots = [""] + ([tops.pop()] if len(tops) == 1 and all(len(n.parts) > 1 for n in names) else [])
    for root in roots:
        here = [n.name for n in names if str(n.parent) == (root or ".") and n.suffix == ".py"]
        if MAIN in here:
            return root, MAIN
        if len(here) == 1:
            return root, here[0]
        if len(here) > 1:
            raise SubmissionError(
                f"your zip has no main.py but {len(here)} .py files at its top level "
                f"({', '.join(sorted(here)[:5])}): {FIX.format(entry=entry)}, so Arena knows which one to run."
            )
    raise SubmissionError(f"your zip has no main.py: {FIX.format(entry=entry)}.")


def _check_source(source: bytes, name: str, entry: str) -> None:
    """The module is Python text that parses and defines (or imports) the entry function at its top level."""
    try:
        tree = ast.parse(source.decode("utf-8"), filename=name)
    except UnicodeDecodeError:
        raise SubmissionError(f"{name} is not UTF-8 text. Save it as UTF-8 (plain ASCII is fine).") from None
    except SyntaxError as exc:
        raise SubmissionError(
            f"{name} is not valid Python: {exc.msg} on line {exc.lineno}. Fix it, run it with `arena run`, "
            "then submit again."
        ) from None
    except ValueError as exc:  # null bytes
        raise SubmissionError(f"{name} is not a Python source file ({exc}).") from None
    if entry not in _top_level_names(tree):
        raise SubmissionError(
            f"{name} has no {entry}() function at its top level: define "
            f"`def {entry}(input_dir, output_dir):` there (it reads input_dir and writes the predictions file to "
            "output_dir)."
        )


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
