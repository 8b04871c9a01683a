"""Readers: a cursor per reader, moved with the reader's own writes, under a lease."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from townhall.platform.db import Database, aware
from townhall.platform.events.models import EventCursor, OutboxEvent
from townhall.platform.events.outbox import NewEvent, emit_many
from townhall.platform.events.readers import place_cursor, run_reader
from townhall.platform.events.registry import EventType


class _Changed(BaseModel):
    changes: dict[str, object]


def _type(name: str) -> EventType:
    return EventType(
        name=name, domain="notes", summary="A note changed.", subject="The note.", data=_Changed
    )


NOTE_UPDATED = _type("note.updated")
NOTE_DELETED = _type("note.deleted")
TAG_ADDED = _type("tag.added")


@dataclass
class _Recorder:
    """A reader that remembers what it was given, and can be told to fail."""

    name: str = "test-recorder"
    type_filters: tuple[str, ...] = ()
    fail: bool = False
    seen: list[tuple[int, str]] = field(default_factory=list)

    def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
        assert session.in_transaction()
        if self.fail:
            raise RuntimeError("the read model could not be updated")
        self.seen.extend((event.position, event.subject) for event in events)


def _emit(database: Database, *subjects: str, event_type: EventType = NOTE_UPDATED) -> None:
    with database.write() as session:
        emit_many(session, [NewEvent(event_type, subject, {"changes": {}}) for subject in subjects])


@dataclass(frozen=True)
class _Cursor:
    position: int
    lease_owner: str | None


def _cursor(database: Database, name: str) -> _Cursor | None:
    with database.read() as session:
        row = session.get(EventCursor, name)
        return None if row is None else _Cursor(row.position, row.lease_owner)


def test_a_new_reader_starts_at_the_end_of_the_outbox(database: Database) -> None:
    _emit(database, "old-1", "old-2")
    reader = _Recorder()

    assert run_reader(database, reader, owner="a", lease_seconds=30) == 0
    _emit(database, "new-1", "new-2")
    assert run_reader(database, reader, owner="a", lease_seconds=30) == 2
    assert run_reader(database, reader, owner="a", lease_seconds=30) == 0

    assert [subject for _, subject in reader.seen] == ["new-1", "new-2"]
    cursor = _cursor(database, reader.name)
    assert cursor is not None
    assert cursor.position == reader.seen[-1][0]
    assert cursor.lease_owner == "a"


def test_a_reader_told_to_start_at_zero_replays_history(database: Database) -> None:
    _emit(database, "old-1", "old-2", "old-3")
    reader = _Recorder()

    assert run_reader(database, reader, owner="a", lease_seconds=30, start_at=0, batch=2) == 2
    assert run_reader(database, reader, owner="a", lease_seconds=30, batch=2) == 1
    assert [subject for _, subject in reader.seen] == ["old-1", "old-2", "old-3"]


def test_events_the_reader_does_not_want_still_move_its_cursor(database: Database) -> None:
    reader = _Recorder(type_filters=("uk.gov.townhall.note.*",))
    run_reader(database, reader, owner="a", lease_seconds=30)
    _emit(database, "n-1")
    _emit(database, "t-1", "t-2", event_type=TAG_ADDED)
    _emit(database, "n-2", event_type=NOTE_DELETED)
    _emit(database, "t-3", event_type=TAG_ADDED)

    assert run_reader(database, reader, owner="a", lease_seconds=30) == 5
    assert [subject for _, subject in reader.seen] == ["n-1", "n-2"]
    cursor = _cursor(database, reader.name)
    assert cursor is not None
    with database.read() as session:
        newest = session.scalar(select(OutboxEvent.position).order_by(OutboxEvent.position.desc()))
    assert cursor.position == newest, "the tag events at the end must be passed over too"


def test_a_failing_handle_leaves_the_cursor_where_it_was(database: Database) -> None:
    reader = _Recorder()
    run_reader(database, reader, owner="a", lease_seconds=30)
    before = _cursor(database, reader.name)
    assert before is not None
    _emit(database, "n-1", "n-2")

    reader.fail = True
    with pytest.raises(RuntimeError, match="could not be updated"):
        run_reader(database, reader, owner="a", lease_seconds=30)
    after = _cursor(database, reader.name)
    assert after is not None
    assert after.position == before.position

    reader.fail = False
    assert run_reader(database, reader, owner="a", lease_seconds=30) == 2
    assert [subject for _, subject in reader.seen] == ["n-1", "n-2"]


def test_another_owner_waits_for_the_lease_to_expire(database: Database) -> None:
    reader = _Recorder()
    run_reader(database, reader, owner="a", lease_seconds=300)
    _emit(database, "n-1")

    assert run_reader(database, reader, owner="b", lease_seconds=300) == 0
    assert reader.seen == []
    assert run_reader(database, reader, owner="a", lease_seconds=0) == 1
    # a's lease has lapsed (it asked for none): b takes the reader over.
    _emit(database, "n-2")
    assert run_reader(database, reader, owner="b", lease_seconds=300) == 1
    cursor = _cursor(database, reader.name)
    assert cursor is not None
    assert cursor.lease_owner == "b"
    assert [subject for _, subject in reader.seen] == ["n-1", "n-2"]


def test_two_owners_running_side_by_side_never_both_run_the_reader(database: Database) -> None:
    lock = threading.Lock()
    active: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    handled: list[tuple[str, int]] = []

    class Slow:
        name = "test-slow"
        type_filters: tuple[str, ...] = ()

        def __init__(self, owner: str) -> None:
            self.owner = owner

        def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
            with lock:
                active.append(self.owner)
                if len(active) > 1:
                    overlaps.append(tuple(active))
            time.sleep(0.005)  # widen the window in which another owner could slip in
            with lock:
                handled.extend((self.owner, event.position) for event in events)
                active.remove(self.owner)

    run_reader(database, Slow("a"), owner="a", lease_seconds=300, start_at=0)
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop(owner: str) -> None:
        reader = Slow(owner)
        try:
            while not stop.is_set():
                run_reader(database, reader, owner=owner, lease_seconds=300, batch=3)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(owner,)) for owner in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for n in range(20):
        _emit(database, f"n-{n}-1", f"n-{n}-2")
    deadline = time.monotonic() + 30
    while len(handled) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()

    assert errors == []
    assert overlaps == []
    positions = [position for _, position in handled]
    assert len(positions) == 40
    assert positions == sorted(set(positions)), "each event once, in order"
    assert {owner for owner, _ in handled} == {"a"}, "the lease holder alone runs the reader"


def test_a_placed_cursor_is_kept_unless_moved_on_purpose(database: Database) -> None:
    _emit(database, "n-1", "n-2", "n-3")
    with database.write() as session:
        place_cursor(session, "test-placed", 1, only_if_missing=True)
    with database.write() as session:
        place_cursor(session, "test-placed", 3, only_if_missing=True)
    cursor = _cursor(database, "test-placed")
    assert cursor is not None
    assert cursor.position == 1

    with database.write() as session:
        place_cursor(session, "test-placed", 2, only_if_missing=False)
    reader = _Recorder(name="test-placed")
    assert run_reader(database, reader, owner="a", lease_seconds=30) == 1
    assert [subject for _, subject in reader.seen] == ["n-3"]


@dataclass(frozen=True)
class _Row:
    position: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    updated_at: datetime


def _row(database: Database, name: str) -> _Row:
    with database.read() as session:
        row = session.get(EventCursor, name)
        assert row is not None
        expires = None if row.lease_expires_at is None else aware(row.lease_expires_at)
        return _Row(row.position, row.lease_owner, expires, aware(row.updated_at))


def _counting_write_units(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the write units ``database`` opens from now on (each still opened for real)."""
    opened: list[int] = []
    real_write = database.write

    def write() -> object:
        opened.append(1)
        return real_write()

    monkeypatch.setattr(database, "write", write)
    return opened


