"""Records for the data protection officer's tests: uses by staff and consumers, at set times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from townhall.platform.audit.uses import Actor, DataUse, record_uses
from townhall.platform.audit.vocabulary import (
    ACCESS_CONTROL,
    ACCESS_RULES,
    ACCOUNT,
    ACCOUNT_DETAILS,
    Action,
    ActorKind,
)
from townhall.platform.auth.sign_in_models import ResidentAccount
from townhall.platform.db import Database

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
OFFICER = Actor(
    kind=ActorKind.STAFF,
    purpose="Checking a housing application",
    id="stf_1",
    role="housing_officer",
)
OTHER_OFFICER = Actor(
    kind=ActorKind.STAFF,
    purpose="Checking a housing application",
    id="stf_2",
    role="housing_officer",
)
PARKING_APP = Actor(kind=ActorKind.CONSUMER, purpose="Issuing permits", consumer_id="con_parking")
DPO = Actor(
    kind=ActorKind.STAFF,
    purpose="Answering a subject access request",
    id="stf_dpo",
    role="data_protection_officer",
)


def add_use(
    database: Database,
    resident_id: str | None,
    actor: Actor = OFFICER,
    *,
    hours: float = 0,
    action: Action = Action.VIEWED,
    access: bool = False,
) -> int:
    """Record one use ``hours`` after ``T0``; its position."""
    use = DataUse(
        actor=actor,
        action=action,
        service=ACCESS_CONTROL if access else ACCOUNT,
        data_kind=ACCESS_RULES if access else ACCOUNT_DETAILS,
        resident_id=resident_id,
        occurred_at=T0 + timedelta(hours=hours),
    )
    with database.write() as session:
        [position] = record_uses(session, [use])
    return position


def three_uses(database: Database) -> Database:
    """r1's data used by an officer then the parking app, then r2's by another officer."""
    add_use(database, "r1", OFFICER, hours=0)
    add_use(database, "r1", PARKING_APP, hours=1)
    add_use(database, "r2", OTHER_OFFICER, hours=2)
    return database


def add_account(
    database: Database,
    account_id: str,
    email: str,
    resident_id: str | None,
    *,
    verified: bool = True,
    **extra: object,
) -> None:
    """A resident account made on 1 September 2026, matched to ``resident_id``."""
    made = datetime(2026, 9, 1, tzinfo=UTC)
    with database.write() as session:
        session.add(
            ResidentAccount(
                id=account_id,
                email=email,
                verified_at=made if verified else None,
                resident_id=resident_id,
                created_at=made,
                **extra,
            )
        )
