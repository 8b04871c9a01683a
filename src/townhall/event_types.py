"""Every event type the domains emit, gathered for the app, the AsyncAPI document and the docs.

Each domain declares its own types in its ``events.py``; this module only lists them, so the
platform's events package never imports a domain.
"""

from __future__ import annotations

from townhall.domains.addresses.events import ADDRESS_EVENT_TYPES
from townhall.domains.addresses.search_projection import SearchIndexProjection
from townhall.domains.people.events import PEOPLE_EVENT_TYPES
from townhall.domains.people.linking import PeopleLinker
from townhall.platform.events.readers import EventReader
from townhall.platform.events.registry import EventRegistry, EventType
from townhall.settings import Settings

ALL_EVENT_TYPES: tuple[EventType, ...] = (*ADDRESS_EVENT_TYPES, *PEOPLE_EVENT_TYPES)


def event_registry() -> EventRegistry:
    """A registry of every event type this version of Townhall emits."""
    return EventRegistry(ALL_EVENT_TYPES)


def event_readers(settings: Settings) -> list[EventReader]:
    """The platform's own readers of the outbox for an instance: read models, and sinks."""
    # Read models first: they are kept in this database, in the unit that moves their cursor.
    readers: list[EventReader] = [SearchIndexProjection(), PeopleLinker(settings)]
    if settings.events_redis_stream is not None:
        try:
            # Imported only here: the embedded default must run without the redis extra.
            from townhall.platform.events.redis_sink import RedisStreamSink  # noqa: PLC0415
        except ImportError as exc:
            msg = (
                "TOWNHALL_EVENTS_REDIS_STREAM needs the redis extra: pip install 'townhall[redis]'"
            )
            raise RuntimeError(msg) from exc
        readers.append(RedisStreamSink.from_settings(settings))
    return readers
