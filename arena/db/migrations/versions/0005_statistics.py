"""Statistics: feedback mode (rounded or the Ladder), per-row results, rank intervals

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What participants see of public scores: "rounded" (as before) or "ladder".
    with op.batch_alter_table("competitions") as batch:
        batch.add_column(sa.Column("feedback", sa.String(16), nullable=False, server_default="rounded"))
    # The per-row results of the primary metric (file store SHA-256) and the Ladder's state per submission.
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("rows_sha256", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("ladder_public", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("ladder_step", sa.Boolean(), nullable=False, server_default="0")
        )  # in place on SQLite


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_column("submissions", "ladder_step")
    op.drop_column("submissions", "ladder_public")
    op.drop_column("submissions", "rows_sha256")
    op.drop_column("competitions", "feedback")
