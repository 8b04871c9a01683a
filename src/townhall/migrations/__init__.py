"""Alembic revisions of Townhall's schema (see townhall.platform.migrations)."""
