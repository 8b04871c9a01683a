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


class SyncProblem(BaseModel):
    """A row a sync refused: where it is in the source, which column, and why (no values)."""

    model_config = ConfigDict(extra="forbid")

    position: str = Field(examples=["housing.csv:1042"])
    column: str | None = Field(examples=["DOB"])
    reason: str = Field(examples=["not a date in the format %d/%m/%Y"])


class SyncPublic(BaseModel):
    """One sync of a source system: from which position to which, and what it changed."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(examples=[7])
    source: str = Field(examples=["housing"])
    status: str = Field(description="running, finished or failed.", examples=["finished"])
    started_at: datetime
    finished_at: datetime | None
    from_position: str | None = Field(description="Where it started, in the connector's terms.")
    to_position: str | None = Field(description="How far it read (and committed).")
    rows_read: int = Field(examples=[24180])
    added: int = Field(description="New records.", examples=[12])
    changed: int = Field(description="Records that changed (a new version each).", examples=[40])
    unchanged: int = Field(description="Rows read again with nothing changed.", examples=[24100])
    refused: int = Field(description="Rows that could not be mapped.", examples=[28])
    problems: list[SyncProblem] = Field(
        description="The refused rows' positions and reasons (the first 1,000)."
    )
    error: str | None = Field(description="Why the sync failed, when it did.")

    @classmethod
    def of(cls, sync: Any) -> SyncPublic:
        """The public shape of a ``sources.Sync``."""
        return cls.model_validate(sync, from_attributes=True)


class SourcePublic(BaseModel):
    """One of the council's systems holding records of people, and how it stands."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(examples=["housing"])
    label: str = Field(examples=["Housing (tenancies)"])
    connector: str = Field(description="How it is read: csv or sql.", examples=["csv"])
    trust: int = Field(description="1 is the most trusted source.", examples=[3])
    settings: dict[str, Any] = Field(
        description="The connector's settings that say where and how it is read (no secrets)."
    )
    position: str | None = Field(description="How far the last sync read.")
    last_synced_at: datetime | None
    created_at: datetime
    records: int = Field(description="The source records it holds.", examples=[24180])
    last_sync: SyncPublic | None
