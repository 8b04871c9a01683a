"""The dispatcher against a real receiver on loopback, on the backend under test.

Each test arranges subscriptions and events in the database, runs passes of a real
``Dispatcher`` (``run_once``, or ``run`` in the background), and reads what the receiver got and
what the delivery log says.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import delete, update
from standardwebhooks.webhooks import Webhook as Verifier

from tests.platform.events.dispatcher_helpers import (
    THING_DELETED,
    THING_UPDATED,
    attempts,
    deliveries,
    dispatcher_settings,
    emit,
    subscribe,
    subscription,
)
from tests.platform.events.receiver import Answer, Receiver
from townhall.platform.db import Database, aware
from townhall.platform.events.dispatcher import Dispatcher
from townhall.platform.events.envelope import to_json_bytes
from townhall.platform.events.models import OutboxEvent, Subscription
from townhall.settings import Settings


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def run_once(dispatcher: Dispatcher) -> int:
    async def once() -> int:
        try:
            return await dispatcher.run_once()
        finally:
            await dispatcher.close()

    return asyncio.run(once())


def run_passes(dispatcher: Dispatcher, passes: int) -> None:
    async def several() -> None:
        try:
            for _ in range(passes):
                await dispatcher.run_once()
                await asyncio.sleep(0.06)  # past the tests' longest backoff
        finally:
            await dispatcher.close()

    asyncio.run(several())


def test_an_event_reaches_its_subscriber_signed_as_standard_webhooks_asks(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, secret = subscribe(database, tuned, receiver.url())
    [event_id] = emit(database, "thing-1")

    run_once(Dispatcher(tuned, database))

    [request] = receiver.received
    assert request.event_id == event_id
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert request.headers["user-agent"].startswith("Townhall-Webhooks/")
    # The reference implementation accepts the signature.
    verified = Verifier(secret).verify(request.body, request.headers)
    assert verified["id"] == event_id
    with database.read() as session:
        [row] = session.query(OutboxEvent).all()
        assert request.body == to_json_bytes(row, council_code=tuned.council_code)
    envelope = request.json()
    assert envelope["type"] == THING_UPDATED.type
    assert envelope["subject"] == "thing-1"
    [sent] = deliveries(database, subscription_id)
    assert sent.status == "delivered"
    assert sent.attempts == 1
    assert sent.last_status_code == 200
    [attempt] = attempts(database, sent.id)
    assert (attempt.outcome, attempt.status_code) == ("delivered", 200)
    assert subscription(database, subscription_id).position == sent.event_position


def test_a_subscription_gets_only_the_types_it_asked_for_and_moves_past_the_rest(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(
        database, tuned, receiver.url(), event_types=(THING_DELETED.type,)
    )
    emit(database, "a", "b")
    [deleted_id] = emit(database, "c", event_type=THING_DELETED)
    emit(database, "d")

    run_once(Dispatcher(tuned, database))

    assert [item.event_id for item in receiver.received] == [deleted_id]
    assert len(deliveries(database, subscription_id)) == 1
    assert subscription(database, subscription_id).position == 4


def test_a_subscription_starts_after_its_position(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    emit(database, "before-1", "before-2")
    subscribe(database, tuned, receiver.url(), position=2)
    [after] = emit(database, "after")

    run_once(Dispatcher(tuned, database))

    assert receiver.event_ids() == {after}


def test_5xx_429_and_a_closed_connection_are_retried_until_delivered(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    # A kept-alive connection closed without an answer is tried once more on a fresh one
    # within the same try (it may have been closed while idle); closed again, the try fails.
    closed = Answer(close=True)
    receiver.script(Answer(503), Answer(429, retry_after="0"), closed, closed, Answer(500))
    [event_id] = emit(database, "thing-1")

    run_passes(Dispatcher(tuned, database), 8)

    assert [item.status for item in receiver.received] == [503, 429, 0, 0, 500, 200]
    assert {item.event_id for item in receiver.received} == {event_id}
    [sent] = deliveries(database, subscription_id)
    assert (sent.status, sent.attempts) == ("delivered", 5)
    log = attempts(database, sent.id)
    assert [a.outcome for a in log] == ["retry", "retry", "retry", "retry", "delivered"]
    assert [a.status_code for a in log] == [503, 429, None, 500, 200]
    assert log[2].error is not None
    assert "connection" in log[2].error


def test_retry_after_is_honoured_up_to_the_longest_wait(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings, events_retry_max_seconds=120.0)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    receiver.answer(Answer(429, retry_after="90"))
    emit(database, "thing-1")
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")

    run_once(Dispatcher(tuned, database))
    [waiting] = deliveries(database, subscription_id)
    [tried] = attempts(database, waiting.id)
    wait = aware(waiting.next_attempt_at) - aware(tried.attempted_at)
    assert wait == timedelta(seconds=90)

    # An HTTP date two hours away is capped at the longest wait.
    with database.write() as session:
        session.execute(update(type(waiting)).values(next_attempt_at=datetime.now(UTC)))
    receiver.answer(Answer(503, retry_after=later))
    run_once(Dispatcher(tuned, database))
    [waiting] = deliveries(database, subscription_id)
    last = attempts(database, waiting.id)[-1]
    assert aware(waiting.next_attempt_at) - aware(last.attempted_at) == timedelta(seconds=120)


def test_backoff_waits_stay_under_the_doubling_cap(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(
        settings, events_retry_base_seconds=10.0, events_retry_max_seconds=25.0
    )
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    receiver.answer(Answer(503))
    emit(database, "thing-1")
    caps = [10.0, 20.0, 25.0, 25.0]
    for cap in caps:
        run_once(Dispatcher(tuned, database))
        [waiting] = deliveries(database, subscription_id)
        last = attempts(database, waiting.id)[-1]
        wait = (aware(waiting.next_attempt_at) - aware(last.attempted_at)).total_seconds()
        assert 0.0 <= wait <= cap
        with database.write() as session:
            session.execute(update(type(waiting)).values(next_attempt_at=datetime.now(UTC)))
    assert len(receiver.received) == len(caps)


def test_a_receiver_that_refuses_an_event_dead_letters_it_and_its_subject_moves_on(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    receiver.script(Answer(410))
    first, second = emit(database, "thing-1", "thing-1")

    run_passes(Dispatcher(tuned, database), 3)

    assert [(item.event_id, item.status) for item in receiver.received] == [
        (first, 410),
        (second, 200),
    ]
    dead, delivered = deliveries(database, subscription_id)
    assert (dead.status, dead.attempts, dead.last_status_code) == ("dead", 1, 410)
    assert delivered.status == "delivered"
    assert [a.outcome for a in attempts(database, dead.id)] == ["dead"]


def test_a_delivery_is_dead_after_the_last_attempt(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings, events_max_attempts=3)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    receiver.answer(Answer(500))
    emit(database, "thing-1")

    run_passes(Dispatcher(tuned, database), 6)

    assert len(receiver.received) == 3
    [dead] = deliveries(database, subscription_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert dead.completed_at is not None
    assert [a.outcome for a in attempts(database, dead.id)] == ["retry", "retry", "dead"]


def test_order_is_kept_per_subject_even_when_an_earlier_event_is_retried(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    # One request at a time, so the first request (the one that fails) is x's first event.
    tuned = dispatcher_settings(settings, events_webhook_concurrency=1)
    subscribe(database, tuned, receiver.url())
    receiver.script(Answer(503))  # the very first request fails
    ids = emit(database, "x", "y", "x", "y", "x", "z")

    run_passes(Dispatcher(tuned, database), 12)

    delivered = [item for item in receiver.received if item.status == 200]
    assert {item.event_id for item in delivered} == set(ids)
    for subject in ("x", "y", "z"):
        sequences = [r.json()["sequence"] for r in delivered if r.json()["subject"] == subject]
        assert sequences == sorted(sequences)
    # x's first event failed once: none of x's later events went before it was delivered.
    x_first = [item.event_id for item in receiver.received if item.json()["subject"] == "x"]
    assert x_first[:2] == [ids[0], ids[0]]


def test_in_flight_requests_stay_within_the_concurrency_and_one_per_subject(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings, events_webhook_concurrency=4)
    subscribe(database, tuned, receiver.url())
    receiver.answer(Answer(delay=0.05))
    subjects = [f"s{index % 3}" for index in range(9)] + [f"t{index}" for index in range(12)]
    ids = emit(database, *subjects)

    async def until_all() -> None:
        dispatcher = Dispatcher(tuned, database)
        try:
            while len(receiver.event_ids()) < len(ids):
                await dispatcher.run_once()
        finally:
            await dispatcher.close()

    asyncio.run(asyncio.wait_for(until_all(), 30))

    assert receiver.event_ids() == set(ids)
    assert 1 < receiver.max_in_flight <= 4
    # Never two requests of one subject at once: their sequences arrive in order.
    for subject in ("s0", "s1", "s2"):
        got = [r.json()["sequence"] for r in receiver.received if r.json()["subject"] == subject]
        assert got == sorted(got)
        assert len(got) == 3


def test_a_private_target_is_refused_before_sending_unless_allowed(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings, events_allow_private_targets=False)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    emit(database, "thing-1")

    run_once(Dispatcher(tuned, database))

    assert receiver.received == []
    [refused] = deliveries(database, subscription_id)
    assert refused.status == "dead"
    assert refused.last_error is not None
    assert refused.last_error.startswith("target refused")


def test_a_redirect_is_not_followed_and_counts_as_refused(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    receiver.answer(Answer(307))
    emit(database, "thing-1")

    run_once(Dispatcher(tuned, database))

    assert len(receiver.received) == 1
    [refused] = deliveries(database, subscription_id)
    assert (refused.status, refused.last_status_code) == ("dead", 307)


def test_a_replay_over_delivered_events_makes_no_second_delivery_row(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    emit(database, "a", "b")
    run_once(Dispatcher(tuned, database))
    with database.write() as session:
        session.execute(
            update(Subscription).where(Subscription.id == subscription_id).values(position=0)
        )
    [third] = emit(database, "c")

    run_once(Dispatcher(tuned, database))

    assert [row.status for row in deliveries(database, subscription_id)] == ["delivered"] * 3
    assert [item.event_id for item in receiver.received][2:] == [third]
    assert subscription(database, subscription_id).position == 3


def test_a_purged_event_is_dead_lettered_rather_than_retried_for_ever(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    receiver.answer(Answer(503))
    emit(database, "thing-1")
    run_once(Dispatcher(tuned, database))
    with database.write() as session:
        session.execute(delete(OutboxEvent))
        session.execute(
            update(type(deliveries(database, subscription_id)[0])).values(
                next_attempt_at=datetime.now(UTC)
            )
        )

    run_once(Dispatcher(tuned, database))

    [dead] = deliveries(database, subscription_id)
    assert dead.status == "dead"
    assert dead.last_error == "the event is no longer in the outbox"


def test_a_paused_subscription_gets_nothing_until_resumed(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url(), status="paused")
    [event_id] = emit(database, "thing-1")

    run_once(Dispatcher(tuned, database))
    assert receiver.received == []

    with database.write() as session:
        session.execute(
            update(Subscription).where(Subscription.id == subscription_id).values(status="active")
        )
    run_once(Dispatcher(tuned, database))
    assert receiver.event_ids() == {event_id}


def test_a_subscription_leased_by_another_dispatcher_is_left_until_its_lease_expires(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscription_id, _ = subscribe(database, tuned, receiver.url())
    with database.write() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(
                lease_owner="elsewhere:1:abcd",
                lease_expires_at=datetime.now(UTC) + timedelta(minutes=5),
            )
        )
    [event_id] = emit(database, "thing-1")

    assert run_once(Dispatcher(tuned, database)) == 0
    assert receiver.received == []
    assert subscription(database, subscription_id).lease_owner == "elsewhere:1:abcd"

    with database.write() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == subscription_id)
            .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    run_once(Dispatcher(tuned, database, owner="here:2:ef01"))
    assert receiver.event_ids() == {event_id}
    # Released at the end of the run.
    assert subscription(database, subscription_id).lease_owner is None


def test_run_wakes_at_commit_rather_than_on_its_poll(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    # With a minute's poll and lease, only the commit's wake-up can deliver within seconds.
    tuned = dispatcher_settings(settings, events_poll_seconds=60.0, events_lease_seconds=300.0)
    subscribe(database, tuned, receiver.url())

    async def scenario() -> tuple[bool, bool]:
        stop = asyncio.Event()
        dispatcher = Dispatcher(tuned, database)
        task = asyncio.create_task(dispatcher.run(stop))
        await asyncio.sleep(0.3)  # let it settle into its wait
        [first] = await asyncio.to_thread(emit, database, "thing-1")
        got_first = await asyncio.to_thread(
            receiver.wait_until, lambda r: first in r.event_ids(), 5.0
        )
        [second] = await asyncio.to_thread(emit, database, "thing-2")
        got_second = await asyncio.to_thread(
            receiver.wait_until, lambda r: second in r.event_ids(), 5.0
        )
        stop.set()
        await asyncio.wait_for(task, 10)
        return got_first, got_second

    assert asyncio.run(scenario()) == (True, True)


def test_two_dispatchers_never_send_one_event_to_one_subscription_at_once(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings, events_lease_seconds=2.0, events_webhook_concurrency=8)
    paths = ["/a", "/b", "/c"]
    for path in paths:
        subscribe(database, tuned, receiver.url(path))
    receiver.answer(Answer(delay=0.01))
    ids = emit(database, *[f"thing-{index % 7}" for index in range(60)])

    async def scenario() -> None:
        stop = asyncio.Event()
        first = Dispatcher(tuned, database, owner="one:1:aaaa")
        second = Dispatcher(tuned, database, owner="two:2:bbbb")
        tasks = [asyncio.create_task(d.run(stop)) for d in (first, second)]
        done = await asyncio.to_thread(
            receiver.wait_until,
            lambda r: all(len(r.event_ids(path)) == len(ids) for path in paths),
            30.0,
        )
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        assert done

    asyncio.run(scenario())

    assert receiver.max_in_flight_per_key == 1
    for path in paths:
        assert receiver.event_ids(path) == set(ids)
    # Each subscription was served by whichever dispatcher held its lease; with no crash, no
    # event went to one subscription twice.
    assert len(receiver.received) == len(paths) * len(ids)


def test_deliveries_are_counted_in_the_metrics(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings)
    subscribe(database, tuned, receiver.url())
    receiver.script(Answer(503))
    emit(database, "thing-1")
    registry = CollectorRegistry()

    run_passes(Dispatcher(tuned, database, metrics=registry), 3)

    def value(outcome: str) -> float | None:
        return registry.get_sample_value(
            "townhall_event_delivery_tries_total", {"outcome": outcome}
        )

    assert (value("retry"), value("delivered")) == (1.0, 1.0)
    assert registry.get_sample_value("townhall_event_delivery_lag_seconds_count") == 1.0


def test_the_delivery_log_holds_no_body_or_secret(
    settings: Settings, database: Database, receiver: Receiver
) -> None:
    tuned = dispatcher_settings(settings, events_max_attempts=1)
    subscription_id, secret = subscribe(database, tuned, receiver.url("/hook?token=receivers"))
    receiver.answer(Answer(close=True))
    emit(database, "thing-1")

    run_once(Dispatcher(tuned, database))

    [dead] = deliveries(database, subscription_id)
    logged = json.dumps([dead.last_error, *[a.error for a in attempts(database, dead.id)]])
    assert dead.status == "dead"
    for leak in (secret, "receivers", "thing-1"):
        assert leak not in logged
