"""Hostile participants and careless organisers: each break an attack campaign found, tried again.

Every test here failed before its fix. Sections follow the report: integrity of the
final ranking, probing the hidden rows, resources, accounts and sessions, pages and
exports and names, workers.
"""

from __future__ import annotations

# --- integrity of the final ranking -------------------------------------------------

# --- probing the hidden rows ---------------------------------------------------------

# --- resources -----------------------------------------------------------------------

# --- accounts and sessions -----------------------------------------------------------

# --- pages, exports, names -----------------------------------------------------------

# --- workers -------------------------------------------------------------------------
