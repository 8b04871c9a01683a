"""Benchmark: commit-to-webhook latency, and how fast one dispatcher empties a backlog.

    python bench/events.py               # SQLite: 500 events/s for 30 s, then 20,000 at once
    python bench/events.py --postgres postgresql://townhall@127.0.0.1:54330/postgres
    python bench/events.py --rate 1000 --seconds 10 --burst 5000

For each backend (SQLite in a temporary folder; with ``--postgres``, also a database created on
that server for the run and dropped after), on a freshly migrated database with one active
subscription to every address event, whose target is a loopback receiver:

* **steady**: a producer, a process of its own on the same database, commits one event per
  unit of work (``outbox.emit``, as a request handler does) at ``--rate`` events per second for
  ``--seconds``, and notes ``time.time()`` right after each commit. The receiver notes
  ``time.time()`` when each webhook's body has arrived. Latency is the difference (one
  machine, one clock): p50, p95, p99 and the worst (target: p95 at most 100 ms);
* **ceiling**: ``--burst`` events committed in one unit of work, then the time until the
  receiver has them all: the throughput ceiling of one dispatcher, in events per second.

The dispatcher is the product's own, ``townhall.platform.events.dispatcher.Dispatcher``,
signing every webhook with the subscription's secret and recording every try in the delivery
log. By default it runs in the benchmark's process, as ``townhall serve`` runs it in each
worker (the embedded default). With ``--dispatcher process`` it is ``townhall events run`` in a
process of its own, as a deployment with separate dispatchers runs. Either way the steady
producer is a process of its own, whose commits wake the dispatcher across processes (SQLite's
``data_version``, PostgreSQL's LISTEN/NOTIFY): events come from API requests and imports in
any worker or process, and a producer thread here would share the dispatcher's GIL, so that at
500/s it kept only 150-225 commits a second and slowed the dispatcher it was measuring. The
producer's own CPU is not in the product's CPU figures, as a request handler's would not be.
The burst of the ceiling phase is one commit, made from this process before the dispatcher
gets to it. The receiver is a uvicorn server in a process of its own, so it does not compete
with the dispatcher for the GIL.

**Baseline**, measured in the same run against the same receiver: the same event bodies POSTed
by plain ``httpx`` from this process, with no database, at the same rate (latency from just
before each POST to receipt) and all at once through as many connections as the dispatcher
may use (``TOWNHALL_EVENTS_WEBHOOK_CONCURRENCY``). The ratios say what the outbox, the
dispatcher and the delivery log add to a bare HTTP round trip on this machine. Nothing here is
asserted: these are figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from townhall.domains.addresses.events import ADDRESS_EVENT_TYPES
from townhall.event_types import event_readers, event_registry
from townhall.platform.auth.consumers import create_consumer
from townhall.platform.db import Database, normalise_url
from townhall.platform.events.dispatcher import Dispatcher
from townhall.platform.events.envelope import CONTENT_TYPE, to_json_bytes
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.outbox import NewEvent, emit, emit_many
from townhall.platform.events.signing_secrets import SecretSealer
from townhall.platform.events.subscriptions import TargetPolicy, create_subscription
from townhall.platform.migrations import upgrade
from townhall.settings import Settings

UPDATED = next(t for t in ADDRESS_EVENT_TYPES if t.name == "address.updated")
LATENCY_TARGET_MS = 100.0
# Webhooks still missing when none has arrived for this long are counted as missing.
STALL_SECONDS = 30.0


def event_data(n: int) -> dict[str, Any]:
    """What an address import writes for a changed postcode: a realistic size of event."""
    return {
        "uprn": 100021045723 + n,
        "import_id": "4f1c2a9e-6d0b-4f7e-9a51-0d3c9a1e2b77",
        "changes": {"postcode": {"old": "E8 1DY", "new": "E8 1DZ"}},
    }


# -- the receiver (a process of its own) ----------------------------------------------------------


class Receiver:
    """An ASGI app that notes when each webhook arrived, by CloudEvents id, and answers 204.

    ``GET /count`` says how many have arrived, ``GET /results`` lists them, ``POST /reset``
    forgets them (between phases).
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, float]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        arrived = time.time()
        path, method = scope["path"], scope["method"]
        if method == "POST" and path == "/hook":
            self.received.append((json.loads(body)["id"], arrived))
            await _answer(send, 204, b"")
        elif path == "/count":
            await _answer(send, 200, str(len(self.received)).encode())
        elif path == "/cpu":
            await _answer(send, 200, repr(time.process_time()).encode())
        elif path == "/results":
            await _answer(send, 200, json.dumps(self.received).encode())
        elif method == "POST" and path == "/reset":
            self.received = []
            await _answer(send, 204, b"")
        else:
            await _answer(send, 404, b"")


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": body})


