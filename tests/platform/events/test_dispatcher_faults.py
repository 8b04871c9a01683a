"""Fault tests with real processes: a dispatcher killed at random, a receiver that goes away.

A producer thread in this process commits events through the outbox while a
``townhall events run`` subprocess delivers them to a loopback receiver. The dispatcher is
killed with SIGKILL at random moments while events flow, and started again, over and over;
at the end every committed event has reached the receiver at least once (duplicates are
allowed: delivery is at least once, and receivers de-duplicate on ``webhook-id``). Then the
receiver is away (its port closed, then answering 503) while events are committed, and comes
back: everything arrives. Each test is bounded well under a minute, on either backend.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.platform.events.dispatcher_helpers import emit, subscribe
from tests.platform.events.receiver import Answer, Receiver
from townhall.platform.db import Database
from townhall.settings import Settings

pytestmark = pytest.mark.slow

KILLS = 10


def dispatcher_environment(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "TOWNHALL_DATABASE_URL": database_url,
        "TOWNHALL_ENVIRONMENT": "test",
        "TOWNHALL_LOG_FORMAT": "json",
        "TOWNHALL_EVENTS_ALLOW_PRIVATE_TARGETS": "true",
        "TOWNHALL_EVENTS_LEASE_SECONDS": "1",
        "TOWNHALL_EVENTS_POLL_SECONDS": "0.1",
        "TOWNHALL_EVENTS_RETRY_BASE_SECONDS": "0.05",
        "TOWNHALL_EVENTS_RETRY_MAX_SECONDS": "0.3",
        "TOWNHALL_EVENTS_MAX_ATTEMPTS": "100",
        "TOWNHALL_EVENTS_WEBHOOK_TIMEOUT_SECONDS": "2",
    }


@contextmanager
def dispatcher_process(database_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``townhall events run`` process; killed if still running when the block ends."""
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "townhall.cli", "events", "run"],
            env=dispatcher_environment(database_url),
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


class Producer(threading.Thread):
    """Commits small batches of events steadily until stopped; remembers every committed id."""

    def __init__(self, database: Database) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.committed: list[str] = []
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        count = 0
        try:
            while not self.stopping.is_set():
                # About 40 events a second, in commits of two: steady, and within what one
                # dispatcher delivers on a slow CI machine between its restarts.
                subjects = [f"thing-{(count + index) % 17}" for index in range(2)]
                self.committed.extend(emit(self.database, *subjects))
                count += 2
                time.sleep(0.05)
        except BaseException as exc:  # reported by the test
            self.failure = exc

    def stop(self) -> list[str]:
        self.stopping.set()
        self.join(timeout=10)
        assert self.failure is None, self.failure
        return list(self.committed)


def test_killing_the_dispatcher_at_random_loses_no_event(
    settings: Settings, database: Database, database_url: str, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    chooser = random.Random(seed)
    log = tmp_path / "dispatcher.log"
    with Receiver() as receiver:
        subscribe(database, settings, receiver.url())
        producer = Producer(database)
        producer.start()
        started = time.monotonic()
        for _ in range(KILLS):
            seen = len(receiver.received)
            with dispatcher_process(database_url, log) as process:
                # Kill it only once it is delivering, at a random moment after that.
                assert receiver.wait_until(lambda r, seen=seen: len(r.received) > seen, 20.0), (
                    f"no delivery after a restart (seed {seed}); see {log}"
                )
                time.sleep(chooser.uniform(0.0, 0.4))
                process.send_signal(signal.SIGKILL)
        committed = producer.stop()
        with dispatcher_process(database_url, log) as process:
            arrived = _catch_up(receiver, set(committed))
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        elapsed = time.monotonic() - started
    missing = set(committed) - receiver.event_ids()
    assert arrived, f"{len(missing)} of {len(committed)} events never arrived (seed {seed})"
    assert process.returncode == 0
    duplicates = len(receiver.received) - len(receiver.event_ids())
    print(  # noqa: T201 - the figures this test measured, shown with -s
        f"{len(committed)} events, {KILLS} kills, {duplicates} sent again, {elapsed:.1f} s"
    )


def test_a_receiver_away_for_a_while_gets_everything_when_it_is_back(
    settings: Settings, database: Database, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "dispatcher.log"
    port = _free_port()
    subscribe(database, settings, f"http://127.0.0.1:{port}/hook")
    with dispatcher_process(database_url, log) as process:
        # Nothing listens on the port: connections are refused.
        away = emit(database, *[f"thing-{index % 5}" for index in range(40)])
        time.sleep(2.0)
        with Receiver(port=port) as receiver:
            # Listening again, but failing.
            receiver.answer(Answer(503))
            failing = emit(database, *[f"thing-{index % 5}" for index in range(40)])
            assert receiver.wait_until(lambda r: len(r.received) >= 5, 20.0)
            receiver.answer(Answer())
            back = emit(database, *[f"thing-{index % 5}" for index in range(20)])
            everything = set(away + failing + back)
            arrived = receiver.wait_until(lambda r: everything <= r.event_ids(), 40.0)
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert arrived, f"missing {len(everything - receiver.event_ids())}; see {log}"
    assert process.returncode == 0
    # Order per subject held through the retries: each subject's first 2xx sequences ascend.
    firsts: dict[str, list[str]] = {}
    seen: set[str] = set()
    for item in receiver.received:
        if item.status == 200 and item.event_id not in seen:
            seen.add(item.event_id)
            body = item.json()
            firsts.setdefault(body["subject"], []).append(body["sequence"])
    for sequences in firsts.values():
        assert sequences == sorted(sequences)


def _catch_up(receiver: Receiver, expected: set[str], *, stalled: float = 15.0) -> bool:
    """Wait while deliveries keep coming until ``expected`` all arrived; False once they stall.

    A loaded CI machine delivers slowly; only a dispatcher that stops making progress with
    events still missing has lost them.
    """
    deadline = time.monotonic() + 120.0
    while not expected <= receiver.event_ids():
        seen = len(receiver.received)
        moved = receiver.wait_until(lambda r, seen=seen: len(r.received) > seen, stalled)
        if not moved or time.monotonic() > deadline:
            return expected <= receiver.event_ids()
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
