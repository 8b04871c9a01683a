"""Consumers for tests, registered through the service as an administrator would."""

from __future__ import annotations

from collections.abc import Iterable

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
