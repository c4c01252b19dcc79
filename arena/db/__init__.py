"""Persistence: the SQLAlchemy models, the engine, and the Alembic migrations that evolve the schema."""
