"""Contest rules: accepting the rules, late submissions, reference rows and reasons for a disqualification

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both off for every competition hosted before: nobody must accept rules they were never shown, and nothing
    # after the end is taken unless the organisers say so.
    op.add_column(
        "competitions", sa.Column("rules_acceptance", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column(
        "competitions", sa.Column("late_submissions", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # A reference model's name ("" for a baseline uploaded without one, and for every team's submission); whether
    # a submission came after the end (none before); why the organisers disqualified a submission or a team.
    op.add_column("submissions", sa.Column("baseline_model", sa.String(64), nullable=False, server_default=""))
    op.add_column("submissions", sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("submissions", sa.Column("disqualified_reason", sa.String(500), nullable=False, server_default=""))
    op.add_column("teams", sa.Column("disqualified_reason", sa.String(500), nullable=False, server_default=""))
    op.create_table(
        "rules_acceptances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("competition_id", "user_id"),
    )


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_table("rules_acceptances")
    op.drop_column("teams", "disqualified_reason")
    for column in ("disqualified_reason", "late", "baseline_model"):
        op.drop_column("submissions", column)
    for column in ("late_submissions", "rules_acceptance"):
        op.drop_column("competitions", column)
