"""Webhook subscriptions: made, changed, paused, deleted, re-keyed, replayed and redriven.

This module owns what a consumer may do to its own subscriptions and their deliveries; the
dispatcher (``townhall.platform.events.dispatcher``) owns sending them. Each function opens its
own unit of work and answers only about the calling consumer's subscriptions: another
consumer's is NotFound, as if it did not exist. A signing secret leaves this module once, in
the answer to the call that made it, and is stored sealed (``signing_secrets.SecretSealer``).

A new subscription starts at the outbox's end: it receives the events committed after it exists.
A replay moves its position back (and sets the deliveries already made after that point back to
pending), so the dispatcher sends those events again; a redrive sets dead deliveries back to
pending. Both wake the dispatchers when they commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.orm import Session

from townhall.errors import FieldError, NotFound, TownhallError, ValidationFailed
from townhall.platform.db import Database, aware
from townhall.platform.events.models import (
    Delivery,
    DeliveryAttempt,
    OutboxEvent,
    Subscription,
)
from townhall.platform.events.outbox import NOTIFY_CHANNEL
from townhall.platform.events.registry import TYPE_PREFIX, EventRegistry
from townhall.platform.events.signing_secrets import SecretSealer, new_secret
from townhall.platform.events.targets import (
    TargetRefused,
    check_target_addresses_sync,
    check_target_url,
)
from townhall.platform.events.wakeup import signal_for
from townhall.platform.http.concurrency import Precondition
from townhall.platform.http.pagination import Page, PageRequest, keyset_page
from townhall.settings import Settings

UPDATABLE_FIELDS = frozenset({"description", "target_url", "event_types", "status"})


@dataclass(frozen=True)
class SubscriptionRecord:
    """A subscription as stored (never with its secret)."""

    id: str
    consumer_id: str
    description: str
    target_url: str
    event_types: tuple[str, ...]
    status: str
    position: int
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def etag(self) -> str:
        """The subscription's ETag: it changes with every change the consumer makes."""
        return f'"v{self.version}"'


@dataclass(frozen=True)
class CreatedSubscription:
    """A subscription just made, or just re-keyed, with its signing secret."""

    subscription: SubscriptionRecord
    secret: str


@dataclass(frozen=True)
class DeliveryRecord:
    """One event on its way to a subscription (the event's id and type while it is kept)."""

    id: int
    event_id: str | None
    event_type: str | None
    event_position: int
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    completed_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None


@dataclass(frozen=True)
class AttemptRecord:
    """One try at sending a delivery."""

    id: int
    attempted_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    latency_ms: float


@dataclass(frozen=True)
class Replayed:
    """What a replay did: deliveries set back to pending, and the position fan-out restarts at."""

    reset: int
    position: int


@dataclass(frozen=True)
class TargetPolicy:
    """How targets are judged: the instance's settings (https only in production, SSRF)."""

    settings: Settings

    def check(self, url: str, field: str) -> str:
        """``url`` if it may be a target; ValidationFailed naming ``field`` otherwise."""
        try:
            check_target_url(url, self.settings)
            if not self.settings.events_allow_private_targets:
                # Resolved now and again before each delivery (DNS may change in between).
                check_target_addresses_sync(url, allow_private=False)
        except TargetRefused as exc:
            message = f"Webhooks may not be sent there: {exc.reason}."
            raise ValidationFailed([FieldError(field, message)]) from exc
        except TownhallError as exc:
            raise ValidationFailed([FieldError(field, exc.detail)]) from exc
        return url


def new_subscription_id() -> str:
    """A UUID whose first 48 bits are the time in milliseconds (the layout of UUIDv7).

    Ids sort in the order subscriptions were made, so a list pages by id alone.
    """
    millis = int(datetime.now(UTC).timestamp() * 1000)
    value = (millis << 80) | (uuid.uuid4().int & ((1 << 80) - 1))
    # Version 7 and the RFC 4122 variant, as uuid.UUID's own setters would write them.
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def create_subscription(
    database: Database,
    sealer: SecretSealer,
    registry: EventRegistry,
    policy: TargetPolicy,
    *,
    consumer_id: str,
    description: str,
    target_url: str,
    event_types: Sequence[str],
    status: str = "active",
) -> CreatedSubscription:
    """Make a subscription that starts at the outbox's end, with a fresh signing secret."""
    types = _check_filters(registry, event_types, "body.event_types")
    policy.check(target_url, "body.target_url")
    subscription_id = new_subscription_id()
    secret = new_secret()
    # Sealed before the write: the sealing key may need its own write the first time.
    sealed = sealer.seal(secret, subscription_id)
    now = datetime.now(UTC)
    with database.write() as session:
        subscription = Subscription(
            id=subscription_id,
            consumer_id=consumer_id,
            description=description.strip(),
            target_url=target_url,
            event_types=types,
            status=status,
            secret_sealed=sealed,
            position=_outbox_end(session),
            created_at=now,
            updated_at=now,
            version=1,
        )
        session.add(subscription)
        session.flush()
        return CreatedSubscription(subscription=_record(subscription), secret=secret)


