"""Importing and exporting the gazetteer: round trips, differences only, changes, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.gazetteer_import import (
    UnreadableFile,
    export_gazetteer,
    import_gazetteer,
)
from townhall.domains.addresses.models import (
    AddressChange,
    AddressRecord,
    CrossReference,
    Property,
    Street,
)
from townhall.platform.db import Database
from townhall.platform.events.models import OutboxEvent
from townhall.platform.migrations import upgrade

GAZETTEER_TABLES = (Street, Property, AddressRecord, CrossReference)


def gazetteer_rows(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the gazetteer tables but the time Townhall wrote it."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with database.read() as session:
        for model in GAZETTEER_TABLES:
            table = model.__table__
            columns = [column for column in table.c if column.name != "modified_at"]
            key = next(iter(table.primary_key.columns))
            found[table.name] = [
                tuple(row) for row in session.execute(select(*columns).order_by(key))
            ]
    return found


def changes(database: Database) -> list[Any]:
    """The recorded changes, oldest first, as plain rows."""
    table = AddressChange.__table__
    with database.read() as session:
        return list(session.execute(select(table).order_by(table.c.id)))


@pytest.fixture
def borough(database: Database) -> Database:
    """The test database holding the small synthetic borough."""
    build_borough(database, council_code="E09000012", size=BoroughSize.SMALL, seed=42)
    return database


@pytest.fixture
def empty_gazetteer(empty_database_url: str) -> Iterator[Database]:
    """A second database, migrated, with no gazetteer."""
    database = Database(empty_database_url)
    upgrade(database)
    yield database
    database.dispose()


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def with_trailer_count(lines: list[str]) -> list[str]:
    """The lines with the trailer's record count made right again after an edit."""
    trailer = lines[-1].split(",")
    trailer[2] = str(len(lines))
    return [*lines[:-1], ",".join(trailer)]


@pytest.mark.parametrize("file_format", ["dtf", "csv"])
def test_a_borough_exported_and_imported_into_an_empty_database_is_the_same(
    borough: Database, empty_gazetteer: Database, tmp_path: Path, file_format: str
) -> None:
    path = tmp_path / f"borough.{file_format}"
    exported = export_gazetteer(borough, path, format=file_format)  # type: ignore[arg-type]
    assert exported.addresses == 414

    report = import_gazetteer(empty_gazetteer, path)

    assert report.format == file_format
    assert report.rejected_count == 0, report.rejected
    imported, original = gazetteer_rows(empty_gazetteer), gazetteer_rows(borough)
    if file_format == "csv":
        # The plain CSV carries a street's names, not its geometry or dates.
        imported["address_streets"] = [row[:6] for row in imported["address_streets"]]
        original["address_streets"] = [row[:6] for row in original["address_streets"]]
    assert imported == original
    assert report.counts["address"].created == 414
    assert report.counts["property"].created == 400
    assert report.counts["street"].created == 17
    recorded = changes(empty_gazetteer)
    assert len(recorded) == 414 + 400 + 17
    assert {change.action for change in recorded} == {"created"}
    assert {change.import_id for change in recorded} == {report.import_id}
    # One event for the whole load, not one per record.
    with empty_gazetteer.read() as session:
        events = list(session.execute(select(OutboxEvent.type, OutboxEvent.correlation_id)))
    assert [tuple(e) for e in events] == [("uk.gov.townhall.gazetteer.loaded", report.import_id)]


def test_after_a_first_import_the_database_still_refuses_a_reference_to_nothing(
    borough: Database, empty_gazetteer: Database, tmp_path: Path
) -> None:
    # A first import drops indexes (and on PostgreSQL foreign keys) and builds them again.
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    import_gazetteer(empty_gazetteer, path)

    with empty_gazetteer.read() as session:
        address = session.scalars(select(AddressRecord).limit(1)).one()
        values = {column.name: getattr(address, column.name) for column in address.__table__.c}
        uprn = address.uprn
    for column, value in (("uprn", 999_999_999_999), ("usrn", 99_999_999)):
        with pytest.raises(IntegrityError), empty_gazetteer.write() as session:
            session.execute(
                insert(AddressRecord).values({**values, "lpi_key": "5360L999999999", column: value})
            )
    with pytest.raises(IntegrityError), empty_gazetteer.write() as session:
        session.execute(
            update(Property).where(Property.uprn == uprn).values(parent_uprn=999_999_999_999)
        )
    with pytest.raises(IntegrityError), empty_gazetteer.write() as session:
        session.execute(insert(AddressRecord).values(values))  # the same key again


