"""The six-decimal grid on which scores are counted instead of sorted."""

DECIMAL_GRID = 10**6  # scores written with at most six decimals are counted on this grid, never sorted
