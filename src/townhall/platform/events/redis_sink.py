"""The Redis Streams sink: every event appended to a stream, for consumers on other machines.

This module owns ``RedisStreamSink``, an ``EventReader`` (cursor ``redis-stream``, every event
type) that appends each event to the stream ``TOWNHALL_EVENTS_REDIS_STREAM`` on
``TOWNHALL_REDIS_URL``. An entry's id is ``<position>-0``, its fields are ``event`` (the
CloudEvents structured JSON, the same bytes a webhook carries), ``type`` and ``subject`` (so a
consumer can skip what it does not want without parsing JSON). The stream is trimmed to about
``TOWNHALL_EVENTS_REDIS_STREAM_MAX_LENGTH`` entries (``MAXLEN ~``). Consumers read it with
consumer groups (XREADGROUP), each group at its own pace (docs/adr/0025-redis-streams-sink.md).

The cursor moves in the database's unit of work, after Redis has the entries; a process that
dies in between appends the same events again on its next pass. Explicit ids make that
harmless: one Lua script per batch (one round trip, atomic on the server) reads the stream's
last-generated id and appends only the positions after it, so an event is in the stream once,
whatever crashed when. If Redis cannot be reached the sink raises, the unit of work rolls back,
the cursor stays where it was, and the dispatcher tries again on its next pass.

It needs the ``redis`` extra and is imported only when ``TOWNHALL_EVENTS_REDIS_STREAM`` is set;
the embedded default never loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy.orm import Session

from townhall.platform.events.envelope import to_json_bytes
from townhall.platform.events.models import OutboxEvent
from townhall.platform.logging import get_logger
from townhall.settings import Settings

log = get_logger("townhall.events.redis")

READER_NAME = "redis-stream"
# The sink runs inside a write unit of work (on SQLite, while holding the only writer), so an
# unreachable server must be found out quickly; a batch is one script on a nearby server, which
# takes milliseconds, so a few seconds of silence is an outage, not a slow answer.
CONNECT_TIMEOUT_SECONDS = 1.0
SOCKET_TIMEOUT_SECONDS = 5.0
# Entries per script call: bounds both the size of one request and how long the script holds
# the Redis server (which runs one script at a time).
ENTRIES_PER_CALL = 500

# KEYS[1] the stream; ARGV[1] the MAXLEN; then per event: position, event JSON, type, subject,
# in position order. Appends the positions after the stream's last-generated id (an entry
# trimmed or deleted since still counts as appended) and returns how many it appended. Positions
# are compared as Lua numbers (doubles): exact up to 2^53, far beyond any outbox.
APPEND_SCRIPT = """
local last = -1
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local ms, seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
      last = tonumber(ms)
      -- '<p>-0' is below '<p>-<n>' for n > 0: that position is in the stream already.
      if tonumber(seq) > 0 then
        last = last + 0.5
      end
    end
  end
end
local added = 0
for i = 2, #ARGV, 4 do
  local position = tonumber(ARGV[i])
  if position > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], ARGV[i] .. '-0',
      'event', ARGV[i + 1], 'type', ARGV[i + 2], 'subject', ARGV[i + 3])
    last = position
    added = added + 1
  end
end
return added
"""


class RedisStreamUnavailable(RuntimeError):
    """Redis could not take a batch: the unit of work rolls back and the batch is tried again."""


class RedisStreamSink:
    """Appends every event, in order, to one Redis stream, exactly once."""

    name = READER_NAME
    type_filters: tuple[str, ...] = ()

    def __init__(
        self, client: redis.Redis, *, stream: str, max_length: int, council_code: str
    ) -> None:
        self._client = client
        # register_script runs EVALSHA, loading the script again if the server has lost it.
        self._append = client.register_script(APPEND_SCRIPT)
        self.stream = stream
        self._max_length = max_length
        self._council_code = council_code
        self._down = False
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisStreamSink:
        """The sink an instance's settings ask for (``events_redis_stream`` must be set)."""
        if settings.events_redis_stream is None or settings.redis_url is None:
            msg = "the Redis stream sink needs TOWNHALL_EVENTS_REDIS_STREAM and TOWNHALL_REDIS_URL"
            raise ValueError(msg)
        client = redis.Redis.from_url(
            settings.redis_url.get_secret_value(),
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            # No retries inside the client: the dispatcher's next pass is the retry, with the
            # cursor where it was.
            retry=Retry(NoBackoff(), 0),
        )
        return cls(
            client,
            stream=settings.events_redis_stream,
            max_length=settings.events_redis_stream_max_length,
            council_code=settings.council_code,
        )

    def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
        """Append ``events`` (in position order) to the stream; raise if Redis cannot take them."""
        del session  # nothing of the sink's is in the database but its cursor
        appended = 0
        try:
            for start in range(0, len(events), ENTRIES_PER_CALL):
                arguments: list[bytes | str | int] = [self._max_length]
                for event in events[start : start + ENTRIES_PER_CALL]:
                    arguments += [
                        event.position,
                        to_json_bytes(event, council_code=self._council_code),
                        event.type,
                        event.subject,
                    ]
                appended += int(self._append(keys=[self.stream], args=arguments))
        except redis.RedisError as exc:
            self._went_down(exc)
            msg = f"Redis stream {self.stream!r} could not take {len(events)} events"
            raise RedisStreamUnavailable(msg) from exc
        self._came_back()
        if appended < len(events):
            # Normal after a crash between the append and the cursor's commit; anything else
            # means another writer is putting higher ids in this stream (see the ADR).
            log.info(
                "redis_stream_skipped_appended",
                stream=self.stream,
                skipped=len(events) - appended,
                first_position=events[0].position,
            )

    def close(self) -> None:
        """Close the connections to Redis."""
        self._client.close()

    def _went_down(self, error: redis.RedisError) -> None:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            # The error's class only: its message may name the server and its credentials.
            log.error(
                "redis_stream_unavailable",
                stream=self.stream,
                error=type(error).__name__,
                effect="events wait in the outbox; retried on the dispatcher's next pass",
            )

    def _came_back(self) -> None:
        with self._lock:
            was_down, self._down = self._down, False
        if was_down:
            log.info("redis_stream_available", stream=self.stream)
