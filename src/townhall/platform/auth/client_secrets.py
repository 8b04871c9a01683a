"""Client secrets: rotation with an overlap, and the records of a consumer's secrets.

This module owns writing and reading ``auth_consumer_secrets``. A secret is shown once, in the
answer to the call that made it, and kept only as its argon2id hash; rotation gives the secrets in
force an end (now plus an overlap) so the consumer can deploy the new one without an outage.
Checking a secret is ``townhall.platform.auth.consumers.verify_client_secret``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, or_, select

from townhall.errors import NotFound, UnprocessableContent
from townhall.platform.auth.changes import record_change
from townhall.platform.auth.credentials import hash_secret, new_id, new_secret
from townhall.platform.auth.models import Consumer, ConsumerSecret, lock_consumer
from townhall.platform.db import Database, aware
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=30)


@dataclass(frozen=True)
class SecretRecord:
    """A client secret's record: when it was made and when it stops working; never the secret."""

    id: str
    created_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class IssuedSecret:
    """A client secret just made: the only time it can be read."""

    record: SecretRecord
    consumer_id: str
    client_id: str
    client_secret: str
    # When the secrets it replaces stop working (None when there were none in force).
    previous_expire_at: datetime | None


def rotate_secret(
    database: Database,
    consumer_id: str,
    *,
    actor: str,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> IssuedSecret:
    """Give a consumer a new secret; the ones it had keep working for ``overlap``, then stop.

    The overlap lets the consumer deploy the new secret without an outage; an overlap of zero
    stops the old secrets at once (for a secret that leaked).
    """
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        msg = f"The overlap must be between 0 and {MAX_OVERLAP.days} days."
        raise UnprocessableContent(msg)
    now = datetime.now(UTC)
    secret = new_secret()
    ends = now + overlap
    with database.write() as session:
        consumer = lock_consumer(session, consumer_id)
        current = session.scalars(
            select(ConsumerSecret).where(ConsumerSecret.consumer_id == consumer_id, in_force(now))
        ).all()
        for old in current:
            # A secret already due to end sooner keeps its earlier end.
            if old.expires_at is None or aware(old.expires_at) > ends:
                old.expires_at = ends
        row = secret_row(consumer_id, secret, now)
        session.add(row)
        record_change(
            session,
            actor=actor,
            action="secret.rotated",
            target_type="consumer",
            target_id=consumer_id,
            details={
                "secret_id": row.id,
                "previous_secret_ids": sorted(old.id for old in current),
                "previous_expire_at": ends.isoformat(),
            },
        )
        session.flush()
        return IssuedSecret(
            record=record_of(row),
            consumer_id=consumer_id,
            client_id=consumer.client_id,
            client_secret=secret,
            previous_expire_at=ends if current else None,
        )


def list_secrets(database: Database, consumer_id: str, page: PageRequest) -> Page[SecretRecord]:
    """One page of the records of a consumer's secrets, oldest first, expired ones included."""
    statement = select(ConsumerSecret).where(ConsumerSecret.consumer_id == consumer_id)
    with database.read() as session:
        if session.get(Consumer, consumer_id) is None:
            raise NotFound(f"There is no consumer {consumer_id}.")
        found = keyset_page(
            session,
            statement,
            [ConsumerSecret.created_at.expression, ConsumerSecret.id.expression],
            page,
            lambda row: [row[0].created_at, row[0].id],
        )
        items = [record_of(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def get_secret(database: Database, consumer_id: str, secret_id: str) -> SecretRecord:
    """The record of one of a consumer's secrets; NotFound when it has none with that id."""
    with database.read() as session:
        row = session.get(ConsumerSecret, secret_id)
        if row is None or row.consumer_id != consumer_id:
            raise NotFound(f"{consumer_id} has no secret {secret_id}.")
        return record_of(row)


def in_force(now: datetime) -> ColumnElement[bool]:
    """The condition on ``ConsumerSecret`` for secrets that have not expired at ``now``."""
    return or_(ConsumerSecret.expires_at.is_(None), ConsumerSecret.expires_at > now)


def secret_row(consumer_id: str, secret: str, now: datetime) -> ConsumerSecret:
    """The row that keeps a new secret of a consumer: its hash, never the secret."""
    return ConsumerSecret(
        id=new_id("sec"),
        consumer_id=consumer_id,
        secret_hash=hash_secret(secret),
        created_at=now,
        expires_at=None,
    )


def record_of(row: ConsumerSecret) -> SecretRecord:
    """The record of a stored secret."""
    return SecretRecord(
        id=row.id,
        created_at=aware(row.created_at),
        expires_at=aware(row.expires_at) if row.expires_at else None,
    )