def test_importing_the_same_file_again_changes_nothing(borough: Database, tmp_path: Path) -> None:
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    with borough.read() as session:
        written_before = sorted(session.scalars(select(Property.modified_at)))

    report = import_gazetteer(borough, path)

    assert report.changes == 0
    assert report.counts["address"].unchanged == 414
    assert report.counts["property"].unchanged == 400
    assert changes(borough) == []
    with borough.read() as session:
        assert sorted(session.scalars(select(Property.modified_at))) == written_before


def test_a_newer_supply_applies_only_its_differences_and_records_each_one(
    borough: Database, tmp_path: Path
) -> None:
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    lines = lines_of(path)
    descriptor_at = next(i for i, line in enumerate(lines) if line.startswith("15,"))
    descriptor = lines[descriptor_at].split(",")
    usrn, old_name = int(descriptor[3]), descriptor[4]
    descriptor[4] = "Renamed Road"
    lines[descriptor_at] = ",".join(descriptor)
    lpi_at = next(i for i, line in enumerate(lines) if line.startswith("24,"))
    lpi = lines[lpi_at].split(",")
    retired_key = lpi[4]
    lpi[6], lpi[8], lpi[10] = "8", "2025-06-30", "2025-06-30"  # historic, ended
    lines[lpi_at] = ",".join(lpi)
    blpu = next(line for line in lines if line.startswith("21,")).split(",")
    new_uprn = "100021999999"
    new_blpu = [*blpu[:3], new_uprn, *blpu[4:]]
    new_blpu[8] = ""  # no parent
    new_lpi = [*lpi[:3], new_uprn, "5360L999999999", *lpi[5:]]
    new_lpi[6], new_lpi[8] = "1", ""
    new_lpi[16], new_lpi[20] = "99", ""  # 99, on the same street
    xref = ["23", "I", "0", new_uprn, "5360X000000001", "CT-0042", "1", "7666VC"]
    xref += ["2025-07-01", "", "2025-07-01", "2025-07-01"]
    lines[-1:-1] = [",".join(new_blpu), ",".join(xref), ",".join(new_lpi)]
    write_lines(path, with_trailer_count(lines))

    report = import_gazetteer(borough, path)

    assert report.rejected_count == 0, report.rejected
    counts = {name: vars(count) for name, count in report.counts.items()}
    assert counts["street"] == {"created": 0, "updated": 1, "deleted": 0, "unchanged": 16}
    assert counts["property"] == {"created": 1, "updated": 0, "deleted": 0, "unchanged": 400}
    assert counts["address"] == {"created": 1, "updated": 1, "deleted": 0, "unchanged": 413}
    assert counts["cross_reference"] == {"created": 1, "updated": 0, "deleted": 0, "unchanged": 0}
    recorded = {(c.record_type, c.record_key, c.action): c for c in changes(borough)}
    assert set(recorded) == {
        ("street", str(usrn), "updated"),
        ("address", retired_key, "updated"),
        ("property", new_uprn, "created"),
        ("address", "5360L999999999", "created"),
        ("cross_reference", "5360X000000001", "created"),
    }
    assert recorded["street", str(usrn), "updated"].changes == {
        "descriptor": [old_name, "Renamed Road"]
    }
    retired = recorded["address", retired_key, "updated"].changes
    assert retired["logical_status"][1] == 8
    assert retired["end_date"] == [None, "2025-06-30"]
    assert set(retired) <= {"logical_status", "end_date", "last_update_date"}
    assert recorded["cross_reference", "5360X000000001", "created"].uprn == int(new_uprn)
    assert recorded["property", new_uprn, "created"].changes == {}  # the record holds them
    with borough.read() as session:
        assert session.get(Street, usrn).descriptor == "Renamed Road"  # type: ignore[union-attr]
        added = session.get(Property, int(new_uprn))
        assert added is not None
        assert added.postcode_locator == new_lpi[24]
        assert 51 < added.latitude < 52


