"""Retention of the audit trail: old records go, up to a signed checkpoint, never further.

This module owns ``purge_audit``, which ``platform.retention`` runs with the other purges
(``TOWNHALL_AUDIT_RETENTION_DAYS``) and ``townhall audit purge`` runs on demand. It deletes the
records up to the newest checkpoint all of whose records are older than the period, so the first
record kept links to a signed hash and the chain still verifies from there; it never deletes a
record younger than the period, nor one after the newest checkpoint (the unsigned tail).
Checkpoints are kept: they are tiny, and the newest one is where the chain goes on from once
every record has been purged (``uses.chain_head``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from townhall.platform.audit.models import AuditCheckpoint, AuditRecord
from townhall.platform.db import Database

# Records deleted per write unit, so a first purge of years of records never holds a long
# transaction.
PURGE_BATCH = 10_000


def purgeable_to(database: Database, *, older_than: datetime) -> int:
    """The position records can be purged up to: a checkpoint's, or 0 for none."""
    with database.read() as session:
        # Records are not quite in time order (reads are recorded in batches), so the limit is
        # the first record that is not old enough, wherever the older ones after it are.
        young = session.scalar(
            select(func.min(AuditRecord.position)).where(AuditRecord.occurred_at >= older_than)
        )
        query = select(func.max(AuditCheckpoint.position))
        if young is not None:
            query = query.where(AuditCheckpoint.position < young)
        return int(session.scalar(query) or 0)


def purge_audit(database: Database, *, older_than: datetime) -> int:
    """Delete the records that occurred before ``older_than``, up to a checkpoint; how many."""
    limit = purgeable_to(database, older_than=older_than)
    deleted = 0
    while limit:
        with database.write() as session:
            oldest = session.scalar(select(func.min(AuditRecord.position)))
            if oldest is None or oldest > limit:
                break
            through = min(limit, oldest + PURGE_BATCH - 1)
            result = session.execute(delete(AuditRecord).where(AuditRecord.position <= through))
            deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted
