"""The SQL connector: a table or view of a source system's database, read by keyset batches.

This module owns reading a legacy system's database (or a replica of it) through any SQLAlchemy
URL. The table needs a key column (unique) and a "changed at" column. Rows are read in batches
``WHERE (changed, key) > (:changed, :key) ORDER BY changed, key``: rows that share a timestamp
are told apart by their key, so a batch boundary inside a run of equal timestamps neither skips
nor repeats a row. The position is that pair, as JSON. Rows with no "changed at" value cannot be
placed in that order and are never read: the source's view should give every row one.

The URL never holds a password: ``password_env`` names the environment variable holding it, read
when the connector connects, so no secret is stored in ``people_sources`` or shown by the API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Column, MetaData, Table, create_engine, select, tuple_
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from townhall.domains.people.connectors.base import Batch, SourceRow, SourceUnreadable
from townhall.domains.people.connectors.mapping import FieldMapping
from townhall.platform.db import normalise_url


class SqlSettings(BaseModel):
    """Which database, table and columns a SQL source is read from, and how they map."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        description="A SQLAlchemy URL without a password (postgresql://reader@host/db).",
    )
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="The environment variable holding the password, when one is needed.",
    )
    table: str = Field(min_length=1, max_length=200, description="The table or view.")
    schema_name: str | None = Field(default=None, max_length=200, alias="schema")
    key_column: str = Field(min_length=1, description="A column unique to each row.")
    changed_column: str = Field(min_length=1, description="When the row last changed.")
    batch_rows: int = Field(default=10_000, ge=1, le=100_000)
    mapping: FieldMapping

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            msg = "not a database URL (such as postgresql://reader@host/housing)"
            raise ValueError(msg) from exc
        if url.password is not None:
            msg = "the URL holds a password: name the variable that holds it in password_env"
            raise ValueError(msg)
        return value


class SqlConnector:
    """Reads a table or view of another database (``SqlSettings``)."""

    def __init__(self, settings: SqlSettings) -> None:
        self.settings = settings

    def describe(self) -> dict[str, Any]:
        """The settings, as the API shows them: the kind of database, not where it is."""
        settings = self.settings
        return {
            "database": make_url(settings.url).get_backend_name(),
            "table": settings.table,
            "schema": settings.schema_name,
            "key_column": settings.key_column,
            "changed_column": settings.changed_column,
            "password_from": settings.password_env,
        }

    def url(self) -> URL:
        """The URL with its password from the environment; SourceUnreadable if it is unset.

        ``postgresql://`` means psycopg 3 and ``sqlite://`` pysqlite, as for Townhall's own.
        """
        url = normalise_url(self.settings.url)
        name = self.settings.password_env
        if name is None:
            return url
        password = os.environ.get(name)
        if password is None:
            msg = f"The environment variable {name} (the source database's password) is not set."
            raise SourceUnreadable(msg)
        return url.set(password=password)

    def read(self, since: str | None) -> Iterator[Batch]:
        """The rows after ``since`` in keyset batches, oldest change first."""
        engine = self._engine()
        try:
            yield from self._read(engine, since)
        except SQLAlchemyError as exc:
            # The driver's own words, which name the table or the server but hold no row.
            cause = getattr(exc, "orig", None) or exc
            msg = f"The source database could not be read: {type(exc).__name__}: {cause}"
            raise SourceUnreadable(msg.splitlines()[0]) from exc
        finally:
            engine.dispose()

    def _engine(self) -> Engine:
        try:
            return create_engine(self.url(), poolclass=NullPool)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            msg = f"The source database URL cannot be used: {exc}"
            raise SourceUnreadable(msg) from exc

    def _read(self, engine: Engine, since: str | None) -> Iterator[Batch]:
        settings = self.settings
        try:
            table = Table(
                settings.table, MetaData(), schema=settings.schema_name, autoload_with=engine
            )
        except NoSuchTableError as exc:
            msg = f"The source database has no table or view {settings.table}."
            raise SourceUnreadable(msg) from exc
        for name in (settings.key_column, settings.changed_column):
            if name not in table.c:
                msg = f"The table {settings.table} has no column {name}."
                raise SourceUnreadable(msg)
        changed, key = table.c[settings.changed_column], table.c[settings.key_column]
        after = None if since is None else _decode(since, changed, key)
        base = select(table).where(changed.is_not(None)).order_by(changed, key)
        base = base.limit(settings.batch_rows)
        while True:
            statement = base if after is None else base.where(tuple_(changed, key) > tuple_(*after))
            with engine.connect() as connection:
                found = connection.execute(statement).mappings().all()
            if not found:
                return
            rows = []
            for row in found:
                values = {name: _jsonable(value) for name, value in row.items()}
                position = json.dumps(
                    [values[settings.changed_column], values[settings.key_column]]
                )
                rows.append(SourceRow(position, values))
            last = found[-1]
            after = (last[settings.changed_column], last[settings.key_column])
            yield Batch(rows, rows[-1].position)
            if len(found) < settings.batch_rows:
                return


def _jsonable(value: Any) -> Any:
    """A value as JSON can keep it (``raw``): dates as ISO 8601, decimals as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _decode(since: str, changed: Column[Any], key: Column[Any]) -> tuple[Any, Any]:
    try:
        written_changed, written_key = json.loads(since)
        return _typed(written_changed, changed), _typed(written_key, key)
    except (ValueError, TypeError) as exc:
        msg = f"{since!r} is not a position of this SQL source."
        raise SourceUnreadable(msg) from exc


def _typed(value: Any, column: Column[Any]) -> Any:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return value
    if python_type is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if python_type is date and isinstance(value, str):
        return date.fromisoformat(value)
    return value
