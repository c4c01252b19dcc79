"""Teams: merges until a merger deadline, leaving and renaming

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # None: the default deadline (one week before the end, halfway through a competition shorter than two weeks).
    op.add_column("competitions", sa.Column("merger_deadline", sa.DateTime(), nullable=True))
    op.create_table(
        "team_merge_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("from_team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("to_team_id", sa.Integer(), sa.ForeignKey("teams.id", ondelete="CASCADE"), nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("from_team_id", "to_team_id"),
    )
    for column in ("competition_id", "from_team_id", "to_team_id"):
        op.create_index(f"ix_team_merge_requests_{column}", "team_merge_requests", [column])


def downgrade() -> None:
    op.drop_table("team_merge_requests")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_column("competitions", "merger_deadline")
