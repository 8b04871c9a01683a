"""The change feed: every committed event after a position, for consumers that prefer to poll.

This module owns reading the outbox for ``GET /api/v1/events``: the events after ``after`` (a
position the consumer remembers, the ``sequence`` of the last event it saw), selected by type
filters in SQL, in position order. Positions are the order of commit (ADR 21), so a consumer that
walks the feed misses nothing and sees nothing twice, whatever it was doing in between.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_, select

from townhall.errors import FieldError, UnprocessableContent, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.registry import EventRegistry
from townhall.platform.events.subscriptions import published_filters


def checked_filters(registry: EventRegistry, filters: Sequence[str]) -> list[str]:
    """The filters, each checked against the registry; a 422 naming ``query.type`` if not."""
    errors: list[FieldError] = []
    allowed = set(published_filters(registry))
    for pattern in filters:
        try:
            registry.check_filter(pattern)
        except UnprocessableContent as exc:
            errors.append(FieldError(field="query.type", message=exc.detail))
            continue
        if pattern not in allowed:
            # The same filters as a subscription's (published in the OpenAPI document).
            message = (
                f"{pattern!r}: a '*' may only follow a dot, as in 'uk.gov.townhall.address.*'."
            )
            errors.append(FieldError(field="query.type", message=message))
    if errors:
        raise ValidationFailed(errors)
    return list(dict.fromkeys(filters))


def read_feed(
    database: Database, *, after: int, filters: Sequence[str], limit: int
) -> list[OutboxEvent]:
    """Up to ``limit`` events after position ``after`` that any filter selects (all if none)."""
    statement = (
        select(OutboxEvent)
        .where(OutboxEvent.position > after)
        .order_by(OutboxEvent.position)
        .limit(limit)
    )
    if filters:
        statement = statement.where(or_(*(_selects(pattern) for pattern in filters)))
    with database.read() as session:
        events = list(session.scalars(statement))
        # Detached as read: ending the unit of work must not expire what the caller will send.
        session.expunge_all()
    return events


def _selects(pattern: str) -> ColumnElement[bool]:
    if pattern.endswith("*"):
        return OutboxEvent.type.startswith(pattern[:-1], autoescape=True)
    return OutboxEvent.type == pattern
