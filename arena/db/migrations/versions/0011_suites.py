"""Suites: benchmark suites, the models entered in them, their versions and each version's submissions

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # New tables only: nothing that exists changes, so every competition and submission comes through untouched.
    op.create_table(
        "suites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "suite_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), sa.ForeignKey("suites.id"), nullable=False),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("floor", sa.Float(), nullable=False),
        sa.Column("ceiling", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("suite_id", "key"),
    )
    op.create_index("ix_suite_tasks_suite_id", "suite_tasks", ["suite_id"])
    op.create_table(
        "suite_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), sa.ForeignKey("suites.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("is_baseline", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("suite_id", "name"),
        sa.UniqueConstraint("suite_id", "name_key"),
    )
    op.create_index("ix_suite_models_suite_id", "suite_models", ["suite_id"])
    op.create_table(
        "suite_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), sa.ForeignKey("suite_models.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "number"),
    )
    op.create_index("ix_suite_entries_model_id", "suite_entries", ["model_id"])
    op.create_table(
        "suite_entry_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), sa.ForeignKey("suite_entries.id"), nullable=False),
        sa.Column("competition_id", sa.Integer(), sa.ForeignKey("competitions.id"), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "competition_id"),
    )
    op.create_index("ix_suite_entry_files_entry_id", "suite_entry_files", ["entry_id"])
    op.create_index("ix_suite_entry_files_submission_id", "suite_entry_files", ["submission_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_suite_entry_files_submission_id", "suite_entry_files"),
        ("ix_suite_entry_files_entry_id", "suite_entry_files"),
        ("ix_suite_entries_model_id", "suite_entries"),
        ("ix_suite_models_suite_id", "suite_models"),
        ("ix_suite_tasks_suite_id", "suite_tasks"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("suite_entry_files", "suite_entries", "suite_models", "suite_tasks", "suites"):
        op.drop_table(table)
