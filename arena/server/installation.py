"""The one-time set-up of an installation before it serves: schema, built-in benchmarks, task versions.

``arena serve`` runs :func:`prepare` once before it starts serving; a multi-process
deployment runs ``arena setup`` once instead. Web processes never do this work:
``create_app`` only wires things together.
"""

from __future__ import annotations

from arena.bundles.loading import builtin_task_names
from arena.db.database import Database
from arena.db.migrate import upgrade
from arena.server import competitions, suite_releases


def host_builtin_benchmarks(db: Database) -> list[str]:
    """Host every built-in task not yet hosted as a standing benchmark under its own name."""
    with db.session() as session, session.begin():
        existing = {c.slug for c in competitions.list_all(session)}
        hosted = [name for name in builtin_task_names() if name not in existing]
        for name in hosted:
            competitions.host(session, name)
    return hosted


def prepare(db: Database, *, host_builtins: bool = True) -> list[str]:
    """Upgrade the schema, host the built-ins, adopt bundles changed on disk; returns the rescored slugs."""
    upgrade(db.engine)
    if host_builtins:
        host_builtin_benchmarks(db)
    with db.session() as session, session.begin():
        return competitions.sync_task_versions(session, before_new_version=suite_releases.freeze_suites_of)
