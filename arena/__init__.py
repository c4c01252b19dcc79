"""Arena core: tasks, metrics, submissions and scoring, with no web and no JAX.

Importing it changes nothing in the importing process; the ``arena`` program's own
process-wide settings are made where it starts (:mod:`arena.startup`).
"""

__version__ = "0.1.0"
