"""The Redis Streams sink against a real Redis server: in order, exactly once, and never ahead.

Tests that need the server use ``TOWNHALL_TEST_REDIS_URL`` (skipped when it is unset, failed
under CI); each has a stream of its own, deleted afterwards. The outage tests point at a closed
port. Events enter through ``outbox.emit`` in real units of work on the backend under test.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator, Sequence

import pytest
import redis
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from structlog.testing import capture_logs

from townhall.domains.addresses.events import ADDRESS_EVENT_TYPES
from townhall.event_types import event_readers
from townhall.platform.db import Database
from townhall.platform.events.dispatcher import Dispatcher
from townhall.platform.events.envelope import to_json_bytes
from townhall.platform.events.models import EventCursor, OutboxEvent
from townhall.platform.events.outbox import NewEvent, emit, emit_many
from townhall.platform.events.readers import place_cursor, run_reader
from townhall.platform.events.redis_sink import RedisStreamSink, RedisStreamUnavailable
from townhall.settings import Settings

UPDATED = next(t for t in ADDRESS_EVENT_TYPES if t.name == "address.updated")
COUNCIL = "E09000012"


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def stream(redis_client: redis.Redis) -> Iterator[str]:
    """A stream name of this test's own, deleted afterwards."""
    name = f"townhall-test:events:{uuid.uuid4().hex}"
    yield name
    redis_client.delete(name)


def sink_settings(settings: Settings, redis_url: str, stream: str, **extra: object) -> Settings:
    """The test instance's settings with the Redis stream turned on."""
    values = settings.model_dump() | {
        "redis_url": SecretStr(redis_url),
        "events_redis_stream": stream,
        **extra,
    }
    return Settings.model_validate(values)


@pytest.fixture
def sink(settings: Settings, redis_url: str, stream: str) -> Iterator[RedisStreamSink]:
    """The sink as an instance builds it from its settings."""
    redis_sink = RedisStreamSink.from_settings(sink_settings(settings, redis_url, stream))
    yield redis_sink
    redis_sink.close()


def emit_some(database: Database, count: int, *, per_unit: int = 1) -> None:
    """Commit ``count`` events, ``per_unit`` to a unit of work."""
    for start in range(0, count, per_unit):
        with database.write() as session:
            emit_many(
                session,
                [
                    NewEvent(UPDATED, f"lpi-{n}", {"changes": {"n": {"old": n - 1, "new": n}}})
                    for n in range(start, min(start + per_unit, count))
                ],
            )


def outbox(database: Database, after: int = 0) -> list[OutboxEvent]:
    """The events after ``after``, in position order, detached from their session."""
    with database.read() as session:
        rows = session.scalars(
            select(OutboxEvent).where(OutboxEvent.position > after).order_by(OutboxEvent.position)
        ).all()
        session.expunge_all()
    return list(rows)


def hand(database: Database, sink: RedisStreamSink, events: Sequence[OutboxEvent]) -> None:
    """Give the sink ``events`` inside a write unit of work, as a reader pass does."""
    with database.write() as session:
        sink.handle(session, events)


def entries(client: redis.Redis, stream: str) -> list[tuple[str, dict[bytes, bytes]]]:
    return [(entry_id.decode(), fields) for entry_id, fields in client.xrange(stream)]


def test_events_reach_the_stream_in_order_with_their_positions_as_ids(
    database: Database, sink: RedisStreamSink, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 5, per_unit=2)
    events = outbox(database)
    hand(database, sink, events)

    stored = entries(redis_client, stream)
    assert [entry_id for entry_id, _ in stored] == [f"{e.position}-0" for e in events]
    for (_, fields), event in zip(stored, events, strict=True):
        assert fields == {
            b"event": to_json_bytes(event, council_code=COUNCIL),
            b"type": b"uk.gov.townhall.address.updated",
            b"subject": event.subject.encode(),
        }


