"""Consumers: the machines allowed to call Townhall's APIs, and how they prove who they are.

This module owns registering consumers (with a first secret and grants), changing, disabling and
enabling them, and answering the two questions token issuing asks: whether a client id and
secret are good (``verify_client_secret``), and what a consumer may do now
(``consumer_access``); rotating secrets is ``client_secrets``' work, granting ``grants``'. Each
function opens its own unit of work, and every change is written to the change log in the same
transaction. A secret leaves this module once, in the answer to the call that made it, and is
kept only as an argon2 hash (docs/adr/0014-consumers-secrets-and-grants.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from townhall.errors import NotFound, UnprocessableContent
from townhall.platform.auth import client_secrets
from townhall.platform.auth.changes import record_change
from townhall.platform.auth.credentials import (
    looks_like_client_id,
    new_client_id,
    new_id,
    new_secret,
    secret_matches,
    spend_verification_time,
)
from townhall.platform.auth.grants import NewGrant, add_grant, in_force
from townhall.platform.auth.models import (
    CONSUMER_KINDS,
    Consumer,
    ConsumerKind,
    ConsumerSecret,
    Grant,
    lock_consumer,
)
from townhall.platform.db import Database, aware
from townhall.platform.http.concurrency import Precondition
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

# What a change may set, and which of those are personal data to keep out of the change log.
UPDATABLE_FIELDS = frozenset(
    {"name", "owning_team", "contact_email", "enabled", "rate_limit_per_minute", "quota_per_day"}
)
_PERSONAL_FIELDS = frozenset({"contact_email"})


@dataclass(frozen=True)
class GrantView:
    """A scope a consumer may use now, and why."""

    scope: str
    environment: str
    purpose: str
    expires_at: datetime | None


@dataclass(frozen=True)
class ClientAccess:
    """What an enabled consumer may do now in one environment: its limits and grants in force."""

    consumer_id: str
    client_id: str
    name: str
    kind: str
    rate_limit_per_minute: int | None
    quota_per_day: int | None
    grants: tuple[GrantView, ...]


@dataclass(frozen=True)
class ConsumerRecord:
    """A consumer as stored (never with a secret)."""

    id: str
    client_id: str
    name: str
    owning_team: str | None
    contact_email: str | None
    kind: ConsumerKind
    enabled: bool
    rate_limit_per_minute: int | None
    quota_per_day: int | None
    created_at: datetime
    updated_at: datetime
    version: int

    @property
    def etag(self) -> str:
        """The consumer's ETag: it changes with every change to the consumer."""
        return f'"v{self.version}"'


@dataclass(frozen=True)
class RegisteredConsumer:
    """A consumer just registered, with its first secret."""

    consumer: ConsumerRecord
    client_secret: str


def create_consumer(
    database: Database,
    *,
    name: str,
    kind: ConsumerKind,
    actor: str,
    owning_team: str | None = None,
    contact_email: str | None = None,
    rate_limit_per_minute: int | None = None,
    quota_per_day: int | None = None,
    grants: Sequence[NewGrant] = (),
) -> RegisteredConsumer:
    """Register a consumer with a client id, a first secret and ``grants``, all or nothing."""
    _check_fields(
        {"name": name, "owning_team": owning_team, "contact_email": contact_email, "kind": kind}
    )
    now = datetime.now(UTC)
    secret = new_secret()
    consumer = Consumer(
        id=new_id("con"),
        client_id=new_client_id(),
        name=name.strip(),
        owning_team=owning_team.strip() if owning_team else None,
        contact_email=contact_email.strip() if contact_email else None,
        kind=kind,
        enabled=True,
        rate_limit_per_minute=rate_limit_per_minute,
        quota_per_day=quota_per_day,
        created_at=now,
        updated_at=now,
        version=1,
    )
    with database.write() as session:
        session.add(consumer)
        session.add(client_secrets.secret_row(consumer.id, secret, now))
        session.flush()
        record_change(
            session,
            actor=actor,
            action="consumer.created",
            target_type="consumer",
            target_id=consumer.id,
            details={
                "name": consumer.name,
                "owning_team": consumer.owning_team,
                "kind": kind,
                "client_id": consumer.client_id,
            },
        )
        for grant in grants:
            add_grant(session, consumer.id, grant, approved_by=actor)
        return RegisteredConsumer(consumer=_record(consumer), client_secret=secret)


