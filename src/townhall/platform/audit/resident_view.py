"""What a resident sees of the audit trail: others' uses of their data, in plain English.

This module owns the resident's view, which the page "How your data is used" and
``GET /api/v1/me/data-uses`` both show, so the two can never say different things:

* which records a resident sees (``visible_to``): those about any of their resident ids (the id
  they have now and every id merged into it: ``townhall.data_uses.all_ids_of``, which the
  caller passes in), but not their own uses of it, and not those an active hold hides
  (``hidden_by_hold``, the one statement of that rule in SQL);
* the list, newest first, a page at a time (keyset on the chain's position), optionally of one
  service, and the summary of uses by service;
* the words: "A housing officer looked at your account details", who by role (or by name when
  the council's ``TOWNHALL_AUDIT_SHOW_STAFF_NAMES`` says so), applications by their name.

It reads the audit trail and the names of accounts and consumers; it writes nothing (the
routes record the resident's own view through ``capture``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from townhall.data_uses import vocabulary
from townhall.errors import FieldError, ValidationFailed
from townhall.platform.audit.models import AuditHold, AuditRecord
from townhall.platform.audit.vocabulary import Action, ActorKind, DataKind, Service
from townhall.platform.auth.models import Consumer
from townhall.platform.auth.residents import ResidentMember
from townhall.platform.auth.sign_in_models import StaffAccount, StaffRole
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

LONDON = ZoneInfo("Europe/London")

# "<who> <verb> <kind of data>": each action as it completes the sentence.
_VERBS: dict[str, str] = {
    Action.VIEWED: "looked at {data}",
    Action.SEARCHED: "found {data} in a search",
    Action.CREATED: "added {data}",
    Action.CHANGED: "changed {data}",
    Action.DELETED: "deleted {data}",
    Action.EXPORTED: "exported {data}",
    Action.HID: "hid part of {data} from you during an investigation",
    Action.LIFTED: "showed you again part of {data} that had been hidden",
}
_CONSUMER_KINDS = {
    "council_service": "a council service",
    "partner": "another organisation working with the council",
    "public": "a public app",
}
# Roles a resident knows as one person at the council rather than as one of many.
_THE_ROLES = {StaffRole.DATA_PROTECTION_OFFICER.value: "The council's data protection officer"}


@dataclass(frozen=True)
class ResidentViewer:
    """Whose view it is: the signed-in account, and every id of the resident it is matched to.

    The first id is the one the resident has now; the others were merged into it, and uses
    recorded under them are the resident's too.
    """

    account_id: str
    resident_ids: tuple[str, ...]

    @property
    def resident_id(self) -> str:
        """The id the resident has now."""
        return self.resident_ids[0]

    @classmethod
    def of(
        cls, account: ResidentMember, ids_of: Callable[[str], Sequence[str]]
    ) -> ResidentViewer | None:
        """The view of ``account``; None until it is matched to the council's records.

        ``ids_of`` gives every id of the resident an id names, the id they have now first
        (``townhall.data_uses.all_ids_of`` with its database).
        """
        if not account.resident_id:
            return None
        return cls(account.id, tuple(ids_of(account.resident_id)) or (account.resident_id,))


def account_subject(account: ResidentMember) -> str:
    """The audit trail's key of a resident's own account (its id, never their details)."""
    return f"resident-account:{account.id}"


@dataclass(frozen=True)
class DataUseEntry:
    """One use of a resident's data, as they are told of it."""

    id: str
    position: int
    occurred_at: datetime
    service: Service
    action: str
    data_kind: DataKind
    actor_kind: str
    # Who, as the sentence starts: "A housing officer", "The Parking permits app (...)".
    actor: str
    # The whole sentence: "A housing officer looked at your account details".
    description: str
    purpose: str


@dataclass(frozen=True)
class ServiceUses:
    """How often one service used a resident's data, and when it last did."""

    service: Service
    uses: int
    most_recent: datetime


