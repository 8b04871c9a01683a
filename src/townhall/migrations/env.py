"""Alembic environment: runs revisions on the engine handed over by townhall.platform.migrations."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from townhall.platform.db import normalise_url
from townhall.platform.migrations import load_models
from townhall.settings import Settings

target_metadata = load_models()


def _engine() -> Engine:
    engine = context.config.attributes.get("engine")
    if isinstance(engine, Engine):
        return engine
    # Plain `alembic` on the command line: use the same settings as the app.
    return create_engine(normalise_url(Settings().database_url))


def run_migrations_online() -> None:
    """Run the revisions in one transaction (SQLite's batch mode alters tables safely)."""
    engine = _engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