def test_a_full_supply_deletes_what_it_leaves_out_in_dependency_order(
    borough: Database, tmp_path: Path
) -> None:
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    with borough.read() as session:
        parent = session.scalars(
            select(Property.parent_uprn).where(Property.parent_uprn.is_not(None)).limit(1)
        ).one()
        family = {
            parent,
            *session.scalars(select(Property.uprn).where(Property.parent_uprn == parent)),
        }
        keys = set(
            session.scalars(select(AddressRecord.lpi_key).where(AddressRecord.uprn.in_(family)))
        )
    kept = [
        line
        for line in lines_of(path)
        if not (line.startswith(("21,", "24,")) and int(line.split(",")[3]) in family)
    ]
    write_lines(path, with_trailer_count(kept))

    report = import_gazetteer(borough, path)

    assert report.full_supply
    assert report.rejected_count == 0, report.rejected
    assert report.counts["property"].deleted == len(family)
    assert report.counts["address"].deleted == len(keys)
    with borough.read() as session:
        assert session.get(Property, parent) is None
    deleted = [c for c in changes(borough) if c.action == "deleted"]
    assert {c.record_key for c in deleted} == {str(u) for u in family} | keys
    block = next(c for c in deleted if c.record_key == str(parent))
    assert block.changes["uprn"] == [parent, None]  # a deletion keeps the last values


def test_deleting_a_property_that_keeps_its_addresses_is_refused(
    borough: Database, tmp_path: Path
) -> None:
    with borough.read() as session:
        uprn = session.scalars(select(AddressRecord.uprn).limit(1)).one()
    path = write_lines(
        tmp_path / "change.dtf",
        [
            "10,Townhall,5360,2025-07-01,1,2025-07-01,10:00:00,7.3,C",
            f"21,D,1,{uprn},1,2,,RD04,,534000,184000,1,5360,2020-01-01,,2020-01-01,2020-01-01"
            + ",,,,,,",
            "99,0,3,2025-07-01,10:00:00",
        ],
    )

    report = import_gazetteer(borough, path)

    assert report.counts["property"].deleted == 0
    assert [(r.line, r.record_type) for r in report.rejected] == [(None, "property")]
    assert "still has addresses" in report.rejected[0].reason
    with borough.read() as session:
        assert session.get(Property, uprn) is not None


def test_bad_rows_are_reported_by_line_and_field_and_the_good_ones_load(
    empty_gazetteer: Database, tmp_path: Path
) -> None:
    street = "11,I,1,20400001,1,5360,2,2020-01-01,,,1,2020-01-01,2020-01-01,2020-01-01,,"
    street += "533000,184000,533300,184100,10"
    blpu = "21,I,3,{uprn},{status},2,2020-01-01,RD04,,{easting},184050,1,5360,{start},,"
    blpu += "2020-01-01,2020-01-01,,,,,,"
    lpi = "24,I,9,{uprn},5360L{key:09d},ENG,1,2020-01-01,,2020-01-01,2020-01-01,,,,,,"
    lpi += "{number},,,,,{usrn},,Y,N1 4LA,LONDON,Y,,,"
    path = write_lines(
        tmp_path / "bad.dtf",
        [
            "10,Townhall,5360,2025-07-01,1,2025-07-01,10:00:00,7.3,F",
            street,
            "15,I,2,20400001,Mortimer Road,Dalston,LONDON,HACKNEY,ENG",
            blpu.format(uprn="100021000001", status=1, easting=533100, start="2020-01-01"),
            blpu.format(uprn="1000X", status=1, easting=533100, start="2020-01-01"),
            blpu.format(uprn="100021000003", status=4, easting=533100, start="2020-01-01"),
            blpu.format(uprn="100021000004", status=1, easting=900000, start="2020-01-01"),
            blpu.format(uprn="100021000005", status=1, easting=533100, start="2020-02-30"),
            "27,I,4,whatever",
            lpi.format(uprn="100021000001", key=1, number=1, usrn=20400001),
            lpi.format(uprn="100021000001", key=2, number=2, usrn=""),
            lpi.format(uprn="100021000077", key=3, number=3, usrn=20400001),
            lpi.format(uprn="100021000001", key=4, number=4, usrn=20400099),
            "99,0,14,2025-07-01,10:00:00",
        ],
    )

    report = import_gazetteer(empty_gazetteer, path)

    assert [(r.line, r.field) for r in report.rejected] == [
        (5, "UPRN"),
        (6, "LOGICAL_STATUS"),
        (7, "X_COORDINATE"),
        (8, "START_DATE"),
        (9, "RECORD_IDENTIFIER"),
        (11, "USRN"),
        (12, "UPRN"),
        (13, "USRN"),
    ]
    reasons = [r.reason for r in report.rejected]
    assert "'1000X' is not a UPRN" in reasons[0]
    assert "outside Great Britain" in reasons[2]
    assert "is missing" in reasons[5]
    assert "neither in the file nor in the gazetteer" in reasons[6]
    assert report.counts["property"].created == 1
    assert report.counts["address"].created == 1
    rows = gazetteer_rows(empty_gazetteer)
    assert [row[0] for row in rows["address_lpis"]] == ["5360L000000001"]


