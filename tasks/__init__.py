"""Built-in task bundles: one folder per task, each a task.toml and a README. Data, not code."""
