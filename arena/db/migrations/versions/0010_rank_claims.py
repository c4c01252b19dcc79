"""Rank claims: a worker claims a board's rank statistics in the database, as it claims a scoring job

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per board being computed: inserting it is the claim (the key is unique), deleting it the release;
    # a row older than the stale age was left by a worker that died, and the next claimer takes it over.
    op.create_table(
        "rank_claims",
        sa.Column("board_key", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(100), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("board_key"),
    )


def downgrade() -> None:
    op.drop_table("rank_claims")
