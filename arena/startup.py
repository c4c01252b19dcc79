"""Where the ``arena`` program starts: process-wide settings first, then the command line.

Importing ``arena`` changes nothing in the importing process. The settings below belong to
the programs Arena runs as applications (``arena serve``, ``arena worker``, ``arena score``
and every other subcommand), so they are made here, before anything loads pyarrow, and the
console script ``arena`` enters through :func:`main`.

Arrow's default memory pool is mimalloc (from pyarrow 18 on every platform). It hands freed
pages back to the kernel 10 ms after a free, so the next upload's arrays fault every page in
again (and the kernel may first compact huge pages): at 10M rows that cost a tenth of a second
or more per upload. Kept for 30 seconds, they serve the next arrays of the same scoring and the
next uploads of a busy spell. The cost: a scoring process holds the peak of its recent uploads
for up to 30 s. mimalloc reads ``MIMALLOC_PURGE_DELAY`` once, when pyarrow loads it, so the
setting is made before that, and a value the environment already holds wins. Programs that
Arena runs in its sandbox start from a cleared environment and do not inherit it.
"""

from __future__ import annotations

import os
import sys

PURGE_DELAY_MS = "30000"


def keep_freed_memory_a_while() -> bool:
    """Ask Arrow's allocator to keep freed pages for 30 s; False where it is too late (pyarrow already loaded)."""
    if "pyarrow" in sys.modules:
        return False
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", PURGE_DELAY_MS)
    return True


def main() -> int:
    """The ``arena`` console script: the allocator setting, then :func:`arena.cli.main`."""
    keep_freed_memory_a_while()
    from arena.cli import main as run_command_line

    return run_command_line()


if __name__ == "__main__":
    sys.exit(main())
