"""Code submissions: a competition's submission kind, each code run's status and measurements, and dry runs

Revision ID: 0013
Revises: 0012
Create Date: 2027-02-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "file": participants upload predictions (every competition hosted before); "code": a program Arena runs.
    op.add_column("competitions", sa.Column("submission_kind", sa.String(8), nullable=False, server_default="file"))
    # A code submission's run: queued | running | scoring | scored | failed (NULL for a predictions file), why the
    # participant's code failed (time | memory | error: charged), what the run measured, and its output for
    # organisers only.
    op.add_column("submissions", sa.Column("run_status", sa.String(16), nullable=True))
    op.add_column("submissions", sa.Column("code_failure", sa.String(16), nullable=True))
    op.add_column("submissions", sa.Column("wall_seconds", sa.Float(), nullable=True))
    op.add_column("submissions", sa.Column("cpu_seconds", sa.Float(), nullable=True))
    op.add_column("submissions", sa.Column("peak_memory_mb", sa.Float(), nullable=True))
    op.add_column("submissions", sa.Column("run_log", sa.Text(), nullable=True))
    op.create_table(
        "dry_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("team_id", sa.Integer(), sa.ForeignKey("teams.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("utc_day", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("worker", sa.String(100), nullable=True),
        sa.Column("code_failure", sa.String(16), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=True),
        sa.Column("log", sa.Text(), nullable=True),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("cpu_seconds", sa.Float(), nullable=True),
        sa.Column("peak_memory_mb", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dry_runs_team_id", "dry_runs", ["team_id"])
    op.create_index("ix_dry_runs_status", "dry_runs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_dry_runs_status", table_name="dry_runs")
    op.drop_index("ix_dry_runs_team_id", table_name="dry_runs")
    op.drop_table("dry_runs")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    for column in ("run_log", "peak_memory_mb", "cpu_seconds", "wall_seconds", "code_failure", "run_status"):
        op.drop_column("submissions", column)
    op.drop_column("competitions", "submission_kind")
