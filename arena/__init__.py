"""Arena core: tasks, metrics, submissions and scoring, with no web and no JAX."""

__version__ = "0.1.0"
