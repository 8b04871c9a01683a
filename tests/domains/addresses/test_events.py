"""Addresses emit through the outbox: one event per change, one for a first load, none on failure;
and the search index is kept current by its projection from those events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.domains.addresses.test_gazetteer_import import (
    lines_of,
    with_trailer_count,
    write_lines,
)
from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses import search_index
from townhall.domains.addresses.gazetteer_import import export_gazetteer, import_gazetteer
from townhall.domains.addresses.models import AddressRecord, Street
from townhall.domains.addresses.search_models import SearchEntry
from townhall.domains.addresses.search_projection import READER_NAME, catch_up
from townhall.platform.db import Database
from townhall.platform.events.models import EventCursor, OutboxEvent
from townhall.platform.migrations import upgrade

PREFIX = "uk.gov.townhall."


def outbox(database: Database) -> list[OutboxEvent]:
    with database.read() as session:
        events = list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.position)))
        session.expunge_all()  # kept as read: ending the unit would expire them
        return events


def found(database: Database, q: str) -> set[str]:
    """The LPI keys a free-text query matches."""
    with database.read() as session:
        match = search_index.match_text(session, q)
        if match.lpi_keys is not None:
            return set(match.lpi_keys)
        assert match.condition is not None
        return set(session.scalars(select(SearchEntry.lpi_key).where(match.condition)))


def caught_up(database: Database) -> int:
    """Bring the search index up to date with the events, as a dispatcher would."""
    return catch_up(database, owner="test", lease_seconds=30)


@pytest.fixture
def borough_file(database: Database, tmp_path: Path) -> Path:
    """The small synthetic borough as a DTF full supply."""
    build_borough(database, council_code="E09000012", size=BoroughSize.SMALL, seed=42)
    path = tmp_path / "borough.dtf"
    export_gazetteer(database, path)
    return path


@pytest.fixture
def loaded(empty_database_url: str, borough_file: Path) -> Iterator[Database]:
    """A database whose gazetteer was filled by importing the borough (a first load)."""
    database = Database(empty_database_url)
    upgrade(database)
    import_gazetteer(database, borough_file)
    yield database
    database.dispose()


def renamed_street(path: Path, target: Path) -> tuple[int, str, Path]:
    """The supply with its first street renamed, and one address's PAO text changed."""
    lines = lines_of(path)
    at = next(i for i, line in enumerate(lines) if line.startswith("15,"))
    descriptor = lines[at].split(",")
    usrn, old_name = int(descriptor[3]), descriptor[4]
    descriptor[4] = "Quillfeather Road"
    lines[at] = ",".join(descriptor)
    return usrn, old_name, write_lines(target, with_trailer_count(lines))


def test_a_first_import_emits_one_loaded_event_and_places_the_projection(
    loaded: Database,
) -> None:
    [event] = outbox(loaded)
    assert event.type == PREFIX + "gazetteer.loaded"
    assert event.domain == "addresses"
    import_id = event.data["import_id"]
    assert event.subject == import_id
    assert event.correlation_id == import_id
    assert event.data == {
        "import_id": import_id,
        "streets": 17,
        "properties": 400,
        "addresses": 414,
        "cross_references": 0,
    }
    with loaded.read() as session:
        position = session.scalar(
            select(EventCursor.position).where(EventCursor.name == READER_NAME)
        )
    assert position == event.position, "the index built whole holds the load"
    assert caught_up(loaded) == 0


