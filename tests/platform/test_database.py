"""Units of work: one writer on SQLite, rollback on error, the connection pragmas."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from townhall.errors import UnprocessableContent
from townhall.platform.db import Database, normalise_url
from townhall.platform.secrets import InstanceSecret, instance_secret


def _write_then_fail(database: Database) -> None:
    with database.write() as session:
        session.add(InstanceSecret(name="half", value="x", created_at=datetime.now(UTC)))
        session.flush()
        raise RuntimeError


def test_a_failed_unit_of_work_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(RuntimeError):
        _write_then_fail(database)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InstanceSecret)) == 0


def test_a_nested_write_is_refused_instead_of_deadlocking(database: Database) -> None:
    with database.write(), pytest.raises(RuntimeError, match="already open"), database.write():
        pass


def test_sqlite_connections_use_wal_and_foreign_keys(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("SQLite pragmas only apply to SQLite")
    with database.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_sqlite_writers_queue_one_after_another(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("the one-writer rule is SQLite's")
    inside = 0
    most_inside = 0
    lock = threading.Lock()

    def write(n: int) -> None:
        nonlocal inside, most_inside
        with database.write() as session:
            with lock:
                inside += 1
                most_inside = max(most_inside, inside)
            session.add(InstanceSecret(name=f"k{n}", value="v", created_at=datetime.now(UTC)))
            time.sleep(0.01)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most_inside == 1
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InstanceSecret)) == 8


def test_instance_secret_is_created_once_and_shared(database: Database) -> None:
    first = instance_secret(database, "cursor-signing")
    assert len(first) >= 32
    assert instance_secret(database, "cursor-signing") == first
    assert instance_secret(database, "other") != first


def test_urls_choose_the_right_drivers() -> None:
    assert normalise_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+pysqlite"


def test_text_with_a_nul_character_is_refused_and_nothing_is_written(database: Database) -> None:
    # PostgreSQL cannot store U+0000; both dialects refuse it the same way, as a 422.
    with pytest.raises(UnprocessableContent, match="NUL"), database.write() as session:
        session.add(InstanceSecret(name="a\x00b", value="v", created_at=datetime.now(UTC)))
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InstanceSecret)) == 0


@pytest.mark.parametrize("nul_in", [None, 0, 2])
def test_rows_written_in_one_batch_are_checked_for_nul_whatever_their_shape(
    database: Database, nul_in: int | None
) -> None:
    # Several ORM rows in one flush reach the driver as one flat batch of values on SQLite
    # ("insertmanyvalues") and as many rows on PostgreSQL: the guard reads both.
    now = datetime.now(UTC)
    names = [f"batch-{number}" for number in range(3)]
    if nul_in is not None:
        names[nul_in] = "bad\x00name"
    rows = [InstanceSecret(name=name, value="v", created_at=now) for name in names]
    if nul_in is None:
        with database.write() as session:
            session.add_all(rows)
        expected = 3
    else:
        with pytest.raises(UnprocessableContent, match="NUL"), database.write() as session:
            session.add_all(rows)
        expected = 0
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InstanceSecret)) == expected


def test_a_read_unit_keeps_nothing_it_writes(database: Database) -> None:
    # SQLite rolls a read unit back; PostgreSQL refuses the write outright (READ ONLY).
    try:
        with database.read() as session:
            session.add(InstanceSecret(name="read", value="v", created_at=datetime.now(UTC)))
            session.flush()
    except DBAPIError:
        assert not database.is_sqlite
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InstanceSecret)) == 0


def test_queries_repeated_in_read_units_are_prepared_on_postgresql(database: Database) -> None:
    if database.is_sqlite:
        pytest.skip("PostgreSQL's prepared statements: SQLite has none to keep")
    # psycopg prepares a query on its sixth run on a connection, unless a ROLLBACK in between
    # made it forget: read units must end without one.
    query = text("SELECT count(*) FROM platform_secrets WHERE name = :name")
    for _ in range(8):
        with database.read() as session:
            session.execute(query, {"name": "x"})
    with database.read() as session:
        prepared = session.scalar(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :pattern"),
            {"pattern": "%FROM platform_secrets WHERE name%"},
        )
    assert prepared == 1