def serve_receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(Receiver(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def receiver_process() -> Iterator[str]:
    """Start the receiver in a process of its own; yield its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(Path(__file__).resolve()), "--serve-receiver", "--port", str(port)]
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/count", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    sys.exit("the loopback receiver did not start")
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- measuring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latencies:
    """Commit (or send) to receipt, in milliseconds, of one phase."""

    count: int
    missing: int
    duplicates: int
    p50: float
    p95: float
    p99: float
    worst: float

    @classmethod
    def of(cls, started: dict[str, float], received: list[tuple[str, float]]) -> Latencies:
        first: dict[str, float] = {}
        duplicates = 0
        for event_id, arrived in received:
            if event_id in first:
                duplicates += 1
            else:
                first[event_id] = arrived
        values = sorted(
            (first[event_id] - at) * 1000 for event_id, at in started.items() if event_id in first
        )
        cuts = statistics.quantiles(values, n=100, method="inclusive")
        return cls(
            count=len(values),
            missing=len(started) - len(values),
            duplicates=duplicates,
            p50=cuts[49],
            p95=cuts[94],
            p99=cuts[98],
            worst=values[-1],
        )


@dataclass(frozen=True)
class Ceiling:
    """A backlog emptied: how many, how long until the first and the last arrived."""

    events: int
    missing: int
    first_ms: float
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


async def fetch_received(receiver: str, client: httpx.AsyncClient) -> list[tuple[str, float]]:
    answer = await client.get(f"{receiver}/results", timeout=60)
    return [(event_id, arrived) for event_id, arrived in answer.json()]


async def wait_for(receiver: str, client: httpx.AsyncClient, count: int) -> None:
    """Until the receiver has ``count`` webhooks, or none has arrived for ``STALL_SECONDS``."""
    seen, since = -1, time.monotonic()
    while True:
        now = int((await client.get(f"{receiver}/count")).text)
        if now >= count:
            return
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since > STALL_SECONDS:
            return
        await asyncio.sleep(0.2)


async def reset(receiver: str, client: httpx.AsyncClient) -> None:
    (await client.post(f"{receiver}/reset")).raise_for_status()


# The producer process finds its database here (not in its arguments, which ps shows).
PRODUCER_DATABASE_VARIABLE = "TOWNHALL_BENCH_DATABASE_URL"


def produce(url: str, rate: float, seconds: float, out: Path) -> None:
    """Commit one event per unit of work at ``rate`` (in the producer process).

    Writes to ``out`` the id and commit time of each event and the rate kept, as JSON.
    """
    database = Database(url)
    try:
        database.ping()  # connected before the clock starts
        total = round(rate * seconds)
        committed: list[tuple[str, float]] = []
        start = time.monotonic()
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with database.write() as session:
                event_id = emit(session, UPDATED, f"lpi-{n}", event_data(n))
            committed.append((event_id, time.time()))
        kept = total / (time.monotonic() - start)
    finally:
        database.dispose()
    out.write_text(json.dumps({"committed": committed, "rate_kept": kept}))


def produce_steadily(url: str, rate: float, seconds: float) -> tuple[dict[str, float], float]:
    """Run the producer in a process of its own; the commit time of each event, the rate kept."""
    with tempfile.TemporaryDirectory(prefix="townhall-events-producer-") as folder:
        out = Path(folder) / "committed.json"
        process = subprocess.run(  # noqa: S603 - our own interpreter and script
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--produce-to",
                str(out),
                "--rate",
                repr(rate),
                "--seconds",
                repr(seconds),
            ],
            env={**os.environ, PRODUCER_DATABASE_VARIABLE: url},
            check=False,
        )
        if process.returncode != 0 or not out.exists():
            sys.exit(f"the producer process failed (exit status {process.returncode})")
        results = json.loads(out.read_text())
    committed = {event_id: float(at) for event_id, at in results["committed"]}
    return committed, float(results["rate_kept"])


def produce_at_once(database: Database, count: int) -> tuple[list[str], float]:
    """Commit ``count`` events in one unit of work; their ids and the commit time."""
    events = [NewEvent(UPDATED, f"burst-{n}", event_data(n)) for n in range(count)]
    with database.write() as session:
        emit_many(session, events)
    return [event.id for event in events], time.time()


def ceiling_of(ids: list[str], committed: float, received: list[tuple[str, float]]) -> Ceiling:
    wanted = set(ids)
    arrivals = [arrived for event_id, arrived in received if event_id in wanted]
    return Ceiling(
        events=len(ids),
        missing=len(wanted - {event_id for event_id, _ in received}),
        first_ms=(min(arrivals) - committed) * 1000,
        seconds=max(arrivals) - committed,
    )


class CpuMeter:
    """CPU seconds used by the product's side (this process and any dispatcher process) and by
    the receiver, over a phase."""

    def __init__(
        self, receiver: str, client: httpx.AsyncClient, dispatcher_pid: int | None = None
    ) -> None:
        self._receiver = receiver
        self._client = client
        self._pid = dispatcher_pid
        self._here = 0.0
        self._there = 0.0

    async def _receiver_cpu(self) -> float:
        return float((await self._client.get(f"{self._receiver}/cpu")).text)

    def _product_cpu(self) -> float:
        used = time.process_time()
        if self._pid is not None:
            # utime and stime, fields 14 and 15 of /proc/PID/stat, in clock ticks.
            fields = Path(f"/proc/{self._pid}/stat").read_text().rpartition(")")[2].split()
            used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return used

    async def start(self) -> None:
        self._here, self._there = self._product_cpu(), await self._receiver_cpu()

    async def per_event(self, events: int) -> tuple[float, float]:
        """Milliseconds of CPU per event: the product's side, the receiver's."""
        here = self._product_cpu() - self._here
        there = await self._receiver_cpu() - self._there
        return here * 1000 / events, there * 1000 / events


def dispatcher_environment(settings: Settings) -> dict[str, str]:
    """``TOWNHALL_*`` variables for ``townhall events run`` on the benchmark's instance."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("TOWNHALL_")
    }
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    environment.update(
        {
            "TOWNHALL_ENVIRONMENT": settings.environment.value,
            "TOWNHALL_SECRET_KEY": secret,
            "TOWNHALL_DATABASE_URL": settings.database_url,
            "TOWNHALL_COUNCIL_CODE": settings.council_code,
            "TOWNHALL_LOG_FORMAT": "json",
            "TOWNHALL_LOG_LEVEL": "WARNING",
            "TOWNHALL_EVENTS_ALLOW_PRIVATE_TARGETS": "true",
        }
    )
    return environment


@asynccontextmanager
async def running_dispatcher(
    settings: Settings, database: Database, separate: bool
) -> AsyncIterator[int | None]:
    """The product's dispatcher, running: in this process, or ``townhall events run``.

    Yields the dispatcher process's id when it has one of its own.
    """
    if separate:
        process = subprocess.Popen(
            [sys.executable, "-m", "townhall.cli", "events", "run"],
            env=dispatcher_environment(settings),
        )
        try:
            await asyncio.sleep(3)  # started, and holding the subscription's lease
            if process.poll() is not None:
                sys.exit("townhall events run stopped at once")
            yield process.pid
        finally:
            process.send_signal(signal.SIGINT)
            await asyncio.to_thread(process.wait, 30)
        return
    stop = asyncio.Event()
    dispatcher = Dispatcher(settings, database, event_readers(settings), owner="bench")
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        await asyncio.sleep(0.5)  # holding the subscription's lease
        yield None
    finally:
        stop.set()
        await running


async def through_dispatcher(
    settings: Settings, database: Database, receiver: str, arguments: argparse.Namespace
) -> dict[str, Any]:
    """Run the product's dispatcher while the producer commits; measure both phases."""
    figures: dict[str, Any] = {}
    separate = arguments.dispatcher == "process"
    async with (
        running_dispatcher(settings, database, separate) as pid,
        httpx.AsyncClient(timeout=10) as client,
    ):
        cpu = CpuMeter(receiver, client, pid)
        await cpu.start()
        committed, figures["rate_kept"] = await asyncio.to_thread(
            produce_steadily, settings.database_url, arguments.rate, arguments.seconds
        )
        await wait_for(receiver, client, len(committed))
        figures["steady_cpu"] = await cpu.per_event(len(committed))
        figures["steady"] = Latencies.of(committed, await fetch_received(receiver, client))
        await reset(receiver, client)

        await cpu.start()
        ids, at = await asyncio.to_thread(produce_at_once, database, arguments.burst)
        await wait_for(receiver, client, len(ids))
        figures["ceiling_cpu"] = await cpu.per_event(len(ids))
        figures["ceiling"] = ceiling_of(ids, at, await fetch_received(receiver, client))
        await reset(receiver, client)
    return figures


async def plain_posts(
    bodies: list[tuple[str, bytes]],
    receiver: str,
    *,
    rate: float | None,
    concurrency: int,
) -> dict[str, float]:
    """POST ``bodies`` to the receiver with plain httpx: paced at ``rate``, or all at once."""
    sent: dict[str, float] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    headers = {"content-type": CONTENT_TYPE}
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def post(event_id: str, body: bytes) -> None:
            async with gate:
                sent[event_id] = time.time()
                answer = await client.post(f"{receiver}/hook", content=body, headers=headers)
                answer.raise_for_status()

        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for n, (event_id, body) in enumerate(bodies):
            if rate is not None:
                delay = start + n / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(event_id, body)))
        await asyncio.gather(*tasks)
    return sent


