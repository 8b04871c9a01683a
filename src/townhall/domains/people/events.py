"""The events the people domain emits: source records arriving, and residents changing.

This module owns the declarations. Events about people carry ids and the names of what changed,
never the values: a subscriber that needs the person's details reads the API, where the read is
authorised by its grant and recorded in the audit trail for the resident to see (ADR 34). Every
event is written through the outbox in the unit of work of the change it announces.

- ``person-record.created`` / ``person-record.updated``: a sync brought a new source record, or a
  change to one. The linker follows these to place each record in a resident as it arrives.
- ``person-records.loaded``: a source's first load (ADR 32): one event instead of one per record;
  its records are placed by a full linking run, not by following events.
- ``resident.created``: a new resident (a record that matched no one, or a split).
- ``resident.updated``: a resident's golden record or its links changed.
- ``resident.merged``: residents became one; the others' ids now lead to the survivor.
- ``resident.split``: records were taken out of a resident into another (an unlink, an undo).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from townhall.platform.events.registry import EventType

DOMAIN = "people"


class PersonRecordChanged(BaseModel):
    """A source system's record of a person arrived or changed."""

    model_config = ConfigDict(extra="forbid")

    record_id: int = Field(description="The source record's id here (/people/source-records/{id}).")
    source_system: str = Field(description="The source system that holds it.")
    sync_id: int | None = Field(description="The sync that brought it.")
    version: int = Field(ge=1, description="The record's version here: 1 when it first came.")
    changed_fields: list[str] = Field(
        description="The fields that changed (names, not values); every field for a new record."
    )


class PersonRecordsLoaded(BaseModel):
    """A source system's records were loaded for the first time, in bulk."""

    model_config = ConfigDict(extra="forbid")

    source_system: str = Field(description="The source system whose records were loaded.")
    sync_id: int = Field(description="The sync that loaded them (/people/sources/{name}/syncs).")
    added: int = Field(ge=0, description="How many records it added.")
    changed: int = Field(ge=0, description="How many records it changed (a resumed load).")


class ResidentChanged(BaseModel):
    """A resident was created or changed."""

    model_config = ConfigDict(extra="forbid")

    resident_id: str = Field(description="The resident's stable id.")
    decision_id: int | None = Field(description="The link decision that made the change.")
    source_record_ids: list[int] = Field(description="The resident's source records now.")
    changed_fields: list[str] = Field(
        description="The golden record's fields that changed (names, not values)."
    )


class ResidentsMerged(BaseModel):
    """Residents became one."""

    model_config = ConfigDict(extra="forbid")

    resident_id: str = Field(description="The surviving resident.")
    merged_ids: list[str] = Field(description="The residents merged into it; their ids lead here.")
    decision_id: int | None = Field(description="The link decision that merged them.")


class ResidentSplit(BaseModel):
    """Source records were taken out of a resident into another."""

    model_config = ConfigDict(extra="forbid")

    resident_id: str = Field(description="The resident the records were taken from.")
    new_resident_id: str = Field(description="The resident that now holds them.")
    source_record_ids: list[int] = Field(description="The records that moved.")
    decision_id: int | None = Field(description="The link decision that split them.")


PERSON_RECORD_CREATED = EventType(
    name="person-record.created",
    domain=DOMAIN,
    summary="A source system's record of a person arrived for the first time.",
    subject="The source record's id here.",
    data=PersonRecordChanged,
    example={
        "record_id": 1042,
        "source_system": "housing",
        "sync_id": 7,
        "version": 1,
        "changed_fields": ["first_name", "last_name", "date_of_birth", "postcode"],
    },
)
PERSON_RECORD_UPDATED = EventType(
    name="person-record.updated",
    domain=DOMAIN,
    summary="A source system changed its record of a person.",
    subject="The source record's id here.",
    data=PersonRecordChanged,
    example={
        "record_id": 1042,
        "source_system": "housing",
        "sync_id": 8,
        "version": 2,
        "changed_fields": ["address_text", "postcode", "uprn"],
    },
)
PERSON_RECORDS_LOADED = EventType(
    name="person-records.loaded",
    domain=DOMAIN,
    summary="A source system's records were loaded for the first time, in bulk (no event each).",
    subject="The source system's name.",
    data=PersonRecordsLoaded,
    example={"source_system": "housing", "sync_id": 1, "added": 24180, "changed": 0},
)
RESIDENT_CREATED = EventType(
    name="resident.created",
    domain=DOMAIN,
    summary="A new resident: a record that matched no one, or records split from another.",
    subject="The resident's id.",
    data=ResidentChanged,
    example={
        "resident_id": "R7K3MQ9XA2",
        "decision_id": 12,
        "source_record_ids": [1042],
        "changed_fields": ["first_name", "last_name", "date_of_birth"],
    },
)
RESIDENT_UPDATED = EventType(
    name="resident.updated",
    domain=DOMAIN,
    summary="A resident's golden record or linked records changed.",
    subject="The resident's id.",
    data=ResidentChanged,
    example={
        "resident_id": "R7K3MQ9XA2",
        "decision_id": 13,
        "source_record_ids": [1042, 2210],
        "changed_fields": ["email"],
    },
)
RESIDENT_MERGED = EventType(
    name="resident.merged",
    domain=DOMAIN,
    summary="Residents were found to be one person; the merged ids now lead to the survivor.",
    subject="The surviving resident's id.",
    data=ResidentsMerged,
    example={"resident_id": "R7K3MQ9XA2", "merged_ids": ["R2B4C6D8E0"], "decision_id": 14},
)
RESIDENT_SPLIT = EventType(
    name="resident.split",
    domain=DOMAIN,
    summary="Records were taken out of a resident into another resident.",
    subject="The resident the records were taken from.",
    data=ResidentSplit,
    example={
        "resident_id": "R7K3MQ9XA2",
        "new_resident_id": "R9Z8Y7X6W5",
        "source_record_ids": [2210],
        "decision_id": 15,
    },
)

PEOPLE_EVENT_TYPES: tuple[EventType, ...] = (
    PERSON_RECORD_CREATED,
    PERSON_RECORD_UPDATED,
    PERSON_RECORDS_LOADED,
    RESIDENT_CREATED,
    RESIDENT_UPDATED,
    RESIDENT_MERGED,
    RESIDENT_SPLIT,
)
