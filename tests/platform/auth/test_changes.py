"""The change log: every change recorded with its actor, and never a secret or an email."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.platform.auth.factories import ADMIN, register_consumer
from townhall.platform.auth import client_secrets, consumers, grants
from townhall.platform.auth.changes import list_changes, record_change
from townhall.platform.auth.grants import NewGrant
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


def test_every_change_is_recorded_in_order(database: Database) -> None:
    registered = register_consumer(database, scopes=["consumers:read"])
    consumer_id = registered.consumer.id
    issued = client_secrets.rotate_secret(
        database, consumer_id, actor="consumer:con_admin", overlap=timedelta(hours=1)
    )
    write = grants.grant_scope(
        database,
        consumer_id,
        NewGrant(scope="consumers:write", purpose="Registers services", environment="test"),
        approved_by="staff:st_1",
    )
    grants.revoke_grant(database, consumer_id, write.id, actor=ADMIN)
    consumers.update_consumer(
        database, consumer_id, {"contact_email": "new@example.gov.uk", "name": "P"}, actor=ADMIN
    )
    consumers.disable_consumer(database, consumer_id, actor=ADMIN)
    consumers.enable_consumer(database, consumer_id, actor=ADMIN)

    changes = list_changes(database, PageRequest()).items
    assert [(c.action, c.target_type, c.actor) for c in changes] == [
        ("consumer.created", "consumer", ADMIN),
        ("grant.created", "grant", ADMIN),
        ("secret.rotated", "consumer", "consumer:con_admin"),
        ("grant.created", "grant", "staff:st_1"),
        ("grant.revoked", "grant", ADMIN),
        ("consumer.updated", "consumer", ADMIN),
        ("consumer.disabled", "consumer", ADMIN),
        ("consumer.enabled", "consumer", ADMIN),
    ]
    assert changes[4].target_id == write.id
    assert changes[4].details == {
        "consumer_id": consumer_id,
        "scope": "consumers:write",
        "environment": "test",
    }
    # A personal field is named as changed, its value kept out.
    assert changes[5].details == {"changed": ["contact_email", "name"], "name": "P"}

    text = repr(changes)
    for secret in (registered.client_secret, issued.client_secret):
        assert secret not in text
    assert "thsec_" not in text
    assert "$argon2" not in text
    assert "@example.gov.uk" not in text


def test_changes_can_be_filtered_and_paged(database: Database) -> None:
    first = register_consumer(database, scopes=["consumers:read"]).consumer.id
    register_consumer(database, name="Other")
    about_first = list_changes(database, PageRequest(), target_type="consumer", target_id=first)
    assert [c.action for c in about_first.items] == ["consumer.created"]
    grants_made = list_changes(database, PageRequest(), action="grant.created")
    assert len(grants_made.items) == 1

    page = list_changes(database, PageRequest(limit=2))
    rest = list_changes(database, PageRequest(limit=2, after=page.next_position))
    assert [c.id for c in page.items + rest.items] == ["1", "2", "3"]
    assert rest.next_position is None


@pytest.mark.parametrize("key", ["client_secret", "secret_hash", "contact_email"])
def test_details_that_would_leak_are_refused(database: Database, key: str) -> None:
    with database.write() as session, pytest.raises(ValueError, match=key):
        record_change(
            session,
            actor=ADMIN,
            action="consumer.updated",
            target_type="consumer",
            target_id="con_x",
            details={key: "x"},
        )
