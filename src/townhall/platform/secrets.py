"""Instance secrets: random keys created once and shared by every worker through the database.

This module owns the ``platform_secrets`` table. A key set in settings always wins; otherwise
the first worker to ask creates the key and the others read it, so cursors signed by one worker
are accepted by all. Production refuses to run without ``TOWNHALL_SECRET_KEY`` (see app.py), so
a database copy never carries the only copy of a production key.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from townhall.platform.db import Base, Database


class InstanceSecret(Base):
    """A named random key of this instance."""

    __tablename__ = "platform_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def instance_secret(database: Database, name: str) -> bytes:
    """The key called ``name``, created at random the first time any worker asks for it."""
    with database.read() as session:
        found = session.scalar(select(InstanceSecret.value).where(InstanceSecret.name == name))
    if found is not None:
        return found.encode("ascii")
    try:
        with database.write() as session:
            session.add(
                InstanceSecret(
                    name=name, value=secrets.token_urlsafe(48), created_at=datetime.now(UTC)
                )
            )
    except IntegrityError:
        pass  # another worker created it first; read theirs
    with database.read() as session:
        value = session.scalar(select(InstanceSecret.value).where(InstanceSecret.name == name))
    if value is None:  # pragma: no cover - the row was just written
        msg = f"instance secret {name!r} could not be created"
        raise RuntimeError(msg)
    return value.encode("ascii")
