"""The platform's own readers of the outbox: read models and sinks, each with its own cursor.

This module owns the ``EventReader`` protocol and ``run_reader``, which hands a reader the events
after its cursor and moves the cursor in the same unit of work as the reader's own writes, so a
read model kept in the database sees every event exactly once, and a crash between the two
cannot happen. A reader that writes elsewhere (the Redis Streams sink) makes its writes
idempotent, since the cursor may not have moved when the process died.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session

from townhall.platform.events.models import OutboxEvent


class EventReader(Protocol):
    """A consumer of the outbox inside the platform (a read model, a sink)."""

    # Its cursor's name in ``event_cursors``: stable, lower case, hyphens.
    name: str
    # The event types (filters: whole types or prefixes ending in ``*``) it wants; empty for all.
    type_filters: tuple[str, ...]

    def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
        """Apply ``events`` (in position order) inside ``session``'s unit of work."""
        ...
