"""What a use of personal data is, and writing uses into the chain in a unit of work.

``record_uses`` is the one way an audit record is written. A service that changes personal data
calls it with its own session, so the change and the record of it commit together or not at all;
reads go through ``recorder.UseRecorder``, which calls it for a batch at a time.

Records are appended under the commit-order lock (``platform.db.order_commits``): the writer reads
the last record's position and hash and links the new ones after it, so the chain follows the
order of commit on both databases and has no gaps.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from townhall.platform.audit.chain import GENESIS_HASH, record_hash
from townhall.platform.audit.models import AuditCheckpoint, AuditRecord
from townhall.platform.audit.vocabulary import Action, ActorKind, DataKind, Service
from townhall.platform.db import Base, order_commits

# Details keys that would put personal data (or secrets) into a log many people read.
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"name", "email", "phone", "address", "date_of_birth", "password", "secret", "token"}
)

# Built once: the recorder runs them for every batch of reads, and building a statement costs
# more than executing it (Core, not the ORM, for the same reason).
_LAST_RECORD = (
    select(AuditRecord.position, AuditRecord.hash).order_by(AuditRecord.position.desc()).limit(1)
)
_LAST_CHECKPOINT = (
    select(AuditCheckpoint.position, AuditCheckpoint.hash)
    .order_by(AuditCheckpoint.position.desc())
    .limit(1)
)
_INSERT_RECORDS = insert(Base.metadata.tables[AuditRecord.__tablename__])


@dataclass(frozen=True)
class Actor:
    """Who used the data, and for what purpose.

    ``id`` is the staff or resident account; ``consumer_id`` the application that called with a
    token. ``purpose`` comes from the consumer's grant of the scope used, or, for a person on a
    page, from the page.
    """

    kind: ActorKind
    purpose: str
    id: str | None = None
    role: str | None = None
    consumer_id: str | None = None

    @classmethod
    def system(cls, purpose: str) -> Actor:
        """Townhall itself (an import, a scheduled job), for ``purpose``."""
        return cls(kind=ActorKind.SYSTEM, purpose=purpose)


@dataclass(frozen=True)
class DataUse:
    """One use of one resident's data (or of data about no one resident, ``resident_id=None``)."""

    actor: Actor
    action: Action
    service: Service
    data_kind: DataKind
    resident_id: str | None
    subject: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


def current_request_id() -> str | None:
    """The id of the request being served in this context, when there is one."""
    value = structlog.contextvars.get_contextvars().get("request_id")
    return value if isinstance(value, str) else None


def chain_head(session: Session) -> tuple[int, str]:
    """The position and hash the next record links to.

    The last record's, or, once retention has purged every record, the newest checkpoint's
    (the chain goes on from where it was signed), or the genesis of an empty chain.
    """
    # Core on the session's connection skips its autoflush: flush, so what the unit of work
    # added before (a checkpoint, say) is seen.
    session.flush()
    connection = session.connection()
    last = connection.execute(_LAST_RECORD).first()
    if last is not None:
        return int(last[0]), str(last[1])
    checkpoint = connection.execute(_LAST_CHECKPOINT).first()
    if checkpoint is not None:
        return int(checkpoint[0]), str(checkpoint[1])
    return 0, GENESIS_HASH


def record_uses(session: Session, uses: Sequence[DataUse]) -> list[int]:
    """Append ``uses`` to the chain in ``session``'s unit of work; return their positions."""
    if not uses:
        return []
    rows = [_row(use) for use in uses]
    order_commits(session)
    position, previous = chain_head(session)
    for row in rows:
        position += 1
        row["position"] = position
        row["previous_hash"] = previous
        row["hash"] = previous = record_hash(row)
    session.connection().execute(_INSERT_RECORDS, rows)
    return [row["position"] for row in rows]


def _row(use: DataUse) -> dict[str, Any]:
    leaked = _FORBIDDEN_DETAIL_KEYS & set(use.details)
    if leaked:
        msg = f"audit details must not hold {', '.join(sorted(leaked))}"
        raise ValueError(msg)
    if not use.actor.purpose.strip():
        msg = "a use of personal data needs a purpose"
        raise ValueError(msg)
    return {
        "id": use.id,
        "occurred_at": use.occurred_at,
        "actor_kind": use.actor.kind.value,
        "actor_id": use.actor.id,
        "actor_role": use.actor.role,
        "consumer_id": use.actor.consumer_id,
        "purpose": use.actor.purpose[:500],
        "action": use.action.value,
        "service": use.service.key,
        "data_kind": use.data_kind.key,
        "resident_id": use.resident_id,
        "subject": use.subject,
        "request_id": use.request_id or current_request_id(),
        "details": dict(use.details),
    }