def hidden_by_hold(now: datetime, resident_ids: Sequence[str] | None = None) -> ColumnElement[bool]:
    """True for an audit record that a hold active at ``now`` hides from its resident.

    A hold is active until ``hidden_until`` unless lifted. It hides the records about its
    resident by its consumer and/or member of staff (any, where it names none), within its
    window (``accessed_from`` inclusive, ``accessed_to`` exclusive) where it has one, and the
    record of making the hold. Use as ``.where(~hidden_by_hold(now))``.

    Given ``resident_ids``, every id of one person (a merged resident's too), a hold on any of
    them hides those records about any of them: it was made about the person, whichever id
    they had. Without, a hold hides records about the id it names.
    """
    hold = AuditHold
    # In UTC, as every time is stored: SQLite compares the stored text, offset dropped.
    now = now.astimezone(UTC)
    same_resident = (
        hold.resident_id == AuditRecord.resident_id
        if resident_ids is None
        else and_(hold.resident_id.in_(resident_ids), AuditRecord.resident_id.in_(resident_ids))
    )
    return exists().where(
        hold.lifted_at.is_(None),
        hold.hidden_until > now,
        or_(
            hold.record_position == AuditRecord.position,
            and_(
                same_resident,
                or_(hold.consumer_id.is_(None), hold.consumer_id == AuditRecord.consumer_id),
                or_(hold.actor_id.is_(None), hold.actor_id == AuditRecord.actor_id),
                or_(hold.accessed_from.is_(None), AuditRecord.occurred_at >= hold.accessed_from),
                or_(hold.accessed_to.is_(None), AuditRecord.occurred_at < hold.accessed_to),
            ),
        ),
    )


def visible_to(viewer: ResidentViewer, now: datetime) -> ColumnElement[bool]:
    """The records ``viewer`` is shown at ``now``: about them, by others, not held back."""
    return and_(
        AuditRecord.resident_id.in_(viewer.resident_ids),
        or_(
            AuditRecord.actor_kind != ActorKind.RESIDENT.value,
            AuditRecord.actor_id.is_distinct_from(viewer.account_id),
        ),
        ~hidden_by_hold(now, viewer.resident_ids),
    )


def known_service(key: str, field: str = "query.service") -> Service:
    """The service called ``key``; ValidationFailed (422) when there is none of that name."""
    found = vocabulary().services.get(key)
    if found is None:
        known = ", ".join(sorted(vocabulary().services))
        raise ValidationFailed(
            [FieldError(field, f"There is no service {key!r}: use one of {known}.")]
        )
    return found


def newest_first(session: Session, statement: Select[Any], page: PageRequest) -> Page[Any]:
    """One page of ``statement`` (whose first column is an ``AuditRecord``), newest first."""
    return keyset_page(
        session,
        statement,
        [AuditRecord.position.expression],
        page,
        lambda row: [row[0].position],
        descending=True,
    )


def list_data_uses(
    database: Database,
    viewer: ResidentViewer,
    page: PageRequest,
    *,
    now: datetime,
    service: Service | None = None,
    show_staff_names: bool = False,
) -> Page[DataUseEntry]:
    """One page of the uses ``viewer`` is shown, newest first, of one service or all."""
    statement = select(AuditRecord).where(_filters(viewer, now, service))
    with database.read() as session:
        found = newest_first(session, statement, page)
        records = [row[0] for row in found.items]
        names = _Names.of(session, records, show_staff_names=show_staff_names)
        entries = [_entry(record, names) for record in records]
    return Page(items=entries, next_position=found.next_position)


def previous_position(
    database: Database,
    viewer: ResidentViewer,
    after: int,
    size: int,
    *,
    now: datetime,
    service: Service | None = None,
) -> tuple[int] | None:
    """Where the page before the one after ``after`` starts (None: it is the first page).

    That page ends with the record at ``after``; it starts after the record ``size`` places
    newer than that one, if there is such a record.
    """
    statement = (
        select(AuditRecord.position)
        .where(_filters(viewer, now, service), AuditRecord.position >= after)
        .order_by(AuditRecord.position)
        .offset(size)
        .limit(1)
    )
    with database.read() as session:
        position = session.scalar(statement)
    return (int(position),) if position is not None else None


def summarise_data_uses(
    database: Database, viewer: ResidentViewer, *, now: datetime
) -> list[ServiceUses]:
    """How often each service used ``viewer``'s data, the most recently used first."""
    statement = (
        select(AuditRecord.service, func.count(), func.max(AuditRecord.occurred_at))
        .where(visible_to(viewer, now))
        .group_by(AuditRecord.service)
    )
    with database.read() as session:
        rows = list(session.execute(statement))
    services = vocabulary()
    found = [
        ServiceUses(
            service=Service(key, services.service_name(key)),
            uses=int(count),
            most_recent=aware(last),
        )
        for key, count, last in rows
    ]
    return sorted(found, key=lambda item: (-item.most_recent.timestamp(), item.service.name))


