"""The tables of events: the outbox, subscriptions, their deliveries, and consumers' cursors.

``event_outbox`` is the log every event is written to, in the transaction of the change it
describes. Its ``position`` is the order events were committed in (``outbox.emit`` makes that
true on PostgreSQL too, ADR 21) and is never reused (AUTOINCREMENT on SQLite), so a reader that
remembers the last position it saw (a subscription, the change feed's cursor, the Redis sink, a
read model) misses nothing and sees nothing twice.

A subscription's ``position`` is how far its events have been turned into ``event_deliveries``:
one row per event it selects, which the dispatcher sends, retries and finally marks delivered or
dead (the dead-letter list); each try is an ``event_delivery_attempts`` row (the delivery log).
The lease (``lease_owner`` until ``lease_expires_at``) lets several dispatchers run side by side:
only the holder works on a subscription, so no event goes to one subscriber twice at once.
``event_cursors`` holds the same position-and-lease for the platform's own readers (the Redis
Streams sink, read models).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base

# SQLite's rowid alias must be INTEGER; PostgreSQL's positions are 64-bit.
_Id = BigInteger().with_variant(Integer, "sqlite")

SUBSCRIPTION_STATUSES = ("active", "paused")
DELIVERY_STATUSES = ("pending", "delivered", "dead")


class OutboxEvent(Base):
    """One event, committed with the change it describes.

    ``id`` is the CloudEvents id (a UUID), stable across every delivery of the event, so receivers
    de-duplicate on it. ``data`` holds only what changed. ``correlation_id`` is the request (or
    import) that caused the change, ``consumer_id`` the client id of the consumer that asked for
    it, when one did.
    """

    __tablename__ = "event_outbox"

    position: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(120))
    domain: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(120))
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    correlation_id: Mapped[str | None] = mapped_column(String(128))
    consumer_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_event_outbox_type_position", "type", "position"),
        # Positions are never reused, even after the newest events are purged.
        {"sqlite_autoincrement": True},
    )


class Subscription(Base):
    """A consumer's wish to be told of some event types at a URL, signed with its secret."""

    __tablename__ = "event_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("auth_consumers.id"), index=True
    )
    description: Mapped[str] = mapped_column(String(200))
    target_url: Mapped[str] = mapped_column(String(2048))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))
    # The signing secret, sealed with the instance's key: the dispatcher needs it back to sign.
    secret_sealed: Mapped[str] = mapped_column(String(400))
    # Events at or before this position have been turned into deliveries (or did not match).
    position: Mapped[int] = mapped_column(BigInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bumped by every change a consumer makes, so the subscription's ETag changes with it.
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("status IN ('active', 'paused')", name="status_known"),)


class Delivery(Base):
    """One event on its way to one subscription: pending, delivered, or dead (given up on)."""

    __tablename__ = "event_deliveries"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("event_subscriptions.id", ondelete="CASCADE")
    )
    event_position: Mapped[int] = mapped_column(BigInteger)
    # Copied from the event: deliveries of one subject go out one at a time, in order.
    subject: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(SmallInteger)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(String(300))
    last_latency_ms: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("subscription_id", "event_position", name="uq_event_deliveries_event"),
        # The dispatcher reads a subscription's pending deliveries in event order.
        Index("ix_event_deliveries_pending", "subscription_id", "status", "event_position"),
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status_known"),
    )


class DeliveryAttempt(Base):
    """One try at sending a delivery: what came back and how long it took."""

    __tablename__ = "event_delivery_attempts"

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        _Id, ForeignKey("event_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # delivered, retry (will be tried again) or dead (given up on).
    outcome: Mapped[str] = mapped_column(String(10))
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(String(300))
    latency_ms: Mapped[float] = mapped_column(Float)


class EventCursor(Base):
    """How far one of the platform's own readers (a sink, a read model) has read the outbox."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
