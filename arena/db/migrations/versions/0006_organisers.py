"""Organisers' competitions: lifecycle state, snapshots, stored metric and sizes, audit log, announcements

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COMPETITION_COLUMNS = (
    "lifecycle",
    "snapshot",
    "source_ref",
    "metric",
    "higher_is_better",
    "train_rows",
    "test_rows",
    "task_facts",
    "broken",
)


def upgrade() -> None:
    # Existing competitions are published (their open/closed/revealed state stays in is_open and revealed);
    # their metric, sizes and snapshot are filled in by `arena setup` the next time it runs.
    with op.batch_alter_table("competitions") as batch:
        batch.add_column(sa.Column("lifecycle", sa.String(length=16), nullable=False, server_default="published"))
        batch.add_column(sa.Column("snapshot", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("source_ref", sa.String(length=500), nullable=False, server_default=""))
        batch.add_column(sa.Column("metric", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("higher_is_better", sa.Boolean(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("train_rows", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("test_rows", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("task_facts", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("broken", sa.String(length=1000), nullable=False, server_default=""))
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("daily_limit_override", sa.Integer(), nullable=True))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=True),  # no foreign key: a deleted draft's entries stay
        sa.Column("competition_slug", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_competition_id", "audit_log", ["competition_id"])
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["competition_id"], ["competitions.id"]),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_announcements_competition_id", "announcements", ["competition_id"])


def downgrade() -> None:
    op.drop_index("ix_announcements_competition_id", table_name="announcements")
    op.drop_table("announcements")
    op.drop_index("ix_audit_log_competition_id", table_name="audit_log")
    op.drop_table("audit_log")
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch copy of these tables would trip their foreign keys.
    op.drop_column("teams", "daily_limit_override")
    for column in reversed(COMPETITION_COLUMNS):
        op.drop_column("competitions", column)