def get_consumer(database: Database, consumer_id: str) -> ConsumerRecord:
    """One consumer; NotFound when there is none with that id."""
    with database.read() as session:
        consumer = session.get(Consumer, consumer_id)
        if consumer is None:
            raise NotFound(f"There is no consumer {consumer_id}.")
        return _record(consumer)


def list_consumers(
    database: Database,
    page: PageRequest,
    *,
    kind: ConsumerKind | None = None,
    enabled: bool | None = None,
    q: str | None = None,
) -> Page[ConsumerRecord]:
    """One page of consumers by name, filtered by kind, state, or words in the name."""
    statement = select(Consumer)
    if kind is not None:
        statement = statement.where(Consumer.kind == kind)
    if enabled is not None:
        statement = statement.where(Consumer.enabled.is_(enabled))
    if q:
        statement = statement.where(
            func.lower(Consumer.name).contains(q.strip().lower(), autoescape=True)
        )
    with database.read() as session:
        found = keyset_page(
            session,
            statement,
            [Consumer.name.expression, Consumer.id.expression],
            page,
            lambda row: [row[0].name, row[0].id],
        )
        items = [_record(row[0]) for row in found.items]
    return Page(items=items, next_position=found.next_position)


def update_consumer(
    database: Database,
    consumer_id: str,
    changes: Mapping[str, Any],
    *,
    actor: str,
    precondition: Precondition | None = None,
) -> ConsumerRecord:
    """Change a consumer's fields (``UPDATABLE_FIELDS``); ``precondition`` is its If-Match."""
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        msg = f"These cannot be changed: {', '.join(sorted(unknown))}."
        raise UnprocessableContent(msg)
    _check_fields(changes)
    with database.write() as session:
        consumer = lock_consumer(session, consumer_id)
        if precondition is not None:
            precondition.check(_record(consumer).etag)
        changed = {
            name: value for name, value in changes.items() if getattr(consumer, name) != value
        }
        if not changed:
            return _record(consumer)
        for name, value in changed.items():
            setattr(consumer, name, value.strip() if isinstance(value, str) else value)
        consumer.updated_at = datetime.now(UTC)
        consumer.version += 1
        record_change(
            session,
            actor=actor,
            action=_update_action(changed),
            target_type="consumer",
            target_id=consumer.id,
            # Which personal fields changed, but never their values.
            details={
                "changed": sorted(changed),
                **{k: v for k, v in changed.items() if k not in _PERSONAL_FIELDS},
            },
        )
        session.flush()
        return _record(consumer)


def _update_action(changed: Mapping[str, Any]) -> str:
    if set(changed) == {"enabled"}:
        return "consumer.enabled" if changed["enabled"] else "consumer.disabled"
    return "consumer.updated"


def disable_consumer(database: Database, consumer_id: str, *, actor: str) -> ConsumerRecord:
    """Stop a consumer's secrets and tokens from working, keeping everything else as it was."""
    return update_consumer(database, consumer_id, {"enabled": False}, actor=actor)


def enable_consumer(database: Database, consumer_id: str, *, actor: str) -> ConsumerRecord:
    """Let a disabled consumer get tokens again."""
    return update_consumer(database, consumer_id, {"enabled": True}, actor=actor)


