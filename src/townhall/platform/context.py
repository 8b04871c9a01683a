"""The shared parts of one app: settings, database, metrics, cursors, idempotency, rate limits,
event types, the audit recorder.

``create_app`` builds one ``AppContext`` and keeps it on ``app.state.townhall``; dependencies in
``platform/http/dependencies.py`` hand its parts to routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from townhall.platform.audit.recorder import UseRecorder
from townhall.platform.db import Database
from townhall.platform.events.registry import EventRegistry
from townhall.platform.http.idempotency import IdempotencyStore
from townhall.platform.http.pagination import CursorCodec
from townhall.platform.metrics import Metrics
from townhall.platform.ratelimit import RateLimiter
from townhall.settings import Settings


@dataclass(frozen=True)
class AppContext:
    """What every part of one app shares."""

    settings: Settings
    database: Database
    metrics: Metrics
    cursors: CursorCodec
    idempotency: IdempotencyStore
    rate_limiter: RateLimiter
    # Every event type the domains emit (townhall.event_types): subscriptions and the feed check
    # their filters against it, and the AsyncAPI document is generated from it.
    event_types: EventRegistry
    # Writes the records of reads of personal data in batches (townhall.platform.audit).
    audit: UseRecorder
