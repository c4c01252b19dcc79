"""Uncertainty: bootstrap intervals for every metric, weighted rows, per-row results, rank intervals, and the Ladder."""
