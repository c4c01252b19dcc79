"""Integrity of the final ranking: per-competition split key, salted answer-key commitment, frozen splits

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Competitions hosted before this revision keep an empty split key, which means the
split they were scored on (keyed by the task name): no score moves. Their salted
commitment is made the next time the server starts (``sync_task_versions``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("competitions") as batch:
        batch.add_column(sa.Column("split_key", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("commitment_salt", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("commitment", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("revealed_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("teams") as batch:
        # A plain '0' (false on both databases) lets SQLite add the column in place: an expression default
        # would make Alembic copy the table, which the memberships' foreign key forbids.
        batch.add_column(sa.Column("disqualified", sa.Boolean(), nullable=False, server_default="0"))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_column("teams", "disqualified")
    op.drop_column("competitions", "revealed_at")
    op.drop_column("competitions", "commitment")
    op.drop_column("competitions", "commitment_salt")
    op.drop_column("competitions", "split_key")