def verify_client_secret(
    database: Database, client_id: str, client_secret: str, *, environment: str
) -> ClientAccess | None:
    """What the client may do, if ``client_secret`` is one of its secrets in force; else None.

    None for an unknown client id, a disabled consumer, or a wrong or expired secret, without
    saying which. An unknown client id costs as much time as a known one.
    """
    now = datetime.now(UTC)
    if not looks_like_client_id(client_id):
        # Never reaches the database: anything may arrive here, NUL characters included.
        spend_verification_time(client_secret)
        return None
    with database.read() as session:
        consumer = session.scalar(select(Consumer).where(Consumer.client_id == client_id))
        if consumer is None:
            spend_verification_time(client_secret)
            return None
        hashes = session.scalars(
            select(ConsumerSecret.secret_hash).where(
                ConsumerSecret.consumer_id == consumer.id, client_secrets.in_force(now)
            )
        ).all()
        if not hashes:
            spend_verification_time(client_secret)
            return None
        # Check every secret in force, so the time taken does not tell which one matched.
        matched = [secret_matches(stored, client_secret) for stored in hashes]
        if not any(matched) or not consumer.enabled:
            return None
        return _access(session, consumer, environment, now)


def consumer_access(
    database: Database, consumer_id: str, *, environment: str
) -> ClientAccess | None:
    """What a consumer may do now; None when it is disabled or no longer exists."""
    now = datetime.now(UTC)
    with database.read() as session:
        consumer = session.get(Consumer, consumer_id)
        if consumer is None or not consumer.enabled:
            return None
        return _access(session, consumer, environment, now)


def _access(session: Session, consumer: Consumer, environment: str, now: datetime) -> ClientAccess:
    grants = session.scalars(
        select(Grant)
        .where(
            Grant.consumer_id == consumer.id,
            Grant.environment == environment,
            *in_force(now),
        )
        .order_by(Grant.scope)
    ).all()
    return ClientAccess(
        consumer_id=consumer.id,
        client_id=consumer.client_id,
        name=consumer.name,
        kind=consumer.kind,
        rate_limit_per_minute=consumer.rate_limit_per_minute,
        quota_per_day=consumer.quota_per_day,
        grants=tuple(
            GrantView(
                scope=grant.scope,
                environment=grant.environment,
                purpose=grant.purpose,
                expires_at=aware(grant.expires_at) if grant.expires_at else None,
            )
            for grant in grants
        ),
    )


def _check_fields(values: Mapping[str, Any]) -> None:
    """Rules a consumer's fields keep however they are set (API, CLI or another service)."""
    if "name" in values and values["name"] is None:
        raise UnprocessableContent("A consumer must have a name.")
    for name in ("name", "owning_team", "contact_email"):
        value = values.get(name)
        if value is not None and not (isinstance(value, str) and value.strip()):
            msg = f"A consumer's {name.replace('_', ' ')} cannot be blank."
            raise UnprocessableContent(msg)
    if "enabled" in values and not isinstance(values["enabled"], bool):
        raise UnprocessableContent("enabled is true or false.")
    if "kind" in values and values["kind"] not in CONSUMER_KINDS:
        msg = f"{values['kind']!r} is not a kind of consumer: use {', '.join(CONSUMER_KINDS)}."
        raise UnprocessableContent(msg)
    for name in ("rate_limit_per_minute", "quota_per_day"):
        value = values.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            msg = f"A consumer's {name.replace('_', ' ')} is a whole number of at least 1, or null."
            raise UnprocessableContent(msg)


def _record(consumer: Consumer) -> ConsumerRecord:
    return ConsumerRecord(
        id=consumer.id,
        client_id=consumer.client_id,
        name=consumer.name,
        owning_team=consumer.owning_team,
        contact_email=consumer.contact_email,
        kind=consumer.kind,
        enabled=consumer.enabled,
        rate_limit_per_minute=consumer.rate_limit_per_minute,
        quota_per_day=consumer.quota_per_day,
        created_at=aware(consumer.created_at),
        updated_at=aware(consumer.updated_at),
        version=consumer.version,
    )
