"""Uploaded task bundles: unpack a .zip archive safely and find its one task.toml."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from arena.errors import BundleError, Problem


def unpack_bundle(archive: Path, target: Path) -> Path:
    """Unpack a bundle (.zip) into the new folder ``target``, refusing paths that escape it.

    Returns the folder that holds the archive's one ``task.toml``.
    """
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as bundle_zip:
            for member in bundle_zip.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise BundleError([Problem(member, "bundle paths must stay inside the bundle.")])
            bundle_zip.extractall(target)
    except zipfile.BadZipFile:
        shutil.rmtree(target)
        raise BundleError([Problem("upload", "is not a .zip archive of a task bundle folder.")]) from None
    tomls = list(target.rglob("task.toml")) or [p for p in target.rglob("competition.yaml") if "__MACOSX" not in p.parts]
    if len(tomls) != 1:
        shutil.rmtree(target)
        raise BundleError([Problem("upload", "the archive must hold exactly one task.toml (or one Codabench competition.yaml).")])
    return tomls[0].parent