def test_an_update_import_emits_one_event_per_change(loaded: Database, tmp_path: Path) -> None:
    path = tmp_path / "again.dtf"
    export_gazetteer(loaded, path)
    lines = lines_of(path)
    at = next(i for i, line in enumerate(lines) if line.startswith("15,"))
    descriptor = lines[at].split(",")
    usrn, old_name = descriptor[3], descriptor[4]
    descriptor[4] = "Quillfeather Road"
    lines[at] = ",".join(descriptor)
    lpi_at = next(i for i, line in enumerate(lines) if line.startswith("24,"))
    lpi = lines[lpi_at].split(",")
    retired_key, uprn = lpi[4], int(lpi[3])
    lpi[6], lpi[8], lpi[10] = "8", "2025-06-30", "2025-06-30"  # historic, ended
    lines[lpi_at] = ",".join(lpi)
    new_lpi = [*lpi[:4], "5360L999999999", *lpi[5:]]
    new_lpi[6], new_lpi[8], new_lpi[16], new_lpi[20] = "1", "", "99", ""
    lines[-1:-1] = [",".join(new_lpi)]
    write_lines(path, with_trailer_count(lines))
    before = outbox(loaded)

    report = import_gazetteer(loaded, path)

    assert report.rejected_count == 0, report.rejected
    events = outbox(loaded)[len(before) :]
    assert [(e.type, e.subject) for e in events] == [
        (PREFIX + "street.updated", usrn),
        (PREFIX + "address.created", "5360L999999999"),
        (PREFIX + "address.updated", retired_key),
    ]
    assert {e.correlation_id for e in events} == {report.import_id}
    street, created, updated = (e.data for e in events)
    assert street == {
        "uprn": None,
        "import_id": report.import_id,
        "changes": {"descriptor": {"old": old_name, "new": "Quillfeather Road"}},
    }
    assert updated["uprn"] == uprn
    assert updated["changes"]["logical_status"] == {"old": 1, "new": 8}
    assert updated["changes"]["end_date"] == {"old": None, "new": "2025-06-30"}
    assert "postcode" not in updated["changes"], "only the changed fields"
    changes = created["changes"]
    assert changes["lpi_key"] == {"old": None, "new": "5360L999999999"}
    assert changes["uprn"] == {"old": None, "new": uprn}
    assert changes["pao_start_number"] == {"old": None, "new": 99}
    assert changes["start_date"]["new"] == lpi[9]  # dates as ISO text
    assert all(change["old"] is None and change["new"] is not None for change in changes.values())


def test_a_deletion_event_holds_the_records_last_values(loaded: Database, tmp_path: Path) -> None:
    with loaded.read() as session:
        address = session.scalars(select(AddressRecord).order_by(AddressRecord.lpi_key)).first()
        assert address is not None
        key, postcode = address.lpi_key, address.postcode
    path = tmp_path / "all.dtf"
    export_gazetteer(loaded, path)
    line = next(x for x in lines_of(path) if x.startswith("24,") and x.split(",")[4] == key)
    change = write_lines(
        tmp_path / "change.dtf",
        [
            "10,Townhall,5360,2025-07-01,1,2025-07-01,10:00:00,7.3,C",
            "24,D," + line.split(",", 2)[2],
            "99,0,3,2025-07-01,10:00:00",
        ],
    )
    before = len(outbox(loaded))

    import_gazetteer(loaded, change)

    [event] = outbox(loaded)[before:]
    assert (event.type, event.subject) == (PREFIX + "address.deleted", key)
    assert event.data["changes"]["postcode"] == {"old": postcode, "new": None}
    assert all(c["new"] is None for c in event.data["changes"].values())


def test_an_import_that_rolls_back_emits_nothing(loaded: Database, tmp_path: Path) -> None:
    usrn, old_name, path = renamed_street(_exported(loaded, tmp_path), tmp_path / "r.dtf")
    before = outbox(loaded)

    class FailAfterEvents:
        phase_name = ""

        def phase(self, name: str, total: int) -> None:
            self.phase_name = name

        def advance(self, rows: int) -> None:
            if self.phase_name == "Writing events":
                raise RuntimeError("the machine fell over after the events were written")

    with pytest.raises(RuntimeError, match="fell over"):
        import_gazetteer(loaded, path, on_progress=FailAfterEvents())

    assert [e.position for e in outbox(loaded)] == [e.position for e in before]
    with loaded.read() as session:
        assert session.scalar(select(Street.descriptor).where(Street.usrn == usrn)) == old_name


def test_the_projection_keeps_the_search_index_current(loaded: Database, tmp_path: Path) -> None:
    usrn, old_name, path = renamed_street(_exported(loaded, tmp_path), tmp_path / "r.dtf")
    with loaded.read() as session:
        on_street = set(
            session.scalars(select(AddressRecord.lpi_key).where(AddressRecord.usrn == usrn))
        )
    assert on_street
    assert found(loaded, "quillfeather road") == set()
    assert on_street <= found(loaded, old_name)

    import_gazetteer(loaded, path)
    # The import left the index to the projection: until it runs, the old name is found.
    assert found(loaded, "quillfeather road") == set()

    assert caught_up(loaded) == 1
    assert found(loaded, "quillfeather road") == on_street
    assert not on_street & found(loaded, old_name)
    with loaded.read() as session:
        entries = session.scalar(select(func.count()).select_from(SearchEntry))
    assert entries == 414


def _exported(database: Database, tmp_path: Path) -> Path:
    path = tmp_path / "current.dtf"
    export_gazetteer(database, path)
    return path
