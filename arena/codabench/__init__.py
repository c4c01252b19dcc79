"""Codabench and CodaLab bundles: parsing competition.yaml, a phase as a task scored by its own program in the sandbox, and native detection of known metrics."""
