"""The people service's bulk load of source records."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import count_source_records, load_source_records
from townhall.platform.db import Database

UPDATED = datetime(2024, 5, 6, 7, 8, tzinfo=UTC)


def a_record(record_id: str, **changes: object) -> NewSourceRecord:
    record = NewSourceRecord(
        source_system="parking", source_record_id=record_id, title="Mr", first_name="Bill",
        middle_names=None, last_name="O'Brien", date_of_birth=date(1980, 3, 7),
        email="bill.obrien7@example.com", phone="07700 900123",
        national_insurance_number="QQ 12 34 56 C", address_text="3/12 Mortimer Road, London",
        postcode="N1 4LA", uprn=100021000003,
        attributes={"vehicle_registration": "LA19 ABC", "tags": ["blue badge"]},
        source_updated_at=UPDATED,
    )  # fmt: skip
    return record._replace(**changes)


def test_records_are_stored_as_the_source_gave_them(database: Database) -> None:
    records = [a_record("PK0000001"), a_record("PK0000002", date_of_birth=None, uprn=None)]
    progress: list[int] = []

    added = load_source_records(database, iter(records), on_progress=progress.append)

    assert added == 2
    assert progress == [2]
    assert count_source_records(database) == 2
    with database.read() as session:
        stored = session.scalars(
            select(SourcePersonRecord).order_by(SourcePersonRecord.source_record_id)
        ).all()
        first, second = stored
        assert first.last_name == "O'Brien"
        assert first.date_of_birth == date(1980, 3, 7)
        assert first.attributes == {"vehicle_registration": "LA19 ABC", "tags": ["blue badge"]}
        updated = first.source_updated_at
        # SQLite keeps no time zone; PostgreSQL gives it back in the session's.
        assert (updated if updated.tzinfo else updated.replace(tzinfo=UTC)) == UPDATED
        assert first.uprn == 100021000003
        assert (second.date_of_birth, second.uprn) == (None, None)


def test_an_empty_load_adds_nothing(database: Database) -> None:
    assert load_source_records(database, []) == 0
    assert count_source_records(database) == 0
