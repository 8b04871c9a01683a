"""What the dispatcher's tests share: an event type, subscriptions and events put in place.

Subscriptions are inserted as rows (with a real sealed secret and a real consumer), so these
tests depend on the tables and the sealer, not on the subscriptions API.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from tests.platform.auth.factories import register_consumer
from townhall.platform.db import Database
from townhall.platform.events.models import Delivery, DeliveryAttempt, Subscription
from townhall.platform.events.outbox import NewEvent, emit_many
from townhall.platform.events.registry import EventType
from townhall.platform.events.signing_secrets import SecretSealer, new_secret
from townhall.settings import Settings


class Changed(BaseModel):
    value: int


THING_UPDATED = EventType(
    name="thing.updated",
    domain="things",
    summary="A thing changed.",
    subject="The thing's id.",
    data=Changed,
)
THING_DELETED = EventType(
    name="thing.deleted",
    domain="things",
    summary="A thing went.",
    subject="The thing's id.",
    data=Changed,
)


def dispatcher_settings(settings: Settings, **changes: Any) -> Settings:
    """The test instance's settings, tuned for fast tests of a dispatcher on loopback."""
    values: dict[str, Any] = {
        "events_allow_private_targets": True,
        "events_poll_seconds": 0.05,
        "events_retry_base_seconds": 0.01,
        "events_retry_max_seconds": 0.05,
        "events_webhook_timeout_seconds": 2.0,
    }
    values.update(changes)
    return Settings(**{**settings.model_dump(exclude_unset=True), **values})


def subscribe(
    database: Database,
    settings: Settings,
    url: str,
    *,
    event_types: tuple[str, ...] = ("uk.gov.townhall.thing.*",),
    position: int = 0,
    status: str = "active",
) -> tuple[str, str]:
    """A subscription row for ``url``; return its id and its signing secret."""
    consumer = register_consumer(database, name=f"Subscriber {uuid.uuid4().hex[:6]}")
    subscription_id = str(uuid.uuid4())
    secret = new_secret()
    sealed = SecretSealer(database, settings).seal(secret, subscription_id)
    now = datetime.now(UTC)
    with database.write() as session:
        session.add(
            Subscription(
                id=subscription_id,
                consumer_id=consumer.consumer.id,
                description="test",
                target_url=url,
                event_types=list(event_types),
                status=status,
                secret_sealed=sealed,
                position=position,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )
    return subscription_id, secret


def emit(database: Database, *subjects: str, event_type: EventType = THING_UPDATED) -> list[str]:
    """Commit one event per subject, in one unit of work; return their ids."""
    events = [
        NewEvent(event_type, subject, {"value": index}) for index, subject in enumerate(subjects)
    ]
    with database.write() as session:
        emit_many(session, events)
    return [event.id for event in events]


def deliveries(database: Database, subscription_id: str) -> list[Delivery]:
    with database.read() as session:
        rows = list(
            session.scalars(
                select(Delivery)
                .where(Delivery.subscription_id == subscription_id)
                .order_by(Delivery.event_position)
            )
        )
        # Detached with what was read: the read unit's end would expire them.
        session.expunge_all()
        return rows


def attempts(database: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with database.read() as session:
        rows = list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.id)
            )
        )
        session.expunge_all()
        return rows


def subscription(database: Database, subscription_id: str) -> Subscription:
    with database.read() as session:
        row = session.get(Subscription, subscription_id)
        assert row is not None
        session.expunge_all()
        return row
