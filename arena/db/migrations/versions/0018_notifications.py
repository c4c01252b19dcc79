"""Notifications: score-ready and announcement e-mails, an organiser's webhook, the published answers file

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every kept account has no address and asked for nothing; every kept competition has no webhook. The answers
    # file published at the reveal is made from the answer key itself, so it needs no column.
    op.add_column("users", sa.Column("email", sa.String(254), nullable=False, server_default=""))
    op.add_column("users", sa.Column("notify_scores", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("users", sa.Column("notify_announcements", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("competitions", sa.Column("webhook_url", sa.String(500), nullable=False, server_default=""))
    op.add_column("competitions", sa.Column("webhook_secret", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    for column in ("webhook_secret", "webhook_url"):
        op.drop_column("competitions", column)
    for column in ("notify_announcements", "notify_scores", "email"):
        op.drop_column("users", column)