def london_time(moment: datetime) -> str:
    """A time as GOV.UK writes it, in the UK's time: ``3 March 2026 at 2:05pm``."""
    local = aware(moment).astimezone(LONDON)
    if (local.hour, local.minute) == (12, 0):
        clock = "midday"
    elif (local.hour, local.minute) == (0, 0):
        clock = "midnight"
    else:
        hour = local.hour % 12 or 12
        clock = f"{hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"
    return f"{local.day} {local:%B %Y} at {clock}"


def utc_now() -> datetime:
    """The current time, which decides whether a hold still hides what it names."""
    return datetime.now(UTC)


def _filters(viewer: ResidentViewer, now: datetime, service: Service | None) -> ColumnElement[bool]:
    visible = visible_to(viewer, now)
    return visible if service is None else and_(visible, AuditRecord.service == service.key)


@dataclass(frozen=True)
class _Names:
    """The names a page of entries mentions: consumers', and staff members' when shown."""

    consumers: dict[str, tuple[str, str]]
    staff: dict[str, str]

    @classmethod
    def of(
        cls, session: Session, records: Iterable[AuditRecord], *, show_staff_names: bool
    ) -> _Names:
        listed = list(records)
        consumer_ids = {r.consumer_id for r in listed if r.consumer_id is not None}
        staff_ids = {
            r.actor_id
            for r in listed
            if show_staff_names and r.actor_kind == ActorKind.STAFF.value and r.actor_id
        }
        consumers = (
            {
                row.id: (row.name, row.kind)
                for row in session.execute(
                    select(Consumer.id, Consumer.name, Consumer.kind).where(
                        Consumer.id.in_(sorted(consumer_ids))
                    )
                )
            }
            if consumer_ids
            else {}
        )
        staff = (
            {
                row.id: row.display_name
                for row in session.execute(
                    select(StaffAccount.id, StaffAccount.display_name).where(
                        StaffAccount.id.in_(sorted(staff_ids))
                    )
                )
            }
            if staff_ids
            else {}
        )
        return cls(consumers=consumers, staff=staff)


def _entry(record: AuditRecord, names: _Names) -> DataUseEntry:
    words = vocabulary()
    data_kind = DataKind(record.data_kind, words.data_phrase(record.data_kind))
    actor = _actor(record, names)
    # An action added after this was written still makes a sentence, if a plainer one.
    verb = _VERBS.get(record.action, f"{record.action} {{data}}")
    predicate = verb.format(data=data_kind.phrase)
    return DataUseEntry(
        id=record.id,
        position=record.position,
        occurred_at=aware(record.occurred_at),
        service=Service(record.service, words.service_name(record.service)),
        action=record.action,
        data_kind=data_kind,
        actor_kind=record.actor_kind,
        actor=actor,
        description=f"{actor} {predicate}",
        purpose=record.purpose,
    )


def _actor(record: AuditRecord, names: _Names) -> str:
    """Who used the data, as the sentence about it starts."""
    if record.actor_kind == ActorKind.STAFF.value:
        role = _role(record.actor_role)
        name = names.staff.get(record.actor_id or "")
        return f"{name} ({role})" if name else _someone_in(record.actor_role, role)
    if record.actor_kind == ActorKind.CONSUMER.value:
        found = names.consumers.get(record.consumer_id or "")
        if found is None:
            return "An application no longer connected to the council's records"
        name, kind = found
        app = name if name.lower().endswith((" app", " service", " system")) else f"{name} app"
        described = _CONSUMER_KINDS.get(kind)
        return f"The {app} ({described})" if described else f"The {app}"
    if record.actor_kind == ActorKind.SYSTEM.value:
        return "Townhall (automatically)"
    return "Someone signed in to another council account"


def _role(role: str | None) -> str:
    """A staff role in lower case, as it reads inside a sentence: ``housing officer``."""
    if role is None:
        return "member of staff"
    return role.replace("_", " ").lower()


def _someone_in(role_key: str | None, role: str) -> str:
    """A member of staff by role alone: "A housing officer", "An administrator"."""
    if role_key in _THE_ROLES:
        return _THE_ROLES[role_key]
    article = "An" if role[:1] in "aeiou" else "A"
    return f"{article} {role}"
