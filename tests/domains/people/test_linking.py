"""The incremental linker as an event reader: it waits, without losing events, until a model is
trained. (The scored placement itself is tested through ``link_batch`` in test_residents.)"""

from __future__ import annotations

import pytest

from townhall.domains.people.events import PERSON_RECORD_CREATED
from townhall.domains.people.linking import LinkerWaiting, PeopleLinker
from townhall.platform.db import Database
from townhall.platform.events.outbox import emit
from townhall.platform.events.readers import run_reader
from townhall.settings import Settings


def test_without_a_model_the_linker_waits_and_keeps_its_events(
    database: Database, settings: Settings
) -> None:
    linker = PeopleLinker(settings)
    data = {
        "record_id": 1,
        "source_system": "housing",
        "sync_id": None,
        "version": 1,
        "changed_fields": ["last_name"],
    }
    with database.write() as session:
        emit(session, PERSON_RECORD_CREATED, "1", data)

    for _attempt in range(2):
        with pytest.raises(LinkerWaiting):
            run_reader(database, linker, owner="test", lease_seconds=30, start_at=0)
    linker.close()
