"""A source's field mapping: from its own columns to the fields of a source person record.

This module owns how a row as a source system holds it becomes a ``NewSourceRecord``, with the
transforms real extracts need:

- blank cells (empty or only spaces) are None; other text is kept as it came, capitals and all
  (``upper-case names`` are the source's habit, and linkage compares them case-blind);
- dates and times in the source's own format (``"%d/%m/%Y"``); a time without a zone is in the
  source's ``timezone``;
- a name in one column, either ``"SURNAME, Forenames"`` or ``"Forenames Surname"``, split into
  first name, middle names and surname;
- a UPRN as a whole number;
- yes/no columns for attributes.

A row that cannot be mapped is refused with a ``Refusal``: its position, the column and the
reason, never its values (a sync's problems are read by people who may not see the records).
Nothing here raises for a bad row, and no row is dropped without a refusal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from townhall.domains.people.connectors.base import SourceRow
from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord

# The record's fields a source may map, each from one column.
TEXT_FIELDS = (
    "title",
    "first_name",
    "middle_names",
    "last_name",
    "email",
    "phone",
    "national_insurance_number",
    "address_text",
    "postcode",
)
MAPPABLE_FIELDS = (*TEXT_FIELDS, "date_of_birth", "uprn")
_YES = frozenset({"y", "yes", "true", "t", "1"})
_NO = frozenset({"n", "no", "false", "f", "0"})
# A row's cell that was never there (the column is missing) is told apart from a blank one.
_MISSING = object()


class Column(BaseModel):
    """One column, and how to read it when it is not plain text."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, max_length=200, description="The source's column name.")
    format: str | None = Field(
        default=None,
        max_length=50,
        description='A date or time format ("%d/%m/%Y"); ISO 8601 when not given.',
    )
    kind: Literal["text", "yes_no", "number"] = Field(
        default="text", description="For an attribute: text, a yes/no flag, or a whole number."
    )


class FullName(BaseModel):
    """A column holding the whole name, and the order it is written in."""

    model_config = ConfigDict(extra="forbid")

    column: str = Field(min_length=1, max_length=200)
    style: Literal["surname_comma_forenames", "forenames_surname"] = Field(
        description='"SURNAME, First Middle" or "First Middle Surname".'
    )


def _column(value: str | Column) -> Column:
    return value if isinstance(value, Column) else Column(column=value)


