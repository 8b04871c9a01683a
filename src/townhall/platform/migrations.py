"""Schema migrations: Alembic driven from code, the same on SQLite and PostgreSQL.

This module owns the list of modules that declare tables (``MODEL_MODULES``), the Alembic
configuration (no ``alembic.ini`` is needed at run time) and the upgrade, current and head
look-ups used by ``townhall db`` and the readiness check. The revisions live in
``townhall/migrations/versions`` so they ship inside the package.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from townhall.platform.db import Base, Database

VERSION_TABLE = "alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Every module that declares tables. A new domain adds its models module here.
MODEL_MODULES = (
    "townhall.platform.secrets",
    "townhall.platform.http.idempotency",
    "townhall.platform.auth.models",
    "townhall.platform.auth.sign_in_models",
    "townhall.platform.auth.keys",
    "townhall.platform.events.models",
    "townhall.platform.audit.models",
    "townhall.domains.addresses.models",
    "townhall.domains.addresses.search_models",
    "townhall.domains.people.models",
    "townhall.demo.models",
)


def load_models() -> MetaData:
    """Import every table module and return the metadata that holds them all."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


def alembic_config(database: Database | None = None) -> Config:
    """An Alembic configuration for Townhall's migrations, bound to ``database`` when given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if database is not None:
        config.attributes["engine"] = database.engine
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its first revision
        msg = "no migration revisions found"
        raise RuntimeError(msg)
    return head


def current_revision(database: Database) -> str | None:
    """The revision the database is at, or None for an empty database."""
    # Read Alembic's table directly: the readiness check asks on every poll, and configuring
    # a MigrationContext each time would log two INFO lines per poll.
    with database.engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        found = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return found[0] if len(found) == 1 else None


def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the database's schema up to ``revision`` (the newest by default)."""
    command.upgrade(alembic_config(database), revision)


def downgrade(database: Database, revision: str) -> None:
    """Take the database's schema back to ``revision``."""
    command.downgrade(alembic_config(database), revision)
