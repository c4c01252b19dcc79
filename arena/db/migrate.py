"""Schema migrations with Alembic: bring any Arena database to the newest revision.

Every schema change ships a revision in ``arena/db/migrations/versions``. A
database made before migrations existed (by ``create_all``) holds the first
revision's tables without Alembic's bookkeeping: it is stamped at that revision
first, then upgraded like any other.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

FIRST_REVISION = "0001"
MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for an empty database (or one made before migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration found in {MIGRATIONS}")
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the schema to ``revision`` (default: the newest). Running it again changes nothing."""
    with engine.begin() as connection:
        config = _config(connection)
        has_bookkeeping = MigrationContext.configure(connection).get_current_revision() is not None
        if not has_bookkeeping and inspect(connection).has_table("users"):
            command.stamp(config, FIRST_REVISION)  # made by create_all before migrations existed
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo revisions down to ``revision`` (for rolling back a release; the rows of older revisions stay)."""
    with engine.begin() as connection:
        command.downgrade(_config(connection), revision)