class FieldMapping(BaseModel):
    """How a source's columns become a person record's fields."""

    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(min_length=1, max_length=200, description="The record's id column.")
    updated_at: str | Column | None = Field(
        default=None,
        description="When the source last changed the record; the time it was read if absent.",
    )
    fields: dict[str, str | Column] = Field(
        default_factory=dict, description="Record field name to column."
    )
    full_name: FullName | None = Field(
        default=None, description="A column holding the whole name, when names are not apart."
    )
    attributes: dict[str, str | Column] = Field(
        default_factory=dict, description="Other things the source holds worth keeping."
    )
    timezone: str = Field(
        default="Europe/London", description="The zone of times written without one."
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str | Column]) -> dict[str, str | Column]:
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
        if unknown:
            msg = f"unknown fields {', '.join(unknown)}: use {', '.join(MAPPABLE_FIELDS)}"
            raise ValueError(msg)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            msg = f"{value!r} is not a time zone name (such as Europe/London)"
            raise ValueError(msg) from exc
        return value

    def model_post_init(self, _context: Any) -> None:
        """A surname must come from somewhere: its own column or the whole name's."""
        if "last_name" not in self.fields and self.full_name is None:
            msg = "map last_name to a column, or give full_name"
            raise ValueError(msg)
        if self.full_name is not None and {"first_name", "last_name"} & set(self.fields):
            msg = "give either full_name or first_name and last_name columns, not both"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A row that could not be mapped: where it is, which column, and why (never its values)."""

    position: str
    column: str | None
    reason: str

    def as_problem(self) -> dict[str, str | None]:
        """The shape kept in ``people_syncs.problems``."""
        return {"position": self.position, "column": self.column, "reason": self.reason}


class _Refused(Exception):
    def __init__(self, column: str | None, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _lengths() -> dict[str, int]:
    table = SourcePersonRecord.__table__
    return {
        name: length
        for name in (*TEXT_FIELDS, "source_record_id")
        if (length := getattr(table.c[name].type, "length", None)) is not None
    }


class RowMapper:
    """Maps rows of one source with its ``FieldMapping``; reused for every row of a sync."""

    def __init__(self, source_system: str, mapping: FieldMapping) -> None:
        self.source_system = source_system
        self.mapping = mapping
        self._zone = ZoneInfo(mapping.timezone)
        self._fields = {name: _column(column) for name, column in mapping.fields.items()}
        self._attributes = {name: _column(column) for name, column in mapping.attributes.items()}
        self._updated = None if mapping.updated_at is None else _column(mapping.updated_at)
        self._lengths = _lengths()

    def map(self, row: SourceRow, *, received_at: datetime) -> NewSourceRecord | Refusal:
        """The record ``row`` holds, or why it holds none."""
        try:
            return self._map(row.values, received_at)
        except _Refused as refused:
            return Refusal(row.position, refused.column, refused.reason)

    def _map(self, values: Mapping[str, Any], received_at: datetime) -> NewSourceRecord:
        record_id = self._text(values, self.mapping.record_id, "source_record_id")
        if record_id is None:
            raise _Refused(self.mapping.record_id, "the record id is blank")
        found: dict[str, Any] = {
            name: self._text(values, column.column, name)
            for name, column in self._fields.items()
            if name in TEXT_FIELDS
        }
        if self.mapping.full_name is not None:
            found.update(self._split_name(values, self.mapping.full_name))
        if found.get("last_name") is None:
            column = (
                self.mapping.full_name.column
                if self.mapping.full_name is not None
                else self._fields["last_name"].column
            )
            raise _Refused(column, "the surname is blank")
        born = self._fields.get("date_of_birth")
        uprn = self._fields.get("uprn")
        updated = (
            received_at
            if self._updated is None
            else self._moment(values, self._updated) or _refuse(self._updated, "blank")
        )
        return NewSourceRecord(
            source_system=self.source_system,
            source_record_id=record_id,
            title=found.get("title"),
            first_name=found.get("first_name"),
            middle_names=found.get("middle_names"),
            last_name=found["last_name"],
            date_of_birth=None if born is None else self._date(values, born),
            email=found.get("email"),
            phone=found.get("phone"),
            national_insurance_number=found.get("national_insurance_number"),
            address_text=found.get("address_text"),
            postcode=found.get("postcode"),
            uprn=None if uprn is None else self._uprn(values, uprn.column),
            attributes={
                name: self._attribute(values, column) for name, column in self._attributes.items()
            },
            source_updated_at=updated,
        )

    # Cells.

    def _cell(self, values: Mapping[str, Any], column: str) -> Any:
        value = values.get(column, _MISSING)
        if value is _MISSING:
            raise _Refused(column, "the row has no such column")
        if isinstance(value, str):
            if "\x00" in value:
                raise _Refused(column, "the value holds a NUL character")
            value = value.strip()
            return value or None
        return value

    def _text(self, values: Mapping[str, Any], column: str, field: str | None) -> str | None:
        value = self._cell(values, column)
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        limit = self._lengths.get(field or "")
        if limit is not None and len(text) > limit:
            raise _Refused(column, f"longer than the {limit} characters {field} can hold")
        return text

    def _split_name(self, values: Mapping[str, Any], name: FullName) -> dict[str, str | None]:
        whole = self._text(values, name.column, None)
        if whole is None:
            return {}
        if name.style == "surname_comma_forenames":
            surname, comma, forenames = whole.partition(",")
            if not comma:
                raise _Refused(name.column, 'the name is not written "SURNAME, Forenames"')
            words = forenames.split()
            surname = surname.strip()
        else:
            *words, surname = whole.split()
        split = {
            "first_name": words[0] if words else None,
            "middle_names": " ".join(words[1:]) or None,
            "last_name": surname or None,
        }
        for field, text in split.items():
            limit = self._lengths[field]
            if text is not None and len(text) > limit:
                raise _Refused(name.column, f"longer than the {limit} characters {field} can hold")
        return split

    def _date(self, values: Mapping[str, Any], column: Column) -> date | None:
        value = self._cell(values, column.column)
        if value is None:
            return None
        try:
            if column.format is not None:
                return parse_time(str(value), column.format).date()
            return date.fromisoformat(str(value)[:10])
        except ValueError as exc:
            raise _Refused(column.column, _date_reason(column.format)) from exc

    def _moment(self, values: Mapping[str, Any], column: Column) -> datetime | None:
        value = self._cell(values, column.column)
        if value is None:
            return None
        try:
            moment = parse_time(str(value), column.format)
        except ValueError as exc:
            raise _Refused(column.column, _date_reason(column.format)) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
        return moment.astimezone(UTC)

    def _uprn(self, values: Mapping[str, Any], column: str) -> int | None:
        value = self._cell(values, column)
        if value is None:
            return None
        text = str(value)
        if text.endswith(".0"):  # a spreadsheet saved the number as a decimal
            text = text[:-2]
        if not text.isdigit() or not 0 < int(text) < 10**12:
            raise _Refused(column, "a UPRN is a whole number of up to 12 digits")
        return int(text)

    def _attribute(self, values: Mapping[str, Any], column: Column) -> Any:
        value = self._cell(values, column.column)
        if value is None or column.kind == "text":
            return (
                value
                if value is None or isinstance(value, str | int | float | bool)
                else str(value)
            )
        text = str(value).lower()
        if column.kind == "yes_no":
            if text in _YES:
                return True
            if text in _NO:
                return False
            raise _Refused(column.column, "expected yes or no")
        try:
            return int(text)
        except ValueError as exc:
            raise _Refused(column.column, "expected a whole number") from exc


@lru_cache(maxsize=100_000)
def parse_time(written: str, format: str | None) -> datetime:
    """A date or time as written in ``format`` (ISO 8601 when None); ValueError if it is not.

    Remembered: an extract repeats its dates (a birthday, the minute of a nightly job) many
    times, and ``strptime`` was the largest cost of mapping a row.
    """
    if format is None:
        return datetime.fromisoformat(written)
    return datetime.strptime(written, format)  # noqa: DTZ007 - the zone is the caller's


def _refuse(column: Column, what: str) -> datetime:
    raise _Refused(column.column, f"the time of the last change is {what}")


def _date_reason(written: str | None) -> str:
    return f"not a date in the format {written}" if written else "not an ISO 8601 date"


def content_hash(record: NewSourceRecord) -> str:
    """A hash of the record's mapped fields, but not when the source says it changed them.

    A row sent again with only a touched timestamp is the same record: no new version.
    """
    fields = record._asdict()
    del fields["source_updated_at"]
    encoded = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()
