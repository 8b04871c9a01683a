"""Consumers for tests, registered through the service as an administrator would."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from fastapi.testclient import TestClient

from townhall.platform.auth.consumers import RegisteredConsumer, create_consumer
from townhall.platform.auth.grants import NewGrant
from townhall.platform.auth.models import EnvironmentName
from townhall.platform.db import Database

ADMIN = "cli:test-admin"


def register_consumer(
    database: Database,
    *,
    scopes: Iterable[str] = (),
    environment: EnvironmentName = "test",
    name: str = "Parking permits",
    purpose: str = "Shows permit applications to parking staff.",
) -> RegisteredConsumer:
    """A consumer holding ``scopes`` in ``environment`` (the test instance's, by default)."""
    return create_consumer(
        database,
        name=name,
        owning_team="Parking",
        contact_email="parking@example.gov.uk",
        kind="council_service",
        actor=ADMIN,
        grants=[
            NewGrant(scope=scope, purpose=purpose, environment=environment) for scope in scopes
        ],
    )


@dataclass(frozen=True)
class Caller:
    """A consumer and the headers that carry its bearer token."""

    consumer_id: str
    headers: dict[str, str]


def token_caller(client: TestClient, database: Database, *scopes: str) -> Caller:
    """A consumer granted ``scopes``, with a token for them from the app's ``/oauth/token``."""
    registered = register_consumer(database, scopes=scopes, name="Administration")
    answer = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.consumer.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    return Caller(registered.consumer.id, {"Authorization": f"Bearer {token}"})
