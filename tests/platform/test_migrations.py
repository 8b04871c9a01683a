"""The migrations build exactly the schema the models declare, on the backend under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect

from townhall.platform.db import Database
from townhall.platform.migrations import (
    current_revision,
    downgrade,
    head_revision,
    load_models,
    upgrade,
)


def _differences(database: Database, metadata: MetaData) -> list[object]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    upgrade(database)
    assert current_revision(database) == head_revision()
    assert _differences(database, load_models()) == []
    database.dispose()


def test_the_comparison_notices_a_model_without_a_migration(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    upgrade(database)
    extended = MetaData()
    for table in load_models().tables.values():
        table.to_metadata(extended)
    Table("unmigrated_things", extended, Column("id", Integer, primary_key=True))
    differences = _differences(database, extended)
    assert any("unmigrated_things" in repr(d) for d in differences)
    database.dispose()


def test_migrations_go_down_to_nothing_and_up_again(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    upgrade(database)
    downgrade(database, "base")
    assert current_revision(database) is None
    leftover = set(inspect(database.engine).get_table_names()) - {"alembic_version"}
    assert leftover == set()
    upgrade(database)
    assert current_revision(database) == head_revision()
    database.dispose()
