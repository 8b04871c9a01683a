"""Rate limits counted in Redis, so every worker and machine of an instance shares one quota.

This module owns the Redis backend of ``townhall.platform.ratelimit``: a ``RateLimitStore`` that
makes the same GCRA decisions as ``decide()``, atomically, with one Lua script run by EVALSHA
for all the policies of a request (one round trip).
It needs the ``redis`` extra and is imported only when ``TOWNHALL_REDIS_URL`` is set; the embedded
default never loads it. It must not decide anything ``decide()`` does not: the script only reads,
compares and writes the key's arrival time, and the numbers a caller sees (remaining, reset,
retry) come from ``decide()`` itself, given what the script read.

Time is the caller's ``now`` (the ``RateLimiter``'s clock), not the Redis server's: the decision
stays a pure function of the stored arrival time and ``now``, exactly as in memory, and tests can
drive it with a clock. Skew between machines can only shift a decision by skew times the rate,
because an arrival time never moves backwards (docs/adr/0010-rate-limits-in-redis.md).

When Redis cannot be reached, the store counts in this process (fail open to per-worker limits)
and tries Redis again after ``retry_after`` seconds; see the ADR for why not fail closed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from townhall.platform.logging import get_logger
from townhall.platform.ratelimit import (
    Decision,
    InProcessStore,
    RateLimitPolicy,
    RateLimitStore,
    decide,
)

log = get_logger("townhall.ratelimit")

DEFAULT_PREFIX = "townhall:ratelimit:"
# Kept a little past the arrival time, so a key never expires early on a Redis clock that runs
# ahead of the callers'. Expiring late is harmless: a stale arrival time counts as ``now``.
EXPIRY_MARGIN_MS = 1000
# A rate-limit check is one O(1) script on a nearby server; anything slower is an outage, and a
# request should not wait longer than this to find out.
SOCKET_TIMEOUT_SECONDS = 0.25

# Line for line the arithmetic of ``decide()``, for each policy of a request in turn (one key
# each), up to the first that refuses it, as ``InProcessStore.check`` does. ``now``, the
# intervals and windows arrive as Python's round-trip ``repr`` and arrival times are stored with
# 17 significant digits, so Lua and Python hold identical doubles. Returns, per policy checked,
# whether it allowed the request and the arrival time it was judged against ('' when the key was
# idle), as strings: Redis would truncate a Lua number to an integer.
GCRA_SCRIPT = """
local now = tonumber(ARGV[1])
local margin = tonumber(ARGV[2])
local answers = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  local stored = redis.call('GET', key)
  local tat = now
  if stored then
    tat = math.max(tonumber(stored), now)
  end
  local new_tat = tat + interval
  if now < new_tat - window then
    answers[#answers + 1] = '0'
    answers[#answers + 1] = stored or ''
    return answers
  end
  local ttl = math.ceil((new_tat - now) * 1000) + margin
  redis.call('SET', key, string.format('%.17g', new_tat), 'PX', ttl)
  answers[#answers + 1] = '1'
  answers[#answers + 1] = stored or ''
end
return answers
"""


class RedisStore:
    """GCRA arrival times in Redis, shared by every process that uses the same keys."""

    blocking = True  # a round trip to Redis: checked in the threadpool, never on the event loop

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        fallback: RateLimitStore | None = None,
        retry_after: float = 5.0,
    ) -> None:
        self._client = client
        # register_script runs EVALSHA, loading the script again if the server has lost it.
        self._script = client.register_script(GCRA_SCRIPT)
        self._prefix = prefix
        self._fallback = fallback if fallback is not None else InProcessStore()
        self._retry_after = retry_after
        self._down_until: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls, url: str, *, prefix: str = DEFAULT_PREFIX, retry_after: float = 5.0
    ) -> RedisStore:
        """A store on the Redis at ``url`` (``redis://``, ``rediss://`` or ``unix://``)."""
        client = redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            # No retries inside the client: a failed check falls back at once, and the next
            # attempt at Redis is this store's business (after ``retry_after``).
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, prefix=prefix, retry_after=retry_after)

    @property
    def is_down(self) -> bool:
        """Whether the last attempt at Redis failed, so checks are counted in this process."""
        return self._down_until is not None

    def check(self, key: str, policies: Sequence[RateLimitPolicy], now: float) -> list[Decision]:
        down_until = self._down_until
        if down_until is not None and now < down_until:
            return self._fallback.check(key, policies, now)
        arguments: list[str | int] = [repr(now), EXPIRY_MARGIN_MS]
        for policy in policies:
            arguments += [repr(policy.interval), repr(float(policy.window))]
        try:
            answers = self._script(
                keys=[f"{self._prefix}{policy.name}:{key}" for policy in policies],
                args=arguments,
            )
        except redis.RedisError as exc:
            self._went_down(now, exc)
            return self._fallback.check(key, policies, now)
        if down_until is not None:
            self._came_back()
        decisions = []
        for policy, (allowed, stored) in zip(policies, _pairs(answers), strict=False):
            decision, _ = decide(policy, float(stored) if stored else None, now)
            # Cannot happen while the script mirrors decide() (a property test compares them);
            # if it ever does, a loud error beats headers that contradict what was counted.
            if decision.allowed != (allowed == b"1"):
                msg = "the Redis GCRA script and decide() disagree"
                raise RuntimeError(msg)
            decisions.append(decision)
        return decisions

    def close(self) -> None:
        """Close the connections to Redis."""
        self._client.close()

    def _went_down(self, now: float, error: redis.RedisError) -> None:
        with self._lock:
            first = self._down_until is None
            self._down_until = now + self._retry_after
        if first:
            # The error's class only: its message may name the server and its credentials.
            log.warning(
                "rate_limit_store_unavailable",
                error=type(error).__name__,
                counting="in-process",
                retry_in_seconds=self._retry_after,
            )

    def _came_back(self) -> None:
        with self._lock:
            was_down = self._down_until is not None
            self._down_until = None
        if was_down:
            log.info("rate_limit_store_available", counting="redis")


def _pairs(answers: list[bytes]) -> list[tuple[bytes, bytes]]:
    """The script's flat answer as (allowed, stored arrival time) per policy checked."""
    return list(zip(answers[0::2], answers[1::2], strict=True))
