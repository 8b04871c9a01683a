"""Client secrets: rotation with an overlap, and records that never hold the secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.platform.auth.factories import ADMIN, register_consumer
from townhall.errors import NotFound, UnprocessableContent
from townhall.platform.auth import client_secrets, consumers
from townhall.platform.auth.models import Change, ConsumerSecret
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


def _stored_text(database: Database) -> str:
    """Every value of every secret and change row, as one string to search."""
    with database.read() as session:
        rows = [
            *session.scalars(select(ConsumerSecret)).all(),
            *session.scalars(select(Change)).all(),
        ]
        return " ".join(
            str(getattr(row, column.key)) for row in rows for column in row.__table__.columns
        )


def _expire_secrets(database: Database, consumer_id: str, at: datetime) -> None:
    with database.write() as session:
        session.execute(
            update(ConsumerSecret)
            .where(
                ConsumerSecret.consumer_id == consumer_id, ConsumerSecret.expires_at.is_not(None)
            )
            .values(expires_at=at)
        )


def test_secrets_are_stored_only_as_argon2_hashes(database: Database) -> None:
    registered = register_consumer(database)
    issued = client_secrets.rotate_secret(database, registered.consumer.id, actor=ADMIN)
    with database.read() as session:
        hashes = session.scalars(select(ConsumerSecret.secret_hash)).all()
    assert len(hashes) == 2
    assert all(stored.startswith("$argon2id$") for stored in hashes)
    stored = _stored_text(database)
    assert registered.client_secret not in stored
    assert issued.client_secret not in stored


def test_rotation_keeps_the_old_secret_working_until_the_overlap_ends(database: Database) -> None:
    registered = register_consumer(database)
    client_id = registered.consumer.client_id
    issued = client_secrets.rotate_secret(
        database, registered.consumer.id, actor=ADMIN, overlap=timedelta(hours=2)
    )
    assert issued.client_secret != registered.client_secret
    assert issued.previous_expire_at is not None
    assert timedelta(hours=1, minutes=59) < issued.previous_expire_at - datetime.now(UTC)
    for secret in (registered.client_secret, issued.client_secret):
        assert consumers.verify_client_secret(database, client_id, secret, environment="test")

    _expire_secrets(database, registered.consumer.id, datetime.now(UTC) - timedelta(seconds=1))
    old = consumers.verify_client_secret(
        database, client_id, registered.client_secret, environment="test"
    )
    assert old is None
    assert consumers.verify_client_secret(
        database, client_id, issued.client_secret, environment="test"
    )


def test_rotation_with_no_overlap_stops_the_old_secret_at_once(database: Database) -> None:
    registered = register_consumer(database)
    issued = client_secrets.rotate_secret(
        database, registered.consumer.id, actor=ADMIN, overlap=timedelta(0)
    )
    client_id = registered.consumer.client_id
    assert not consumers.verify_client_secret(
        database, client_id, registered.client_secret, environment="test"
    )
    assert consumers.verify_client_secret(
        database, client_id, issued.client_secret, environment="test"
    )


def test_a_second_rotation_never_extends_a_secret_already_ending(database: Database) -> None:
    registered = register_consumer(database)
    consumer_id = registered.consumer.id
    client_secrets.rotate_secret(database, consumer_id, actor=ADMIN, overlap=timedelta(hours=1))
    client_secrets.rotate_secret(database, consumer_id, actor=ADMIN, overlap=timedelta(hours=24))
    records = client_secrets.list_secrets(database, consumer_id, PageRequest()).items
    first, second, third = records
    assert first.expires_at is not None
    assert second.expires_at is not None
    assert first.expires_at < second.expires_at
    assert first.expires_at - first.created_at < timedelta(hours=2)
    assert third.expires_at is None


def test_an_overlap_beyond_thirty_days_is_refused(database: Database) -> None:
    registered = register_consumer(database)
    with pytest.raises(UnprocessableContent):
        client_secrets.rotate_secret(
            database, registered.consumer.id, actor=ADMIN, overlap=timedelta(days=31)
        )


def test_the_records_of_an_unknown_consumer_are_not_found(database: Database) -> None:
    with pytest.raises(NotFound):
        client_secrets.rotate_secret(database, "con_nobody", actor=ADMIN)
    with pytest.raises(NotFound):
        client_secrets.list_secrets(database, "con_nobody", PageRequest())
    with pytest.raises(NotFound):
        client_secrets.get_secret(database, "con_nobody", "sec_x")


def test_a_secret_belongs_to_its_consumer(database: Database) -> None:
    owner = register_consumer(database).consumer.id
    other = register_consumer(database, name="Other").consumer.id
    [record] = client_secrets.list_secrets(database, owner, PageRequest()).items
    assert client_secrets.get_secret(database, owner, record.id) == record
    with pytest.raises(NotFound):
        client_secrets.get_secret(database, other, record.id)
