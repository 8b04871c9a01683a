"""Retention: delete what has served its purpose, so no table grows for ever.

This module owns how long the platform's short-lived records are kept after they stop working:
idempotency keys (once expired), portal sessions (once ended), one-time codes (once used or
expired) and sign-in attempts (once older than every throttling window). ``KEEP_FOR`` leaves a
day after the end, so an operator investigating an incident still finds yesterday's rows. It
runs from ``townhall db purge`` and, in every served app, once an hour
(``TOWNHALL_RETENTION_INTERVAL_MINUTES``). It must not touch records of lasting value: accounts,
consumers, grants, the change log.

Events are kept ``TOWNHALL_EVENTS_RETENTION_DAYS`` (the window for the change feed and replays),
except one still waiting to be delivered to a subscription (a paused one, say) or on a
dead-letter list; finished deliveries (delivered or dead) and their attempts go that long after
they finished.

The audit trail's records are kept ``TOWNHALL_AUDIT_RETENTION_DAYS``, and purged only up to a
signed checkpoint (``platform.audit.retention``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, delete, exists, or_, select
from starlette.concurrency import run_in_threadpool

from townhall.platform.audit.models import AuditRecord
from townhall.platform.audit.retention import purge_audit
from townhall.platform.auth.sign_in_models import OneTimeCode, PortalSession, SignInAttempt
from townhall.platform.db import Database
from townhall.platform.events.models import Delivery, DeliveryAttempt, OutboxEvent
from townhall.platform.http.idempotency import IdempotencyRecord
from townhall.platform.logging import get_logger

KEEP_FOR = timedelta(days=1)
# The default of TOWNHALL_EVENTS_RETENTION_DAYS.
EVENTS_KEPT_FOR = timedelta(days=30)
# The default of TOWNHALL_AUDIT_RETENTION_DAYS (six years).
AUDIT_KEPT_FOR = timedelta(days=2192)

log = get_logger(__name__)


def purge_expired(
    database: Database,
    *,
    now: datetime | None = None,
    events_kept_for: timedelta = EVENTS_KEPT_FOR,
    audit_kept_for: timedelta = AUDIT_KEPT_FOR,
) -> dict[str, int]:
    """Delete the records that ended more than ``KEEP_FOR`` ago, events and finished
    deliveries older than ``events_kept_for``, and audit records older than ``audit_kept_for``
    (up to a checkpoint); return how many, by table."""
    moment = now or datetime.now(UTC)
    cutoff = moment - KEEP_FOR
    events_cutoff = moment - events_kept_for
    finished = and_(
        Delivery.status.in_(("delivered", "dead")), Delivery.completed_at <= events_cutoff
    )
    statements = {
        IdempotencyRecord.__tablename__: delete(IdempotencyRecord).where(
            IdempotencyRecord.expires_at <= moment
        ),
        PortalSession.__tablename__: delete(PortalSession).where(
            or_(PortalSession.expires_at <= cutoff, PortalSession.revoked_at <= cutoff)
        ),
        OneTimeCode.__tablename__: delete(OneTimeCode).where(
            or_(OneTimeCode.expires_at <= cutoff, OneTimeCode.used_at <= cutoff)
        ),
        SignInAttempt.__tablename__: delete(SignInAttempt).where(
            SignInAttempt.attempted_at <= cutoff
        ),
        # Attempts before their deliveries, deliveries before their events (in this order).
        DeliveryAttempt.__tablename__: delete(DeliveryAttempt).where(
            DeliveryAttempt.delivery_id.in_(select(Delivery.id).where(finished))
        ),
        Delivery.__tablename__: delete(Delivery).where(finished),
        OutboxEvent.__tablename__: delete(OutboxEvent).where(
            OutboxEvent.time <= events_cutoff,
            # An event still owed to a subscription (pending), or that may be redriven (a dead
            # delivery still listed), stays as long as its delivery does.
            ~exists().where(
                Delivery.event_position == OutboxEvent.position,
                Delivery.status.in_(("pending", "dead")),
            ),
        ),
    }
    counts: dict[str, int] = {}
    with database.write() as session:
        for table, statement in statements.items():
            counts[table] = int(getattr(session.execute(statement), "rowcount", 0) or 0)
    counts[AuditRecord.__tablename__] = purge_audit(database, older_than=moment - audit_kept_for)
    return counts


async def keep_purging(
    database: Database,
    *,
    interval: float,
    events_kept_for: timedelta = EVENTS_KEPT_FOR,
    audit_kept_for: timedelta = AUDIT_KEPT_FOR,
) -> None:
    """Purge every ``interval`` seconds until cancelled; a failed round is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            counts = await run_in_threadpool(
                lambda: purge_expired(
                    database, events_kept_for=events_kept_for, audit_kept_for=audit_kept_for
                )
            )
        except Exception as exc:  # a locked or unreachable database must not stop serving
            log.warning("retention.purge_failed", error=type(exc).__name__)
        else:
            log.info("retention.purged", **counts)
