"""Searching the audit trail, for data protection officers: every field of every record.

This module owns reading ``audit_records`` by resident, consumer, member of staff, action,
service and time, newest first, a page at a time. Each record found says whether a hold hides
it from its resident now (``resident_view.hidden_by_hold``, the one statement of that rule).
It only reads: showing the results is itself a use of the residents' data, which the caller
records (one use per resident in ``resident_ids``) before answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from townhall.platform.audit.models import AuditRecord
from townhall.platform.audit.resident_view import hidden_by_hold, newest_first
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest


@dataclass(frozen=True)
class RecordFilters:
    """What to search for; every filter given must match."""

    resident_id: str | None = None
    consumer_id: str | None = None
    actor_id: str | None = None
    action: str | None = None
    service: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


@dataclass(frozen=True)
class FoundRecord:
    """An audit record with every field, and whether a hold hides it from its resident now."""

    position: int
    id: str
    occurred_at: datetime
    actor_kind: str
    actor_id: str | None
    actor_role: str | None
    consumer_id: str | None
    purpose: str
    action: str
    service: str
    data_kind: str
    resident_id: str | None
    subject: str | None
    request_id: str | None
    details: dict[str, Any]
    previous_hash: str
    hash: str
    hidden: bool = False


def search_records(
    database: Database, filters: RecordFilters, page: PageRequest, *, now: datetime
) -> Page[FoundRecord]:
    """One page of the records matching ``filters``, newest first."""
    statement = _matching(filters).add_columns(hidden_by_hold(now))
    with database.read() as session:
        found = newest_first(session, statement, page)
        records = [found_record(row[0], hidden=bool(row[1])) for row in found.items]
    return Page(items=records, next_position=found.next_position)


def resident_ids(records: Sequence[FoundRecord]) -> list[str]:
    """The residents the records are about, each once, in the order first shown."""
    return list(dict.fromkeys(r.resident_id for r in records if r.resident_id is not None))


def found_record(row: AuditRecord, *, hidden: bool = False) -> FoundRecord:
    """A stored record as a value."""
    return FoundRecord(
        position=row.position,
        id=row.id,
        occurred_at=aware(row.occurred_at),
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        actor_role=row.actor_role,
        consumer_id=row.consumer_id,
        purpose=row.purpose,
        action=row.action,
        service=row.service,
        data_kind=row.data_kind,
        resident_id=row.resident_id,
        subject=row.subject,
        request_id=row.request_id,
        details=dict(row.details),
        previous_hash=row.previous_hash,
        hash=row.hash,
        hidden=hidden,
    )


def _matching(filters: RecordFilters) -> Select[Any]:
    statement = select(AuditRecord)
    for column, value in (
        (AuditRecord.resident_id, filters.resident_id),
        (AuditRecord.consumer_id, filters.consumer_id),
        (AuditRecord.actor_id, filters.actor_id),
        (AuditRecord.action, filters.action),
        (AuditRecord.service, filters.service),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if filters.occurred_from is not None:
        statement = statement.where(AuditRecord.occurred_at >= filters.occurred_from)
    if filters.occurred_to is not None:
        statement = statement.where(AuditRecord.occurred_at <= filters.occurred_to)
    return statement
