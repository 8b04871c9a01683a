"""The SQL connector: keyset batches by (changed, key), a password only from the environment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.pool import NullPool

from townhall.domains.people.connectors.base import Batch, SourceUnreadable
from townhall.domains.people.connectors.sql_tables import SqlConnector, SqlSettings
from townhall.platform.db import normalise_url

MAPPING = {"record_id": "id", "fields": {"last_name": "surname"}, "timezone": "UTC"}
# The legacy database keeps times without a zone, as many do.
NOON = datetime(2025, 1, 2, 12, 0)  # noqa: DTZ001

metadata = MetaData()
claimants = Table(
    "claimants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("surname", String(50)),
    Column("updated_at", DateTime),
)


@pytest.fixture
def source_url(empty_database_url: str) -> str:
    """A legacy system's database (on the backend under test) with five rows, three changed at
    the same moment."""
    url = empty_database_url
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(claimants),
            [
                {"id": 5, "surname": "Ray", "updated_at": NOON},
                {"id": 2, "surname": "Lee", "updated_at": NOON},
                {"id": 9, "surname": "Kaur", "updated_at": NOON},
                {"id": 1, "surname": "Ng", "updated_at": datetime(2025, 1, 1)},  # noqa: DTZ001
                {"id": 3, "surname": "Oak", "updated_at": None},
            ],
        )
    engine.dispose()
    return url


def connector(url: str, **settings: Any) -> SqlConnector:
    values = {"url": url, "table": "claimants", "key_column": "id",
              "changed_column": "updated_at", "mapping": MAPPING, **settings}  # fmt: skip
    return SqlConnector(SqlSettings.model_validate(values))


def ids(batches: list[Batch]) -> list[int]:
    return [row.values["id"] for batch in batches for row in batch.rows]


def test_rows_sharing_a_timestamp_are_never_skipped_nor_repeated_across_batches(
    source_url: str,
) -> None:
    reader = connector(source_url, batch_rows=2)

    batches = list(reader.read(None))

    assert ids(batches) == [1, 2, 5, 9]
    # The boundary falls inside the run of equal timestamps; the key tells them apart.
    assert batches[0].position == '["2025-01-02T12:00:00", 2]'
    assert ids(list(reader.read(batches[0].position))) == [5, 9]
    assert list(reader.read(batches[-1].position)) == []
    assert batches[0].rows[0].values == {
        "id": 1,
        "surname": "Ng",
        "updated_at": "2025-01-01T00:00:00",
    }


def test_a_password_comes_only_from_the_named_environment_variable(
    source_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="the URL holds a password"):
        connector("postgresql://reader:secret@db.example/housing")
    reader = connector("postgresql://reader@db.example/housing", password_env="HOUSING_DB_PASSWORD")
    monkeypatch.delenv("HOUSING_DB_PASSWORD", raising=False)
    with pytest.raises(SourceUnreadable, match=r"HOUSING_DB_PASSWORD .* is not set"):
        reader.url()
    monkeypatch.setenv("HOUSING_DB_PASSWORD", "s3cret")
    assert reader.url().password == "s3cret"
    assert "s3cret" not in str(reader.describe())
    assert reader.describe()["database"] == "postgresql"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"table": "claims"}, "has no table or view claims"),
        ({"key_column": "claimant"}, "has no column claimant"),
    ],
)
def test_a_missing_table_or_column_is_a_clear_error(
    source_url: str, settings: dict[str, str], message: str
) -> None:
    with pytest.raises(SourceUnreadable, match=message):
        list(connector(source_url, **settings).read(None))


def test_a_position_it_did_not_make_is_refused(source_url: str) -> None:
    with pytest.raises(SourceUnreadable, match="is not a position of this SQL source"):
        list(connector(source_url).read("file:a.csv:3"))
