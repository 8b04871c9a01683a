"""Holds: an investigation's accesses hidden from the resident concerned until a date.

This module owns making, listing and lifting ``audit_holds`` and the rule of what a hold hides.
A hold never changes a record: it is a filter on what the resident is shown. Making one and
lifting one are themselves audit records (``hid`` and ``lifted``, about the hold's resident),
written in the same unit of work as the hold, so no hold exists without its record.

What a hold hides is stated once, in SQL, by ``resident_view.hidden_by_hold``: while it is active
(before ``hidden_until``, not lifted), the records about its resident by its consumer and/or
member of staff, within its window when it has one, and the record of making the hold itself.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.errors import Conflict, FieldError, NotFound, ValidationFailed
from townhall.platform.audit.models import AuditHold
from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import DATA_PROTECTION, DATA_USES, Action
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

# How far ahead a hold may hide accesses: long enough for an investigation, short enough that
# a forgotten hold does not keep a resident in the dark for good.
LONGEST_HOLD = timedelta(days=2 * 366)
MAX_REASON = 2000


@dataclass(frozen=True)
class HoldRecord:
    """One hold, as the data protection officer sees it."""

    id: str
    resident_id: str
    consumer_id: str | None
    actor_id: str | None
    accessed_from: datetime | None
    accessed_to: datetime | None
    hidden_until: datetime
    reason: str
    created_by: str
    created_at: datetime
    lifted_at: datetime | None
    record_position: int

    def active(self, now: datetime) -> bool:
        """Whether the hold hides anything at ``now``."""
        return self.lifted_at is None and now < self.hidden_until


@dataclass(frozen=True)
class NewHold:
    """A hold to make, as a data protection officer asked for it."""

    resident_id: str
    reason: str
    hidden_until: date
    consumer_id: str | None = None
    actor_id: str | None = None
    accessed_from: datetime | None = None
    accessed_to: datetime | None = None


def hold_problems(new: NewHold, today: date, prefix: str = "body.") -> list[FieldError]:
    """What is wrong with ``new`` (empty when it may be made), per field."""
    problems = []
    if new.consumer_id is None and new.actor_id is None:
        problems.append(
            FieldError(
                f"{prefix}consumer_id",
                "Name the consumer or the member of staff (actor_id) whose accesses to hide.",
            )
        )
    if new.hidden_until <= today:
        problems.append(FieldError(f"{prefix}hidden_until", "The date must be in the future."))
    elif new.hidden_until > today + LONGEST_HOLD:
        problems.append(
            FieldError(
                f"{prefix}hidden_until",
                f"The date must be at most {LONGEST_HOLD.days} days ahead: make a new hold "
                "when this one ends if the investigation needs longer.",
            )
        )
    if not new.reason.strip():
        problems.append(FieldError(f"{prefix}reason", "Give the reason for the hold."))
    if (
        new.accessed_from is not None
        and new.accessed_to is not None
        and new.accessed_from > new.accessed_to
    ):
        problems.append(
            FieldError(
                f"{prefix}accessed_to", "The end of the window must not be before its start."
            )
        )
    return problems


def make_hold(database: Database, new: NewHold, actor: Actor, *, now: datetime) -> HoldRecord:
    """Make a hold and its ``hid`` record in one unit of work; ValidationFailed if it may not."""
    problems = hold_problems(new, now.date())
    if problems:
        raise ValidationFailed(problems)
    hold_id = "hld_" + secrets.token_hex(8)
    use = _hold_use(
        actor,
        Action.HID,
        hold_id,
        new.resident_id,
        now,
        consumer_id=new.consumer_id,
        actor_id=new.actor_id,
        hidden_until=new.hidden_until.isoformat(),
    )
    with database.write() as session:
        [position] = record_uses(session, [use])
        hold = AuditHold(
            id=hold_id,
            resident_id=new.resident_id,
            consumer_id=new.consumer_id,
            actor_id=new.actor_id,
            accessed_from=new.accessed_from,
            accessed_to=new.accessed_to,
            hidden_until=datetime.combine(new.hidden_until, time(), tzinfo=UTC),
            reason=new.reason.strip(),
            created_by=actor.id or actor.consumer_id or actor.kind.value,
            created_at=now,
            lifted_at=None,
            record_position=position,
        )
        session.add(hold)
        session.flush()
        return _record(hold)


def lift_hold(database: Database, hold_id: str, actor: Actor, *, now: datetime) -> HoldRecord:
    """End an active hold now, recording ``lifted``; Conflict if it no longer hides anything."""
    with database.write() as session:
        hold = session.get(AuditHold, hold_id)
        if hold is None:
            raise NotFound(f"There is no hold {hold_id}.")
        if not _record(hold).active(now):
            raise Conflict("This hold has already ended or been lifted.")
        hold.lifted_at = now
        record_uses(session, [_hold_use(actor, Action.LIFTED, hold.id, hold.resident_id, now)])
        session.flush()
        return _record(hold)


def get_hold(database: Database, hold_id: str) -> HoldRecord:
    """One hold; NotFound when there is none."""
    with database.read() as session:
        hold = session.get(AuditHold, hold_id)
        if hold is None:
            raise NotFound(f"There is no hold {hold_id}.")
        return _record(hold)


def list_holds(
    database: Database, page: PageRequest, *, resident_id: str | None = None
) -> Page[HoldRecord]:
    """One page of holds, newest first (by their record's place in the chain)."""
    statement = select(AuditHold)
    if resident_id is not None:
        statement = statement.where(AuditHold.resident_id == resident_id)
    with database.read() as session:
        found = keyset_page(
            session,
            statement,
            [AuditHold.record_position.expression],
            page,
            lambda row: [row[0].record_position],
            descending=True,
        )
        return Page(
            items=[_record(row[0]) for row in found.items], next_position=found.next_position
        )


def holds_on(session: Session, resident_ids: Sequence[str]) -> list[HoldRecord]:
    """Every hold ever made on any of one resident's ids, oldest first."""
    statement = select(AuditHold).where(AuditHold.resident_id.in_(resident_ids))
    return [
        _record(hold) for hold in session.scalars(statement.order_by(AuditHold.record_position))
    ]


def _hold_use(
    actor: Actor,
    action: Action,
    hold_id: str,
    resident_id: str,
    now: datetime,
    **details: str | None,
) -> DataUse:
    """The audit record of making or lifting a hold: a use of the resident's record of uses."""
    return DataUse(
        actor=actor,
        action=action,
        service=DATA_PROTECTION,
        data_kind=DATA_USES,
        resident_id=resident_id,
        subject=f"audit-hold:{hold_id}",
        details={"hold": hold_id, **details},
        occurred_at=now,
    )


def _record(hold: AuditHold) -> HoldRecord:
    return HoldRecord(
        id=hold.id,
        resident_id=hold.resident_id,
        consumer_id=hold.consumer_id,
        actor_id=hold.actor_id,
        accessed_from=aware(hold.accessed_from) if hold.accessed_from else None,
        accessed_to=aware(hold.accessed_to) if hold.accessed_to else None,
        hidden_until=aware(hold.hidden_until),
        reason=hold.reason,
        created_by=hold.created_by,
        created_at=aware(hold.created_at),
        lifted_at=aware(hold.lifted_at) if hold.lifted_at else None,
        record_position=hold.record_position,
    )
