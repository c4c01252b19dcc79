"""Persistent state: SQLAlchemy models and the few functions that read and write them."""
