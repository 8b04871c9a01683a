"""Idempotency-Key for creates: a retried POST creates one thing, not two.

This module owns the ``platform_idempotency_keys`` table and the rules of the IETF
``Idempotency-Key`` header draft: the first request with a key is processed and its answer
stored; a retry with the same key and the same request gets the stored answer again (with
``Idempotent-Replayed: true``); the same key with a different request is a 422; a retry while
the first is still being processed is a 409. Keys are scoped to the caller and expire after
``TOWNHALL_IDEMPOTENCY_KEY_TTL_HOURS``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base


class IdempotencyRecord(Base):
    """One request made with an ``Idempotency-Key``, and the answer it got."""

    __tablename__ = "platform_idempotency_keys"

    principal: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
