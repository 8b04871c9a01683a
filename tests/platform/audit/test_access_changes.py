"""Access-control changes in the audit trail: every change-log entry is a record there too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.sign_in import make_staff
from townhall.platform.audit.models import AuditRecord
from townhall.platform.auth.changes import MANAGING_ACCESS, record_change
from townhall.platform.auth.consumers import create_consumer
from townhall.platform.db import Database


def trail(database: Database) -> list[AuditRecord]:
    with database.read() as session:
        found = list(session.scalars(select(AuditRecord).order_by(AuditRecord.position)))
        session.expunge_all()
        return found


def test_a_change_through_a_service_is_recorded_with_it(database: Database) -> None:
    registered = create_consumer(
        database, name="Parking permits", kind="council_service", actor="consumer:con_admin"
    )
    [record] = trail(database)
    assert (record.action, record.service, record.data_kind) == (
        "changed",
        "access-control",
        "access-rules",
    )
    assert record.subject == f"consumer:{registered.consumer.id}"
    assert record.details == {"change": "consumer.created"}
    assert record.resident_id is None
    assert (record.actor_kind, record.consumer_id, record.actor_id) == (
        "consumer",
        "con_admin",
        None,
    )
    assert record.purpose == MANAGING_ACCESS


@pytest.mark.parametrize(
    ("actor", "kind", "actor_id"),
    [
        ("resident_account:res_1", "resident", "res_1"),
        ("sign-in", "system", "sign-in"),
        ("identity-provider", "system", "identity-provider"),
        ("cli:root", "system", "cli:root"),
    ],
)
def test_each_kind_of_actor_is_named(
    database: Database, actor: str, kind: str, actor_id: str
) -> None:
    with database.write() as session:
        record_change(
            session, actor=actor, action="grant.revoked", target_type="grant", target_id="g1"
        )
    [record] = trail(database)
    assert (record.actor_kind, record.actor_id, record.consumer_id) == (kind, actor_id, None)


def test_a_member_of_staff_is_named_with_their_role(database: Database) -> None:
    member = make_staff(database, role="administrator")
    before = len(trail(database))
    with database.write() as session:
        record_change(
            session, actor=member.id, action="grant.revoked", target_type="grant", target_id="g1"
        )
    record = trail(database)[before]
    assert (record.actor_kind, record.actor_id, record.actor_role) == (
        "staff",
        member.id,
        "administrator",
    )


def test_a_change_rolled_back_leaves_no_record(database: Database) -> None:
    def change_then_fail() -> None:
        with database.write() as session:
            record_change(
                session,
                actor="cli:root",
                action="grant.revoked",
                target_type="grant",
                target_id="g1",
            )
            raise RuntimeError

    with pytest.raises(RuntimeError):
        change_then_fail()
    assert trail(database) == []