def test_an_idle_call_with_a_fresh_lease_writes_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = _Recorder()
    run_reader(database, reader, owner="a", lease_seconds=300)
    _emit(database, "n-1")
    assert run_reader(database, reader, owner="a", lease_seconds=300) == 1
    before = _row(database, reader.name)
    opened = _counting_write_units(database, monkeypatch)

    assert run_reader(database, reader, owner="a", lease_seconds=300) == 0
    # Another owner, while a's lease runs, has nothing to write either.
    assert run_reader(database, reader, owner="b", lease_seconds=300) == 0

    assert opened == [], "no write unit, so no commit for the other processes' watchers to see"
    assert _row(database, reader.name) == before


def test_new_events_still_open_a_write_unit_and_move_the_cursor(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = _Recorder()
    run_reader(database, reader, owner="a", lease_seconds=300)
    opened = _counting_write_units(database, monkeypatch)
    assert run_reader(database, reader, owner="a", lease_seconds=300) == 0
    assert opened == []

    monkeypatch.undo()
    _emit(database, "n-1")
    opened = _counting_write_units(database, monkeypatch)
    assert run_reader(database, reader, owner="a", lease_seconds=300) == 1
    assert opened == [1]
    assert [subject for _, subject in reader.seen] == ["n-1"]


def test_an_idle_call_renews_a_lease_a_third_gone(database: Database) -> None:
    reader = _Recorder()
    run_reader(database, reader, owner="a", lease_seconds=300)
    # As if most of a's lease had gone by since it was last renewed.
    short = datetime.now(UTC) + timedelta(seconds=60)
    with database.write() as session:
        session.execute(
            update(EventCursor)
            .where(EventCursor.name == reader.name)
            .values(lease_expires_at=short)
        )
    before = _row(database, reader.name)

    assert run_reader(database, reader, owner="a", lease_seconds=300) == 0

    after = _row(database, reader.name)
    assert after.lease_owner == "a"
    assert after.lease_expires_at is not None
    assert after.lease_expires_at > short, "renewed before it could run out"
    assert after.position == before.position
    assert after.updated_at == before.updated_at, "the cursor did not move"


def test_an_idle_call_takes_a_free_lease(database: Database) -> None:
    reader = _Recorder()
    run_reader(database, reader, owner="a", lease_seconds=0)
    assert _row(database, reader.name).lease_owner == "a"

    # a's lease has lapsed: b takes it though there is nothing to read.
    assert run_reader(database, reader, owner="b", lease_seconds=300) == 0
    assert _row(database, reader.name).lease_owner == "b"
