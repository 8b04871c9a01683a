"""The incremental linker as an event reader: it waits, without losing events, until a model is
trained, and says so once rather than at every dispatcher pass. (The scored placement is tested
through ``link_batch`` in test_residents, and with a trained model in test_linking_with_model.)"""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from townhall.domains.people.events import PERSON_RECORD_CREATED
from townhall.domains.people.linking import LinkerWaiting, PeopleLinker
from townhall.platform.db import Database
from townhall.platform.events.dispatcher import Dispatcher
from townhall.platform.events.models import EventCursor
from townhall.platform.events.outbox import emit
from townhall.platform.events.readers import place_cursor, run_reader
from townhall.settings import Settings


def created(database: Database) -> None:
    data = {
        "record_id": 1,
        "source_system": "housing",
        "sync_id": None,
        "version": 1,
        "changed_fields": ["last_name"],
    }
    with database.write() as session:
        emit(session, PERSON_RECORD_CREATED, "1", data)


def test_without_a_model_the_linker_waits_and_keeps_its_events(
    database: Database, settings: Settings
) -> None:
    linker = PeopleLinker(settings)
    created(database)

    for _attempt in range(2):
        with pytest.raises(LinkerWaiting):
            run_reader(database, linker, owner="test", lease_seconds=30, start_at=0)
    linker.close()


def test_the_dispatcher_lets_a_waiting_linker_wait_and_logs_it_once(
    database: Database, settings: Settings
) -> None:
    linker = PeopleLinker(settings)
    created(database)
    with database.write() as session:
        place_cursor(session, linker.name, 0, only_if_missing=False)
    dispatcher = Dispatcher(settings, database, [linker], owner="test")

    async def passes() -> None:
        try:
            for _ in range(3):
                await dispatcher.run_once()
        finally:
            await dispatcher.close()

    with capture_logs() as logs:
        asyncio.run(passes())
    linker.close()

    said = [entry["event"] for entry in logs]
    assert said.count("people.linker.waiting") == 1
    assert "events.reader.failed" not in said
    with database.read() as session:
        assert session.get(EventCursor, linker.name).position == 0  # type: ignore[union-attr]
