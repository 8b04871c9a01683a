"""Grants: which scopes a consumer may use, in which environment, for what purpose, until when.

This module owns writing and reading ``auth_grants``. A grant is never deleted: revoking it
stamps who revoked it and when, so the record of who could do what stays whole. A consumer has
at most one grant in force per scope and environment. Each function that is not given a session
opens its own unit of work; every change is written to the change log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from townhall.errors import Conflict, NotFound, UnprocessableContent
from townhall.platform.auth.changes import record_change
from townhall.platform.auth.credentials import new_id
from townhall.platform.auth.models import Consumer, EnvironmentName, Grant, lock_consumer
from townhall.platform.auth.scopes import check_scope
from townhall.platform.db import Database, aware
from townhall.platform.http.concurrency import Precondition
from townhall.platform.http.pagination import Page, PageRequest, keyset_page


@dataclass(frozen=True)
class NewGrant:
    """A grant to make: the scope, why it is needed, where, and until when (None: no end)."""

    scope: str
    purpose: str
    environment: EnvironmentName
    expires_at: datetime | None = None


@dataclass(frozen=True)
class GrantRecord:
    """A grant as stored, in force or not."""

    id: str
    consumer_id: str
    scope: str
    environment: EnvironmentName
    purpose: str
    expires_at: datetime | None
    approved_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def etag(self) -> str:
        """The grant's ETag: a grant changes once, when it is revoked."""
        return '"revoked"' if self.revoked_at is not None else '"granted"'


def in_force(now: datetime) -> list[ColumnElement[bool]]:
    """Conditions on ``Grant`` for grants neither revoked nor expired at ``now``."""
    return [
        Grant.revoked_at.is_(None),
        or_(Grant.expires_at.is_(None), Grant.expires_at > now),
    ]


def add_grant(session: Session, consumer_id: str, new: NewGrant, *, approved_by: str) -> Grant:
    """Grant ``new`` to a consumer within the caller's write unit of work."""
    now = datetime.now(UTC)
    scope = check_scope(new.scope)
    if new.environment not in get_args(EnvironmentName):
        msg = f"{new.environment!r} is not an environment: use development, test or production."
        raise UnprocessableContent(msg)
    if not new.purpose.strip():
        raise UnprocessableContent("A grant must say, in plain words, what it is for.")
    expires_at = aware(new.expires_at) if new.expires_at is not None else None
    if expires_at is not None and expires_at <= now:
        raise UnprocessableContent("A grant cannot expire in the past.")
    existing = session.scalar(
        select(Grant.id).where(
            Grant.consumer_id == consumer_id,
            Grant.scope == scope,
            Grant.environment == new.environment,
            *in_force(now),
        )
    )
    if existing is not None:
        msg = f"{consumer_id} already holds {scope} in {new.environment} (grant {existing})."
        raise Conflict(msg)
    grant = Grant(
        id=new_id("grt"),
        consumer_id=consumer_id,
        scope=scope,
        environment=new.environment,
        purpose=new.purpose.strip(),
        expires_at=expires_at,
        approved_by=approved_by,
        created_at=now,
    )
    session.add(grant)
    record_change(
        session,
        actor=approved_by,
        action="grant.created",
        target_type="grant",
        target_id=grant.id,
        details={
            "consumer_id": consumer_id,
            "scope": scope,
            "environment": new.environment,
            "purpose": grant.purpose,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    session.flush()
    return grant


def grant_scope(
    database: Database, consumer_id: str, new: NewGrant, *, approved_by: str
) -> GrantRecord:
    """Grant a scope to a consumer; 404 for an unknown consumer, 409 if already in force."""
    with database.write() as session:
        lock_consumer(session, consumer_id)
        return _record(add_grant(session, consumer_id, new, approved_by=approved_by))


def revoke_grant(
    database: Database,
    consumer_id: str,
    grant_id: str,
    *,
    actor: str,
    precondition: Precondition | None = None,
) -> GrantRecord:
    """Revoke one grant; ``precondition`` (If-Match) is checked against its ETag first."""
    with database.write() as session:
        lock_consumer(session, consumer_id)
        grant = session.get(Grant, grant_id)
        if grant is None or grant.consumer_id != consumer_id:
            raise NotFound(f"{consumer_id} has no grant {grant_id}.")
        if precondition is not None:
            precondition.check(_record(grant).etag)
        return _record(_revoke(session, grant, actor=actor))


def revoke_scope(
    database: Database, consumer_id: str, scope: str, *, environment: str, actor: str
) -> GrantRecord:
    """Revoke the grant of ``scope`` in ``environment`` that is in force for a consumer."""
    with database.write() as session:
        lock_consumer(session, consumer_id)
        grant = session.scalar(
            select(Grant).where(
                Grant.consumer_id == consumer_id,
                Grant.scope == scope,
                Grant.environment == environment,
                *in_force(datetime.now(UTC)),
            )
        )
        if grant is None:
            raise NotFound(f"{consumer_id} holds no grant of {scope} in {environment}.")
        return _record(_revoke(session, grant, actor=actor))


def _revoke(session: Session, grant: Grant, *, actor: str) -> Grant:
    if grant.revoked_at is not None:
        raise Conflict(f"Grant {grant.id} was already revoked.")
    grant.revoked_at = datetime.now(UTC)
    grant.revoked_by = actor
    record_change(
        session,
        actor=actor,
        action="grant.revoked",
        target_type="grant",
        target_id=grant.id,
        details={
            "consumer_id": grant.consumer_id,
            "scope": grant.scope,
            "environment": grant.environment,
        },
    )
    session.flush()
    return grant


def get_grant(database: Database, consumer_id: str, grant_id: str) -> GrantRecord:
    """One grant of a consumer, in force or not; 404 when there is no such grant."""
    with database.read() as session:
        grant = session.get(Grant, grant_id)
        if grant is None or grant.consumer_id != consumer_id:
            raise NotFound(f"{consumer_id} has no grant {grant_id}.")
        return _record(grant)


def list_grants(
    database: Database,
    consumer_id: str,
    page: PageRequest,
    *,
    environment: str | None = None,
) -> Page[GrantRecord]:
    """One page of a consumer's grants, revoked and expired ones included."""
    statement = select(Grant).where(Grant.consumer_id == consumer_id)
    if environment is not None:
        statement = statement.where(Grant.environment == environment)
    with database.read() as session:
        if session.get(Consumer, consumer_id) is None:
            raise NotFound(f"There is no consumer {consumer_id}.")
        found = keyset_page(
            session, statement, [Grant.id.expression], page, lambda row: [row[0].id]
        )
        items = [_record(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def _record(grant: Grant) -> GrantRecord:
    return GrantRecord(
        id=grant.id,
        consumer_id=grant.consumer_id,
        scope=grant.scope,
        environment=grant.environment,
        purpose=grant.purpose,
        expires_at=aware(grant.expires_at) if grant.expires_at else None,
        approved_by=grant.approved_by,
        created_at=aware(grant.created_at),
        revoked_at=aware(grant.revoked_at) if grant.revoked_at else None,
        revoked_by=grant.revoked_by,
    )
