"""Task bundles: the task.toml spec, data sources (built-in and files), splits, task kinds, declared columns, loading a task, unpacking uploaded archives."""
