"""Organisers' pages: overview, data, rules and timeline in Markdown

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

PAGES = ("data_page", "rules_page", "timeline_page")


def upgrade() -> None:
    # The organiser's own Markdown for the competition page's Data, Rules and Timeline sections (the overview is
    # the description). Empty for every competition hosted before: its page shows the generated facts alone.
    for column in PAGES:
        op.add_column("competitions", sa.Column(column, sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate tables that others reference.
    for column in reversed(PAGES):
        op.drop_column("competitions", column)
