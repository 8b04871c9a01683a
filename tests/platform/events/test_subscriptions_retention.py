"""Retention of events: old events and finished deliveries go; what is still owed stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from townhall.platform.auth.consumers import create_consumer
from townhall.platform.db import Base, Database
from townhall.platform.events.models import Delivery, DeliveryAttempt, OutboxEvent, Subscription
from townhall.platform.retention import purge_expired

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=31)
RECENT = NOW - timedelta(days=29)


def _arrange(database: Database) -> dict[str, int]:
    consumer = create_consumer(database, name="Permits", kind="council_service", actor="test")
    with database.write() as session:
        session.add(
            Subscription(
                id="sub-1",
                consumer_id=consumer.consumer.id,
                description="Hook",
                target_url="https://93.184.215.14/",
                event_types=["uk.gov.townhall.address.*"],
                status="paused",
                secret_sealed="v1.x.y",
                position=0,
                created_at=OLD,
                updated_at=OLD,
                version=1,
            )
        )
        events = {}
        for name, time in [("old", OLD), ("old-owed", OLD), ("old-dead", OLD), ("recent", RECENT)]:
            event = OutboxEvent(
                id=f"00000000-0000-4000-8000-{len(events):012d}",
                type="uk.gov.townhall.address.updated",
                domain="addresses",
                subject=name,
                time=time,
                data={},
            )
            session.add(event)
            session.flush()
            events[name] = event.position
        deliveries = {}
        for name, status, completed in [
            ("old", "delivered", OLD),
            ("old-owed", "pending", None),
            ("old-dead", "dead", RECENT),
            ("recent", "delivered", RECENT),
        ]:
            delivery = Delivery(
                subscription_id="sub-1",
                event_position=events[name],
                subject=name,
                status=status,
                attempts=1,
                next_attempt_at=OLD,
                created_at=OLD,
                completed_at=completed,
            )
            session.add(delivery)
            session.flush()
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    attempted_at=OLD,
                    outcome="delivered",
                    latency_ms=1.0,
                )
            )
            deliveries[name] = delivery.id
    return events


def _subjects(database: Database, model: type[Base]) -> set[str]:
    with database.read() as session:
        return set(session.scalars(select(model.subject)))  # type: ignore[attr-defined]


def test_old_events_and_deliveries_finished_long_ago_are_purged(database: Database) -> None:
    _arrange(database)
    counts = purge_expired(database, now=NOW, events_kept_for=timedelta(days=30))
    assert counts["event_delivery_attempts"] == 1
    assert counts["event_deliveries"] == 1
    # The old event with a finished delivery goes; the one still owed to a paused subscription,
    # and the one whose dead delivery is recent, stay, as the recent event does.
    assert counts["event_outbox"] == 1
    assert _subjects(database, OutboxEvent) == {"old-owed", "old-dead", "recent"}
    assert _subjects(database, Delivery) == {"old-owed", "old-dead", "recent"}
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 3
    again = purge_expired(database, now=NOW, events_kept_for=timedelta(days=30))
    assert (again["event_outbox"], again["event_deliveries"]) == (0, 0)


def test_a_longer_retention_keeps_them(database: Database) -> None:
    _arrange(database)
    counts = purge_expired(database, now=NOW, events_kept_for=timedelta(days=60))
    assert (counts["event_outbox"], counts["event_deliveries"]) == (0, 0)
