"""Arena core: tasks, metrics, submissions and scoring, with no web and no JAX."""

import os

# Arrow's allocator (mimalloc) hands freed pages back to the kernel 10 ms after a free, so
# the next upload's arrays fault every page in again (and the kernel may first compact huge
# pages): at 10M rows that cost a tenth of a second or more per upload. Kept for 30 seconds,
# they serve the next arrays of the same scoring and the next uploads of a busy spell. (Two
# seconds still let one upload in three fault 300 MB anew.) The cost: pages go back only when
# the allocator next runs 30 s or more after their free, so a process that scores in its own
# threads holds the peak of its recent uploads (a queue worker's forked child gives all back
# when it exits). Read when pyarrow loads, so it is set here, before any arena module imports
# it; a value already in the environment wins (and child processes inherit it).
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "30000")

__version__ = "0.1.0"