def test_events_handed_again_are_not_appended_twice(
    database: Database, sink: RedisStreamSink, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 4)
    first = outbox(database)
    hand(database, sink, first[:3])
    # As after a crash between the append and the cursor's commit: the same events again,
    # and a batch that overlaps the stream's end.
    with capture_logs() as logs:
        hand(database, sink, first[:3])
        hand(database, sink, first)

    assert [entry_id for entry_id, _ in entries(redis_client, stream)] == [
        f"{e.position}-0" for e in first
    ]
    skipped = [
        entry["skipped"] for entry in logs if entry["event"] == "redis_stream_skipped_appended"
    ]
    assert skipped == [3, 3]


def test_a_position_whose_id_has_a_sequence_is_already_in_the_stream(
    database: Database, sink: RedisStreamSink, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 3)
    events = outbox(database)
    # Someone appended "<second>-1" by hand: ids up to it are taken, the third is not.
    redis_client.xadd(stream, {"by": "hand"}, id=f"{events[1].position}-1")
    hand(database, sink, events)
    assert [entry_id for entry_id, _ in entries(redis_client, stream)] == [
        f"{events[1].position}-1",
        f"{events[2].position}-0",
    ]


def test_the_stream_is_trimmed_to_about_its_maximum_length(
    database: Database, settings: Settings, redis_url: str, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 1500, per_unit=1500)
    small = RedisStreamSink.from_settings(
        sink_settings(settings, redis_url, stream, events_redis_stream_max_length=1000)
    )
    try:
        hand(database, small, outbox(database))
    finally:
        small.close()
    length = redis_client.xlen(stream)
    # MAXLEN ~ trims whole nodes only (100 entries each by default), so it keeps at least 1000.
    assert 1000 <= length < 1500
    newest = redis_client.xrevrange(stream, count=1)[0][0].decode()
    assert newest == f"{outbox(database)[-1].position}-0"


def test_when_redis_is_down_the_unit_of_work_rolls_back_and_says_so_once(
    database: Database, settings: Settings, redis_url: str, redis_client: redis.Redis, stream: str
) -> None:
    down = RedisStreamSink.from_settings(
        sink_settings(settings, f"redis://127.0.0.1:{closed_port()}/0", stream)
    )
    emit_some(database, 2)
    events = outbox(database)

    def attempt() -> None:
        with database.write() as session:
            # Written in the same unit: gone with it when the sink raises.
            emit(session, UPDATED, "lpi-rolled-back", {"changes": {}})
            down.handle(session, events)

    try:
        with capture_logs() as logs:
            for _ in range(2):
                with pytest.raises(RedisStreamUnavailable):
                    attempt()
    finally:
        down.close()
    assert [entry["event"] for entry in logs] == ["redis_stream_unavailable"]
    assert logs[0]["log_level"] == "error"
    assert len(outbox(database)) == 2
    assert redis_client.exists(stream) == 0


def cursor_position(database: Database) -> int | None:
    with database.read() as session:
        cursor = session.get(EventCursor, "redis-stream")
        return None if cursor is None else cursor.position


def run(database: Database, sink: RedisStreamSink, *, start_at: int | None = None) -> int:
    """One reader pass, as the dispatcher makes it."""
    return run_reader(database, sink, owner="test", lease_seconds=5, batch=3, start_at=start_at)


def test_reader_passes_append_every_event_and_move_the_cursor(
    database: Database, sink: RedisStreamSink, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 7, per_unit=3)
    passes = []
    while read := run(database, sink, start_at=0):
        passes.append(read)
    events = outbox(database)
    assert passes == [3, 3, 1]
    assert cursor_position(database) == events[-1].position
    assert [entry_id for entry_id, _ in entries(redis_client, stream)] == [
        f"{e.position}-0" for e in events
    ]


def test_a_cursor_that_did_not_move_after_the_append_adds_no_duplicates(
    database: Database, sink: RedisStreamSink, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 5)
    while run(database, sink, start_at=0):
        pass
    before = entries(redis_client, stream)
    # The process died after XADD and before the cursor's commit: the cursor is back at 0.
    with database.write() as session:
        place_cursor(session, "redis-stream", 0, only_if_missing=False)
    emit_some(database, 1)
    read = 0
    while passed := run(database, sink):
        read += passed
    assert read == 6
    after = entries(redis_client, stream)
    assert after[:5] == before
    assert [entry_id for entry_id, _ in after] == [f"{e.position}-0" for e in outbox(database)]


