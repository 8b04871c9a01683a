"""The transactional outbox: a service writes its events in the unit of work of its change.

This module owns ``emit`` and ``emit_many``, the only way an event enters Townhall. They add rows
to ``event_outbox`` through the caller's session, so the events commit with the change or not at
all, and they arrange for the dispatcher to wake as soon as the unit of work commits:

- on SQLite, an ``after_commit`` hook on the session notifies this process's ``CommitSignal``
  (a rollback notifies nobody); dispatchers in other processes watch SQLite's ``data_version``;
- on PostgreSQL, ``pg_notify`` in the same transaction (delivered by the server at commit, and
  dropped with a rollback) wakes every dispatcher LISTENing, on any machine.

Positions are the order of commit. SQLite has one writer, so that holds by itself. On PostgreSQL
a sequence hands out positions at INSERT time, and two transactions can commit in the other
order, which would let a reader that has passed position 11 never see a 10 committed just after;
so the first emit of a transaction takes a transaction-level advisory lock, held until commit,
that serialises the transactions that write events (ADR 21).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from townhall.platform.db import order_commits
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.registry import EventType
from townhall.platform.events.wakeup import signal_for

# pg_notify channel every dispatcher LISTENs on; the payload is empty (the outbox is the truth).
NOTIFY_CHANNEL = "townhall_events"
# Marks a session that has already taken the lock and arranged the wake-up.
_ANNOUNCED = "townhall.events.announced"
_LISTENING = "townhall.events.signal"


@dataclass(frozen=True)
class NewEvent:
    """An event to write: its type, the record it is about, and what changed."""

    type: EventType
    subject: str
    data: Mapping[str, Any]
    correlation_id: str | None = None
    consumer_id: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def emit(
    session: Session,
    event_type: EventType,
    subject: str,
    data: Mapping[str, Any],
    *,
    correlation_id: str | None = None,
    consumer_id: str | None = None,
) -> str:
    """Write one event in ``session``'s unit of work; return its id.

    ``correlation_id`` defaults to the id of the request being served, when there is one.
    ``consumer_id`` is the client id of the consumer whose call caused the change.
    """
    new = NewEvent(event_type, subject, data, correlation_id, consumer_id)
    emit_many(session, [new])
    return new.id


def emit_many(session: Session, events: Iterable[NewEvent]) -> int:
    """Write many events in ``session``'s unit of work, in the order given; return how many."""
    now = datetime.now(UTC)
    request_id = _current_request_id()
    rows = [
        {
            "id": new.id,
            "type": new.type.type,
            "domain": new.type.domain,
            "subject": new.subject,
            "time": now,
            "data": dict(new.data),
            "correlation_id": new.correlation_id or request_id,
            "consumer_id": new.consumer_id,
        }
        for new in events
    ]
    if not rows:
        return 0
    _announce(session)
    # executemany keeps the order given, so positions follow it.
    session.execute(insert(OutboxEvent), rows)
    return len(rows)


def _announce(session: Session) -> None:
    """Once per transaction: order it among event writers and wake the dispatchers at commit."""
    if session.info.get(_ANNOUNCED):
        return
    order_commits(session)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})
    if _LISTENING not in session.info:
        # Listeners stay for the session's life; the flag says whether this transaction wrote.
        session.info[_LISTENING] = signal_for(str(connection.engine.url))
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", _after_rollback)
    session.info[_ANNOUNCED] = True


def _after_commit(session: Session) -> None:
    if session.info.pop(_ANNOUNCED, False):
        session.info[_LISTENING].notify()


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_ANNOUNCED, None)


def _current_request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None
