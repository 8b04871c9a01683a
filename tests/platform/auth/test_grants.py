"""Grants: only known scopes, one in force per scope and environment, revoked but never lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.platform.auth.factories import ADMIN, register_consumer
from townhall.errors import Conflict, NotFound, PreconditionFailed, UnprocessableContent
from townhall.platform.auth import grants
from townhall.platform.auth.grants import GrantRecord, NewGrant
from townhall.platform.auth.models import EnvironmentName
from townhall.platform.db import Database
from townhall.platform.http.concurrency import Precondition
from townhall.platform.http.pagination import PageRequest


def _grant(
    database: Database,
    consumer_id: str,
    scope: str = "consumers:read",
    *,
    purpose: str = "Reads the register of consumers.",
    environment: EnvironmentName = "test",
    expires_at: datetime | None = None,
) -> GrantRecord:
    new = NewGrant(scope=scope, purpose=purpose, environment=environment, expires_at=expires_at)
    return grants.grant_scope(database, consumer_id, new, approved_by=ADMIN)


def test_a_grant_records_who_approved_it_and_why(database: Database) -> None:
    consumer_id = register_consumer(database).consumer.id
    record = _grant(database, consumer_id)
    assert record.id.startswith("grt_")
    assert (record.scope, record.environment) == ("consumers:read", "test")
    assert record.purpose == "Reads the register of consumers."
    assert record.approved_by == ADMIN
    assert record.revoked_at is None
    assert grants.get_grant(database, consumer_id, record.id) == record


@pytest.mark.parametrize("scope", ["consumers", "Consumers:Read", "consumers:read:all", ""])
def test_a_malformed_scope_is_refused(database: Database, scope: str) -> None:
    consumer_id = register_consumer(database).consumer.id
    with pytest.raises(UnprocessableContent, match="not a scope"):
        _grant(database, consumer_id, scope)


def test_an_unknown_scope_is_refused_naming_the_known_ones(database: Database) -> None:
    consumer_id = register_consumer(database).consumer.id
    with pytest.raises(UnprocessableContent, match="consumers:read, consumers:write"):
        _grant(database, consumer_id, "consumer:read")


@pytest.mark.parametrize(
    "fields",
    [
        {"purpose": "  "},
        {"environment": "staging"},
        {"expires_at": datetime.now(UTC) - timedelta(minutes=1)},
    ],
)
def test_an_invalid_grant_is_refused(database: Database, fields: dict[str, Any]) -> None:
    consumer_id = register_consumer(database).consumer.id
    with pytest.raises(UnprocessableContent):
        _grant(database, consumer_id, **fields)


def test_one_grant_in_force_per_scope_and_environment(database: Database) -> None:
    consumer_id = register_consumer(database, scopes=["consumers:read"]).consumer.id
    with pytest.raises(Conflict, match="already holds consumers:read in test"):
        _grant(database, consumer_id)
    # Another environment is another grant; a revoked grant can be granted afresh.
    _grant(database, consumer_id, environment="production")
    grants.revoke_scope(database, consumer_id, "consumers:read", environment="test", actor=ADMIN)
    assert _grant(database, consumer_id).revoked_at is None


def test_a_revoked_grant_is_kept_with_who_revoked_it(database: Database) -> None:
    consumer_id = register_consumer(database).consumer.id
    granted = _grant(database, consumer_id)
    revoked = grants.revoke_grant(
        database,
        consumer_id,
        granted.id,
        actor="consumer:con_admin",
        precondition=Precondition(tags=(granted.etag,)),
    )
    assert revoked.revoked_by == "consumer:con_admin"
    assert revoked.revoked_at is not None
    assert revoked.etag != granted.etag
    assert grants.get_grant(database, consumer_id, granted.id) == revoked
    with pytest.raises(PreconditionFailed):
        grants.revoke_grant(
            database,
            consumer_id,
            granted.id,
            actor=ADMIN,
            precondition=Precondition(tags=(granted.etag,)),
        )
    with pytest.raises(Conflict, match="already revoked"):
        grants.revoke_grant(database, consumer_id, granted.id, actor=ADMIN)


def test_revoking_a_scope_not_held_is_not_found(database: Database) -> None:
    consumer_id = register_consumer(database).consumer.id
    with pytest.raises(NotFound):
        grants.revoke_scope(
            database, consumer_id, "consumers:read", environment="test", actor=ADMIN
        )


def test_a_grant_belongs_to_its_consumer(database: Database) -> None:
    owner = register_consumer(database).consumer.id
    other = register_consumer(database, name="Other").consumer.id
    granted = _grant(database, owner)
    with pytest.raises(NotFound):
        grants.get_grant(database, other, granted.id)
    with pytest.raises(NotFound):
        grants.revoke_grant(database, other, granted.id, actor=ADMIN)
    with pytest.raises(NotFound):
        _grant(database, "con_nobody")
    with pytest.raises(NotFound):
        grants.list_grants(database, "con_nobody", PageRequest())


def test_grants_are_listed_with_revoked_ones_and_filtered(database: Database) -> None:
    consumer_id = register_consumer(database, scopes=["consumers:read"]).consumer.id
    _grant(database, consumer_id, "consumers:write")
    _grant(database, consumer_id, environment="production")
    grants.revoke_scope(database, consumer_id, "consumers:write", environment="test", actor=ADMIN)

    everything = grants.list_grants(database, consumer_id, PageRequest())
    assert len(everything.items) == 3
    in_production = grants.list_grants(
        database, consumer_id, PageRequest(), environment="production"
    )
    assert [g.environment for g in in_production.items] == ["production"]
    assert sorted(g.revoked_at is None for g in everything.items) == [False, True, True]

    first = grants.list_grants(database, consumer_id, PageRequest(limit=2))
    rest = grants.list_grants(
        database, consumer_id, PageRequest(limit=2, after=first.next_position)
    )
    assert len(first.items) + len(rest.items) == 3
    assert rest.next_position is None
