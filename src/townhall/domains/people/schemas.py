"""Shapes of person records coming into the people domain.

A bulk load (a source system's extract, the demo borough) hands the service plain tuples with
the fields of ``people_source_records``: a tuple costs a fraction of a validated model, which
matters at hundreds of thousands of rows. A record read back is a ``SourceRecord``; the API
answers with ``SourceRecordPublic``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field


class NewSourceRecord(NamedTuple):
    """One source system's record of one person, as that system holds it."""

    source_system: str
    source_record_id: str
    title: str | None
    first_name: str | None
    middle_names: str | None
    last_name: str
    date_of_birth: date | None
    email: str | None
    phone: str | None
    national_insurance_number: str | None
    address_text: str | None
    postcode: str | None
    uprn: int | None
    attributes: dict[str, Any]
    source_updated_at: datetime


class SourceRecord(NamedTuple):
    """One source person record as stored: its id here, and what its source system holds."""

    id: int
    source: NewSourceRecord


class SourceRecordPublic(BaseModel):
    """One person as one council system holds them, with that system's spelling and dates."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(examples=[1042])
    source_system: str = Field(examples=["housing"])
    source_record_id: str = Field(description="The record's id in its source system.")
    title: str | None
    first_name: str | None
    middle_names: str | None
    last_name: str
    date_of_birth: date | None
    email: str | None
    phone: str | None
    national_insurance_number: str | None
    address_text: str | None = Field(description="The address as the source system wrote it.")
    postcode: str | None
    uprn: int | None = Field(description="The address's UPRN, when the source system knew it.")
    attributes: dict[str, Any] = Field(description="What else the source system holds.")
    source_updated_at: datetime = Field(description="When the source system last changed it.")

    @classmethod
    def of(cls, record: SourceRecord) -> SourceRecordPublic:
        """The public shape of a source record."""
        return cls(id=record.id, **record.source._asdict())
