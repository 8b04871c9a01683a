"""The events the addresses domain emits: each gazetteer record created, updated or deleted.

This module owns the declarations (types, subjects, data shapes, examples) of the gazetteer's
events. An import writes them through the outbox in its own unit of work. Every kind of record
(street, property, address, cross-reference) has ``created``, ``updated`` and ``deleted``
events whose subject is the record's own key and whose data holds only the fields that changed,
each as ``{"old": ..., "new": ...}`` (a creation's old values and a deletion's new values are
null). Filling an empty gazetteer emits one ``gazetteer.loaded`` event instead of a million
creations (ADR 21): a consumer that needs every record reads the API or an export once, then
follows the events.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from townhall.platform.events.registry import EventType

DOMAIN = "addresses"


class FieldChange(BaseModel):
    """One field's value before and after the change (null when it had none)."""

    model_config = ConfigDict(extra="forbid")

    old: Any = Field(description="The value before the change; null for a creation.")
    new: Any = Field(description="The value after the change; null for a deletion.")


class RecordChanged(BaseModel):
    """What changed in one gazetteer record."""

    model_config = ConfigDict(extra="forbid")

    uprn: int | None = Field(
        description="The UPRN of the property the record belongs to; null for a street."
    )
    import_id: str | None = Field(description="The import that applied the change.")
    changes: dict[str, FieldChange] = Field(
        description="Only the fields that changed, by their name in the API."
    )


class GazetteerLoaded(BaseModel):
    """An empty gazetteer was filled by one import."""

    model_config = ConfigDict(extra="forbid")

    import_id: str = Field(description="The import that filled the gazetteer.")
    streets: int = Field(ge=0, description="Streets created.")
    properties: int = Field(ge=0, description="Properties created.")
    addresses: int = Field(ge=0, description="Addresses (LPIs) created.")
    cross_references: int = Field(ge=0, description="Cross-references created.")


# record type (as in address_changes), its name in event types, what its subject holds.
_KINDS: tuple[tuple[str, str, str], ...] = (
    ("street", "street", "The street's USRN."),
    ("property", "property", "The property's UPRN."),
    ("address", "address", "The address's LPI key (its UPRN's addresses are /properties/{uprn})."),
    ("cross_reference", "cross-reference", "The cross-reference's key."),
)
_VERBS = {
    "created": "was added to the gazetteer",
    "updated": "changed in the gazetteer",
    "deleted": "was removed from the gazetteer",
}
_EXAMPLE: dict[str, Any] = {
    "uprn": 100021045723,
    "import_id": "4f1c2a9e-6d0b-4f7e-9a51-0d3c9a1e2b77",
    "changes": {"postcode": {"old": "E8 1DY", "new": "E8 1DZ"}},
}


def _record_types() -> tuple[EventType, ...]:
    return tuple(
        EventType(
            name=f"{name}.{verb}",
            domain=DOMAIN,
            summary=f"A {name.replace('-', ' ')} {meaning}.",
            subject=subject,
            data=RecordChanged,
            example=_EXAMPLE,
        )
        for _, name, subject in _KINDS
        for verb, meaning in _VERBS.items()
    )


GAZETTEER_LOADED = EventType(
    name="gazetteer.loaded",
    domain=DOMAIN,
    summary=(
        "An empty gazetteer was filled by an import: read the addresses API (or an export) "
        "once, then follow the record events."
    ),
    subject="The import's id.",
    data=GazetteerLoaded,
    example={
        "import_id": "4f1c2a9e-6d0b-4f7e-9a51-0d3c9a1e2b77",
        "streets": 3012,
        "properties": 100000,
        "addresses": 105010,
        "cross_references": 0,
    },
)

ADDRESS_EVENT_TYPES: tuple[EventType, ...] = (*_record_types(), GAZETTEER_LOADED)
# By (record type as stored in address_changes, action): the event type to emit.
RECORD_EVENT_TYPES: dict[tuple[str, str], EventType] = {
    (record_type, t.name.rsplit(".", 1)[1]): t
    for record_type, name, _ in _KINDS
    for t in ADDRESS_EVENT_TYPES
    if t.name.rsplit(".", 1)[0] == name
}