def list_subscriptions(
    database: Database, consumer_id: str, page: PageRequest
) -> Page[SubscriptionRecord]:
    """One page of the consumer's subscriptions, oldest first."""
    statement = select(Subscription).where(Subscription.consumer_id == consumer_id)
    with database.read() as session:
        found = keyset_page(
            session, statement, [Subscription.id.expression], page, lambda row: [row[0].id]
        )
        items = [_record(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def get_subscription(
    database: Database, consumer_id: str, subscription_id: str
) -> SubscriptionRecord:
    """One of the consumer's subscriptions; NotFound for any other."""
    with database.read() as session:
        return _record(_own(session, consumer_id, subscription_id))


def update_subscription(
    database: Database,
    registry: EventRegistry,
    policy: TargetPolicy,
    *,
    consumer_id: str,
    subscription_id: str,
    changes: Mapping[str, Any],
    precondition: Precondition | None = None,
) -> SubscriptionRecord:
    """Change a subscription's fields (``UPDATABLE_FIELDS``); ``precondition`` is its If-Match."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        field_errors = [FieldError(f"body.{name}", "This cannot be changed.") for name in unknown]
        raise ValidationFailed(sorted(field_errors, key=lambda e: e.field))
    # Whose it is comes first: a stranger's id is a 404 whatever the patch says.
    get_subscription(database, consumer_id, subscription_id)
    values = dict(changes)
    if "event_types" in values:
        values["event_types"] = _check_filters(registry, values["event_types"], "body.event_types")
    if "target_url" in values:
        policy.check(values["target_url"], "body.target_url")
    if "description" in values:
        values["description"] = values["description"].strip()
    with database.write() as session:
        subscription = _own(session, consumer_id, subscription_id, lock=True)
        if precondition is not None:
            precondition.check(_record(subscription).etag)
        changed = {k: v for k, v in values.items() if getattr(subscription, k) != v}
        if changed:
            for name, value in changed.items():
                setattr(subscription, name, value)
            _touch(subscription)
            session.flush()
        record = _record(subscription)
    if changed.get("status") == "active":
        # Resumed: what waited while it was paused goes out now.
        signal_for(str(database.engine.url)).notify()
    return record


def delete_subscription(
    database: Database,
    consumer_id: str,
    subscription_id: str,
    *,
    precondition: Precondition | None = None,
) -> None:
    """Delete a subscription with its deliveries and their log; nothing more is sent to it."""
    with database.write() as session:
        subscription = _own(session, consumer_id, subscription_id, lock=True)
        if precondition is not None:
            precondition.check(_record(subscription).etag)
        deliveries = select(Delivery.id).where(Delivery.subscription_id == subscription_id)
        # Explicit rather than left to ON DELETE CASCADE, which SQLite honours only with its
        # foreign_keys pragma on.
        session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(deliveries)))
        session.execute(delete(Delivery).where(Delivery.subscription_id == subscription_id))
        session.delete(subscription)


def rotate_secret(
    database: Database, sealer: SecretSealer, consumer_id: str, subscription_id: str
) -> CreatedSubscription:
    """Give a subscription a new signing secret, shown this once; the old one stops at once."""
    # Checked before sealing, so a stranger's id costs nothing and reveals nothing.
    get_subscription(database, consumer_id, subscription_id)
    secret = new_secret()
    sealed = sealer.seal(secret, subscription_id)
    with database.write() as session:
        subscription = _own(session, consumer_id, subscription_id, lock=True)
        subscription.secret_sealed = sealed
        _touch(subscription)
        session.flush()
        return CreatedSubscription(subscription=_record(subscription), secret=secret)


def list_deliveries(
    database: Database,
    consumer_id: str,
    subscription_id: str,
    page: PageRequest,
    *,
    status: str | None = None,
) -> Page[DeliveryRecord]:
    """One page of a subscription's deliveries, newest first, optionally of one status."""
    statement = (
        select(Delivery, OutboxEvent.id, OutboxEvent.type)
        .outerjoin(OutboxEvent, OutboxEvent.position == Delivery.event_position)
        .where(Delivery.subscription_id == subscription_id)
    )
    if status is not None:
        statement = statement.where(Delivery.status == status)
    with database.read() as session:
        _own(session, consumer_id, subscription_id)
        return _newest_first(session, statement, page)


def list_attempts(
    database: Database,
    consumer_id: str,
    subscription_id: str,
    delivery_id: int,
    page: PageRequest,
) -> Page[AttemptRecord]:
    """One page of the tries at one delivery, oldest first (the delivery log)."""
    statement = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
    with database.read() as session:
        _own(session, consumer_id, subscription_id)
        owner = session.scalar(select(Delivery.subscription_id).where(Delivery.id == delivery_id))
        if owner != subscription_id:
            msg = f"Subscription {subscription_id} has no delivery {delivery_id}."
            raise NotFound(msg)
        found = keyset_page(
            session, statement, [DeliveryAttempt.id.expression], page, lambda row: [row[0].id]
        )
        items = [_attempt(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def replay(
    database: Database,
    consumer_id: str,
    subscription_id: str,
    *,
    from_position: int | None = None,
    from_time: datetime | None = None,
) -> Replayed:
    """Deliver again the events after ``from_position``, or from ``from_time`` on.

    Deliveries already made of those events go back to pending (tried at once, attempts from
    zero); the subscription's position moves back, so the dispatcher also fans out the events
    it had skipped or not reached. A position past the outbox's end is a 422.
    """
    if (from_position is None) == (from_time is None):
        message = "Send exactly one of from_position and from_time."
        raise ValidationFailed([FieldError("body", message)])
    now = datetime.now(UTC)
    with database.write() as session:
        subscription = _own(session, consumer_id, subscription_id, lock=True)
        end = _outbox_end(session)
        if from_position is not None:
            if from_position > end:
                message = f"The outbox ends at position {end}: replay from there or before."
                raise ValidationFailed([FieldError("body.from_position", message)])
            after = from_position
        else:
            first = session.scalar(
                select(func.min(OutboxEvent.position)).where(OutboxEvent.time >= from_time)
            )
            after = end if first is None else first - 1
        reset_result = session.execute(
            update(Delivery)
            .where(Delivery.subscription_id == subscription_id, Delivery.event_position > after)
            .values(status="pending", attempts=0, next_attempt_at=now, completed_at=None)
            .execution_options(synchronize_session=False)
        )
        reset = int(getattr(reset_result, "rowcount", 0) or 0)
        # Never forward: events between its position and `after` have not been fanned out yet.
        subscription.position = min(subscription.position, after)
        _touch(subscription, now)
        position = subscription.position
        _notify_in(session)
    signal_for(str(database.engine.url)).notify()
    return Replayed(reset=reset, position=position)


def redrive(
    database: Database,
    consumer_id: str,
    subscription_id: str,
    delivery_ids: Sequence[int] | None = None,
) -> int:
    """Send dead deliveries again (those listed, or all); return how many went back to pending.

    An id that is not a delivery of this subscription is a 422; one that is not dead (pending
    again already, or delivered since) is left as it is.
    """
    now = datetime.now(UTC)
    with database.write() as session:
        subscription = _own(session, consumer_id, subscription_id, lock=True)
        chosen = [Delivery.subscription_id == subscription_id, Delivery.status == "dead"]
        if delivery_ids is not None:
            wanted = sorted(set(delivery_ids))
            known = set(
                session.scalars(
                    select(Delivery.id).where(
                        Delivery.subscription_id == subscription_id, Delivery.id.in_(wanted)
                    )
                )
            )
            strangers = [str(i) for i in wanted if i not in known]
            if strangers:
                message = f"Not deliveries of this subscription: {', '.join(strangers[:20])}."
                raise ValidationFailed([FieldError("body.delivery_ids", message)])
            chosen.append(Delivery.id.in_(wanted))
        result = session.execute(
            update(Delivery)
            .where(*chosen)
            .values(status="pending", attempts=0, next_attempt_at=now, completed_at=None)
            .execution_options(synchronize_session=False)
        )
        count = int(getattr(result, "rowcount", 0) or 0)
        if count:
            _touch(subscription, now)
            _notify_in(session)
    if count:
        signal_for(str(database.engine.url)).notify()
    return count


def published_filters(registry: EventRegistry) -> list[str]:
    """Every filter a subscription may name: each type, and each prefix ending at a dot + ``*``.

    The OpenAPI document lists them (so a client can offer them), and only they are accepted:
    a ``*`` after part of a word (``uk.gov.townhall.addr*``) would quietly select types added
    later that it was never meant to.
    """
    found: set[str] = set()
    for event_type in registry:
        found.add(event_type.type)
        parts = event_type.type.split(".")
        # From the common prefix (uk.gov.townhall.*) down to the domain's own (...address.*).
        for end in range(TYPE_PREFIX.count("."), len(parts)):
            found.add(".".join(parts[:end]) + ".*")
    return sorted(found)


def _check_filters(registry: EventRegistry, patterns: Sequence[str], field: str) -> list[str]:
    errors: list[FieldError] = []
    allowed = set(published_filters(registry))
    for index, pattern in enumerate(patterns):
        try:
            registry.check_filter(pattern)
        except TownhallError as exc:
            errors.append(FieldError(f"{field}.{index}", exc.detail))
            continue
        if pattern not in allowed:
            message = (
                f"{pattern!r}: a '*' may only follow a dot, as in 'uk.gov.townhall.address.*'."
            )
            errors.append(FieldError(f"{field}.{index}", message))
    if errors:
        raise ValidationFailed(errors)
    # Duplicates dropped, order kept: the list is shown back as the consumer wrote it.
    return list(dict.fromkeys(patterns))


def _outbox_end(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(OutboxEvent.position), 0))) or 0)


def _own(
    session: Session, consumer_id: str, subscription_id: str, *, lock: bool = False
) -> Subscription:
    statement = select(Subscription).where(
        Subscription.id == subscription_id, Subscription.consumer_id == consumer_id
    )
    if lock:
        # Serialises changes with a dispatcher that locks the row to move its position.
        statement = statement.with_for_update()
    subscription = session.scalar(statement)
    if subscription is None:
        # Another consumer's subscription is as absent as one that never existed.
        msg = f"You have no subscription {subscription_id}."
        raise NotFound(msg)
    return subscription


def _touch(subscription: Subscription, now: datetime | None = None) -> None:
    subscription.updated_at = now or datetime.now(UTC)
    subscription.version += 1


def _notify_in(session: Session) -> None:
    """Wake dispatchers in other processes when this unit commits (PostgreSQL's NOTIFY)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def _newest_first(
    session: Session, statement: Select[Delivery, str, str], page: PageRequest
) -> Page[DeliveryRecord]:
    # keyset_page pages in ascending order only; the delivery log reads newest first.
    if page.after is not None:
        statement = statement.where(Delivery.id < int(page.after[0] or 0))
    rows = list(session.execute(statement.order_by(Delivery.id.desc()).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    items = [_delivery(row[0], row[1], row[2]) for row in rows]
    return Page(items=items, next_position=(items[-1].id,) if more and items else None)


def _record(subscription: Subscription) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=subscription.id,
        consumer_id=subscription.consumer_id,
        description=subscription.description,
        target_url=subscription.target_url,
        event_types=tuple(subscription.event_types),
        status=subscription.status,
        position=subscription.position,
        created_at=aware(subscription.created_at),
        updated_at=aware(subscription.updated_at),
        version=subscription.version,
    )


def _delivery(delivery: Delivery, event_id: str | None, event_type: str | None) -> DeliveryRecord:
    return DeliveryRecord(
        id=delivery.id,
        event_id=event_id,
        event_type=event_type,
        event_position=delivery.event_position,
        subject=delivery.subject,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=aware(delivery.next_attempt_at),
        created_at=aware(delivery.created_at),
        completed_at=aware(delivery.completed_at) if delivery.completed_at else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        last_latency_ms=delivery.last_latency_ms,
    )


def _attempt(attempt: DeliveryAttempt) -> AttemptRecord:
    return AttemptRecord(
        id=attempt.id,
        attempted_at=aware(attempt.attempted_at),
        outcome=attempt.outcome,
        status_code=attempt.status_code,
        error=attempt.error,
        latency_ms=attempt.latency_ms,
    )
