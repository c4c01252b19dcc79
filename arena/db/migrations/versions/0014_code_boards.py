"""Code boards: what ranks a competition's board (its score, or a utility of score, time and memory)

Revision ID: 0014
Revises: 0013
Create Date: 2027-02-17
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "score" (every competition hosted before: its board ranks by its primary score) or "utility" (a code
    # competition's board ranks by the score weighed against each run's wall time and peak memory).
    op.add_column("competitions", sa.Column("rank_by", sa.String(16), nullable=False, server_default="score"))
    op.add_column("competitions", sa.Column("utility_time_weight", sa.Float(), nullable=False, server_default="0"))
    op.add_column("competitions", sa.Column("utility_memory_weight", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    for column in ("utility_memory_weight", "utility_time_weight", "rank_by"):
        op.drop_column("competitions", column)
