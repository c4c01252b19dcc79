"""Suite analysis: frozen releases and suite versions, entries' verification tiers and flags, suites in the audit log

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-20
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suite_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suite_id", sa.Integer(), sa.ForeignKey("suites.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("suite_version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("json_sha256", sa.String(64), nullable=False),
        sa.Column("csv_sha256", sa.String(64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("suite_id", "kind", "number"),
    )
    op.create_index("ix_suite_releases_suite_id", "suite_releases", ["suite_id"])
    # Plain ADD COLUMN: a batch copy of suite_entries would drop a table that suite_entry_files references.
    op.add_column("suite_entries", sa.Column("tier", sa.String(16), nullable=False, server_default="reported"))
    op.add_column("suite_entries", sa.Column("tier_note", sa.Text(), nullable=False, server_default=""))
    op.add_column("suite_entries", sa.Column("flag_reason", sa.Text(), nullable=False, server_default=""))
    op.add_column("suite_entries", sa.Column("flagged_at", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":  # Alembic adds a foreign key as a separate ALTER, which SQLite lacks
        op.execute("ALTER TABLE suite_entries ADD COLUMN flagged_by INTEGER REFERENCES users (id)")
    else:
        op.add_column("suite_entries", sa.Column("flagged_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True))
    op.add_column("audit_log", sa.Column("suite_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_suite_id", "audit_log", ["suite_id"])
    _reference_tier()


def _reference_tier() -> None:
    """Entries already made by ``arena baseline`` (a baseline model's version whose card holds a run record) are
    ``reference``, as they would be if entered today; every other entry stays ``reported``."""
    models = sa.table("suite_models", sa.column("id", sa.Integer()), sa.column("is_baseline", sa.Boolean()))
    entries = sa.table(
        "suite_entries",
        sa.column("id", sa.Integer()),
        sa.column("model_id", sa.Integer()),
        sa.column("card", sa.JSON()),
        sa.column("tier", sa.String(16)),
    )
    connection = op.get_bind()
    found = connection.execute(
        sa.select(entries.c.id, entries.c.card)
        .join(models, models.c.id == entries.c.model_id)
        .where(models.c.is_baseline.is_(True))
    ).all()
    reference = [entry_id for entry_id, card in found if isinstance(_as_dict(card).get("run"), dict)]
    for start in range(0, len(reference), 500):
        connection.execute(
            entries.update().where(entries.c.id.in_(reference[start : start + 500])).values(tier="reference")
        )


def _as_dict(card) -> dict:
    """A card as stored: JSON the driver decoded already, or its text."""
    if isinstance(card, str):
        try:
            card = json.loads(card)
        except ValueError:
            return {}
    return card if isinstance(card, dict) else {}


def downgrade() -> None:
    op.drop_index("ix_audit_log_suite_id", table_name="audit_log")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    op.drop_column("audit_log", "suite_id")
    for column in ("flagged_by", "flagged_at", "flag_reason", "tier_note", "tier"):
        op.drop_column("suite_entries", column)
    op.drop_index("ix_suite_releases_suite_id", table_name="suite_releases")
    op.drop_table("suite_releases")
