"""Rate limits in Redis: the in-memory decisions exactly, one quota for every worker, fail open.

Tests marked ``redis`` use the real server at ``TOWNHALL_TEST_REDIS_URL`` (skipped when it is
unset, failed under CI). The tests of an outage need no server: they point at a closed port, or
at a forwarder to the real server that the test cuts and restores.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from fastapi import Response
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr
from structlog.testing import capture_logs

from townhall.app import create_app
from townhall.errors import TooManyRequests
from townhall.platform.ratelimit import InProcessStore, RateLimiter, RateLimitPolicy, enforce
from townhall.platform.ratelimit_redis import RedisStore
from townhall.settings import Settings

PER_MINUTE = RateLimitPolicy(name="per-minute", quota=5, window=60)
# The magnitude of real Unix times, so the arithmetic is tested at the precision it runs at.
EPOCH = 1_790_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = EPOCH

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own, deleted afterwards."""
    name = f"townhall-test:{uuid.uuid4().hex}:"
    yield name
    for key in redis_client.scan_iter(match=f"{name}*"):
        redis_client.delete(key)


@pytest.fixture
def store(redis_url: str, prefix: str) -> Iterator[RedisStore]:
    """A Redis store on the test server."""
    redis_store = RedisStore.from_url(redis_url, prefix=prefix)
    yield redis_store
    redis_store.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released, so nothing else took it yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_burst_then_refusal_then_the_steady_rate(store: RedisStore) -> None:
    clock = Clock()
    limiter = RateLimiter(store, clock)
    remaining = [limiter.check("c1", [PER_MINUTE])[0].remaining for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    refused = limiter.check("c1", [PER_MINUTE])[0]
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(12.0)
    clock.now += 12.0
    assert limiter.check("c1", [PER_MINUTE])[0].allowed
    assert not limiter.check("c1", [PER_MINUTE])[0].allowed
    assert not store.is_down


# Small quotas, so that refusals (by the first policy, or a later one) are common.
POLICIES = [
    RateLimitPolicy(name="per-minute", quota=3, window=60),
    RateLimitPolicy(name="per-second", quota=2, window=1),
    RateLimitPolicy(name="per-day", quota=5, window=86_400),
]
ADVANCES = [0.0, 0.001, 0.2, 0.3333, 0.5, 1.0, 19.999, 20.0, 20.001, 61.0, 90_000.0]


@hypothesis_settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.one_of(st.just(0.0), st.sampled_from(ADVANCES)),
            st.sampled_from(["a", "b"]),
            st.integers(min_value=1, max_value=len(POLICIES)),
        ),
        min_size=4,
        max_size=40,
    )
)
def test_every_decision_equals_the_in_process_stores(
    redis_url: str, steps: list[tuple[float, str, int]]
) -> None:
    # The same requests at the same times through both stores: equal decisions, to the last bit.
    in_redis = RedisStore.from_url(redis_url, prefix=f"townhall-test:{uuid.uuid4().hex}:")
    clock = Clock()
    in_memory = RateLimiter(InProcessStore(), clock)
    shared = RateLimiter(in_redis, clock)
    try:
        for advance, key, policy_count in steps:
            clock.now += advance
            policies = POLICIES[:policy_count]
            assert shared.check(key, policies) == in_memory.check(key, policies)
    finally:
        in_redis.close()


def test_a_refusal_leaves_the_later_policies_uncounted(store: RedisStore) -> None:
    limiter = RateLimiter(store, Clock())
    per_minute = RateLimitPolicy(name="per-minute", quota=1, window=60)
    per_day = RateLimitPolicy(name="per-day", quota=7, window=86_400)
    first = limiter.check("c1", [per_minute, per_day])
    assert [d.allowed for d in first] == [True, True]
    for _ in range(3):
        assert [d.allowed for d in limiter.check("c1", [per_minute, per_day])] == [False]
    # Only the one request that got through was counted against the day.
    assert limiter.check("c1", [per_day])[0].remaining == 5


def test_two_workers_on_one_key_share_one_quota(redis_url: str, prefix: str) -> None:
    # Two stores with their own connection pools, as two worker processes have, hammering one
    # key from 16 threads at one instant: exactly the quota is allowed, however they interleave.
    quota = RateLimitPolicy(name="per-minute", quota=100, window=60)
    workers = [RedisStore.from_url(redis_url, prefix=prefix) for _ in range(2)]
    limiters = [RateLimiter(worker, lambda: EPOCH) for worker in workers]

    def attempt(number: int) -> bool:
        return limiters[number % 2].check("shared", [quota])[0].allowed

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            allowed = list(pool.map(attempt, range(400)))
    finally:
        for worker in workers:
            worker.close()
    assert allowed.count(True) == 100


def test_two_apps_on_one_redis_share_one_quota(
    settings: Settings, redis_url: str, redis_client: redis.Redis
) -> None:
    configured = settings.model_copy(update={"redis_url": SecretStr(redis_url)})
    first, second = create_app(configured), create_app(configured)
    limiters: list[RateLimiter] = [app.state.townhall.rate_limiter for app in (first, second)]
    stores = [limiter.store for limiter in limiters]
    assert all(isinstance(store, RedisStore) for store in stores)
    key = f"townhall-test-consumer-{uuid.uuid4().hex}"
    try:
        for number in range(5):
            enforce(limiters[number % 2], Response(), key=key, policies=[PER_MINUTE])
        with pytest.raises(TooManyRequests):
            enforce(limiters[1], Response(), key=key, policies=[PER_MINUTE])
        with pytest.raises(TooManyRequests):
            enforce(limiters[0], Response(), key=key, policies=[PER_MINUTE])
    finally:
        redis_client.delete(f"townhall:ratelimit:per-minute:{key}")
        for store in stores:
            assert isinstance(store, RedisStore)
            store.close()