async def baseline(
    bodies: list[tuple[str, bytes]],
    burst: list[tuple[str, bytes]],
    receiver: str,
    arguments: argparse.Namespace,
    concurrency: int,
) -> dict[str, Any]:
    """The same bodies to the same receiver by plain httpx from this process, no database."""
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        cpu = CpuMeter(receiver, client)
        await cpu.start()
        sent = await plain_posts(bodies, receiver, rate=arguments.rate, concurrency=concurrency)
        await wait_for(receiver, client, len(sent))
        figures["steady_cpu"] = await cpu.per_event(len(sent))
        figures["steady"] = Latencies.of(sent, await fetch_received(receiver, client))
        await reset(receiver, client)

        await cpu.start()
        started = time.time()
        await plain_posts(burst, receiver, rate=None, concurrency=concurrency)
        figures["ceiling_cpu"] = await cpu.per_event(len(burst))
        received = await fetch_received(receiver, client)
        figures["ceiling"] = ceiling_of([i for i, _ in burst], started, received)
        await reset(receiver, client)
    return figures


# -- one backend ----------------------------------------------------------------------------------


def bench_settings(url: str) -> Settings:
    return Settings(
        # Not production, which accepts only https targets: TLS on loopback would be measured
        # by the product's path and not by the baseline's.
        environment="development",
        secret_key=SecretStr(base64.urlsafe_b64encode(os.urandom(32)).decode()),
        database_url=url,
        council_code="E09000012",
        log_format="json",
        log_level="WARNING",
        # The receiver is on loopback.
        events_allow_private_targets=True,
    )


