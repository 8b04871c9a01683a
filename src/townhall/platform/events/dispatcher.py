"""The dispatcher: hands every committed event to the platform's readers and to each subscriber.

This module owns the loop that ``townhall events run`` and every served worker run. A pass:

1. writes the outcomes of the webhook tries that have finished (one write unit per batch);
2. runs each platform reader (read models, the Redis sink) through ``readers.run_reader``;
3. takes or renews its lease on each active subscription (``lease_owner`` until
   ``lease_expires_at``): only the holder works on a subscription, so dispatchers run side by
   side without two of them sending one event to one subscriber at once;
4. fans the new outbox events a held subscription selects out into ``event_deliveries`` rows,
   moving the subscription's position in the same write unit (fenced on the lease and the
   position, so a replay or a lost lease in between rolls the batch back);
5. starts the due deliveries, oldest first, keeping order per subject: a delivery is due only
   when no earlier one of the same subscription and subject is still pending, and never two of
   one subject are in flight; at most ``events_webhook_concurrency`` requests in flight.

Between passes it sleeps until woken: by a commit in this process (``wakeup``), in another
(``listeners``), by a finished webhook, by the next retry falling due, or by the safety poll
(``events_poll_seconds``). A pass that did work is followed at once by another.

Delivery is at least once: a delivery is marked delivered only after its 2xx, so a crash in
between sends it again, with the same ``webhook-id``. ADR 22 explains the choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import Insert, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from townhall.platform.db import Database, aware
from townhall.platform.events import delivery
from townhall.platform.events.delivery import (
    DEAD,
    DELIVERED,
    RETRY,
    RetryPolicy,
    TryResult,
    Webhook,
)
from townhall.platform.events.envelope import to_json_bytes
from townhall.platform.events.listeners import cancel, watch_in_process, watch_other_processes
from townhall.platform.events.models import (
    Delivery,
    DeliveryAttempt,
    EventCursor,
    OutboxEvent,
    Subscription,
)
from townhall.platform.events.readers import EventReader, ReaderWaiting, run_reader
from townhall.platform.events.registry import any_matches
from townhall.platform.events.signing_secrets import SecretSealer
from townhall.platform.events.webhook_client import WebhookClient
from townhall.platform.logging import get_logger
from townhall.settings import Settings

# Outbox events turned into deliveries per write unit, and per subscription in one pass (so a
# long backlog, such as a replay from the start, leaves room for sending between batches).
FAN_OUT_BATCH = 1000
FAN_OUT_PER_PASS = 5000
# The most pending deliveries of one subscription a pass reads looking for subjects' heads.
DUE_SCAN_LIMIT = 20_000
# Finished tries gathered before the loop is woken to write them, or the longest wait for more.
FINISHED_BATCH = 16
FINISHED_WAIT_SECONDS = 0.004
# How often the loop logs what it has done, when it has done anything.
PROGRESS_SECONDS = 10.0

log = get_logger(__name__)


def default_owner() -> str:
    """A lease owner id unique to this dispatcher: host, process id, and a random part."""
    host = socket.gethostname()[:80]
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


class DeliveryMetrics:
    """Prometheus series of webhook deliveries, on an app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.tries = Counter(
            "townhall_event_delivery_tries",
            "Webhook tries, by outcome (delivered, retry, dead).",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "townhall_event_delivery_seconds",
            "Time a webhook receiver took to answer (or to fail).",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.lag = Histogram(
            "townhall_event_delivery_lag_seconds",
            "From an event's commit to its delivery's 2xx.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0),
            registry=registry,
        )


@dataclass
class _Lease:
    """A subscription this dispatcher holds, as read at the start of the pass."""

    id: str
    target_url: str
    event_types: list[str]
    secret_sealed: str
    position: int
    expires_at: datetime


@dataclass(frozen=True)
class _Job:
    """One delivery being tried."""

    delivery_id: int
    subscription_id: str
    subject: str
    event_position: int
    attempts: int
    event_time: datetime | None
    webhook: Webhook | None
    # Why it cannot be sent at all (its event purged, its secret unreadable).
    problem: TryResult | None = None


@dataclass(frozen=True)
class _Finished:
    job: _Job
    result: TryResult
    at: datetime


@dataclass
class _Progress:
    fanned_out: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    since: float = field(default_factory=time.monotonic)

    def any(self) -> bool:
        return bool(self.fanned_out or self.delivered or self.retried or self.dead)


class Dispatcher:
    """Delivers the outbox to readers and subscribers; any number may run side by side.

    ``readers`` are the platform's own (``townhall.event_types.event_readers``). ``owner`` names
    this dispatcher in leases (unique by default). ``http_client`` is the client webhooks go
    through (one is made, and closed at the end, when none is given). ``metrics`` is the
    Prometheus registry to count deliveries on, if any.
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        readers: Sequence[EventReader] = (),
        *,
        owner: str | None = None,
        http_client: WebhookClient | None = None,
        metrics: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.readers = list(readers)
        self.owner = owner or default_owner()
        self.policy = RetryPolicy(
            base_seconds=settings.events_retry_base_seconds,
            max_seconds=settings.events_retry_max_seconds,
            max_attempts=settings.events_max_attempts,
        )
        self._lease_length = timedelta(seconds=settings.events_lease_seconds)
        self._client = http_client
        self._owns_client = http_client is None
        self._metrics = DeliveryMetrics(metrics) if metrics is not None else None
        self._sealer = SecretSealer(database, settings)
        self._secrets: dict[tuple[str, str], str] = {}
        self._leases: dict[str, _Lease] = {}
        # Deliveries sent or being sent whose outcome is not written yet: never picked again.
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._busy_subjects: set[tuple[str, str]] = set()
        self._finished: list[_Finished] = []
        self._next_due: datetime | None = None
        self._wake: asyncio.Event | None = None
        self._committed = False
        self._wake_scheduled = False
        # How often a whole pass runs without being woken by a commit: the safety poll, and
        # often enough to renew leases well before they expire.
        self._full_interval = min(settings.events_poll_seconds, settings.events_lease_seconds / 3)
        self._progress = _Progress()

    # -- running -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; then finish the tries in flight and release leases."""
        wake = self._wake = asyncio.Event()
        reader_wake = asyncio.Event()

        def committed() -> None:
            self._committed = True
            wake.set()
            reader_wake.set()

        watchers = [
            asyncio.create_task(watch_in_process(self.database, committed)),
            asyncio.create_task(watch_other_processes(self.database, committed)),
            asyncio.create_task(_relay(stop, wake)),
            asyncio.create_task(_relay(stop, reader_wake)),
        ]
        # Ends by itself once stop is set and its current read is over (never cut mid-write).
        reading = asyncio.create_task(self._keep_reading(stop, reader_wake))
        log.info("events.dispatcher.started", owner=self.owner, readers=len(self.readers))
        last_full = -float("inf")
        try:
            while not stop.is_set():
                wake.clear()
                # A whole pass (readers, leases, fan-out) only when events were committed or
                # the poll is due; a webhook that finished needs only its outcome written and
                # the next due deliveries started, which is most passes under load.
                full = self._committed or time.monotonic() - last_full >= self._full_interval
                self._committed = False
                try:
                    if full:
                        last_full = time.monotonic()
                        work = await self._pass(with_readers=False)
                    else:
                        work = await self._light_pass()
                except Exception as exc:  # a database that is away must not end the loop
                    log.warning("events.dispatcher.pass_failed", error=type(exc).__name__)
                    work = 0
                    self._next_due = None
                self._log_progress()
                if work or stop.is_set():
                    await asyncio.sleep(0)
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self._sleep_seconds())
        finally:
            if not stop.is_set():  # ended by an error or a cancellation, not by stop
                reading.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await reading
            for watcher in watchers:
                await cancel(watcher)
            await self.close()
            self._log_progress(force=True)
            log.info("events.dispatcher.stopped", owner=self.owner)

    async def run_once(self) -> int:
        """One whole pass, waiting for the tries it starts; return the work done (tests, cron)."""
        work = await self._pass()
        work += await self._drain()
        self._log_progress()
        return work

    async def close(self) -> None:
        """Finish the tries in flight, record them, release every lease, close the client."""
        try:
            await self._drain()
        finally:
            try:
                await asyncio.to_thread(self._release_leases)
            except Exception as exc:  # the leases then expire by themselves
                log.warning("events.dispatcher.release_failed", error=type(exc).__name__)
            if self._owns_client and self._client is not None:
                await self._client.aclose()
                self._client = None

    def _sleep_seconds(self) -> float:
        # Renew leases well before they expire, and wake for the next retry that falls due.
        longest = self._full_interval
        if self._next_due is None:
            return longest
        until_due = (self._next_due - datetime.now(UTC)).total_seconds()
        return max(0.0, min(longest, until_due))

    async def _pass(self, *, with_readers: bool = True) -> int:
        work = await self._record_finished()
        if with_readers:
            work += await self._read()
        work += await asyncio.to_thread(self._lease_and_fan_out)
        work += await self._start_due()
        return work

    async def _read(self) -> int:
        """Run each platform reader once; the events they read."""
        work = 0
        for reader in self.readers:
            try:
                work += await asyncio.to_thread(
                    run_reader,
                    self.database,
                    reader,
                    owner=self.owner,
                    lease_seconds=self.settings.events_lease_seconds,
                )
            except ReaderWaiting:
                continue  # it said once what it waits for; its events stay for a later pass
            except Exception as exc:  # one failing reader must not stop the others or webhooks
                log.warning("events.reader.failed", reader=reader.name, error=type(exc).__name__)
        return work

    async def _keep_reading(self, stop: asyncio.Event, commits: asyncio.Event) -> None:
        """Run the readers beside the webhooks, so a slow read model never holds a webhook up."""
        while not stop.is_set():
            commits.clear()
            if await self._read():
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(commits.wait(), self._full_interval)

    async def _light_pass(self) -> int:
        """Write the outcomes of finished tries and start the deliveries now due."""
        work = await self._record_finished()
        work += await self._start_due()
        return work

    async def _drain(self) -> int:
        tasks = list(self._in_flight.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return await self._record_finished()

    # -- leases and fan-out (in a worker thread) -----------------------------------------------

    def _lease_and_fan_out(self) -> int:
        now = datetime.now(UTC)
        renew_before = now + self._lease_length * (2.0 / 3.0)
        with self.database.read() as session:
            rows = session.execute(
                select(
                    Subscription.id,
                    Subscription.status,
                    Subscription.target_url,
                    Subscription.event_types,
                    Subscription.secret_sealed,
                    Subscription.position,
                    Subscription.lease_owner,
                    Subscription.lease_expires_at,
                )
            ).all()
            end = int(session.scalar(select(func.max(OutboxEvent.position))) or 0)
        wanted: list[str] = []
        dropped: list[str] = []
        for row in rows:
            expires = aware(row.lease_expires_at) if row.lease_expires_at else None
            free = row.lease_owner is None or expires is None or expires < now
            mine = row.lease_owner == self.owner
            if row.status != "active":
                if mine:
                    dropped.append(row.id)
            elif free or (mine and expires is not None and expires < renew_before):
                wanted.append(row.id)
        if wanted or dropped:
            self._take_leases(wanted, dropped, now)
            self._leases = self._held_leases(now)
        else:
            # Nothing to take or renew: what was read is what this dispatcher holds.
            self._leases = {
                row.id: _lease_of(row)
                for row in rows
                if row.lease_owner == self.owner and row.status == "active"
            }
        fanned = 0
        for lease in list(self._leases.values()):
            if lease.position < end:
                fanned += self._fan_out(lease)
        self._progress.fanned_out += fanned
        return fanned

    def _take_leases(self, wanted: list[str], dropped: list[str], now: datetime) -> None:
        with self.database.write() as session:
            if wanted:
                session.execute(
                    update(Subscription)
                    .where(
                        Subscription.id.in_(wanted),
                        Subscription.status == "active",
                        or_(
                            Subscription.lease_owner.is_(None),
                            Subscription.lease_expires_at < now,
                            Subscription.lease_owner == self.owner,
                        ),
                    )
                    .values(lease_owner=self.owner, lease_expires_at=now + self._lease_length)
                )
            if dropped:  # paused: let go, so whoever holds it after a resume starts clean
                session.execute(
                    update(Subscription)
                    .where(Subscription.id.in_(dropped), Subscription.lease_owner == self.owner)
                    .values(lease_owner=None, lease_expires_at=None)
                )

    def _held_leases(self, now: datetime) -> dict[str, _Lease]:
        with self.database.read() as session:
            rows = session.execute(
                select(
                    Subscription.id,
                    Subscription.target_url,
                    Subscription.event_types,
                    Subscription.secret_sealed,
                    Subscription.position,
                    Subscription.lease_expires_at,
                ).where(
                    Subscription.lease_owner == self.owner,
                    Subscription.status == "active",
                    Subscription.lease_expires_at > now,
                )
            ).all()
        return {row.id: _lease_of(row) for row in rows}

    def _fan_out(self, lease: _Lease) -> int:
        """Turn the events after ``lease.position`` into deliveries; return how many were made."""
        made = 0
        read = 0
        while read < FAN_OUT_PER_PASS:
            with self.database.read() as session:
                events = session.execute(
                    select(OutboxEvent.position, OutboxEvent.type, OutboxEvent.subject)
                    .where(OutboxEvent.position > lease.position)
                    .order_by(OutboxEvent.position)
                    .limit(FAN_OUT_BATCH)
                ).all()
            if not events:
                break
            now = datetime.now(UTC)
            rows = [
                {
                    "subscription_id": lease.id,
                    "event_position": event.position,
                    "subject": event.subject,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for event in events
                if any_matches(lease.event_types, event.type)
            ]
            last = int(events[-1].position)
            try:
                with self.database.write() as session:
                    moved = session.execute(
                        update(Subscription)
                        .where(
                            Subscription.id == lease.id,
                            Subscription.lease_owner == self.owner,
                            Subscription.position == lease.position,
                        )
                        .values(position=last)
                    )
                    if getattr(moved, "rowcount", 0) != 1:
                        raise _Moved
                    if rows:
                        # An event that already has a delivery (a replay reset the position
                        # over it) keeps the one it has.
                        session.execute(_insert_new_deliveries(session), rows)
            except _Moved:
                # The lease was lost or a replay moved the position: nothing was written, and
                # the next pass starts from what the table says.
                self._leases.pop(lease.id, None)
                return made
            lease.position = last
            made += len(rows)
            read += len(events)
            if len(events) < FAN_OUT_BATCH:
                break
        return made

    def _release_leases(self) -> None:
        with self.database.write() as session:
            session.execute(
                update(Subscription)
                .where(Subscription.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
            session.execute(
                update(EventCursor)
                .where(EventCursor.lease_owner == self.owner)
                .values(lease_owner=None, lease_expires_at=None)
            )
        self._leases = {}

    # -- sending -------------------------------------------------------------------------------

    async def _start_due(self) -> int:
        room = self.settings.events_webhook_concurrency - len(self._in_flight)
        if not self._leases:
            self._next_due = None
            return 0
        if room <= 0:
            return 0
        jobs = await asyncio.to_thread(self._due_jobs, room)
        client = self._http_client()
        for job in jobs:
            self._busy_subjects.add((job.subscription_id, job.subject))
            self._in_flight[job.delivery_id] = asyncio.create_task(self._try(client, job))
        return len(jobs)

    def _due_jobs(self, room: int) -> list[_Job]:
        """The deliveries to start now: the oldest pending one of each subject, if it is due.

        Each held subscription's pending deliveries are read in event order, from the oldest,
        through the index on (subscription, status, position): the first row of a subject is
        its head, and only a head that is due, not in flight and not of a busy subject goes.
        The scan reads a few times ``room`` rows, and more when a backlog of a few subjects
        fills it with rows that must wait.
        """
        now = datetime.now(UTC)
        leases = dict(self._leases)
        in_flight = set(self._in_flight)
        busy = set(self._busy_subjects)
        chosen: list[Any] = []
        next_due: datetime | None = None
        with self.database.read() as session:
            for lease in leases.values():
                scan = max(4 * room, 64) + len(in_flight)
                while True:
                    rows = session.execute(
                        select(
                            Delivery.id,
                            Delivery.subscription_id,
                            Delivery.subject,
                            Delivery.event_position,
                            Delivery.attempts,
                            Delivery.next_attempt_at,
                        )
                        .where(Delivery.subscription_id == lease.id, Delivery.status == "pending")
                        .order_by(Delivery.event_position)
                        .limit(scan)
                    ).all()
                    seen: set[str] = set()
                    picked: list[Any] = []
                    for row in rows:
                        if row.subject in seen:
                            continue  # not its subject's head: it waits for the one before
                        seen.add(row.subject)
                        due_at = aware(row.next_attempt_at)
                        if due_at > now:
                            next_due = due_at if next_due is None else min(next_due, due_at)
                        elif row.id not in in_flight and (lease.id, row.subject) not in busy:
                            picked.append(row)
                    if picked or len(rows) < scan or scan >= DUE_SCAN_LIMIT:
                        break
                    scan = min(scan * 4, DUE_SCAN_LIMIT)
                chosen.extend(picked)
            chosen.sort(key=lambda row: row.event_position)
            chosen = chosen[:room]
            self._next_due = next_due
            if not chosen:
                return []
            events = {
                event.position: event
                for event in session.scalars(
                    select(OutboxEvent).where(
                        OutboxEvent.position.in_([head.event_position for head in chosen])
                    )
                )
            }
            # Built inside the unit: its end (a rollback on SQLite) expires the rows.
            return [self._job(head, leases[head.subscription_id], events) for head in chosen]

    def _job(self, head: Any, lease: _Lease, events: dict[int, OutboxEvent]) -> _Job:
        job = _Job(
            delivery_id=int(head.id),
            subscription_id=head.subscription_id,
            subject=head.subject,
            event_position=int(head.event_position),
            attempts=int(head.attempts),
            event_time=None,
            webhook=None,
        )
        event = events.get(job.event_position)
        if event is None:
            problem = TryResult(DEAD, None, "the event is no longer in the outbox", 0.0)
            return replace(job, problem=problem)
        try:
            secret = self._secret(lease)
        except Exception as exc:  # the instance key changed: retrying may outlive the fix
            problem = TryResult(
                RETRY, None, f"the signing secret could not be read ({type(exc).__name__})", 0.0
            )
            return replace(job, problem=problem)
        body = to_json_bytes(event, council_code=self.settings.council_code)
        webhook = Webhook(url=lease.target_url, event_id=event.id, body=body, secret=secret)
        return replace(job, webhook=webhook, event_time=aware(event.time))

    def _secret(self, lease: _Lease) -> str:
        key = (lease.id, lease.secret_sealed)
        secret = self._secrets.get(key)
        if secret is None:
            secret = self._secrets[key] = self._sealer.unseal(lease.secret_sealed, lease.id)
        return secret

    def _http_client(self) -> WebhookClient:
        if self._client is None:
            # Targets are the subscribers' URLs, never through this host's proxy settings.
            self._client = WebhookClient(
                max_connections=self.settings.events_webhook_concurrency,
                user_agent=delivery.USER_AGENT,
            )
        return self._client

    async def _try(self, client: WebhookClient, job: _Job) -> None:
        result = job.problem
        if result is None and job.webhook is not None:
            try:
                result = await delivery.send(
                    client,
                    job.webhook,
                    timeout=self.settings.events_webhook_timeout_seconds,
                    allow_private=self.settings.events_allow_private_targets,
                )
            except Exception as exc:  # a bug here must not lose the delivery: try it again later
                result = TryResult(RETRY, None, f"internal error ({type(exc).__name__})", 0.0)
        if result is None:  # pragma: no cover - a job has a webhook or a problem
            result = TryResult(RETRY, None, "nothing to send", 0.0)
        self._finished.append(_Finished(job, result, datetime.now(UTC)))
        self._wake_for_finished()

    def _wake_for_finished(self) -> None:
        """Wake the loop to write finished tries, a few at a time rather than one by one.

        Each wake costs a write unit and a scan; under load webhooks finish every fraction of a
        millisecond, so the loop is woken at once only when every try in flight has finished
        or a batch has gathered, and otherwise a few milliseconds later with whatever came.
        """
        wake = self._wake
        if wake is None or wake.is_set():
            return
        if len(self._finished) >= FINISHED_BATCH or len(self._finished) >= len(self._in_flight):
            wake.set()
        elif not self._wake_scheduled:
            self._wake_scheduled = True

            def later() -> None:
                self._wake_scheduled = False
                wake.set()

            asyncio.get_running_loop().call_later(FINISHED_WAIT_SECONDS, later)

    # -- outcomes ------------------------------------------------------------------------------

    async def _record_finished(self) -> int:
        batch, self._finished = self._finished, []
        if not batch:
            return 0
        try:
            outcomes = await asyncio.to_thread(self._write_outcomes, batch)
        except BaseException:
            self._finished[:0] = batch  # written next pass; they stay in flight until then
            raise
        for finished in batch:
            self._in_flight.pop(finished.job.delivery_id, None)
            self._busy_subjects.discard((finished.job.subscription_id, finished.job.subject))
        self._count(batch, outcomes)
        return len(batch)

    def _write_outcomes(self, batch: list[_Finished]) -> list[str | None]:
        """Write each try and its delivery's new state; the outcome of each (None: not found).

        One SELECT finds which deliveries are still pending (locking them on PostgreSQL), one
        executemany UPDATE writes them all and one INSERT their attempts: a batch costs three
        statements, not one per delivery.
        """
        outcomes: list[str | None] = []
        updates: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        with self.database.write() as session:
            pending_query = select(Delivery.id).where(
                Delivery.id.in_([finished.job.delivery_id for finished in batch]),
                Delivery.status == "pending",
            )
            if not self.database.is_sqlite:
                pending_query = pending_query.with_for_update()
            pending = set(session.scalars(pending_query))
            for finished in batch:
                job, result = finished.job, finished.result
                if job.delivery_id not in pending:
                    # Deleted with its subscription, or finished by another dispatcher after a
                    # lease was lost: the try is not logged against a row that moved on.
                    outcomes.append(None)
                    continue
                pending.discard(job.delivery_id)  # the same delivery twice: write it once
                tries = job.attempts + 1
                outcome = result.outcome
                if outcome == RETRY and self.policy.gives_up(tries):
                    outcome = DEAD
                retry = outcome == RETRY
                updates.append(
                    {
                        "b_id": job.delivery_id,
                        "b_status": "pending" if retry else outcome,
                        "b_attempts": tries,
                        "b_next": (
                            finished.at + timedelta(seconds=self._retry_delay(tries, result))
                            if retry
                            else finished.at
                        ),
                        "b_completed": None if retry else finished.at,
                        "b_code": result.status_code,
                        "b_error": result.error,
                        "b_latency": result.latency_ms,
                    }
                )
                outcomes.append(outcome)
                attempts.append(
                    {
                        "delivery_id": job.delivery_id,
                        "attempted_at": finished.at,
                        "outcome": outcome,
                        "status_code": result.status_code,
                        "error": result.error,
                        "latency_ms": result.latency_ms,
                    }
                )
            if updates:
                table: Table = Delivery.__table__  # type: ignore[assignment]
                session.connection().execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"))
                    .values(
                        status=bindparam("b_status"),
                        attempts=bindparam("b_attempts"),
                        next_attempt_at=bindparam("b_next"),
                        completed_at=bindparam("b_completed"),
                        last_status_code=bindparam("b_code"),
                        last_error=bindparam("b_error"),
                        last_latency_ms=bindparam("b_latency"),
                    ),
                    updates,
                )
            if attempts:
                session.execute(insert(DeliveryAttempt), attempts)
        return outcomes

    def _retry_delay(self, tries: int, result: TryResult) -> float:
        if result.retry_after is not None:
            return min(result.retry_after, self.policy.max_seconds)
        return self.policy.delay(tries)

    def _count(self, batch: list[_Finished], outcomes: list[str | None]) -> None:
        for finished, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                continue
            job, result = finished.job, finished.result
            if outcome == DELIVERED:
                self._progress.delivered += 1
            elif outcome == RETRY:
                self._progress.retried += 1
            else:
                self._progress.dead += 1
                log.warning(
                    "events.delivery.dead",
                    subscription_id=job.subscription_id,
                    event_position=job.event_position,
                    attempts=job.attempts + 1,
                    status_code=result.status_code,
                    error=result.error,
                )
            if self._metrics is not None:
                self._metrics.tries.labels(outcome).inc()
                self._metrics.latency.observe(result.latency_ms / 1000.0)
                if outcome == DELIVERED and job.event_time is not None:
                    lag = (finished.at - job.event_time).total_seconds()
                    self._metrics.lag.observe(max(lag, 0.0))

    def _log_progress(self, *, force: bool = False) -> None:
        progress = self._progress
        if not progress.any():
            return
        if not force and time.monotonic() - progress.since < PROGRESS_SECONDS:
            return
        log.info(
            "events.dispatcher.progress",
            owner=self.owner,
            subscriptions=len(self._leases),
            fanned_out=progress.fanned_out,
            delivered=progress.delivered,
            retried=progress.retried,
            dead=progress.dead,
            in_flight=len(self._in_flight),
        )
        self._progress = _Progress()


def _lease_of(row: Any) -> _Lease:
    return _Lease(
        id=row.id,
        target_url=row.target_url,
        event_types=list(row.event_types),
        secret_sealed=row.secret_sealed,
        position=int(row.position),
        expires_at=aware(row.lease_expires_at),
    )


class _Moved(Exception):
    """A subscription's lease or position changed under a fan-out: roll its batch back."""


async def _relay(stop: asyncio.Event, wake: asyncio.Event) -> None:
    await stop.wait()
    wake.set()


def _insert_new_deliveries(session: Session) -> Insert:
    """An INSERT of deliveries that leaves an event's existing delivery as it is."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert  # noqa: PLC0415

        return pg_insert(Delivery).on_conflict_do_nothing(
            index_elements=["subscription_id", "event_position"]
        )
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

    return sqlite_insert(Delivery).on_conflict_do_nothing(
        index_elements=["subscription_id", "event_position"]
    )


@dataclass(frozen=True)
class SubscriptionProgress:
    """How far one subscription's deliveries have got."""

    id: str
    description: str
    status: str
    position: int
    pending: int
    dead: int
    oldest_pending: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class CursorProgress:
    """How far one platform reader has read."""

    name: str
    position: int
    lease_owner: str | None
    lease_expires_at: datetime | None


@dataclass(frozen=True)
class DispatchStatus:
    """Where dispatching stands: the outbox's end, each subscription and each reader."""

    outbox_end: int
    subscriptions: list[SubscriptionProgress]
    cursors: list[CursorProgress]


def dispatch_status(database: Database) -> DispatchStatus:
    """Read where every subscription and reader stands (for ``townhall events status``)."""
    with database.read() as session:
        end = int(session.scalar(select(func.max(OutboxEvent.position))) or 0)
        counts: dict[tuple[str, str], int] = {}
        oldest: dict[str, datetime] = {}
        for row in session.execute(
            select(
                Delivery.subscription_id,
                Delivery.status,
                func.count(),
                func.min(Delivery.created_at),
            )
            .where(Delivery.status.in_(("pending", "dead")))
            .group_by(Delivery.subscription_id, Delivery.status)
        ):
            counts[(row[0], row[1])] = int(row[2])
            if row[1] == "pending" and row[3] is not None:
                oldest[row[0]] = aware(row[3])
        subscriptions = [
            SubscriptionProgress(
                id=row.id,
                description=row.description,
                status=row.status,
                position=int(row.position),
                pending=counts.get((row.id, "pending"), 0),
                dead=counts.get((row.id, "dead"), 0),
                oldest_pending=oldest.get(row.id),
                lease_owner=row.lease_owner,
                lease_expires_at=aware(row.lease_expires_at) if row.lease_expires_at else None,
            )
            for row in session.execute(
                select(
                    Subscription.id,
                    Subscription.description,
                    Subscription.status,
                    Subscription.position,
                    Subscription.lease_owner,
                    Subscription.lease_expires_at,
                ).order_by(Subscription.created_at, Subscription.id)
            )
        ]
        cursors = [
            CursorProgress(
                name=row.name,
                position=int(row.position),
                lease_owner=row.lease_owner,
                lease_expires_at=aware(row.lease_expires_at) if row.lease_expires_at else None,
            )
            for row in session.execute(
                select(
                    EventCursor.name,
                    EventCursor.position,
                    EventCursor.lease_owner,
                    EventCursor.lease_expires_at,
                ).order_by(EventCursor.name)
            )
        ]
    return DispatchStatus(outbox_end=end, subscriptions=subscriptions, cursors=cursors)
