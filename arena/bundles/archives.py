"""Uploaded task bundles: unpack a .zip archive safely and find its one task.toml."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from arena.errors import BundleError, Problem

MAX_UNPACKED_BYTES = 2 << 30
MAX_MEMBERS = 10_000


def safe_unzip(archive: Path, target: Path, max_bytes: int = MAX_UNPACKED_BYTES) -> None:
    """Unpack a zip into ``target``, refusing paths that escape it, links, and archives that unpack too large."""
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        if len(members) > MAX_MEMBERS:
            raise BundleError([Problem(archive.name, f"holds more than {MAX_MEMBERS} files.")])
        if sum(m.file_size for m in members) > max_bytes:
            raise BundleError([Problem(archive.name, f"unpacks to more than {max_bytes >> 20} MB.")])
        for member in members:
            parts = Path(member.filename).parts
            if member.filename.startswith("/") or ".." in parts or (member.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleError(
                    [
                        Problem(
                            member.filename,
                            "paths in a zip must stay inside it: no links, no '..', no leading '/'; zip the folder's contents again.",
                        )
                    ]
                )
            if parts and parts[0] == "__MACOSX":
                continue
            zipped.extract(member, target)


def unpack_bundle(archive: Path, target: Path) -> Path:
    """Unpack a bundle (.zip) into the new folder ``target``, refusing paths that escape it, links and
    archives that unpack too large; nothing is left behind when it is refused.

    Returns the folder that holds the archive's one ``task.toml`` (or Codabench ``competition.yaml``).
    """
    target.mkdir(parents=True)
    try:
        safe_unzip(archive, target)
    except zipfile.BadZipFile:
        shutil.rmtree(target)
        raise BundleError([Problem("upload", "is not a .zip archive of a task bundle folder.")]) from None
    except BundleError:
        shutil.rmtree(target)
        raise
    tomls = list(target.rglob("task.toml")) or [
        p for p in target.rglob("competition.yaml") if "__MACOSX" not in p.parts
    ]
    if len(tomls) != 1:
        shutil.rmtree(target)
        raise BundleError(
            [Problem("upload", "the archive must hold exactly one task.toml (or one Codabench competition.yaml).")]
        )
    return tomls[0].parent
