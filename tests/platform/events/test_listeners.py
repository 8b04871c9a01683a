"""Cross-process wake-ups: watchers wake for new events and subscription changes only.

The "other process" is this test's own pool connections: the watcher reads SQLite's
``data_version`` (or LISTENs on PostgreSQL) on a connection of its own, for which any other
connection's commit counts exactly as another process's would.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.platform.events.dispatcher_helpers import emit, subscribe
from townhall.platform.db import Database
from townhall.platform.events.listeners import SQLITE_POLL_SECONDS, cancel, watch_other_processes
from townhall.platform.events.models import EventCursor, Subscription
from townhall.platform.events.readers import place_cursor
from townhall.settings import Settings

# Long enough for the watcher to have read data_version many times over.
QUIET_SECONDS = SQLITE_POLL_SECONDS * 15
# How long a wake-up may take before the test gives up on it (a loaded machine is slow).
WAKE_DEADLINE_SECONDS = 10.0


@pytest.fixture
def sqlite_only(database: Database) -> None:
    if not database.is_sqlite:
        pytest.skip("the data_version watcher is SQLite's (PostgreSQL's is LISTEN/NOTIFY)")


class _Wakes:
    """Counts wake-ups, and lets a test wait for the next one."""

    def __init__(self) -> None:
        self.count = 0
        self.event = asyncio.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    async def next(self) -> None:
        await asyncio.wait_for(self.event.wait(), WAKE_DEADLINE_SECONDS)
        self.event.clear()


def test_commits_without_new_events_do_not_wake_the_watcher(
    database: Database, settings: Settings
) -> None:
    subscription_id, _ = subscribe(database, settings, "http://127.0.0.1:9/hook")
    emit(database, "t-0")
    asyncio.run(_no_wake_for_dispatcher_writes(database, subscription_id))


async def _no_wake_for_dispatcher_writes(database: Database, subscription_id: str) -> None:
    wakes = _Wakes()
    watcher = asyncio.create_task(watch_other_processes(database, wakes))
    try:
        if not database.is_sqlite:
            # PostgreSQL's listener wakes once when it starts listening (for what it missed).
            await wakes.next()
            wakes.count = 0
        await asyncio.sleep(QUIET_SECONDS)  # the watcher has read its starting marks

        def dispatcher_writes() -> None:
            # What a dispatcher writes on its own: a lease renewed, a subscription's and a
            # reader's position moved. None of them is news to a dispatcher.
            later = datetime.now(UTC) + timedelta(seconds=30)
            with database.write() as session:
                session.execute(
                    update(Subscription)
                    .where(Subscription.id == subscription_id)
                    .values(lease_owner="other", lease_expires_at=later, position=1)
                )
            with database.write() as session:
                place_cursor(session, "test-reader", 1, only_if_missing=False)
                session.execute(
                    update(EventCursor)
                    .where(EventCursor.name == "test-reader")
                    .values(lease_owner="other", lease_expires_at=later)
                )

        for _ in range(3):
            await asyncio.to_thread(dispatcher_writes)
            await asyncio.sleep(QUIET_SECONDS)
        assert wakes.count == 0

        await asyncio.to_thread(emit, database, "t-1")
        await wakes.next()
        assert wakes.count == 1
    finally:
        await cancel(watcher)


@pytest.mark.usefixtures("sqlite_only")
def test_a_subscription_changed_or_added_wakes_the_sqlite_watcher(
    database: Database, settings: Settings
) -> None:
    subscription_id, _ = subscribe(database, settings, "http://127.0.0.1:9/hook")
    asyncio.run(_wakes_for_subscription_changes(database, settings, subscription_id))


async def _wakes_for_subscription_changes(
    database: Database, settings: Settings, subscription_id: str
) -> None:
    wakes = _Wakes()
    watcher = asyncio.create_task(watch_other_processes(database, wakes))
    try:
        await asyncio.sleep(QUIET_SECONDS)

        def resumed() -> None:  # as a resume, a replay or a redrive touch it
            with database.write() as session:
                session.execute(
                    update(Subscription)
                    .where(Subscription.id == subscription_id)
                    .values(updated_at=datetime.now(UTC) + timedelta(seconds=1))
                )

        await asyncio.to_thread(resumed)
        await wakes.next()

        await asyncio.to_thread(subscribe, database, settings, "http://127.0.0.1:9/other")
        await wakes.next()
        assert wakes.count == 2
    finally:
        await cancel(watcher)
