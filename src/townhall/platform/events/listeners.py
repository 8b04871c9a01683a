"""Waking a dispatcher when another process commits events, within milliseconds, nearly free.

This module owns the cross-process wake-ups (the in-process one is ``wakeup``):

- PostgreSQL: a dedicated autocommit psycopg connection LISTENs on ``outbox.NOTIFY_CHANNEL``;
  ``outbox.emit`` calls ``pg_notify`` in the writing transaction, which the server delivers at
  commit (and drops on rollback), to every listener on any machine. A lost connection is
  reopened, and counted as a wake-up since notifications may have been missed meanwhile.
- SQLite: a dedicated connection reads ``PRAGMA data_version`` every 20 ms. The number changes
  whenever another connection commits to the file, and reading it touches no table and takes
  no lock: a few microseconds. Any commit changes it, the dispatchers' own outcome writes and
  lease renewals too, so on a change the watcher reads the outbox's end and the subscriptions'
  latest change (and their count) on the same connection, two index look-ups, and wakes only
  when one of them moved: new events, or a subscription created, changed (paused, resumed,
  replayed, redriven) or deleted. Otherwise every dispatcher's writes would wake every
  dispatcher, itself included, for a pass with nothing to do.

Each watcher is a task that calls ``wake()`` (it sets the dispatcher's event); it never reads
the outbox itself: the outbox is the truth, a wake-up only says "look now". A wake-up too many
costs one quiet pass; a missed one costs at most the dispatcher's safety poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable

from sqlalchemy.engine import make_url

from townhall.platform.db import Database
from townhall.platform.events.outbox import NOTIFY_CHANNEL
from townhall.platform.events.wakeup import signal_for
from townhall.platform.logging import get_logger

# How often SQLite's data_version is read: the wake-up latency across processes on SQLite.
SQLITE_POLL_SECONDS = 0.02
# Wait before reopening a lost LISTEN connection.
RECONNECT_SECONDS = 1.0

log = get_logger(__name__)

Wake = Callable[[], None]


async def watch_in_process(database: Database, wake: Wake) -> None:
    """Call ``wake`` whenever this process commits events to ``database`` (until cancelled)."""
    signal = signal_for(str(database.engine.url))
    seen = signal.generation
    while True:
        now = await signal.wait(seen, 3600.0)
        if now != seen:
            seen = now
            wake()


async def watch_other_processes(database: Database, wake: Wake) -> None:
    """Call ``wake`` whenever another process commits to ``database`` (until cancelled)."""
    if database.is_sqlite:
        await _watch_sqlite(database, wake)
    else:
        await _listen_postgresql(database, wake)


async def _watch_sqlite(database: Database, wake: Wake) -> None:
    path = make_url(str(database.engine.url)).database or ""
    if path in {"", ":memory:"}:  # a private in-memory database: no other process can write
        return
    # A plain connection of its own: never one of the pool's, whose commits would not count.
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        last = _data_version(connection)
        try:
            marks = _marks(connection)
        except sqlite3.Error:  # busy for a moment: the first commit seen then wakes
            marks = None
        while True:
            await asyncio.sleep(SQLITE_POLL_SECONDS)
            try:
                version = _data_version(connection)
                if version == last:
                    continue
                last = version
                now = _marks(connection)
            except sqlite3.Error as exc:  # the file busy or gone for a moment: try again
                log.warning("events.listener.sqlite_failed", error=type(exc).__name__)
                continue
            # None: the tables are not there (yet), so any commit may matter.
            if now is None or now != marks:
                marks = now
                wake()
    finally:
        connection.close()


def _data_version(connection: sqlite3.Connection) -> int:
    row = connection.execute("PRAGMA data_version").fetchone()
    return int(row[0])


# What a dispatcher must act on at once: the outbox's end (new events) and the subscriptions'
# latest change and count (created, paused, resumed, replayed, redriven: each sets updated_at;
# deleted). A dispatcher's own writes (deliveries, attempts, positions, leases) move none.
_MARKS = (
    "SELECT (SELECT max(position) FROM event_outbox),"
    " (SELECT max(updated_at) FROM event_subscriptions),"
    " (SELECT count(*) FROM event_subscriptions)"
)


def _marks(connection: sqlite3.Connection) -> tuple[object, ...] | None:
    """The outbox's end and the subscriptions' marks, read in one statement (one snapshot)."""
    try:
        row = connection.execute(_MARKS).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    return tuple(row)


async def _listen_postgresql(database: Database, wake: Wake) -> None:
    # Imported here: psycopg is the postgres extra, absent from the embedded default.
    import psycopg  # noqa: PLC0415

    conninfo = database.engine.url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True
            ) as connection:
                await connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                # Commits made while not listening were missed: look once now.
                wake()
                async for _notification in connection.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the server restarted, the network dropped: listen again
            log.warning("events.listener.postgresql_lost", error=type(exc).__name__)
            wake()
            await asyncio.sleep(RECONNECT_SECONDS)


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Stop a watcher task and wait for it to end."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
