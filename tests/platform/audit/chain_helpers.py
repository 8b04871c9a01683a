"""Building audit chains for the integrity tests, and tampering with them as a DBA would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from townhall.platform.audit.models import AuditRecord
from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import ACCOUNT, ACCOUNT_DETAILS, Action, ActorKind
from townhall.platform.db import Database


def append(database: Database, count: int, *, occurred_at: datetime | None = None) -> None:
    """Add ``count`` records to the chain, as a busy instance would."""
    moment = occurred_at or datetime.now(UTC)
    actor = Actor(kind=ActorKind.CONSUMER, purpose="Checking permits", consumer_id="c1")
    for start in range(0, count, 1000):
        uses = [
            DataUse(
                actor=actor,
                action=Action.VIEWED,
                service=ACCOUNT,
                data_kind=ACCOUNT_DETAILS,
                resident_id=f"r{start + n}",
                occurred_at=moment,
            )
            for n in range(min(1000, count - start))
        ]
        with database.write() as session:
            record_uses(session, uses)


def tamper(database: Database, *statements: str, **parameters: Any) -> None:
    """Run SQL straight on the database, in one transaction: the threat being tested."""
    with database.write() as session:
        for statement in statements:
            session.execute(text(statement), parameters)


def stored(database: Database, position: int) -> dict[str, Any]:
    """The record at ``position`` as its columns hold it."""
    with database.read() as session:
        row = session.execute(
            select(AuditRecord.__table__).where(AuditRecord.position == position)
        ).one()
        return dict(row._mapping)
