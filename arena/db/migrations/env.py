"""Alembic's entry: run the migrations on the connection that ``arena.db.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from arena.db.models import Base

connection = context.config.attributes["connection"]
# render_as_batch: SQLite cannot ALTER most things, so later revisions copy-and-move tables there.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
