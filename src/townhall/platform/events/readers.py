"""The platform's own readers of the outbox: read models and sinks, each with its own cursor.

This module owns the ``EventReader`` protocol and ``run_reader``, which hands a reader the events
after its cursor and moves the cursor in the same unit of work as the reader's own writes, so a
read model kept in the database sees every event exactly once, and a crash between the two
cannot happen. A reader that writes elsewhere (the Redis Streams sink) makes its writes
idempotent, since the cursor may not have moved when the process died.

Each reader's cursor is a row of ``event_cursors`` holding its position and a lease: only the
lease's holder (an ``owner``, one per dispatcher) runs the reader until the lease expires, so two
dispatchers side by side never hand the same events to a reader at once. A new reader's cursor
starts at the outbox's end (a new read model does not replay history unless asked), or where its
domain placed it with ``place_cursor`` when it built the model from a snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from townhall.platform.db import Database, aware
from townhall.platform.events.models import EventCursor, OutboxEvent
from townhall.platform.events.registry import any_matches


class ReaderWaiting(Exception):
    """A reader cannot take its events yet (a model it needs is not there): it keeps them.

    Raised from ``handle``: the unit of work rolls back and the cursor stays, as for any failure,
    but the dispatcher treats it as a wait, not a fault, and asks again on a later pass without
    a warning each time. The reader says once, in its own log line, what it is waiting for.
    """


class EventReader(Protocol):
    """A consumer of the outbox inside the platform (a read model, a sink)."""

    # Its cursor's name in ``event_cursors``: stable, lower case, hyphens.
    name: str
    # The event types (filters: whole types or prefixes ending in ``*``) it wants; empty for all.
    type_filters: tuple[str, ...]

    def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
        """Apply ``events`` (in position order) inside ``session``'s unit of work."""
        ...


def outbox_end(session: Session) -> int:
    """The position of the newest event in the outbox (0 when it is empty)."""
    return int(session.scalar(select(func.coalesce(func.max(OutboxEvent.position), 0))) or 0)


def run_reader(
    database: Database,
    reader: EventReader,
    *,
    owner: str,
    lease_seconds: float,
    batch: int = 500,
    start_at: int | None = None,
) -> int:
    """Hand ``reader`` the next events after its cursor; return how many events were read.

    First, in a read unit (cheap, and no commit another process could notice): when the cursor
    exists and its lease is another owner's, or is ours with at most a third of it gone and no
    event follows the cursor, there is nothing to write and 0 is returned at once. An idle
    dispatcher then commits nothing (on SQLite every commit wakes the cross-process watchers,
    so writing on every pass made idle dispatchers wake one another, and themselves, for ever).

    Otherwise, in one write unit of work: take (or renew) the lease on the reader's cursor,
    creating the cursor if it is missing at ``start_at`` or, by default, at the outbox's end;
    read up to ``batch`` events after it; give those its ``type_filters`` select to
    ``reader.handle`` (events it does not want still move the cursor); move the cursor past
    them. Returns 0 when there is nothing new or another owner holds an unexpired lease. If
    ``handle`` raises, the unit of work rolls back, the cursor stays where it was, and the
    exception propagates for the caller to log and retry.
    """
    if batch < 1:
        msg = "batch must be at least 1"
        raise ValueError(msg)
    if not _needs_writing(database, reader.name, owner=owner, lease_seconds=lease_seconds):
        return 0
    with database.write() as session:
        now = datetime.now(UTC)
        cursor = _lease(session, reader.name, owner=owner, now=now, start_at=start_at)
        if cursor is None:
            return 0
        cursor.lease_owner = owner
        cursor.lease_expires_at = now + timedelta(seconds=lease_seconds)
        events = list(
            session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.position > cursor.position)
                .order_by(OutboxEvent.position)
                .limit(batch)
            )
        )
        if not events:
            return 0
        wanted = [
            event
            for event in events
            if not reader.type_filters or any_matches(reader.type_filters, event.type)
        ]
        if wanted:
            reader.handle(session, wanted)
        cursor.position = events[-1].position
        cursor.updated_at = now
        return len(events)


