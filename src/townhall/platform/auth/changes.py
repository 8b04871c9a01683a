"""The administrative change log: who changed which consumer, grant or secret, and when.

This module owns writing and reading ``auth_changes``. ``record_change`` is called inside the
caller's own write unit of work, so a change and its record commit together or not at all.
Details name what changed; they never hold a secret, a hash, or personal data such as a contact's
email address, because the log is read by more people than the things it describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.platform.auth.models import Change
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

# Keys that would make the log leak what it must not hold; a caller passing one is a bug.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"secret", "client_secret", "secret_hash", "password", "contact_email", "email"}
)


@dataclass(frozen=True)
class ChangeRecord:
    """One entry of the change log."""

    id: str
    occurred_at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, Any]


def record_change(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Add an entry to the change log within the caller's write unit of work."""
    leaked = _FORBIDDEN_DETAIL_KEYS & set(details or {})
    if leaked:
        msg = f"change details must not hold {', '.join(sorted(leaked))}"
        raise ValueError(msg)
    session.add(
        Change(
            occurred_at=datetime.now(UTC),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=dict(details or {}),
        )
    )


def list_changes(
    database: Database,
    page: PageRequest,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    action: str | None = None,
) -> Page[ChangeRecord]:
    """One page of the change log, oldest first, optionally about one target or of one action."""
    statement = select(Change)
    if target_type is not None:
        statement = statement.where(Change.target_type == target_type)
    if target_id is not None:
        statement = statement.where(Change.target_id == target_id)
    if action is not None:
        statement = statement.where(Change.action == action)
    with database.read() as session:
        found = keyset_page(
            session, statement, [Change.id.expression], page, lambda row: [row[0].id]
        )
        items = [_record(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def _record(change: Change) -> ChangeRecord:
    return ChangeRecord(
        id=str(change.id),
        occurred_at=aware(change.occurred_at),
        actor=change.actor,
        action=change.action,
        target_type=change.target_type,
        target_id=change.target_id,
        details=dict(change.details),
    )
