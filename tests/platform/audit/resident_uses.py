"""Test data for the resident's view of the audit trail: uses by anyone, holds, a linked resident.

Uses are written through ``record_uses`` as the app writes them; holds are rows of
``audit_holds`` as the data protection officer's tools leave them, so any state (expired,
lifted) can be arranged without waiting for it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.sign_in import install_test_doubles, sign_in_resident
from townhall.platform.audit.models import AuditHold, AuditRecord
from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import (
    ACCOUNT,
    ACCOUNT_DETAILS,
    DATA_PROTECTION,
    DATA_USES,
    Action,
    ActorKind,
    DataKind,
    Service,
)
from townhall.platform.auth.residents import link_resident
from townhall.platform.auth.sign_in_models import ResidentAccount
from townhall.platform.db import Database

RESIDENT = "resident-grace"
OTHER_RESIDENT = "resident-omar"
PURPOSE = "Checking a housing application"


def staff(account_id: str = "stf_housing", role: str = "housing_officer") -> Actor:
    """A member of staff on a page."""
    return Actor(kind=ActorKind.STAFF, purpose=PURPOSE, id=account_id, role=role)


def consumer(consumer_id: str) -> Actor:
    """An application calling with a token."""
    return Actor(kind=ActorKind.CONSUMER, purpose=PURPOSE, consumer_id=consumer_id)


def resident(account_id: str) -> Actor:
    """A resident using data themselves."""
    return Actor(kind=ActorKind.RESIDENT, purpose="At your own request", id=account_id)


def add_use(
    database: Database,
    actor: Actor,
    resident_id: str | None = RESIDENT,
    *,
    action: Action = Action.VIEWED,
    service: Service = ACCOUNT,
    data_kind: DataKind = ACCOUNT_DETAILS,
    occurred_at: datetime | None = None,
) -> int:
    """Record one use as the app would; its place in the chain."""
    use = DataUse(
        actor=actor,
        action=action,
        service=service,
        data_kind=data_kind,
        resident_id=resident_id,
        **({"occurred_at": occurred_at} if occurred_at is not None else {}),
    )
    with database.write() as session:
        [position] = record_uses(session, [use])
    return position


def add_hold(
    database: Database,
    record_position: int,
    *,
    resident_id: str = RESIDENT,
    consumer_id: str | None = None,
    actor_id: str | None = None,
    accessed_from: datetime | None = None,
    accessed_to: datetime | None = None,
    hidden_for: timedelta = timedelta(days=30),
    lifted: bool = False,
) -> str:
    """A hold whose record is at ``record_position``, ending ``hidden_for`` from now (a
    negative span: it has ended)."""
    now = datetime.now(UTC)
    hold_id = "hld_" + secrets.token_hex(8)
    with database.write() as session:
        session.add(
            AuditHold(
                id=hold_id,
                resident_id=resident_id,
                consumer_id=consumer_id,
                actor_id=actor_id,
                accessed_from=accessed_from,
                accessed_to=accessed_to,
                hidden_until=now + hidden_for,
                reason="An investigation",
                created_by="stf_dpo",
                created_at=now,
                lifted_at=now if lifted else None,
                record_position=record_position,
            )
        )
    return hold_id


def add_hold_with_record(database: Database, **hold: Any) -> tuple[str, int]:
    """A hold and the ``hid`` record of making it, as the data protection officer's tools do."""
    position = add_use(
        database,
        staff("stf_dpo", "data_protection_officer"),
        action=Action.HID,
        service=DATA_PROTECTION,
        data_kind=DATA_USES,
    )
    return add_hold(database, position, **hold), position


def occurred_at(database: Database, position: int) -> datetime:
    """When the record at ``position`` says it happened (as stored)."""
    with database.read() as session:
        moment = session.scalar(
            select(AuditRecord.occurred_at).where(AuditRecord.position == position)
        )
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def record_of(database: Database, response: httpx.Response) -> SimpleNamespace:
    """The one audit record made while answering ``response`` (by its request id)."""
    with database.read() as session:
        [row] = session.execute(
            select(AuditRecord.__table__).where(
                AuditRecord.request_id == response.headers["x-request-id"]
            )
        )
        return SimpleNamespace(**row._asdict())


@dataclass(frozen=True)
class SignedIn:
    """A browser signed in as a resident, and their account's id."""

    client: TestClient
    account_id: str


def account_id_of(database: Database, email: str) -> str:
    """The id of the resident account with ``email``."""
    with database.read() as session:
        found = session.scalar(select(ResidentAccount.id).where(ResidentAccount.email == email))
    assert found is not None
    return found


def sign_in_linked_resident(
    app: FastAPI,
    client: TestClient,
    database: Database,
    email: str = "grace@example.com",
    resident_id: str | None = RESIDENT,
) -> SignedIn:
    """Sign ``client`` in as a resident whose account is matched to ``resident_id`` (None: not
    matched)."""
    sender, _clock = install_test_doubles(app)
    sign_in_resident(client, sender, email)
    account_id = account_id_of(database, email)
    if resident_id is not None:
        link_resident(database, account_id, resident_id, actor="test")
    return SignedIn(client, account_id)
