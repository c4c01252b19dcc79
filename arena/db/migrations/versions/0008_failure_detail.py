"""Failures on our side keep their detail (a traceback) for organisers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Participants see a neutral message when we fail to score their file; the organiser needs the reason
    # (a metric plugin's traceback, say), so it is kept beside the submission and shown on the admin page only.
    op.add_column("submissions", sa.Column("failure_detail", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_column("submissions", "failure_detail")
