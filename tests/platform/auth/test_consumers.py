"""Consumers: secrets kept only as hashes, rotation with overlap, and what a consumer may do."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from tests.platform.auth.factories import ADMIN, register_consumer
from townhall.errors import NotFound, PreconditionFailed, UnprocessableContent
from townhall.platform.auth import consumers, grants
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.grants import NewGrant
from townhall.platform.auth.models import Grant
from townhall.platform.db import Database
from townhall.platform.http.concurrency import Precondition
from townhall.platform.http.pagination import PageRequest


def test_a_new_consumer_gets_a_prefixed_high_entropy_secret(database: Database) -> None:
    registered = register_consumer(database)
    assert registered.consumer.id.startswith("con_")
    assert registered.consumer.client_id.startswith("thcid_")
    assert re.fullmatch(r"thsec_[A-Za-z0-9]{43}", registered.client_secret)
    assert registered.client_secret != register_consumer(database).client_secret


def test_the_right_secret_gives_the_consumers_access(database: Database) -> None:
    registered = register_consumer(database, scopes=["consumers:read"])
    access = consumers.verify_client_secret(
        database, registered.consumer.client_id, registered.client_secret, environment="test"
    )
    assert access is not None
    assert access.consumer_id == registered.consumer.id
    assert access.client_id == registered.consumer.client_id
    assert access.name == "Parking permits"
    assert access.kind == "council_service"
    assert (access.rate_limit_per_minute, access.quota_per_day) == (None, None)
    assert [grant.scope for grant in access.grants] == ["consumers:read"]
    assert access.grants[0].purpose == "Shows permit applications to parking staff."


def test_a_wrong_secret_or_unknown_client_gives_nothing(database: Database) -> None:
    registered = register_consumer(database)
    client_id = registered.consumer.client_id
    assert (
        consumers.verify_client_secret(database, client_id, "thsec_x", environment="test") is None
    )
    assert (
        consumers.verify_client_secret(
            database, "thcid_unknown", registered.client_secret, environment="test"
        )
        is None
    )


def test_an_unknown_client_costs_a_hash_check_like_a_known_one(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    monkeypatch.setattr(consumers, "spend_verification_time", checked.append)
    assert (
        consumers.verify_client_secret(database, "thcid_nobody", "s3", environment="test") is None
    )
    assert checked == ["s3"]


def test_a_disabled_consumer_has_no_access_until_enabled(database: Database) -> None:
    registered = register_consumer(database, scopes=["consumers:read"])
    consumer_id, client_id = registered.consumer.id, registered.consumer.client_id
    disabled = consumers.disable_consumer(database, consumer_id, actor=ADMIN)
    assert not disabled.enabled
    assert consumers.consumer_access(database, consumer_id, environment="test") is None
    assert not consumers.verify_client_secret(
        database, client_id, registered.client_secret, environment="test"
    )
    consumers.enable_consumer(database, consumer_id, actor=ADMIN)
    access = consumers.consumer_access(database, consumer_id, environment="test")
    assert access is not None
    assert {grant.scope for grant in access.grants} == {"consumers:read"}


def test_an_unknown_consumer_has_no_access(database: Database) -> None:
    assert consumers.consumer_access(database, "con_nobody", environment="test") is None


def test_access_holds_only_grants_in_force_in_the_environment(database: Database) -> None:
    registered = register_consumer(database, scopes=["consumers:read", "consumers:write"])
    consumer_id = registered.consumer.id
    grants.grant_scope(
        database,
        consumer_id,
        NewGrant(scope="consumers:read", purpose="Production use", environment="production"),
        approved_by=ADMIN,
    )
    grants.revoke_scope(database, consumer_id, "consumers:write", environment="test", actor=ADMIN)

    in_test = consumers.consumer_access(database, consumer_id, environment="test")
    in_production = consumers.consumer_access(database, consumer_id, environment="production")
    in_development = consumers.consumer_access(database, consumer_id, environment="development")
    assert in_test is not None
    assert in_production is not None
    assert in_development is not None
    assert [(g.scope, g.environment) for g in in_test.grants] == [("consumers:read", "test")]
    assert [(g.scope, g.purpose) for g in in_production.grants] == [
        ("consumers:read", "Production use")
    ]
    assert in_development.grants == ()


def test_an_expired_grant_is_not_in_force(database: Database) -> None:
    registered = register_consumer(database)
    ends = datetime.now(UTC) + timedelta(hours=1)
    grants.grant_scope(
        database,
        registered.consumer.id,
        NewGrant(
            scope="consumers:read", purpose="A week's trial", environment="test", expires_at=ends
        ),
        approved_by=ADMIN,
    )
    access = consumers.consumer_access(database, registered.consumer.id, environment="test")
    assert access is not None
    assert [g.expires_at for g in access.grants] == [ends]

    with database.write() as session:
        session.execute(update(Grant).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    access = consumers.consumer_access(database, registered.consumer.id, environment="test")
    assert access is not None
    assert access.grants == ()


def test_an_update_changes_fields_and_the_etag(database: Database) -> None:
    registered = register_consumer(database)
    before = registered.consumer
    after = consumers.update_consumer(
        database,
        before.id,
        {"name": "Parking permits (new)", "rate_limit_per_minute": 60, "contact_email": None},
        actor=ADMIN,
        precondition=Precondition(tags=(before.etag,)),
    )
    assert after.name == "Parking permits (new)"
    assert after.rate_limit_per_minute == 60
    assert after.contact_email is None
    assert after.etag != before.etag
    assert after.updated_at > before.updated_at
    assert consumers.get_consumer(database, before.id) == after


def test_an_update_with_a_stale_etag_changes_nothing(database: Database) -> None:
    registered = register_consumer(database)
    stale = registered.consumer.etag
    consumers.update_consumer(database, registered.consumer.id, {"name": "A"}, actor=ADMIN)
    with pytest.raises(PreconditionFailed):
        consumers.update_consumer(
            database,
            registered.consumer.id,
            {"name": "B"},
            actor=ADMIN,
            precondition=Precondition(tags=(stale,)),
        )
    assert consumers.get_consumer(database, registered.consumer.id).name == "A"


def test_an_update_that_changes_nothing_is_not_a_change(database: Database) -> None:
    registered = register_consumer(database)
    same = consumers.update_consumer(
        database, registered.consumer.id, {"name": "Parking permits"}, actor=ADMIN
    )
    assert same.version == registered.consumer.version
    actions = [c.action for c in list_changes(database, PageRequest()).items]
    assert "consumer.updated" not in actions


@pytest.mark.parametrize(
    "changes",
    [{"name": " "}, {"name": None}, {"enabled": None}, {"quota_per_day": 0}, {"client_id": "x"}],
)
def test_an_invalid_update_is_refused(database: Database, changes: dict[str, object]) -> None:
    registered = register_consumer(database)
    with pytest.raises(UnprocessableContent):
        consumers.update_consumer(database, registered.consumer.id, changes, actor=ADMIN)


def test_an_unknown_kind_is_refused(database: Database) -> None:
    with pytest.raises(UnprocessableContent):
        consumers.create_consumer(database, name="X", kind="robot", actor=ADMIN)


def test_a_failed_grant_registers_nothing(database: Database) -> None:
    with pytest.raises(UnprocessableContent):
        register_consumer(database, scopes=["consumers:read", "nonsense:read"])
    assert consumers.list_consumers(database, PageRequest()).items == []


def test_consumers_are_listed_by_name_a_page_at_a_time(database: Database) -> None:
    for name in ("Waste", "Housing repairs", "Adult social care", "Parking"):
        register_consumer(database, name=name)
    first = consumers.list_consumers(database, PageRequest(limit=3))
    assert [c.name for c in first.items] == ["Adult social care", "Housing repairs", "Parking"]
    assert first.next_position is not None
    second = consumers.list_consumers(database, PageRequest(limit=3, after=first.next_position))
    assert [c.name for c in second.items] == ["Waste"]
    assert second.next_position is None


def test_consumers_can_be_filtered(database: Database) -> None:
    register_consumer(database, name="Housing repairs")
    waste = register_consumer(database, name="Waste 100% collections").consumer
    consumers.create_consumer(database, name="Open data app", kind="public", actor=ADMIN)
    consumers.disable_consumer(database, waste.id, actor=ADMIN)

    def names(**filters: object) -> list[str]:
        page = consumers.list_consumers(database, PageRequest(), **filters)
        return [c.name for c in page.items]

    assert names(kind="public") == ["Open data app"]
    assert names(enabled=False) == ["Waste 100% collections"]
    assert names(q="REPAIR") == ["Housing repairs"]
    assert names(q="100%") == ["Waste 100% collections"]
    assert names(q="%") == ["Waste 100% collections"]


def test_an_unknown_consumer_is_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        consumers.get_consumer(database, "con_nobody")
    with pytest.raises(NotFound):
        consumers.disable_consumer(database, "con_nobody", actor=ADMIN)
