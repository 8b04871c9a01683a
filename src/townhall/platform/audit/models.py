"""Tables of the audit trail: the records of data uses, signed checkpoints, and holds.

This module owns ``audit_records``, ``audit_checkpoints`` and ``audit_holds``. Only
``townhall.platform.audit`` writes them, and it never updates an audit record: a record is
added with the hash of the one before it, so editing, removing, inserting or reordering any of
them breaks the chain (``townhall audit verify``).

A hold never touches the records it hides: it is a filter the resident's view applies until its
date, and making one is itself an audit record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class AuditRecord(Base):
    """One use of personal data: who, for what purpose, did what, to whose data, and when."""

    __tablename__ = "audit_records"

    # The place in the chain: 1, 2, 3... with no gap, given by the writer under the commit-order
    # lock (not a sequence), so a missing record leaves a hole that verification sees.
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # consumer | staff | resident | system
    actor_kind: Mapped[str] = mapped_column(String(16))
    # The staff or resident account that acted (None for a consumer or the system).
    actor_id: Mapped[str | None] = mapped_column(String(64))
    # The staff member's role at the time (shown to residents instead of their name).
    actor_role: Mapped[str | None] = mapped_column(String(32))
    # The consumer (application) that made the call, when one did.
    consumer_id: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(32))
    service: Mapped[str] = mapped_column(String(32))
    data_kind: Mapped[str] = mapped_column(String(64))
    # The people domain's resident whose data it was; None for uses about no one resident.
    resident_id: Mapped[str | None] = mapped_column(String(64))
    # An opaque key of the record used ("people-source-record:12"); never personal data.
    subject: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(64))
    # Small, never personal data: counts, keys, what changed (field names, not values).
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_records_resident", "resident_id", "position"),
        Index("ix_audit_records_consumer", "consumer_id", "position"),
        Index("ix_audit_records_actor", "actor_id", "position"),
        # Residents' personal data: a route reading it must declare it (contract tests).
        {"info": {"personal_data": True}},
    )


class AuditCheckpoint(Base):
    """A signed statement that the chain up to ``position`` ends in ``hash``."""

    __tablename__ = "audit_checkpoints"

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Which key signed it (the key's thumbprint) and the Ed25519 signature, base64url.
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)


class AuditHold(Base):
    """An investigation's accesses hidden from the resident concerned until a date."""

    __tablename__ = "audit_holds"
    # Residents' personal data: a route reading it must declare it (contract tests).
    __table_args__ = ({"info": {"personal_data": True}},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    resident_id: Mapped[str] = mapped_column(String(64), index=True)
    # Whose accesses are hidden: one consumer and/or one staff account; None means anyone's.
    consumer_id: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    # Accesses in this window are hidden; an open end means up to the hold's end.
    accessed_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accessed_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Why, for the data protection officers; never shown to the resident.
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when a hold is lifted before its date (itself recorded).
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The audit record of making the hold.
    record_position: Mapped[int] = mapped_column(BigInteger)
