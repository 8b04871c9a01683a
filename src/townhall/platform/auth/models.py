"""Tables of machine consumers: who may call the APIs, with which secrets, for which scopes.

This module owns ``auth_consumers``, ``auth_consumer_secrets``, ``auth_grants`` and
``auth_changes`` (the administrative change log), and how a consumer's row is locked for a
change. Only ``townhall.platform.auth`` services write them. A secret is stored only as an
argon2 hash; nothing here can give a secret back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.errors import NotFound
from townhall.platform.db import Base

ConsumerKind = Literal["council_service", "partner", "public"]
CONSUMER_KINDS: tuple[str, ...] = get_args(ConsumerKind)
# The instance environments a grant may be for (TOWNHALL_ENVIRONMENT's values).
EnvironmentName = Literal["development", "test", "production"]


class Consumer(Base):
    """A machine consumer of the APIs: a council service, a partner, or a public app."""

    __tablename__ = "auth_consumers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Who answers for the consumer; either may be unknown when it is registered in a hurry.
    owning_team: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    kind: Mapped[ConsumerKind] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # None: the instance's TOWNHALL_RATE_LIMIT_PER_MINUTE and TOWNHALL_QUOTA_PER_DAY apply.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    quota_per_day: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bumped by every change to the consumer, so its ETag changes with it.
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("kind IN ('council_service', 'partner', 'public')", name="kind_known"),
    )


def lock_consumer(session: Session, consumer_id: str) -> Consumer:
    """A consumer's row, locked until the write unit of work ends; NotFound if there is none.

    Serialises changes to one consumer on PostgreSQL (SQLite has one writer already), so that
    two concurrent changes cannot both pass a check such as "no grant of this scope in force".
    """
    consumer = session.get(Consumer, consumer_id, with_for_update=True)
    if consumer is None:
        raise NotFound(f"There is no consumer {consumer_id}.")
    return consumer


class ConsumerSecret(Base):
    """One secret of a consumer's client, as an argon2 hash; rotation gives the old one an end."""

    __tablename__ = "auth_consumer_secrets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(
        ForeignKey("auth_consumers.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # None: valid until rotated; rotation sets it to the end of the overlap period.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Grant(Base):
    """Permission for a consumer to use one scope in one environment, for a stated purpose."""

    __tablename__ = "auth_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    consumer_id: Mapped[str] = mapped_column(
        ForeignKey("auth_consumers.id", ondelete="CASCADE"), index=True
    )
    scope: Mapped[str] = mapped_column(String(64))
    environment: Mapped[EnvironmentName] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(100))


class Change(Base):
    """One administrative change: who did what to which thing, and when. Never secrets."""

    __tablename__ = "auth_changes"

    # SQLite only auto-increments an INTEGER primary key.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index(None, "target_type", "target_id"),)
