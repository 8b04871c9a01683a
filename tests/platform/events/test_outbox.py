"""The outbox: events commit with their change or not at all, in commit order, and wake waiters."""

from __future__ import annotations

import asyncio
import threading

import pytest
import structlog
from pydantic import BaseModel
from sqlalchemy import func, select

from tests.conftest import BACKEND
from townhall.platform.db import Database
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.outbox import NewEvent, emit, emit_many
from townhall.platform.events.registry import EventType
from townhall.platform.events.wakeup import signal_for


class _Changed(BaseModel):
    changes: dict[str, object]


NOTE_UPDATED = EventType(
    name="note.updated",
    domain="notes",
    summary="A note changed.",
    subject="The note's id.",
    data=_Changed,
)


def _events(database: Database) -> list[OutboxEvent]:
    with database.read() as session:
        events = list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.position)))
        session.expunge_all()  # keep what was loaded when the read unit ends
        return events


def test_an_event_commits_with_its_change(database: Database) -> None:
    with database.write() as session:
        event_id = emit(
            session, NOTE_UPDATED, "n-1", {"changes": {"text": {"old": "a", "new": "b"}}}
        )

    [event] = _events(database)
    assert event.id == event_id
    assert event.type == "uk.gov.townhall.note.updated"
    assert event.domain == "notes"
    assert event.subject == "n-1"
    assert event.data == {"changes": {"text": {"old": "a", "new": "b"}}}


def test_a_change_that_rolls_back_emits_nothing(database: Database) -> None:
    signal = signal_for(str(database.engine.url))
    seen = signal.generation
    with pytest.raises(RuntimeError, match="failed after"):
        _emit_then_fail(database)

    assert _events(database) == []
    assert signal.generation == seen, "a rolled-back unit of work must wake nobody"


def _emit_then_fail(database: Database) -> None:
    with database.write() as session:
        emit(session, NOTE_UPDATED, "n-1", {"changes": {}})
        raise RuntimeError("the change failed after its event was written")


def test_a_commit_wakes_a_waiter_in_this_process(database: Database) -> None:
    signal = signal_for(str(database.engine.url))
    seen = signal.generation

    async def wait_for_commit() -> int:
        waiting = asyncio.create_task(signal.wait(seen, timeout=30))
        await asyncio.sleep(0)
        await asyncio.to_thread(_commit_one, database)
        return await waiting

    assert asyncio.run(wait_for_commit()) == seen + 1


def _commit_one(database: Database) -> None:
    with database.write() as session:
        emit(session, NOTE_UPDATED, "n-1", {"changes": {}})


def test_a_commit_while_nobody_waits_is_not_lost(database: Database) -> None:
    signal = signal_for(str(database.engine.url))
    seen = signal.generation
    _commit_one(database)
    # The waiter arrives late: it returns at once instead of waiting for the next commit.
    assert asyncio.run(signal.wait(seen, timeout=30)) == seen + 1


def test_many_events_keep_the_order_given(database: Database) -> None:
    with database.write() as session:
        written = emit_many(
            session, [NewEvent(NOTE_UPDATED, f"n-{i}", {"changes": {}}) for i in range(50)]
        )

    events = _events(database)
    assert written == 50
    assert [e.subject for e in events] == [f"n-{i}" for i in range(50)]
    positions = [e.position for e in events]
    assert positions == sorted(positions)
    assert len({e.id for e in events}) == 50


def test_positions_are_never_reused_after_the_newest_event_is_deleted(database: Database) -> None:
    for _ in range(2):
        _commit_one(database)
    newest = _events(database)[-1].position
    with database.write() as session:
        session.query(OutboxEvent).filter(OutboxEvent.position == newest).delete()
    _commit_one(database)
    assert _events(database)[-1].position > newest


def test_the_request_id_is_the_default_correlation_id(database: Database) -> None:
    with structlog.contextvars.bound_contextvars(request_id="req-42"), database.write() as session:
        emit(session, NOTE_UPDATED, "n-1", {"changes": {}})
        emit(session, NOTE_UPDATED, "n-2", {"changes": {}}, correlation_id="import-7")

    assert [e.correlation_id for e in _events(database)] == ["req-42", "import-7"]


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite has one writer: commit order holds")
def test_positions_follow_commit_order_on_postgresql(database: Database) -> None:
    """A later transaction cannot slip an event in before an earlier one commits.

    Without the outbox's lock, the second transaction would take the next position, commit first,
    and a reader that saw it would then move past the first transaction's event for ever.
    """
    second_done = threading.Event()

    def second_writer() -> None:
        with database.write() as session:
            emit(session, NOTE_UPDATED, "second", {"changes": {}})
        second_done.set()

    with database.write() as first:
        emit(first, NOTE_UPDATED, "first", {"changes": {}})
        first.flush()
        writer = threading.Thread(target=second_writer)
        writer.start()
        # The second writer waits on the first's lock: nothing of it can be seen meanwhile.
        assert not second_done.wait(1.0)
        with database.read() as reader:
            assert reader.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    writer.join(30)

    assert second_done.is_set()
    assert [e.subject for e in _events(database)] == ["first", "second"]
