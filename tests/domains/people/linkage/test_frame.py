"""The linkage frame: a phone, email or NI number many records share stops pairing them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

from townhall.domains.people.linkage import engine, frame
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.db import Database

UPDATED = datetime(2024, 5, 6, tzinfo=UTC)
SWITCHBOARD = "020 7946 0000"


def _record(number: int, phone: str, email: str | None = None) -> NewSourceRecord:
    return NewSourceRecord(
        "housing", f"H{number}", None, f"Name{number}", None, "Surname", date(1980, 1, 1),
        email, phone, None, None, "E8 1AA", None, {}, UPDATED,
    )  # fmt: skip


def _keys(connection: object, column: str) -> dict[str, tuple[str | None, str | None]]:
    rows = connection.execute(  # type: ignore[attr-defined]
        f"SELECT first_name, {column}, {column}_block FROM {frame.FRAME}"
    ).fetchall()
    return {name: (value, block) for name, value, block in rows}


def test_a_value_shared_by_more_than_the_limit_is_compared_but_not_blocked_on(
    database: Database,
) -> None:
    shared = [_record(n, SWITCHBOARD) for n in range(frame.SHARED_LIMIT + 1)]
    family = [_record(100 + n, "020 7946 0991", "home@example.com") for n in range(2)]
    load_source_records(database, [*shared, *family])
    connection = engine.connect()
    try:
        frame.load_frame(connection, database)
        phones = _keys(connection, "phone")
        emails = _keys(connection, "email")
    finally:
        connection.close()
    assert phones["name0"] == ("02079460000", None)  # kept for comparison, not for blocking
    assert phones["name100"] == ("02079460991", "02079460991")
    assert emails["name101"] == ("home@example.com", "home@example.com")


def test_a_record_added_later_is_blocked_as_a_full_run_would_block_it(
    database: Database,
) -> None:
    load_source_records(database, [_record(n, SWITCHBOARD) for n in range(frame.SHARED_LIMIT + 1)])
    connection = engine.connect()
    try:
        frame.load_frame(connection, database)
        load_source_records(database, [_record(200, SWITCHBOARD), _record(201, "07700 900123")])
        with database.read() as session:
            ids = list(session.execute(text("SELECT id FROM people_source_records")).scalars())
        for rows in frame.read_rows(database, ids[-2:]):
            frame.add_rows(connection, rows)
        phones = _keys(connection, "phone")
    finally:
        connection.close()
    assert phones["name200"] == ("02079460000", None)
    assert phones["name201"] == ("07700900123", "07700900123")
