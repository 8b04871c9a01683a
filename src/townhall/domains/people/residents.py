"""Residents: the source records linked under one stable id, and every change to those links.

This module owns ``people_residents`` and ``people_links``. ``apply`` is the one way links change:
it moves records between residents in one unit of work, with the residents it creates, merges or
empties, the golden record of every resident it touched recomputed (``golden``), the events
(``resident.created``/``updated``/``merged``/``split``), one ``LinkDecision`` holding every change
(``decisions.undo`` reverses it), and an audit use per resident touched. Merge and unlink (staff
actions), review accept/reject, the incremental linker and the full re-run all go through it.
Reads (search, one resident with its records and decisions) are here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from townhall.domains.people.decisions import Decision
from townhall.platform.audit.uses import Actor
from townhall.platform.db import Database
from townhall.platform.http.pagination import Page, PageRequest


@dataclass(frozen=True)
class ResidentSummary:
    """One resident as a search lists them: the golden name, birth date and address."""

    id: str
    first_name: str | None
    last_name: str | None
    date_of_birth: date | None
    postcode: str | None
    uprn: int | None
    source_records: int  # how many source records are linked to it


@dataclass(frozen=True)
class LinkedRecord:
    """A source record linked to a resident: which system's, who it names, how it was linked."""

    source_record_id: int  # the record's id here (/people/source-records/{id})
    source_system: str
    source_system_record_id: str  # its id in the source system
    first_name: str | None
    last_name: str
    date_of_birth: date | None
    postcode: str | None
    source_updated_at: datetime
    # model | review | staff | rerun | alone
    how: str
    match_probability: float | None
    linked_at: datetime
    decision_id: int | None


@dataclass(frozen=True)
class ResidentView:
    """One resident: the golden record, contact details, addresses, records and decisions.

    ``golden`` maps each field to {"value", "source_system", "source_record_id", "record_id",
    "updated_at", "rule"}; ``contact_details`` lists every distinct email and phone
    ({"kind", "value", "sources": [{"source_system", "record_id"}], "last_seen"});
    ``addresses`` every distinct address ({"uprn", "address_text", "postcode", "sources",
    "golden"}). A merged resident has no records; ``merged_into`` says where they went.
    """

    id: str
    status: str  # active | merged | empty
    merged_into: str | None
    version: int  # the ETag's basis: bumped on every change
    created_at: datetime
    updated_at: datetime
    golden: dict[str, Any]
    contact_details: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    records: list[LinkedRecord]
    # The decisions that touched it, newest first.
    decisions: list[Decision]


def search_residents(
    database: Database,
    page: PageRequest,
    *,
    q: str | None = None,
    date_of_birth: date | None = None,
    postcode: str | None = None,
    uprn: int | None = None,
) -> Page[ResidentSummary]:
    """Active residents matching every filter given, by id.

    ``q`` matches any name of any linked record, whatever the case, accents or order of words
    ("o'neill mary" finds Mary O'Neill). At least one filter is required (ValidationFailed).
    """
    raise NotImplementedError


def get_resident(database: Database, resident_id: str) -> ResidentView:
    """One resident, merged or not (a merged one says ``merged_into``); NotFound if none."""
    raise NotImplementedError


def survivor_of(database: Database, resident_id: str) -> str:
    """The active resident an id leads to (itself when active), following merges; NotFound."""
    raise NotImplementedError


def resident_of_record(database: Database, source_record_id: int) -> str | None:
    """The resident a source record is linked to now (None before it is linked)."""
    raise NotImplementedError


def list_links(database: Database, resident_id: str) -> list[LinkedRecord]:
    """The source records linked to a resident, oldest link first; NotFound if no resident."""
    raise NotImplementedError


def aliases_of(database: Database, resident_id: str) -> list[str]:
    """``resident_id`` and every id merged into it, directly or through others.

    A resident's view of the uses of their data follows these: uses recorded under an id later
    merged into theirs are theirs too.
    """
    raise NotImplementedError


def merge(
    database: Database, resident_id: str, other_resident_id: str, *, actor: Actor, reason: str
) -> Decision:
    """Move every record of ``other_resident_id`` into ``resident_id`` (how = staff).

    The other resident becomes ``merged`` into this one. A decision, undoable. NotFound for an
    unknown id; Conflict when either is not active, they are the same, or a pair of their
    records is kept apart.
    """
    raise NotImplementedError


def unlink(
    database: Database,
    source_record_id: int,
    *,
    actor: Actor,
    reason: str,
    into: str | None = None,
) -> Decision:
    """Take a record out of its resident: into a new resident of its own, or ``into`` another.

    The record is kept apart from every record of the resident it left, so no run re-links it.
    A decision, undoable. NotFound for an unknown record or resident; Conflict when the record
    is its resident's only record and ``into`` is None, or ``into`` is not active.
    """
    raise NotImplementedError
