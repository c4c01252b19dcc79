"""Scoring isolation: time-outs and uncharged failures are counted, and an organiser may clear a team's count

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A job killed for time is retried a bounded number of times, across restarts too, so the count is stored.
    op.add_column("submissions", sa.Column("timeouts", sa.Integer(), nullable=False, server_default="0"))
    # Why a submission failed without costing a slot (ours, timeout, program); NULL for a scored or invalid file.
    op.add_column("submissions", sa.Column("failure_kind", sa.String(16), nullable=True))
    # Failures before this moment no longer count against the team's daily allowance of uncharged failures.
    op.add_column("teams", sa.Column("failures_cleared_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_column("teams", "failures_cleared_at")
    op.drop_column("submissions", "failure_kind")
    op.drop_column("submissions", "timeouts")
