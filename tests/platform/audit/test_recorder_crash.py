"""A server killed at random while it answers personal-data reads loses no acknowledged record.

A real ``townhall serve`` process answers ``GET /api/v1/people/source-records/{id}`` to threads
in this process calling it concurrently; it is killed with SIGKILL at random moments and started
again, over and over. Every read answered 200 was acknowledged: its use must have been committed
before the answer (``recorder``), so after the last restart every acknowledged request id has its
audit record, and the chain is whole (positions without a gap, each hash linking the one
before). Records of reads whose answers the kill cut off are allowed: committed, then not
acknowledged. Bounded well under a minute on either backend.
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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.domains.people.test_api import RECORD
from tests.platform.auth.factories import register_consumer
from townhall.cli.serve import settings_environment
from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.audit.chain import GENESIS_HASH, record_hash
from townhall.platform.audit.models import AuditRecord
from townhall.platform.auth.consumers import RegisteredConsumer
from townhall.platform.db import Database
from townhall.settings import Settings

pytestmark = pytest.mark.slow

KILLS = 6
READERS = 8
# Answers each life of the server gives before it may be killed: enough that kills land while
# many reads wait in one group commit, few enough to keep the test short.
ANSWERS_PER_LIFE = 30


@contextmanager
def server_process(settings: Settings, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``townhall serve`` on ``port``, ready to answer; killed if still running at the end."""
    environment = {**os.environ, **settings_environment(settings)}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "townhall.cli", "serve", "--port", str(port)],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_live(f"http://127.0.0.1:{port}/health/live", process, log)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _wait_until_live(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"serve was not live within 30 s:\n{log.read_text()[-3000:]}")


class Readers:
    """Threads reading a source record over and over, keeping the id of every answered read."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.headers: dict[str, str] = {}
        self.acknowledged: list[str] = []
        self.refused: list[int] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(READERS)]
        self.failure: BaseException | None = None

    def start(self, headers: dict[str, str]) -> None:
        self.headers = headers
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(timeout=20)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def wait_for(self, count: int, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.count() < count:
            if time.monotonic() > deadline or self.failure is not None:
                return False
            time.sleep(0.01)
        return True

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=10) as client:
                while not self.stopping.is_set():
                    request_id = uuid.uuid4().hex
                    try:
                        answer = client.get(
                            self.url, headers={**self.headers, "X-Request-ID": request_id}
                        )
                    except httpx.TransportError:
                        time.sleep(0.01)  # the server is down; it comes back
                        continue
                    with self.lock:
                        if answer.status_code == 200:
                            assert answer.headers["X-Request-ID"] == request_id
                            self.acknowledged.append(request_id)
                        else:
                            self.refused.append(answer.status_code)
        except BaseException as exc:  # reported by the test
            self.failure = exc


def chain_gaps(rows: list[Any]) -> list[str]:
    """What is wrong with the chain: a position missing, a hash not linking or not matching."""
    problems: list[str] = []
    previous = GENESIS_HASH
    for expected, row in enumerate(rows, start=1):
        fields = row._asdict()
        if row.position != expected:
            problems.append(f"position {row.position} where {expected} was due")
        if row.previous_hash != previous:
            problems.append(f"record {row.position} does not link to the one before")
        if record_hash(fields) != row.hash:
            problems.append(f"record {row.position} does not match its hash")
        previous = row.hash
    return problems


def test_killing_the_server_at_random_loses_no_acknowledged_read(
    settings: Settings, database: Database, tmp_path: Path
) -> None:
    seed = random.randrange(1 << 30)
    chooser = random.Random(seed)
    log = tmp_path / "serve.log"
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    load_source_records(database, [RECORD])
    with database.read() as session:
        record_id = session.scalar(select(SourcePersonRecord.id))
    consumer = register_consumer(database, scopes=["people:read"])
    started = time.monotonic()

    readers = Readers(f"{base_url}/api/v1/people/source-records/{record_id}")
    try:
        for life in range(KILLS + 1):
            with server_process(settings, port, log) as process:
                if life == 0:
                    readers.start(_token_headers(base_url, consumer))
                # Kill it only once it is answering, at a random moment after that.
                assert readers.wait_for(readers.count() + ANSWERS_PER_LIFE, 30.0), (
                    f"no answers in life {life} (seed {seed}): {readers.failure}; see {log}"
                )
                if life < KILLS:
                    time.sleep(chooser.uniform(0.0, 0.3))
                    process.send_signal(signal.SIGKILL)
                else:  # the chain went on after the last crash; now stop as an operator would
                    readers.stop()
                    process.send_signal(signal.SIGTERM)
                    process.wait(timeout=20)
    finally:
        readers.stop()
    elapsed = time.monotonic() - started

    assert readers.failure is None, readers.failure
    with database.read() as session:
        rows = list(session.execute(select(AuditRecord.__table__).order_by(AuditRecord.position)))
    # Registering the consumer is recorded too (by the system, with no request id).
    reads = [row for row in rows if row.service == "people"]
    recorded = {row.request_id for row in reads}
    acknowledged = set(readers.acknowledged)
    lost = acknowledged - recorded
    print(  # noqa: T201 - the figures this test measured, shown with -s
        f"{len(acknowledged)} reads acknowledged, {len(recorded)} recorded, "
        f"{len(recorded - acknowledged)} recorded but not acknowledged, {len(lost)} lost; "
        f"{KILLS} kills, refused {len(readers.refused)}, {elapsed:.1f} s (seed {seed})"
    )
    assert lost == set(), f"{len(lost)} acknowledged reads have no record (seed {seed})"
    assert chain_gaps(rows) == []
    assert len(reads) == len(recorded), "one record per read"


def _token_headers(base_url: str, consumer: RegisteredConsumer) -> dict[str, str]:
    answer = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(consumer.consumer.client_id, consumer.client_secret),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
