"""``townhall events``: run a dispatcher on its own, and see how far dispatching has got.

This module owns the commands an operator runs for events. ``run`` starts a
``townhall.platform.events.dispatcher.Dispatcher`` with the instance's readers until SIGINT or
SIGTERM (finishing the webhooks in flight and releasing its leases), or for one pass with
``--once``; ``status`` prints each subscription's and reader's progress. Both refuse a database
whose schema is not at the migration head, as ``serve`` does. The dispatching itself lives in
the platform; this module reads options, calls it and prints.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from townhall.cli.console import console, database_errors, load_settings, open_database
from townhall.cli.serve import require_schema_at_head
from townhall.event_types import event_readers
from townhall.platform.db import Database
from townhall.platform.events.dispatcher import Dispatcher, DispatchStatus, dispatch_status
from townhall.platform.logging import configure_logging
from townhall.settings import Settings

events_app = typer.Typer(
    name="events",
    help="Deliver events (webhooks, the Redis stream, read models) and see how far they have got.",
    no_args_is_help=True,
)


@events_app.command()
def run(
    once: Annotated[
        bool,
        typer.Option(
            "--once", help="Run one pass (readers, fan-out, due webhooks), then exit: for cron."
        ),
    ] = False,
) -> None:
    """Run an event dispatcher until stopped with Ctrl+C or SIGTERM.

    It hands every committed event to the platform's readers and sends each subscription's
    webhooks, waking as soon as events are committed. Any number of dispatchers may run side by
    side (each subscription is leased to one at a time); turn off the one inside each served
    worker with `TOWNHALL_EVENTS_DISPATCHER=false` when running them this way. On stop it
    finishes the webhooks in flight and releases its leases. Progress is logged as structured
    lines on standard error.
    """
    settings = load_settings()
    require_schema_at_head(settings)
    configure_logging(settings)
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            if once:
                work = asyncio.run(_run_once(settings, database))
                console().print(f"One pass done: {work} pieces of work.")
            else:
                asyncio.run(_run_until_stopped(settings, database))
    finally:
        database.dispose()


async def _run_once(settings: Settings, database: Database) -> int:
    dispatcher = Dispatcher(settings, database, event_readers(settings))
    try:
        return await dispatcher.run_once()
    finally:
        await dispatcher.close()


async def _run_until_stopped(settings: Settings, database: Database) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    dispatcher = Dispatcher(settings, database, event_readers(settings))
    await dispatcher.run(stop)


@events_app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, for scripts.")] = False,
) -> None:
    """Show each subscription's and each reader's progress through the outbox.

    For a subscription: whether it is active, how far its events have been turned into
    deliveries against the outbox's end, how many deliveries are pending and dead (the
    dead-letter list), how long the oldest pending one has waited, and which dispatcher holds
    it. For each platform reader (read models, the Redis stream): its position and lag.
    """
    settings = load_settings()
    require_schema_at_head(settings)
    database = open_database(settings)
    try:
        with database_errors(settings.database_url):
            found = dispatch_status(database)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps(_as_json(found), indent=2))
        return
    _print_status(found)


def _print_status(found: DispatchStatus) -> None:
    out = console()
    now = datetime.now(UTC)
    out.print(f"Outbox end: position {found.outbox_end}")
    if not found.subscriptions:
        out.print("No subscriptions.")
    else:
        table = Table(title="Subscriptions")
        # Ids are copied into API calls: never wrapped or cut.
        table.add_column("id", no_wrap=True, min_width=36)
        for column in ("description", "status", "position", "behind", "pending", "dead"):
            table.add_column(column, overflow="fold")
        table.add_column("oldest pending")
        table.add_column("held by", overflow="fold")
        for item in found.subscriptions:
            table.add_row(
                item.id,
                item.description,
                item.status,
                str(item.position),
                str(max(found.outbox_end - item.position, 0)),
                str(item.pending),
                str(item.dead),
                _age(now, item.oldest_pending),
                _holder(now, item.lease_owner, item.lease_expires_at),
            )
        out.print(table)
    if not found.cursors:
        out.print("No reader cursors.")
        return
    readers = Table(title="Readers")
    for column in ("name", "position", "behind", "held by"):
        readers.add_column(column, overflow="fold")
    for cursor in found.cursors:
        readers.add_row(
            cursor.name,
            str(cursor.position),
            str(max(found.outbox_end - cursor.position, 0)),
            _holder(now, cursor.lease_owner, cursor.lease_expires_at),
        )
    out.print(readers)


def _age(now: datetime, since: datetime | None) -> str:
    if since is None:
        return "-"
    seconds = max((now - since).total_seconds(), 0.0)
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _holder(now: datetime, owner: str | None, until: datetime | None) -> str:
    if owner is None or until is None or until < now:
        return "-"
    return owner


def _as_json(found: DispatchStatus) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "outbox_end": found.outbox_end,
        "subscriptions": [
            {
                "id": item.id,
                "description": item.description,
                "status": item.status,
                "position": item.position,
                "behind": max(found.outbox_end - item.position, 0),
                "pending": item.pending,
                "dead": item.dead,
                "oldest_pending_at": when(item.oldest_pending),
                "lease_owner": item.lease_owner,
                "lease_expires_at": when(item.lease_expires_at),
            }
            for item in found.subscriptions
        ],
        "readers": [
            {
                "name": cursor.name,
                "position": cursor.position,
                "behind": max(found.outbox_end - cursor.position, 0),
                "lease_owner": cursor.lease_owner,
                "lease_expires_at": when(cursor.lease_expires_at),
            }
            for cursor in found.cursors
        ],
    }
