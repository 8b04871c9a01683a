"""The DTF 7.3 reader and writer: field orders, validation by line and field, round trips."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townhall.domains.addresses.dtf import (
    FIELDS,
    BadField,
    BlpuRecord,
    DtfReader,
    DtfWriter,
    Rejection,
    Row,
    sniff,
)
from townhall.domains.addresses.schemas import NewAddress, NewCrossReference, NewStreet

DAY = date(2024, 5, 6)
STREET = NewStreet(
    usrn=20400001, record_type=1, descriptor="Mortimer Road", locality="Dalston",
    town="LONDON", administrative_area="HACKNEY", state=2, start_easting=533000.5,
    start_northing=184000.0, end_easting=533300.0, end_northing=184100.25, start_date=DAY,
    end_date=None, last_update_date=DAY,
)  # fmt: skip
BLPU = BlpuRecord(
    uprn=100021000001, parent_uprn=None, logical_status=1, blpu_state=2,
    classification_code="RD04", easting=533100.0, northing=184050.0,
    representative_point_code=1, organisation=None, start_date=DAY, end_date=None,
    last_update_date=DAY,
)  # fmt: skip
ADDRESS = NewAddress(
    lpi_key="5360L000000001", uprn=100021000001, usrn=20400001, logical_status=1,
    language="ENG", sao_start_number=None, sao_start_suffix=None, sao_end_number=None,
    sao_end_suffix=None, sao_text=None, pao_start_number=12, pao_start_suffix="A",
    pao_end_number=None, pao_end_suffix=None, pao_text=None, level=None, postcode="N1 4LA",
    official_flag="Y", start_date=DAY, end_date=None, last_update_date=DAY,
)  # fmt: skip
XREF = NewCrossReference(
    xref_key="5360X000000001", uprn=100021000001, cross_reference="CT-1", version=1,
    source="7666VC", start_date=DAY, end_date=None, last_update_date=DAY,
)  # fmt: skip


def written(tmp_path: Path, address: NewAddress = ADDRESS, blpu: BlpuRecord = BLPU) -> Path:
    buffer = io.StringIO(newline="")
    writer = DtfWriter(buffer, custodian_code=5360)
    writer.header()
    writer.street(STREET)
    writer.blpu(blpu)
    writer.xref(XREF)
    writer.lpi(address, "LONDON")
    writer.trailer()
    path = tmp_path / "gazetteer.dtf"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")
    return path


def read(path: Path) -> tuple[list[Row], list[Rejection], DtfReader]:
    reader = DtfReader(path)
    items = list(reader.rows())
    rows = [item for item in items if isinstance(item, Row)]
    return rows, [item for item in items if isinstance(item, Rejection)], reader


def test_each_record_is_written_with_the_dtf_7_3_fields_in_order(tmp_path: Path) -> None:
    lines = written(tmp_path).read_text(encoding="utf-8").splitlines()

    assert [line.split(",")[0] for line in lines] == [
        "10", "29", "11", "15", "21", "23", "24", "99"
    ]  # fmt: skip
    for line in lines:
        fields = line.split(",")
        assert len(fields) == len(FIELDS[fields[0]]), line
    lpi = dict(zip(FIELDS["24"], lines[6].split(","), strict=True))
    assert lpi["CHANGE_TYPE"] == "I"
    assert lpi["PRO_ORDER"] == "6"
    assert (lpi["UPRN"], lpi["LPI_KEY"], lpi["USRN"]) == (
        "100021000001", "5360L000000001", "20400001"
    )  # fmt: skip
    assert (lpi["PAO_START_NUMBER"], lpi["PAO_START_SUFFIX"], lpi["POSTCODE"]) == (
        "12", "A", "N1 4LA"
    )  # fmt: skip
    assert lpi["POST_TOWN"] == "LONDON"
    header = dict(zip(FIELDS["10"], lines[0].split(","), strict=True))
    assert (header["VERSION"], header["FILE_TYPE"]) == ("7.3", "F")
    assert lines[-1].split(",")[2] == "8"  # the trailer counts every record
    assert sniff(tmp_path / "gazetteer.dtf") == "dtf"


def test_what_is_written_is_read_back(tmp_path: Path) -> None:
    rows, rejected, reader = read(written(tmp_path))

    assert rejected == []
    assert reader.facts.full_supply
    assert reader.facts.warnings == []
    by_kind = {row.kind: row for row in rows}
    assert by_kind["address"].record == ADDRESS
    assert by_kind["address"].line == 7
    assert by_kind["xref"].record == XREF
    assert by_kind["property"].record == BlpuRecord(*BLPU)
    assert by_kind["descriptor"].record.descriptor == "Mortimer Road"
    assert by_kind["street"].record.start_easting == 533000.5


def test_a_bad_row_names_its_line_and_field(tmp_path: Path) -> None:
    path = written(tmp_path, ADDRESS._replace(postcode="N1 4LA", logical_status=4))

    rows, rejected, _ = read(path)

    assert rejected == [
        Rejection(7, "LPI", "LOGICAL_STATUS", "'4' is not a logical status (1/3/5/6/7/8/9)")
    ]
    assert "address" not in {row.kind for row in rows}


def test_a_row_of_the_wrong_width_and_a_row_after_the_trailer_are_rejected(
    tmp_path: Path,
) -> None:
    path = written(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(4, "21,I,9,100021000009,1")
    lines.append("24,I,10")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    _, rejected, reader = read(path)

    assert [(r.line, r.record_type) for r in rejected] == [(5, "BLPU"), (10, "24")]
    assert "has 5 fields" in rejected[0].reason
    assert "after the trailer" in rejected[1].reason
    assert any("counts 8 records" in warning for warning in reader.facts.warnings)


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    min_size=1,
    max_size=30,
).filter(lambda value: value.strip() == value)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sao_text=st.none() | _text,
    pao_text=st.none() | _text,
    pao_start_number=st.none() | st.integers(min_value=0, max_value=32767),
    easting=st.floats(min_value=0, max_value=700_000, allow_nan=False),
    start=st.dates(min_value=date(1800, 1, 1), max_value=date(2999, 12, 31)),
)
def test_any_text_number_coordinate_or_date_survives_the_round_trip(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    sao_text: str | None,
    pao_text: str | None,
    pao_start_number: int | None,
    easting: float,
    start: date,
) -> None:
    address = ADDRESS._replace(
        sao_text=sao_text, pao_text=pao_text, pao_start_number=pao_start_number,
        start_date=start,
    )  # fmt: skip
    blpu = BLPU._replace(easting=easting)
    directory = tmp_path_factory.mktemp("dtf")

    rows, rejected, _ = read(written(directory, address, blpu))

    assert rejected == []
    by_kind = {row.kind: row.record for row in rows}
    assert by_kind["address"] == address
    assert by_kind["property"].easting == easting


_ODD_VALUES = [
    "", " ", "0", "00", "007", "32767", "32768", "-1", "+1", "1.5", "1e3", "١٢", "nan", "inf",
    "abc", "A", "AB", "ABC", "\x00", "a\x00", "2024-05-06", "2024-5-6", "2024-02-30",
    "N1 4LA", " n1  4la ", "N1-4LA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x" * 91, "x" * 101,
    "100021000001", "1000210000011", "000000000000", "20400001", "204000011", "I", "U", "D", "X",
]  # fmt: skip


@pytest.mark.parametrize("record_type", ["21", "24"])
def test_the_quick_check_of_a_row_agrees_with_the_check_field_by_field(
    tmp_path: Path, record_type: str
) -> None:
    # BLPU and LPI rows are checked with lookups first and field by field only when a lookup
    # fails; both must keep or refuse exactly the same rows, with the same reason.
    line = next(
        line.split(",")
        for line in written(tmp_path).read_text(encoding="utf-8").splitlines()
        if line.startswith(record_type + ",")
    )
    reader = DtfReader(tmp_path / "gazetteer.dtf")
    quick = reader._blpu if record_type == "21" else reader._lpi
    careful = reader._blpu_checked if record_type == "21" else reader._lpi_checked

    def outcome(check: Any, fields: list[str]) -> object:
        try:
            return check(fields, 3)
        except BadField as bad:
            return (bad.field, bad.reason)

    compared = 0
    for index in range(1, len(line)):
        for value in _ODD_VALUES:
            fields = [*line[:index], value, *line[index + 1 :]]
            # Twice: a value seen once is remembered (dates, postcodes) the second time.
            for _ in range(2):
                assert outcome(quick, fields) == outcome(careful, fields), (index, value)
                compared += 1
    assert compared == 2 * (len(line) - 1) * len(_ODD_VALUES)
    assert isinstance(outcome(quick, line), Row)
