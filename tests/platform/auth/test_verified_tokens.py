"""A token's signature is checked once per worker; what time can change is checked every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.platform.auth.factories import register_consumer
from tests.tokens import forge_token
from townhall.errors import Unauthenticated
from townhall.platform.auth import access as access_module
from townhall.platform.auth.access import AccessControl
from townhall.platform.auth.consumers import RegisteredConsumer, disable_consumer
from townhall.platform.auth.keys import SigningKeys, instance_signing_keys
from townhall.platform.auth.tokens import LEEWAY_SECONDS
from townhall.platform.db import Database
from townhall.settings import Settings

READ = "consumers:read"
STARTED = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _started_now() -> None:
    """Each test starts its clocks now: PyJWT judges a token's first verification by the real
    clock, so a start fixed at import was minutes old by the time a long suite got here."""
    global STARTED  # noqa: PLW0603
    STARTED = datetime.now(UTC).replace(microsecond=0)


class Clocks:
    """The wall clock tokens are judged by and the monotonic one the caches age by."""

    def __init__(self) -> None:
        self.wall = STARTED
        self.monotonic = 1_000.0

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.monotonic += seconds


@pytest.fixture
def keys(settings: Settings, database: Database) -> SigningKeys:
    return instance_signing_keys(settings, database)


@pytest.fixture
def consumer(database: Database) -> RegisteredConsumer:
    return register_consumer(database, scopes=[READ])


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def control(
    settings: Settings, database: Database, keys: SigningKeys, clocks: Clocks
) -> AccessControl:
    return AccessControl(
        settings.model_copy(update={"access_cache_seconds": 5}),
        database,
        keys,
        monotonic=lambda: clocks.monotonic,
        now=lambda: clocks.wall,
    )


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature was checked, in order."""
    checked: list[str] = []
    real = access_module.verify_token

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        checked.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(access_module, "verify_token", counted)
    return checked


def token_for(
    settings: Settings, keys: SigningKeys, consumer: RegisteredConsumer, *, minutes: int = 15
) -> str:
    """A token signed by the instance's key, as the token endpoint would make it."""
    signing = keys.signing_key(900)
    return forge_token(
        settings,
        kid=signing.kid,
        key=signing.private_key,
        consumer_id=consumer.consumer.id,
        scopes=[READ],
        now=STARTED,
        ttl=timedelta(minutes=minutes),
    )


def test_a_token_is_verified_once_then_recognised(
    settings: Settings,
    keys: SigningKeys,
    consumer: RegisteredConsumer,
    control: AccessControl,
    verifications: list[str],
) -> None:
    token = token_for(settings, keys, consumer)
    principals = {control.authenticate(token, READ) for _ in range(20)}
    assert len(principals) == 1
    assert verifications == [token]
    other = token_for(settings, keys, consumer)
    control.authenticate(other, READ)
    assert verifications == [token, other]


def test_a_recognised_token_still_expires(
    settings: Settings,
    keys: SigningKeys,
    consumer: RegisteredConsumer,
    control: AccessControl,
    clocks: Clocks,
) -> None:
    token = token_for(settings, keys, consumer, minutes=5)
    control.authenticate(token, READ)
    clocks.advance(5 * 60 + LEEWAY_SECONDS - 1)  # within the leeway verification allows
    control.authenticate(token, READ)
    clocks.advance(1)
    with pytest.raises(Unauthenticated, match="expired"):
        control.authenticate(token, READ)


def test_a_recognised_token_stops_when_its_key_is_retired(
    settings: Settings,
    keys: SigningKeys,
    consumer: RegisteredConsumer,
    control: AccessControl,
    clocks: Clocks,
) -> None:
    token = token_for(settings, keys, consumer)
    control.authenticate(token, READ)
    keys.rotate(900, actor="cli:test", retire_now=True)  # the key may have leaked
    clocks.advance(access_module.KEY_REFRESH_SECONDS)  # the keys are read again
    with pytest.raises(Unauthenticated, match="key"):
        control.authenticate(token, READ)


def test_a_recognised_token_stops_when_its_consumer_is_disabled(
    settings: Settings,
    database: Database,
    keys: SigningKeys,
    consumer: RegisteredConsumer,
    control: AccessControl,
) -> None:
    token = token_for(settings, keys, consumer)
    control.authenticate(token, READ)
    disable_consumer(database, consumer.consumer.id, actor="cli:test")
    control.forget_consumer(consumer.consumer.id)  # as the change does in its own worker
    with pytest.raises(Unauthenticated, match="disabled"):
        control.authenticate(token, READ)


def test_an_altered_token_is_verified_and_refused(
    settings: Settings,
    keys: SigningKeys,
    consumer: RegisteredConsumer,
    control: AccessControl,
    verifications: list[str],
) -> None:
    token = token_for(settings, keys, consumer)
    control.authenticate(token, READ)
    header, payload, signature = token.split(".")
    altered = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(Unauthenticated, match="signature"):
        control.authenticate(altered, READ)
    assert verifications == [token, altered]


def test_the_tokens_remembered_are_bounded(
    *,
    settings: Settings,
    keys: SigningKeys,
    consumer: RegisteredConsumer,
    control: AccessControl,
    verifications: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(access_module, "MAX_VERIFIED_TOKENS", 3)
    tokens = [token_for(settings, keys, consumer) for _ in range(5)]
    for token in tokens:
        control.authenticate(token, READ)
    control.authenticate(tokens[0], READ)  # forgotten when the store filled: checked again
    assert verifications == [*tokens, tokens[0]]