def _needs_writing(database: Database, name: str, *, owner: str, lease_seconds: float) -> bool:
    """Whether ``run_reader`` has work for a write unit: events, a cursor or a lease to take.

    A lease of ours is renewed once a third of it has gone, as the dispatcher renews its
    subscriptions' leases: its passes come at least every third of a lease, so a renewal is
    never missed before the lease runs out. The write unit checks everything again under its
    lock; this only spares it when it would surely find nothing to do.
    """
    with database.read() as session:
        row = session.execute(
            select(
                EventCursor.lease_owner,
                EventCursor.lease_expires_at,
                select(OutboxEvent.position)
                .where(OutboxEvent.position > EventCursor.position)
                .exists()
                .label("behind"),
            ).where(EventCursor.name == name)
        ).one_or_none()
    if row is None:
        return True  # the cursor is to be created
    now = datetime.now(UTC)
    expires = aware(row.lease_expires_at) if row.lease_expires_at is not None else None
    if expires is None or row.lease_owner is None or expires <= now:
        return True  # a free lease: take it (and read what is new), as the write unit would
    if row.lease_owner != owner:
        return False  # another owner's: the write unit would return 0 without a change
    return bool(row.behind) or expires <= now + timedelta(seconds=lease_seconds * (2.0 / 3.0))


def place_cursor(session: Session, name: str, position: int, *, only_if_missing: bool) -> None:
    """Put a reader's cursor at ``position`` in ``session``'s unit of work.

    A domain that builds a read model whole (a snapshot) places the cursor just after the events
    the snapshot already holds, in the same unit of work as the snapshot. With
    ``only_if_missing`` an existing cursor is left where it is: a domain calls it before writing
    events its read model must not miss, so a reader first run later does not start past them.
    """
    _create_cursor(session, name, position)
    if not only_if_missing:
        session.execute(
            update(EventCursor)
            .where(EventCursor.name == name)
            .values(position=position, updated_at=datetime.now(UTC))
        )


def hold_cursor(session: Session, name: str) -> None:
    """Create a reader's cursor if missing (at the outbox's end) and lock it until commit.

    While a domain holds it, no ``run_reader`` runs that reader (on PostgreSQL it is skipped;
    SQLite has one writer anyway). A domain that rebuilds a read model whole holds the cursor
    from the start of its unit of work, before it locks the tables the reader would read, so
    the two never wait for each other, then places it with ``place_cursor``.
    """
    _create_cursor(session, name, outbox_end(session))
    session.execute(select(EventCursor.name).where(EventCursor.name == name).with_for_update())


def _lease(
    session: Session, name: str, *, owner: str, now: datetime, start_at: int | None
) -> EventCursor | None:
    """The reader's cursor, locked for this unit of work, if ``owner`` may run the reader now."""
    cursor = _locked_cursor(session, name)
    if cursor is None:
        _create_cursor(session, name, outbox_end(session) if start_at is None else start_at)
        cursor = _locked_cursor(session, name)
        if cursor is None:  # created by another owner who holds it right now
            return None
    held_by_other = (
        cursor.lease_owner is not None
        and cursor.lease_owner != owner
        and cursor.lease_expires_at is not None
        and aware(cursor.lease_expires_at) > now
    )
    return None if held_by_other else cursor


def _locked_cursor(session: Session, name: str) -> EventCursor | None:
    # On PostgreSQL a cursor another dispatcher is working on right now is skipped, not waited
    # for; SQLite's single writer already keeps write units apart (FOR UPDATE is not emitted).
    return session.scalars(
        select(EventCursor)
        .where(EventCursor.name == name)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).one_or_none()


def _create_cursor(session: Session, name: str, position: int) -> None:
    """Insert the cursor row unless it exists (another owner may be creating it right now)."""
    values = {"name": name, "position": position, "updated_at": datetime.now(UTC)}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(EventCursor).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(EventCursor).values(values).on_conflict_do_nothing())