def test_a_row_holding_the_nul_character_is_rejected_and_the_others_load(
    borough: Database, empty_gazetteer: Database, tmp_path: Path
) -> None:
    # The bulk loader writes past the engine's NUL guard, so the reader must refuse it.
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    lines = lines_of(path)
    number = next(index for index, line in enumerate(lines) if line.startswith("24,"))
    fields = lines[number].split(",")
    fields[20] = "Rose\x00House"  # PAO_TEXT
    lines[number] = ",".join(fields)
    write_lines(path, lines)

    report = import_gazetteer(empty_gazetteer, path)

    assert [(r.line, r.record_type, r.field) for r in report.rejected] == [
        (number + 1, "LPI", "PAO_TEXT")
    ]
    assert report.counts["address"].created == 413
    with empty_gazetteer.read() as session:
        texts = session.scalars(
            select(AddressRecord.pao_text).where(AddressRecord.pao_text.is_not(None))
        )
        assert not any("\x00" in text for text in texts)


def test_a_truncated_file_loads_what_it_holds_and_deletes_nothing(
    borough: Database, tmp_path: Path
) -> None:
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # cut mid-line

    report = import_gazetteer(borough, path)

    assert not report.full_supply
    assert any("truncated" in warning for warning in report.warnings)
    assert report.counts["address"].deleted == 0
    assert report.counts["property"].deleted == 0
    assert report.rejected_count <= 1  # at most the line cut in two


def test_a_garbage_file_cannot_be_read(empty_gazetteer: Database, tmp_path: Path) -> None:
    path = tmp_path / "garbage.bin"
    path.write_bytes(bytes(range(256)) * 40)

    with pytest.raises(UnreadableFile, match=r"neither an NLPG DTF 7\.3 file"):
        import_gazetteer(empty_gazetteer, path)

    with pytest.raises(UnreadableFile, match="cannot be read"):
        import_gazetteer(empty_gazetteer, tmp_path / "missing.dtf")


def test_a_change_only_file_deletes_a_block_its_flats_and_their_addresses_together(
    borough: Database, tmp_path: Path
) -> None:
    path = tmp_path / "borough.dtf"
    export_gazetteer(borough, path)
    with borough.read() as session:
        parent = session.scalars(
            select(Property.parent_uprn).where(Property.parent_uprn.is_not(None)).limit(1)
        ).one()
        flats = set(session.scalars(select(Property.uprn).where(Property.parent_uprn == parent)))
    family = {parent, *flats}
    # The file lists the block first: the deletions still happen flats first.
    deletions = [
        "21,D," + line.split(",", 2)[2]
        for line in lines_of(path)
        if line.startswith("21,") and int(line.split(",")[3]) in family
    ]
    deletions += [
        "24,D," + line.split(",", 2)[2]
        for line in lines_of(path)
        if line.startswith("24,") and int(line.split(",")[3]) in family
    ]
    change = write_lines(
        tmp_path / "change.dtf",
        [
            "10,Townhall,5360,2025-07-01,1,2025-07-01,10:00:00,7.3,C",
            *deletions,
            f"99,0,{len(deletions) + 2},2025-07-01,10:00:00",
        ],
    )

    report = import_gazetteer(borough, change)

    assert not report.full_supply
    assert report.rejected_count == 0, report.rejected
    assert report.counts["property"].deleted == len(family)
    assert report.counts["property"].unchanged == 0  # nothing else was compared as changed
    assert report.counts["street"].deleted == 0
    with borough.read() as session:
        assert session.scalars(select(Property).where(Property.uprn.in_(family))).all() == []
