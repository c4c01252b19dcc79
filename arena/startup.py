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

BLAS (numpy's matrix products) runs on one thread. Scoring spreads its own loops over every
core, and its only products are a bootstrap's small ones (1,000 resamples by 4,096 blocks):
on OpenBLAS's threads such a product took 4 ms, but the threads then kept spinning, waiting
for more, and took the cores from the loops that ran next. On two cores chrF with its interval
took 0.17 s instead of 0.13 s, and a file read beside scoring 0.055 to 0.078 s instead of
0.040 s. On one thread the product takes 7 ms and nothing spins. OpenBLAS reads
``OPENBLAS_NUM_THREADS`` when numpy loads it, so this too is set before that, once for the
whole process (changing it while other threads multiply is not safe), and a value the
environment already holds wins. It also makes an interval's last bits the same on every
machine, whatever its number of cores.
"""

from __future__ import annotations

import os
import sys

PURGE_DELAY_MS = "30000"
BLAS_THREADS = "1"


def keep_freed_memory_a_while() -> bool:
    """Ask Arrow's allocator to keep freed pages for 30 s; False where it is too late (pyarrow already loaded)."""
    if "pyarrow" in sys.modules:
        return False
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", PURGE_DELAY_MS)
    return True


def keep_blas_on_one_thread() -> bool:
    """Ask OpenBLAS for one thread; False where it is too late (numpy already loaded)."""
    if "numpy" in sys.modules:
        return False
    os.environ.setdefault("OPENBLAS_NUM_THREADS", BLAS_THREADS)
    return True


def main() -> int:
    """The ``arena`` console script: the allocator and BLAS settings, then :func:`arena.cli.main`."""
    keep_freed_memory_a_while()
    keep_blas_on_one_thread()
    from arena.cli import main as run_command_line

    return run_command_line()


if __name__ == "__main__":
    sys.exit(main())
