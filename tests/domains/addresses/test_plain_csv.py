"""The plain CSV: its header, a row per address, validation by line and column."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest

from townhall.domains.addresses.dtf import (
    BlpuRecord,
    Rejection,
    Row,
    UnreadableFile,
    sniff,
)
from townhall.domains.addresses.plain_csv import COLUMNS, PlainCsvReader, PlainCsvWriter
from townhall.domains.addresses.schemas import NewAddress, NewStreet

DAY = date(2024, 5, 6)
STREET = NewStreet(
    usrn=20400001, record_type=1, descriptor="Mortimer Road", locality="Dalston",
    town="LONDON", administrative_area="HACKNEY", state=2, start_easting=533000.0,
    start_northing=184000.0, end_easting=533300.0, end_northing=184100.0, start_date=DAY,
    end_date=None, last_update_date=DAY,
)  # fmt: skip
BLPU = BlpuRecord(
    uprn=100021000001, parent_uprn=None, logical_status=1, blpu_state=2,
    classification_code="RD04", easting=533100.0, northing=184050.0,
    representative_point_code=1, organisation="Corner Shop, Ltd", start_date=DAY,
    end_date=None, last_update_date=DAY,
)  # fmt: skip


def an_address(key: int, flat: int | None) -> NewAddress:
    return NewAddress(
        lpi_key=f"5360L{key:09d}", uprn=100021000001, usrn=20400001, logical_status=1,
        language="ENG", sao_start_number=flat, sao_start_suffix=None, sao_end_number=None,
        sao_end_suffix=None, sao_text=None, pao_start_number=12, pao_start_suffix=None,
        pao_end_number=None, pao_end_suffix=None, pao_text='The "Old" House', level=None,
        postcode="N1 4LA", official_flag="Y", start_date=DAY, end_date=None,
        last_update_date=DAY,
    )  # fmt: skip


def written(tmp_path: Path, *addresses: NewAddress) -> Path:
    buffer = io.StringIO(newline="")
    writer = PlainCsvWriter(buffer)
    for address in addresses:
        writer.address(address, STREET, BLPU)
    path = tmp_path / "gazetteer.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def read(path: Path) -> tuple[list[Row], list[Rejection]]:
    items = list(PlainCsvReader(path).rows())
    return (
        [item for item in items if isinstance(item, Row)],
        [item for item in items if isinstance(item, Rejection)],
    )


def test_the_header_is_documented_and_rows_read_back(tmp_path: Path) -> None:
    path = written(tmp_path, an_address(1, 1), an_address(2, 2))

    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    assert sniff(path) == "csv"
    rows, rejected = read(path)

    assert rejected == []
    assert [row.kind for row in rows] == [
        "property", "descriptor", "street_default", "address", "address"
    ]  # fmt: skip
    assert [row.record for row in rows if row.kind == "address"] == [
        an_address(1, 1),
        an_address(2, 2),
    ]
    assert rows[0].record.organisation == "Corner Shop, Ltd"
    assert rows[1].record.descriptor == "Mortimer Road"


def test_columns_may_come_in_any_order(tmp_path: Path) -> None:
    path = written(tmp_path, an_address(1, None))
    header, row = path.read_text(encoding="utf-8").splitlines()
    reordered = tmp_path / "reordered.csv"
    import csv

    names = next(csv.reader([header]))
    values = next(csv.reader([row]))
    buffer = io.StringIO()
    csv.writer(buffer).writerows([names[::-1], values[::-1]])
    reordered.write_text(buffer.getvalue(), encoding="utf-8")

    rows, rejected = read(reordered)

    assert rejected == []
    assert [row.record for row in rows if row.kind == "address"] == [an_address(1, None)]


def test_a_bad_row_names_its_line_and_column(tmp_path: Path) -> None:
    path = written(tmp_path, an_address(1, 1), an_address(2, 2)._replace(postcode="N1 4LA!"))
    text = path.read_text(encoding="utf-8").replace("2024-05-06", "2024-13-06", 1)
    path.write_text(text, encoding="utf-8")

    _, rejected = read(path)

    assert [(r.line, r.field) for r in rejected] == [(2, "start_date"), (3, "postcode")]
    assert rejected[1].reason == "'N1 4LA!' is not a postcode"


def test_a_csv_without_the_header_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("uprn,lpi_key,name\n1,2,3\n", encoding="utf-8")

    with pytest.raises(UnreadableFile, match="the header lacks parent_uprn"):
        list(PlainCsvReader(path).rows())
