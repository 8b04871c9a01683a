"""GCRA rate limits: bursts up to the quota, a steady rate after, headers that tell the truth."""

from __future__ import annotations

import pytest
from fastapi import Response

from townhall.errors import TooManyRequests
from townhall.platform.ratelimit import (
    InProcessStore,
    RateLimiter,
    RateLimitPolicy,
    enforce,
)

PER_MINUTE = RateLimitPolicy(name="per-minute", quota=5, window=60)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_quota_is_allowed_then_refused() -> None:
    clock = Clock()
    limiter = RateLimiter(InProcessStore(), clock)
    remaining = [limiter.check("c1", [PER_MINUTE])[0].remaining for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    refused = limiter.check("c1", [PER_MINUTE])[0]
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(12.0)


def test_the_steady_rate_returns_one_request_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(InProcessStore(), clock)
    for _ in range(5):
        limiter.check("c1", [PER_MINUTE])
    clock.now += 12.0
    assert limiter.check("c1", [PER_MINUTE])[0].allowed
    assert not limiter.check("c1", [PER_MINUTE])[0].allowed


def test_keys_are_counted_apart() -> None:
    limiter = RateLimiter(InProcessStore(), Clock())
    for _ in range(5):
        limiter.check("c1", [PER_MINUTE])
    assert limiter.check("c2", [PER_MINUTE])[0].allowed


def test_every_policy_must_pass() -> None:
    daily = RateLimitPolicy(name="per-day", quota=2, window=86_400)
    limiter = RateLimiter(InProcessStore(), Clock())
    limiter.check("c1", [PER_MINUTE, daily])
    limiter.check("c1", [PER_MINUTE, daily])
    decisions = limiter.check("c1", [PER_MINUTE, daily])
    assert [d.allowed for d in decisions] == [True, False]


def test_enforce_sets_headers_or_raises_a_429_with_retry_after() -> None:
    limiter = RateLimiter(InProcessStore(), Clock())
    response = Response()
    enforce(limiter, response, key="c1", policies=[PER_MINUTE])
    assert response.headers["ratelimit-policy"] == '"per-minute";q=5;w=60'
    assert response.headers["ratelimit"] == '"per-minute";r=4;t=12'
    for _ in range(4):
        enforce(limiter, Response(), key="c1", policies=[PER_MINUTE])
    with pytest.raises(TooManyRequests) as refused:
        enforce(limiter, Response(), key="c1", policies=[PER_MINUTE])
    assert refused.value.headers["Retry-After"] == "12"
    assert refused.value.headers["RateLimit"] == '"per-minute";r=0;t=60'


def test_idle_keys_are_forgotten_exactly_when_the_store_is_full() -> None:
    clock = Clock()
    store = InProcessStore(max_keys=2)
    limiter = RateLimiter(store, clock)
    limiter.check("a", [PER_MINUTE])
    limiter.check("b", [PER_MINUTE])
    clock.now += 61
    limiter.check("c", [PER_MINUTE])
    assert limiter.check("a", [PER_MINUTE])[0].remaining == 4


def test_a_daily_quota_counts_down_by_one_at_real_epoch_times() -> None:
    daily = RateLimitPolicy(name="per-day", quota=500_000, window=86_400)
    clock = Clock()
    clock.now = 1_795_000_000.123456
    limiter = RateLimiter(InProcessStore(), clock)
    assert limiter.check("c1", [daily])[0].remaining == 499_999
    assert limiter.check("c1", [daily])[0].remaining == 499_998
