"""Rate limits and quotas: how many requests a caller may make, and the headers that say so.

This module owns the algorithm, the policies and the HTTP side; stores are swappable backends.
The algorithm is GCRA (the generic cell rate algorithm, as in leaky-bucket shapers): each key keeps
one number, the theoretical arrival time of its next request, so a check is one read and one
write, and a policy of ``quota`` requests per ``window`` seconds allows a burst of ``quota`` and
then a steady ``quota / window`` per second. A rate limit (per minute) and a quota (per day) are
both policies; a request must pass every policy that applies to it.

Answers carry the IETF ``RateLimit-Policy`` and ``RateLimit`` headers
(draft-ietf-httpapi-ratelimit-headers): ``RateLimit-Policy: "per-minute";q=600;w=60`` and
``RateLimit: "per-minute";r=597;t=0``. A refused request is a 429 problem with ``Retry-After``.

The in-process store is the embedded default: each worker counts on its own, so N workers allow
up to N times a limit. A Redis store (``townhall.platform.ratelimit_redis``, the ``redis``
extra) shares counts across workers and machines.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request, Response

from townhall.errors import TooManyRequests


@dataclass(frozen=True)
class RateLimitPolicy:
    """At most ``quota`` requests in any ``window`` seconds, named for the headers."""

    name: str
    quota: int
    window: int

    @property
    def interval(self) -> float:
        """Seconds between requests at the steady rate."""
        return self.window / self.quota


@dataclass(frozen=True)
class Decision:
    """What a store decided for one request under one policy."""

    policy: RateLimitPolicy
    allowed: bool
    remaining: int
    reset_after: float  # seconds until the full quota is available again
    retry_after: float  # seconds until a refused request may be retried (0 when allowed)


class RateLimitStore(Protocol):
    """Where GCRA keeps each key's theoretical arrival time."""

    # Whether a check waits on another process (a network round trip): such a store is never
    # asked from the event loop.
    blocking: bool

    def check(self, key: str, policies: Sequence[RateLimitPolicy], now: float) -> list[Decision]:
        """Count one request for ``key`` under each policy in turn, up to the first that refuses.

        One call for every policy of a request, so a store across the network answers in one
        round trip; the policies before a refusal have counted the request, as they would have
        one at a time.
        """
        ...


def decide(policy: RateLimitPolicy, stored_tat: float | None, now: float) -> tuple[Decision, float]:
    """GCRA for one request: the decision, and the arrival time to store if it was allowed."""
    tat = max(stored_tat if stored_tat is not None else now, now)
    new_tat = tat + policy.interval
    allow_at = new_tat - policy.window
    if now < allow_at:
        return (
            Decision(
                policy=policy,
                allowed=False,
                remaining=0,
                reset_after=tat - now,
                retry_after=allow_at - now,
            ),
            tat,
        )
    # Epoch seconds carry about 1e-7 s of float error, which a long window's small interval
    # magnifies: round to a thousandth of a request before counting whole ones.
    remaining = math.floor(round((now - allow_at) / policy.interval, 3))
    return (
        Decision(
            policy=policy,
            allowed=True,
            remaining=max(remaining, 0),
            reset_after=new_tat - now,
            retry_after=0.0,
        ),
        new_tat,
    )


class InProcessStore:
    """Counts in this process's memory: right for one worker, per worker for several."""

    blocking = False

    def __init__(self, max_keys: int = 100_000) -> None:
        self._arrivals: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def check(self, key: str, policies: Sequence[RateLimitPolicy], now: float) -> list[Decision]:
        decisions = []
        with self._lock:
            for policy in policies:
                slot = (policy.name, key)
                decision, tat = decide(policy, self._arrivals.get(slot), now)
                decisions.append(decision)
                if not decision.allowed:
                    break
                if len(self._arrivals) >= self._max_keys:
                    self._forget_idle(now)
                self._arrivals[slot] = tat
        return decisions

    def _forget_idle(self, now: float) -> None:
        # A key whose arrival time has passed has its full quota back: forgetting it is exact.
        for slot in [s for s, tat in self._arrivals.items() if tat <= now]:
            del self._arrivals[slot]


class RateLimiter:
    """Checks requests against policies in one store, with a clock tests can replace."""

    def __init__(self, store: RateLimitStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def check(self, key: str, policies: Sequence[RateLimitPolicy]) -> list[Decision]:
        """Decisions for one request under every policy, stopping at the first refusal."""
        return self.store.check(key, policies, self.clock())


def enforce(
    limiter: RateLimiter,
    response: Response,
    *,
    key: str,
    policies: Sequence[RateLimitPolicy],
) -> None:
    """Count a request for ``key``; set the RateLimit headers, or raise a 429 with Retry-After."""
    decisions = limiter.check(key, policies)
    headers = rate_limit_headers(decisions)
    refused = [d for d in decisions if not d.allowed]
    if refused:
        retry_after = max(1, math.ceil(refused[0].retry_after))
        raise TooManyRequests(
            f"The {refused[0].policy.name} limit of {refused[0].policy.quota} requests was "
            f"reached. Retry in {retry_after} seconds.",
            headers={**headers, "Retry-After": str(retry_after)},
        )
    response.headers.update(headers)


def rate_limit_headers(decisions: Sequence[Decision]) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for the policies a request was checked against."""
    if not decisions:
        return {}
    return {
        "RateLimit-Policy": ", ".join(
            f'"{d.policy.name}";q={d.policy.quota};w={d.policy.window}' for d in decisions
        ),
        "RateLimit": ", ".join(
            f'"{d.policy.name}";r={d.remaining};t={math.ceil(d.reset_after)}' for d in decisions
        ),
    }


def client_address(request: Request) -> str:
    """The caller's address, for limits on public routes (as the server saw it)."""
    return request.client.host if request.client else "unknown"
