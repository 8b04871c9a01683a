"""Syncing a source: only what changed, every version kept, events, and resuming after a crash."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from townhall.domains.people import sources
from townhall.domains.people.connectors.base import Batch
from townhall.domains.people.connectors.csv_files import CsvConnector
from townhall.domains.people.models import (
    PeopleSync,
    SourcePersonRecord,
    SourceRecordVersion,
)
from townhall.domains.people.sync import SyncFailed, sync_source
from townhall.platform.db import Database
from townhall.platform.events.models import OutboxEvent

HEADER = ["id", "forename", "surname", "dob", "address", "changed"]
MAPPING = {
    "record_id": "id",
    "updated_at": {"column": "changed", "format": "%d/%m/%Y %H:%M"},
    "fields": {
        "first_name": "forename",
        "last_name": "surname",
        "date_of_birth": {"column": "dob", "format": "%d/%m/%Y"},
        "address_text": "address",
    },
    "timezone": "UTC",
}
ROWS = [
    ["H1", "Bill", "O'Brien", "07/03/1980", "3 Mortimer Road", "01/01/2025 09:00"],
    ["H2", "Asha", "Patel", "12/11/1975", "4 Mortimer Road", "01/01/2025 09:00"],
    ["H3", "Wei", "Chen", "", "5 Mortimer Road", "02/01/2025 10:30"],
    ["H4", "Tom", "Ng", "31/02/1990", "6 Mortimer Road", "02/01/2025 10:30"],
]


def write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([HEADER, *rows])


@pytest.fixture
def extract(database: Database, tmp_path: Path) -> Path:
    """A housing extract, registered as a source read by its changed column, 2 rows a batch."""
    path = tmp_path / "housing.csv"
    write(path, ROWS)
    sources.register_source(
        database, name="housing", label="Housing", connector="csv", trust=3,
        config={"path": str(path), "changed_column": "changed",
                "changed_format": "%d/%m/%Y %H:%M", "batch_rows": 2, "mapping": MAPPING},
    )  # fmt: skip
    return path


def records(database: Database) -> dict[str, SourcePersonRecord]:
    with database.read() as session:
        found = session.scalars(select(SourcePersonRecord)).all()
        session.expunge_all()  # kept as read: the read unit's end would expire them
        return {record.source_record_id: record for record in found}


def events(database: Database) -> list[tuple[str, str, dict[str, Any]]]:
    with database.read() as session:
        rows = session.execute(
            select(OutboxEvent.type, OutboxEvent.subject, OutboxEvent.data).order_by(
                OutboxEvent.position
            )
        )
        return [(kind, subject, dict(data)) for kind, subject, data in rows]


def test_a_first_load_keeps_each_row_as_it_came_and_emits_one_event(
    database: Database, extract: Path
) -> None:
    report = sync_source(database, "housing")

    sync = report.sync
    assert report.first_load
    assert (sync.status, sync.rows_read, sync.added, sync.changed, sync.refused) == (
        "finished", 4, 3, 0, 1,
    )  # fmt: skip
    # The refused row is told by its place, column and reason: never its values.
    assert sync.problems == [
        {
            "position": "housing.csv:4",
            "column": "dob",
            "reason": "not a date in the format %d/%m/%Y",
        }
    ]
    assert "31/02/1990" not in str(sync.problems)
    held = records(database)
    assert set(held) == {"H1", "H2", "H3"}
    bill = held["H1"]
    assert bill.raw == dict(zip(HEADER, ROWS[0], strict=True))
    assert (bill.sync_id, bill.source_position, bill.version) == (sync.id, "housing.csv:1", 1)
    assert bill.received_at is not None
    assert bill.content_hash is not None
    assert held["H3"].date_of_birth is None
    assert sources.get_source(database, "housing").position == "changed:2025-01-02T10:30:00+00:00"
    # A first load is placed by a full linking run: one event, not one per record.
    assert events(database) == [
        ("uk.gov.townhall.person-records.loaded", "housing",
         {"source_system": "housing", "sync_id": sync.id, "added": 3, "changed": 0}),
    ]  # fmt: skip


def test_a_later_sync_keeps_only_what_changed_with_versions_and_events(
    database: Database, extract: Path
) -> None:
    sync_source(database, "housing")
    first = records(database)
    before = len(events(database))
    changed = [row[:] for row in ROWS]
    changed[3][3] = "28/02/1990"  # the refused row, put right
    changed[2][4] = "7 Mortimer Road"  # a move
    changed[2][5] = "03/01/2025 08:00"
    changed[1][5] = "02/01/2025 10:30"  # touched, nothing changed
    write(extract, [*changed, ["H5", "Ann", "Lee", "", "8 Mortimer Road", "03/01/2025 08:00"]])

    report = sync_source(database, "housing")

    sync = report.sync
    assert not report.first_load
    # From the position on: the rows changed at 10:30 on the 2nd (inclusive) and later.
    assert (sync.rows_read, sync.added, sync.changed, sync.unchanged, sync.refused) == (
        4, 2, 1, 1, 0,
    )  # fmt: skip
    held = records(database)
    assert held["H1"].version == held["H2"].version == 1
    assert held["H2"].sync_id == first["H2"].sync_id
    moved = held["H3"]
    assert (moved.version, moved.address_text, moved.sync_id) == (2, "7 Mortimer Road", sync.id)
    with database.read() as session:
        [kept] = session.scalars(select(SourceRecordVersion)).all()
        assert (kept.record_id, kept.version) == (moved.id, 1)
        assert kept.fields["address_text"] == "5 Mortimer Road"
        assert kept.raw == dict(zip(HEADER, ROWS[2], strict=True))
        assert kept.sync_id == first["H3"].sync_id
    later = events(database)[before:]
    assert sorted((kind, subject) for kind, subject, _ in later) == sorted(
        [
            ("uk.gov.townhall.person-record.created", str(held["H4"].id)),
            ("uk.gov.townhall.person-record.created", str(held["H5"].id)),
            ("uk.gov.townhall.person-record.updated", str(moved.id)),
        ]
    )
    [updated] = [data for kind, _, data in later if kind.endswith("updated")]
    assert updated == {
        "record_id": moved.id, "source_system": "housing", "sync_id": sync.id, "version": 2,
        "changed_fields": ["address_text"],
    }  # fmt: skip


class _Crashing:
    """The real connector, but the process dies after ``batches`` batches."""

    def __init__(self, real: CsvConnector, batches: int) -> None:
        self.real = real
        self.batches = batches

    def describe(self) -> dict[str, Any]:
        return self.real.describe()

    def read(self, since: str | None) -> Iterator[Batch]:
        for number, batch in enumerate(self.real.read(since)):
            if number == self.batches:
                raise KeyboardInterrupt
            yield batch


def test_a_sync_that_dies_half_way_resumes_without_losing_or_repeating(
    database: Database, extract: Path
) -> None:
    write(extract, [[f"H{n}", "A", f"Surname{n}", "", "", f"0{n % 9 + 1}/01/2025 09:00"]
                    for n in range(10)])  # fmt: skip
    source = sources.get_source(database, "housing")
    real = source.connector_instance()
    assert isinstance(real, CsvConnector)

    with pytest.raises(KeyboardInterrupt):
        sync_source(database, "housing", connector=_Crashing(real, batches=2))

    assert len(records(database)) == 4  # two batches of two, committed
    report = sync_source(database, "housing")
    assert len(records(database)) == 10
    # It began where the committed batches ended, not from the start.
    assert report.sync.from_position is not None
    assert report.sync.rows_read < 10
    assert report.sync.added == 6
    assert report.first_load  # still the first load: no event per record
    with database.read() as session:
        statuses = session.execute(
            select(PeopleSync.status, PeopleSync.added).order_by(PeopleSync.id)
        ).all()
        total = session.scalar(select(func.count()).select_from(SourcePersonRecord))
    assert [tuple(row) for row in statuses] == [("failed", 4), ("finished", 6)]
    assert total == 10


def test_a_sync_left_running_by_a_killed_process_is_closed_by_the_next(
    database: Database, extract: Path
) -> None:
    sync_source(database, "housing")
    with database.write() as session:
        session.add(
            PeopleSync(source="housing", status="running", started_at=func.now(), problems=[])
        )

    sync_source(database, "housing")

    with database.read() as session:
        statuses = session.scalars(select(PeopleSync.status).order_by(PeopleSync.id)).all()
        error = session.scalars(select(PeopleSync.error).where(PeopleSync.status == "failed")).one()
    assert statuses == ["finished", "failed", "finished"]
    assert "stopped before it finished" in error


def test_a_source_that_cannot_be_read_fails_its_sync_with_the_reason(
    database: Database, extract: Path
) -> None:
    extract.unlink()

    with pytest.raises(SyncFailed, match="There is no file or folder"):
        sync_source(database, "housing")

    [sync] = sources.list_syncs(database, "housing", sources.PageRequest()).items
    assert sync.status == "failed"
    assert sync.error is not None
    assert "There is no file or folder" in sync.error
