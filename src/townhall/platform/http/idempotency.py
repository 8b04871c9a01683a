"""Idempotency-Key for creates: a retried POST creates one thing, not two.

This module owns the ``platform_idempotency_keys`` table and the rules of the IETF
``Idempotency-Key`` header draft: the first request with a key is processed and its answer
stored; a retry with the same key and the same request gets the stored answer again (with
``Idempotent-Replayed: true``); the same key with a different request is a 422; a retry while
the first is still being processed is a 409. Keys are scoped to the caller and expire after
``TOWNHALL_IDEMPOTENCY_KEY_TTL_HOURS``. A request refused with an error (4xx raised before
anything was created, or any 5xx) does not use up its key: the corrected retry runs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from townhall.errors import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidHeader
from townhall.platform.db import Base, Database

IDEMPOTENCY_HEADER = "Idempotency-Key"
_KEY_SYNTAX = re.compile(r"^[\x21-\x7e]{1,255}$")
# A reservation this old belongs to a request that died before answering: a retry may take over.
ABANDONED_AFTER = timedelta(minutes=2)
# Only these headers of a stored answer are replayed: the rest belong to the first exchange.
REPLAYED_HEADERS = ("content-type", "location", "etag")


class IdempotencyRecord(Base):
    """One request made with an ``Idempotency-Key``, and the answer it got."""

    __tablename__ = "platform_idempotency_keys"

    principal: Mapped[str] = mapped_column(String(128), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JSON)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer given to the first request with a key."""

    status: int
    headers: dict[str, str]
    body: bytes


def check_key(key: str) -> str:
    """The key if it is 1 to 255 visible ASCII characters; otherwise a 400."""
    if not _KEY_SYNTAX.match(key):
        raise InvalidHeader(
            f"{IDEMPOTENCY_HEADER} must be 1 to 255 visible ASCII characters, such as a UUID."
        )
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests 'the same request' for a key."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyStore:
    """Reservations and stored answers of idempotency keys, in the instance's database."""

    def __init__(self, database: Database, ttl: timedelta) -> None:
        self.database = database
        self.ttl = ttl

    def reserve(self, principal: str, key: str, request_fingerprint: str) -> StoredAnswer | None:
        """Claim ``key`` for a new request, or return the answer a previous request got.

        Raises IdempotencyKeyReused when the key was used for a different request, and
        IdempotencyKeyInFlight while the first request with it is still being answered.
        """
        now = datetime.now(UTC)
        for _ in range(3):
            try:
                with self.database.write() as session:
                    session.add(
                        IdempotencyRecord(
                            principal=principal,
                            key=key,
                            fingerprint=request_fingerprint,
                            created_at=now,
                            expires_at=now + self.ttl,
                        )
                    )
            except IntegrityError:
                pass
            else:
                return None
            with self.database.write() as session:
                existing = session.get(IdempotencyRecord, (principal, key))
                if existing is None:
                    continue  # released meanwhile: try to reserve again
                if _aware(existing.expires_at) <= now or (
                    existing.response_status is None
                    and _aware(existing.created_at) <= now - ABANDONED_AFTER
                ):
                    session.delete(existing)
                    continue
                if existing.fingerprint != request_fingerprint:
                    raise IdempotencyKeyReused(
                        f"This {IDEMPOTENCY_HEADER} was used for a different request."
                    )
                if existing.response_status is None:
                    raise IdempotencyKeyInFlight(
                        "The first request with this key is still being answered.",
                        headers={"Retry-After": "1"},
                    )
                return StoredAnswer(
                    status=existing.response_status,
                    headers=dict(existing.response_headers or {}),
                    body=existing.response_body or b"",
                )
        raise IdempotencyKeyInFlight(  # pragma: no cover - three races in a row
            "The key is contended; retry shortly.", headers={"Retry-After": "1"}
        )

    def complete(self, principal: str, key: str, answer: StoredAnswer) -> None:
        """Store the answer the reserved request got, for its retries."""
        with self.database.write() as session:
            record = session.get(IdempotencyRecord, (principal, key))
            if record is not None:
                record.response_status = answer.status
                record.response_headers = answer.headers
                record.response_body = answer.body

    def release(self, principal: str, key: str) -> None:
        """Forget a reservation whose request failed, so a retry runs it again."""
        with self.database.write() as session:
            session.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
                )
            )


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; everything Townhall stores is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
