"""A source's field mapping: its columns into a person record, undoing real extracts' habits."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from townhall.domains.people.connectors.base import SourceRow
from townhall.domains.people.connectors.mapping import (
    FieldMapping,
    Refusal,
    RowMapper,
    content_hash,
)
from townhall.domains.people.schemas import NewSourceRecord

RECEIVED = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
HOUSING = FieldMapping.model_validate(
    {
        "record_id": "Person Ref",
        "updated_at": {"column": "Last Updated", "format": "%d/%m/%Y %H:%M"},
        "full_name": {"column": "Name", "style": "surname_comma_forenames"},
        "fields": {
            "date_of_birth": {"column": "DOB", "format": "%d/%m/%Y"},
            "address_text": "Address",
            "uprn": "UPRN",
        },
        "attributes": {"tenure": "Tenure", "joint": {"column": "Joint", "kind": "yes_no"}},
    }
)


def housing_row(**changes: Any) -> SourceRow:
    values = {
        "Person Ref": "HSG0000001", "Name": "O'BRIEN, BILL JAMES", "DOB": "07/03/1980",
        "Address": "3 MORTIMER RD", "UPRN": "100021000003", "Tenure": "Secure", "Joint": "Y",
        "Last Updated": "06/05/2024 08:08",
    }  # fmt: skip
    values.update(changes)
    return SourceRow("housing.csv:2", values)


def mapped(row: SourceRow, mapping: FieldMapping = HOUSING) -> NewSourceRecord | Refusal:
    return RowMapper("housing", mapping).map(row, received_at=RECEIVED)


def test_a_row_becomes_a_record_with_the_source_habits_undone() -> None:
    record = mapped(housing_row())

    assert isinstance(record, NewSourceRecord)
    # Capitals are kept as the source wrote them; "SURNAME, Forenames" is split.
    assert (record.first_name, record.middle_names, record.last_name) == (
        "BILL",
        "JAMES",
        "O'BRIEN",
    )
    assert record.date_of_birth == date(1980, 3, 7)
    assert record.uprn == 100021000003
    assert record.attributes == {"tenure": "Secure", "joint": True}
    # Europe/London by default: 08:08 in May is 07:08 UTC.
    assert record.source_updated_at == datetime(2024, 5, 6, 7, 8, tzinfo=UTC)


def test_blank_cells_are_none_and_the_whole_name_can_be_forenames_first() -> None:
    mapping = FieldMapping.model_validate(
        {
            "record_id": "Permit",
            "full_name": {"column": "Holder", "style": "forenames_surname"},
            "fields": {"email": "Email", "uprn": "UPRN"},
            "timezone": "UTC",
        }
    )
    row = SourceRow(
        "parking.csv:9", {"Permit": "PK1", "Holder": "Mary Ann Smith", "Email": "  ", "UPRN": ""}
    )

    record = mapped(row, mapping)

    assert isinstance(record, NewSourceRecord)
    assert (record.first_name, record.middle_names, record.last_name) == ("Mary", "Ann", "Smith")
    assert (record.email, record.uprn) == (None, None)
    # No "updated at" column: the time the row was read.
    assert record.source_updated_at == RECEIVED


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"DOB": "1980-03-07"}, "DOB", "not a date in the format %d/%m/%Y"),
        ({"UPRN": "UPRN-12"}, "UPRN", "a UPRN is a whole number of up to 12 digits"),
        ({"Name": "BILL O'BRIEN"}, "Name", 'the name is not written "SURNAME, Forenames"'),
        ({"Name": ", BILL"}, "Name", "the surname is blank"),
        ({"Person Ref": " "}, "Person Ref", "the record id is blank"),
        ({"Joint": "maybe"}, "Joint", "expected yes or no"),
        ({"Address": "3 MORTIMER RD\x00"}, "Address", "the value holds a NUL character"),
        ({"Last Updated": ""}, "Last Updated", "the time of the last change is blank"),
    ],
)
def test_a_row_that_cannot_be_mapped_is_refused_with_its_reason_and_no_value(
    changes: dict[str, str], column: str, reason: str
) -> None:
    refusal = mapped(housing_row(**changes))

    assert refusal == Refusal("housing.csv:2", column, reason)
    assert refusal.as_problem() == {"position": "housing.csv:2", "column": column, "reason": reason}


def test_a_missing_column_and_a_value_too_long_are_refused() -> None:
    values = housing_row().values
    del values["Address"]
    assert mapped(SourceRow("p", values)) == Refusal("p", "Address", "the row has no such column")
    too_long = mapped(housing_row(Address="x" * 301))
    assert isinstance(too_long, Refusal)
    assert too_long.reason == "longer than the 300 characters address_text can hold"


@pytest.mark.parametrize(
    "config",
    [
        {"record_id": "id", "fields": {"first_name": "a"}},  # no surname anywhere
        {"record_id": "id", "fields": {"last_name": "a", "shoe_size": "b"}},
        {"record_id": "id", "fields": {"last_name": "a"}, "timezone": "Mars/Olympus"},
        {
            "record_id": "id",
            "fields": {"last_name": "a"},
            "full_name": {"column": "n", "style": "forenames_surname"},
        },
    ],
)
def test_a_mapping_that_cannot_work_is_refused_when_it_is_given(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FieldMapping.model_validate(config)


def test_the_hash_tells_a_change_from_a_touched_timestamp() -> None:
    record = mapped(housing_row())
    touched = mapped(housing_row(**{"Last Updated": "07/05/2024 09:00"}))
    moved = mapped(housing_row(Address="4 MORTIMER RD"))
    assert isinstance(record, NewSourceRecord)
    assert isinstance(touched, NewSourceRecord)
    assert isinstance(moved, NewSourceRecord)

    assert content_hash(record) == content_hash(touched)
    assert content_hash(record) != content_hash(moved)