def test_when_redis_is_down_the_cursor_stays_and_catches_up_after(
    database: Database,
    settings: Settings,
    sink: RedisStreamSink,
    redis_client: redis.Redis,
    stream: str,
) -> None:
    emit_some(database, 2)
    while run(database, sink, start_at=0):
        pass
    reached = cursor_position(database)
    emit_some(database, 3)
    down = RedisStreamSink.from_settings(
        sink_settings(settings, f"redis://127.0.0.1:{closed_port()}/0", stream)
    )
    try:
        with pytest.raises(RedisStreamUnavailable):
            run(database, down)
    finally:
        down.close()
    assert cursor_position(database) == reached
    assert redis_client.xlen(stream) == 2

    while run(database, sink):  # Redis is back (the same sink's server, here)
        pass
    assert [entry_id for entry_id, _ in entries(redis_client, stream)] == [
        f"{e.position}-0" for e in outbox(database)
    ]


def test_the_dispatcher_feeds_the_stream_from_when_it_was_turned_on(
    database: Database, settings: Settings, redis_url: str, redis_client: redis.Redis, stream: str
) -> None:
    emit_some(database, 2)  # before the stream was turned on: not in it
    with_stream = sink_settings(settings, redis_url, stream)
    readers = event_readers(with_stream)

    async def passes() -> None:
        dispatcher = Dispatcher(with_stream, database, readers, owner="test")
        try:
            await dispatcher.run_once()
            emit_some(database, 3, per_unit=2)
            await dispatcher.run_once()
        finally:
            await dispatcher.close()

    try:
        asyncio.run(passes())
    finally:
        for reader in readers:
            if isinstance(reader, RedisStreamSink):
                reader.close()
    assert [entry_id for entry_id, _ in entries(redis_client, stream)] == [
        f"{e.position}-0" for e in outbox(database)[2:]
    ]


def test_a_consumer_group_on_another_connection_reads_every_event_once(
    database: Database, sink: RedisStreamSink, redis_client: redis.Redis, stream: str
) -> None:
    # Groups made before anything is appended, as a consumer would at deployment.
    redis_client.xgroup_create(stream, "search-index", id="0", mkstream=True)
    redis_client.xgroup_create(stream, "data-warehouse", id="0")
    emit_some(database, 6, per_unit=3)
    events = outbox(database)
    hand(database, sink, events)

    # Two consumers sharing one group's work: between them, each event once.
    shared: list[str] = []
    for consumer in ("worker-1", "worker-2"):
        answer = redis_client.xreadgroup("search-index", consumer, {stream: ">"}, count=3)
        for _, items in answer:
            shared += [entry_id.decode() for entry_id, _ in items]
            redis_client.xack(stream, "search-index", *[entry_id for entry_id, _ in items])
    # Another group: every event again, at its own pace (the fan-out).
    other = redis_client.xreadgroup("data-warehouse", "loader", {stream: ">"})
    fanned = [entry_id.decode() for _, items in other for entry_id, _ in items]

    expected = [f"{e.position}-0" for e in events]
    assert shared == expected
    assert fanned == expected
    assert redis_client.xpending(stream, "search-index")["pending"] == 0


def test_the_stream_needs_a_redis_url(settings: Settings) -> None:
    with pytest.raises(
        ValidationError, match="TOWNHALL_EVENTS_REDIS_STREAM needs TOWNHALL_REDIS_URL"
    ):
        Settings.model_validate(settings.model_dump() | {"events_redis_stream": "townhall:events"})


def test_the_instance_reads_into_the_stream_only_when_one_is_named(settings: Settings) -> None:
    assert not [r for r in event_readers(settings) if r.name == "redis-stream"]
    with_stream = sink_settings(settings, "redis://127.0.0.1:6379/0", "townhall:events")
    sinks = [r for r in event_readers(with_stream) if isinstance(r, RedisStreamSink)]
    assert [(s.name, s.type_filters, s.stream) for s in sinks] == [
        ("redis-stream", (), "townhall:events")
    ]
    for s in sinks:
        s.close()
