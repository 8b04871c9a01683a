"""The administrative change log: who changed which consumer, grant or secret, and when.

This module owns writing and reading ``auth_changes``. ``record_change`` is called inside the
caller's own write unit of work, so a change and its record commit together or not at all. Each
change is also a record in the audit trail (``access-control``, who may use council data), in the
same unit of work, so the data protection officer sees who changed access beside who used data.
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

from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import ACCESS_CONTROL, ACCESS_RULES, Action, ActorKind
from townhall.platform.auth.models import Change
from townhall.platform.auth.sign_in_models import StaffAccount
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

# Keys that would make the log leak what it must not hold; a caller passing one is a bug.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"secret", "client_secret", "secret_hash", "password", "contact_email", "email"}
)
# Why anyone changes consumers, grants, keys or accounts, as the audit trail records it.
MANAGING_ACCESS = "Managing who may use council data"


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
    record_uses(
        session,
        [
            DataUse(
                actor=change_actor(session, actor),
                action=Action.CHANGED,
                service=ACCESS_CONTROL,
                data_kind=ACCESS_RULES,
                resident_id=None,
                subject=f"{target_type}:{target_id}"[:200],
                details={"change": action},
            )
        ],
    )


def change_actor(session: Session, actor: str) -> Actor:
    """The change log's name of who made a change, as the audit trail's ``Actor``.

    ``consumer:<id>`` is an application (the admin API), ``resident_account:<id>`` a resident,
    a staff account id a member of staff (with their role now); anything else (``sign-in``,
    ``identity-provider``, ``cli:<user>``) is Townhall itself, keeping the name as its id.
    """
    kind, _, rest = actor.partition(":")
    if kind == "consumer" and rest:
        return Actor(kind=ActorKind.CONSUMER, purpose=MANAGING_ACCESS, consumer_id=rest)
    if kind == "resident_account" and rest:
        return Actor(kind=ActorKind.RESIDENT, purpose=MANAGING_ACCESS, id=rest)
    role = session.scalar(select(StaffAccount.role).where(StaffAccount.id == actor))
    if role is not None:
        return Actor(kind=ActorKind.STAFF, purpose=MANAGING_ACCESS, id=actor, role=role)
    return Actor(kind=ActorKind.SYSTEM, purpose=MANAGING_ACCESS, id=actor[:64])


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