def subscribe(database: Database, settings: Settings, target_url: str) -> None:
    """One consumer with one active subscription to every address event, made by the service."""
    registered = create_consumer(
        database,
        name="Events benchmark",
        kind="council_service",
        actor="cli:bench",
        owning_team="Digital",
        contact_email="digital@example.gov.uk",
    )
    create_subscription(
        database,
        SecretSealer(database, settings),
        event_registry(),
        TargetPolicy(settings),
        consumer_id=registered.consumer.id,
        description="Events benchmark",
        target_url=target_url,
        event_types=["uk.gov.townhall.address.*"],
    )


def outbox_bodies(database: Database, settings: Settings, prefix: str) -> list[tuple[str, bytes]]:
    """The id and CloudEvents body of each outbox event whose subject starts with ``prefix``."""
    with database.read() as session:
        events = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.subject.startswith(prefix))
            .order_by(OutboxEvent.position)
        ).all()
        return [
            (event.id, to_json_bytes(event, council_code=settings.council_code)) for event in events
        ]


def run_backend(url: str, receiver: str, arguments: argparse.Namespace) -> dict[str, Any]:
    load = os.getloadavg()
    settings = bench_settings(url)
    database = Database(url)
    try:
        upgrade(database)
        subscribe(database, settings, f"{receiver}/hook")
        product = asyncio.run(through_dispatcher(settings, database, receiver, arguments))
        bodies = outbox_bodies(database, settings, "lpi-")
        burst = outbox_bodies(database, settings, "burst-")
        plain = asyncio.run(
            baseline(bodies, burst, receiver, arguments, settings.events_webhook_concurrency)
        )
    finally:
        database.dispose()
    return {
        "product": product,
        "baseline": plain,
        "load_before": load,
        "load_after": os.getloadavg(),
    }


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A database created on the server for this run, dropped after."""
    name = f"townhall_events_bench_{os.getpid()}"
    engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


# -- the report -----------------------------------------------------------------------------------


def print_report(backend: str, figures: dict[str, Any], arguments: argparse.Namespace) -> None:
    product, plain = figures["product"], figures["baseline"]
    steady: Latencies = product["steady"]
    base: Latencies = plain["steady"]
    met = "met" if steady.p95 <= LATENCY_TARGET_MS else "MISSED"
    before = ", ".join(f"{value:.2f}" for value in figures["load_before"])
    after = ", ".join(f"{value:.2f}" for value in figures["load_after"])
    print(f"\n== {backend} (load average before: {before}; after: {after})")
    print(
        f"steady: {steady.count + steady.missing:,} events, one per commit, at "
        f"{product['rate_kept']:.0f}/s (asked {arguments.rate:g}/s)"
    )
    print(
        f"{'':24}{'p50':>11}{'p95':>11}{'p99':>11}{'worst':>11}  missing  dupes"
        "  CPU ms/event (here, receiver)"
    )
    rows = (
        ("commit -> received", steady, product["steady_cpu"]),
        ("baseline POST", base, plain["steady_cpu"]),
    )
    for label, row, (here, there) in rows:
        print(
            f"  {label:22}{row.p50:9.1f}ms{row.p95:9.1f}ms{row.p99:9.1f}ms{row.worst:9.1f}ms"
            f"  {row.missing:7}  {row.duplicates:5}  {here:6.2f}, {there:.2f}"
        )
    print(
        f"  {'ratio':22}{steady.p50 / base.p50:10.1f}x{steady.p95 / base.p95:10.1f}x"
        f"{steady.p99 / base.p99:10.1f}x{steady.worst / base.worst:10.1f}x"
        f"{'':17}{product['steady_cpu'][0] / plain['steady_cpu'][0]:6.1f}x"
    )
    print(f"  target p95 <= {LATENCY_TARGET_MS:.0f} ms: {met} ({steady.p95:.1f} ms)")
    ceiling: Ceiling = product["ceiling"]
    plain_ceiling: Ceiling = plain["ceiling"]
    print(f"ceiling: {ceiling.events:,} events committed at once")
    rows_ceiling = (
        ("one dispatcher", ceiling, product["ceiling_cpu"]),
        ("baseline POSTs", plain_ceiling, plain["ceiling_cpu"]),
    )
    for label, row_ceiling, (here, there) in rows_ceiling:
        print(
            f"  {label:20}{row_ceiling.per_second:8,.0f} events/s  all in "
            f"{row_ceiling.seconds:6.2f} s, first after {row_ceiling.first_ms:5.0f} ms, missing "
            f"{row_ceiling.missing}; CPU ms/event {here:.2f}, receiver {there:.2f}"
        )
    print(
        f"  {'ratio':20}{ceiling.per_second / plain_ceiling.per_second:8.2f}   "
        f"({arguments.concurrency} requests in flight at most, both)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to also measure")
    parser.add_argument("--rate", type=float, default=500, help="events per second (500)")
    parser.add_argument("--seconds", type=float, default=30, help="of steady events (30)")
    parser.add_argument("--burst", type=int, default=20_000, help="events at once (20,000)")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--dispatcher",
        choices=("inprocess", "process"),
        default="inprocess",
        help="in this process as `townhall serve` runs it (default), or `townhall events run`",
    )
    # How the benchmark starts its receiver, and its producer, in processes of their own.
    parser.add_argument("--serve-receiver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--produce-to", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_receiver:
        serve_receiver(arguments.port)
        return
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if arguments.produce_to is not None:
        url = os.environ[PRODUCER_DATABASE_VARIABLE]
        produce(url, arguments.rate, arguments.seconds, arguments.produce_to)
        return
    arguments.concurrency = bench_settings("sqlite://").events_webhook_concurrency
    where = (
        "`townhall events run` in a process of its own"
        if arguments.dispatcher == "process"
        else "in this process, as in `townhall serve`"
    )
    print(
        f"{os.cpu_count()} cores; dispatcher {where}, woken across processes by the steady "
        "producer in its own process; the receiver in its own process; "
        "baseline: plain httpx POSTs of the same bodies, no database",
        flush=True,
    )
    with receiver_process() as receiver:
        if arguments.sqlite:
            folder = Path(tempfile.mkdtemp(prefix="townhall-events-bench-"))
            try:
                figures = run_backend(f"sqlite:///{folder / 'townhall.db'}", receiver, arguments)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            print_report("SQLite", figures, arguments)
        if arguments.postgres:
            with postgres_database(arguments.postgres) as url:
                figures = run_backend(url, receiver, arguments)
            print_report("PostgreSQL", figures, arguments)


if __name__ == "__main__":
    main()
