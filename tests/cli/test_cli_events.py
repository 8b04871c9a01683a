"""``townhall events``: running a dispatcher from the command line, and its status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from tests.platform.events.dispatcher_helpers import deliveries, emit, subscribe, subscription
from tests.platform.events.receiver import Answer, Receiver
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.event_types import event_readers
from townhall.platform.db import Database
from townhall.settings import Settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def environment(database_url: str) -> dict[str, str]:
    return {
        "TOWNHALL_DATABASE_URL": database_url,
        "TOWNHALL_ENVIRONMENT": "test",
        "TOWNHALL_EVENTS_ALLOW_PRIVATE_TARGETS": "true",
        "TOWNHALL_LOG_FORMAT": "json",
    }


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["events", *args], env=environment(database_url), prog_name="townhall"
    )


def test_run_once_delivers_what_is_due_and_exits(
    database_url: str, settings: Settings, database: Database, receiver: Receiver
) -> None:
    subscription_id, _ = subscribe(database, settings, receiver.url())
    ids = emit(database, "a", "b")

    result = run(database_url, "run", "--once")

    assert result.exit_code == 0, result.output
    assert "One pass done" in result.stdout
    assert receiver.event_ids() == set(ids)
    assert [row.status for row in deliveries(database, subscription_id)] == ["delivered"] * 2
    assert subscription(database, subscription_id).lease_owner is None


def test_status_shows_each_subscription_against_the_outbox_end(
    database_url: str, settings: Settings, database: Database, receiver: Receiver
) -> None:
    subscription_id, _ = subscribe(database, settings, receiver.url())
    receiver.script(Answer(410))
    receiver.answer(Answer(503))
    emit(database, "a", "b", "c")
    assert run(database_url, "run", "--once").exit_code == 0
    emit(database, "d")

    result = run(database_url, "status", "--json")

    assert result.exit_code == 0, result.output
    found: dict[str, Any] = json.loads(result.stdout)
    assert found["outbox_end"] == 4
    [item] = found["subscriptions"]
    assert item["id"] == subscription_id
    assert (item["position"], item["behind"]) == (3, 1)
    assert (item["pending"], item["dead"]) == (2, 1)
    assert item["oldest_pending_at"] is not None
    assert item["lease_owner"] is None
    # Every platform reader ran in the pass, up to the outbox's end then.
    readers = {reader.name for reader in event_readers(settings)}
    assert {(r["name"], r["position"], r["behind"]) for r in found["readers"]} == {
        (name, 3, 1) for name in readers
    }

    table = run(database_url, "status")
    assert table.exit_code == 0, table.output
    assert "Outbox end: position 4" in table.stdout
    assert subscription_id in table.stdout
    for name in readers:
        assert name in table.stdout


def test_status_with_nothing_to_show(database_url: str) -> None:
    result = run(database_url, "status")
    assert result.exit_code == 0, result.output
    assert "No subscriptions." in result.stdout


def test_the_commands_refuse_a_database_without_the_schema(empty_database_url: str) -> None:
    for args in (("status",), ("run", "--once")):
        result = run(empty_database_url, *args)
        assert result.exit_code == 1
        assert "townhall db upgrade" in result.stderr


@pytest.mark.slow
def test_run_stops_cleanly_on_sigterm_releasing_its_leases(
    database_url: str, settings: Settings, database: Database, receiver: Receiver
) -> None:
    subscription_id, _ = subscribe(database, settings, receiver.url())
    process = subprocess.Popen(
        [sys.executable, "-m", "townhall.cli", "events", "run"],
        env={**os.environ, **environment(database_url), "TOWNHALL_EVENTS_POLL_SECONDS": "0.1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        [first] = emit(database, "a")
        assert receiver.wait_until(lambda r: first in r.event_ids(), 30.0)
        assert subscription(database, subscription_id).lease_owner is not None
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, errors
    assert subscription(database, subscription_id).lease_owner is None
    lines = [json.loads(line) for line in errors.decode().splitlines() if line.startswith("{")]
    assert {"events.dispatcher.started", "events.dispatcher.stopped"} <= {
        line["event"] for line in lines
    }
