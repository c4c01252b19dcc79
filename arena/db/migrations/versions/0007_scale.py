"""Scale: what boards and large answer keys need

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One counter per competition, raised by every transaction that changes what its board shows; a web
    # process keeps a board only as long as the counter has not moved. A competition without a row is at 0.
    op.create_table(
        "board_generations",
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["competition_id"], ["competitions.id"]),
        sa.PrimaryKeyConstraint("competition_id"),
    )
    # Each team's submissions of one competition together: the board's per-team best reads them in order.
    op.create_index("ix_submissions_competition_team", "submissions", ["competition_id", "team_id"])


def downgrade() -> None:
    op.drop_index("ix_submissions_competition_team", table_name="submissions")
    op.drop_table("board_generations")