def test_a_key_expires_once_idle_and_a_refusal_writes_nothing(
    store: RedisStore, redis_client: redis.Redis, prefix: str
) -> None:
    limiter = RateLimiter(store, Clock())
    limiter.check("c1", [PER_MINUTE])
    key = f"{prefix}per-minute:c1"
    # One request of five per minute takes 12 s of the quota; the key outlives that by 1 s.
    assert 0 < redis_client.pttl(key) <= 13_000
    for _ in range(4):
        limiter.check("c1", [PER_MINUTE])
    stored = redis_client.get(key)
    assert not limiter.check("c1", [PER_MINUTE])[0].allowed
    assert redis_client.get(key) == stored


def test_the_script_is_loaded_again_when_redis_has_lost_it(
    store: RedisStore, redis_client: redis.Redis
) -> None:
    limiter = RateLimiter(store, Clock())
    limiter.check("c1", [PER_MINUTE])
    redis_client.script_flush()  # as after a restart or a failover
    assert limiter.check("c1", [PER_MINUTE])[0].remaining == 3
    assert not store.is_down


def test_when_redis_is_down_each_worker_counts_on_its_own() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{closed_port()}/0", retry_after=5.0)
    clock = Clock()
    limiter = RateLimiter(store, clock)
    try:
        with capture_logs() as logs:
            response = Response()
            enforce(limiter, response, key="c1", policies=[PER_MINUTE])
            assert response.headers["ratelimit"] == '"per-minute";r=4;t=12'
            for _ in range(4):
                enforce(limiter, Response(), key="c1", policies=[PER_MINUTE])
            assert store.is_down
            # Still limited while Redis is away: fail open to this worker's own count.
            with pytest.raises(TooManyRequests):
                enforce(limiter, Response(), key="c1", policies=[PER_MINUTE])
            clock.now += 30  # past retry_after: Redis is tried again, still down
            assert limiter.check("c1", [PER_MINUTE])[0].allowed
    finally:
        store.close()
    warnings = [entry for entry in logs if entry["event"] == "rate_limit_store_unavailable"]
    assert len(warnings) == 1  # once per outage, not once per request
    assert warnings[0]["error"] == "ConnectionError"
    assert warnings[0]["log_level"] == "warning"


class Forwarder:
    """A loopback TCP forwarder to Redis that a test cuts and restores, as an outage would."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        # Polled, because closing a socket does not wake a thread blocked in its accept().
        self._listener.settimeout(0.05)
        self._stopped = threading.Event()
        self.port = int(self._listener.getsockname()[1])
        self._open = True
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        with self._lock:
            self._open = False
            self._close_all()

    def restore(self) -> None:
        """Accept and forward connections again."""
        with self._lock:
            self._open = True

    def close(self) -> None:
        self._stopped.set()
        self._accepting.join(timeout=5)
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                if not self._open:
                    client.close()
                    continue
                server = socket.create_connection(self._target)
                self._sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass  # the other side was closed by cut()
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def _close_all(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets = []


def test_counting_returns_to_redis_when_it_is_back(
    redis_url: str, redis_client: redis.Redis, prefix: str
) -> None:
    target = redis_client.connection_pool.connection_kwargs
    forwarder = Forwarder(str(target["host"]), int(target["port"]))
    url = f"redis://127.0.0.1:{forwarder.port}/{target.get('db', 0)}"
    store = RedisStore.from_url(url, prefix=prefix, retry_after=5.0)
    other_worker = RedisStore.from_url(redis_url, prefix=prefix)
    clock = Clock()
    limiter = RateLimiter(store, clock)
    try:
        assert limiter.check("c1", [PER_MINUTE])[0].remaining == 4  # counted in Redis
        forwarder.cut()
        assert limiter.check("c1", [PER_MINUTE])[0].remaining == 4  # counted here: a fresh count
        assert store.is_down
        forwarder.restore()
        assert limiter.check("c1", [PER_MINUTE])[0].remaining == 3  # still counting here
        clock.now += 5.0
        # Back in Redis (two requests there, against two more here), where the other worker
        # sees the same count.
        assert limiter.check("c1", [PER_MINUTE])[0].remaining == 3
        assert not store.is_down
        shared = RateLimiter(other_worker, clock).check("c1", [PER_MINUTE])[0]
        assert shared.remaining == 2
    finally:
        store.close()
        other_worker.close()
        forwarder.close()


def test_a_redis_url_without_the_extra_is_refused_with_the_fix(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the redis package were not installed
    monkeypatch.delitem(sys.modules, "townhall.platform.ratelimit_redis")
    configured = settings.model_copy(update={"redis_url": SecretStr("redis://127.0.0.1:6379/0")})
    with pytest.raises(RuntimeError, match=r"townhall\[redis\]"):
        create_app(configured)


def test_the_embedded_default_counts_in_process(settings: Settings) -> None:
    store = create_app(settings).state.townhall.rate_limiter.store
    assert isinstance(store, InProcessStore)
    assert not store.blocking  # may be asked from the event loop


def test_the_redis_store_says_it_waits() -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{closed_port()}/0")
    assert store.blocking  # so require() asks it from the threadpool
    store.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379", "postgresql://x/y"])
def test_only_redis_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="redis_url"):
        Settings(redis_url=url)  # type: ignore[arg-type]
