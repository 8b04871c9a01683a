"""Signing keys: made on first need, encrypted at rest, rotated, retired after their last token."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr
from sqlalchemy import select, update

from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.keys import (
    ALGORITHM,
    RETIREMENT_MARGIN,
    KeyDecryptionError,
    KeyEncryption,
    KeyState,
    SigningKeyRow,
    SigningKeys,
    instance_signing_keys,
    public_jwk,
    thumbprint,
)
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest
from townhall.settings import Settings

SECRET = b"a test instance's secret key, long enough"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(database: Database, clock: Clock) -> SigningKeys:
    return SigningKeys(database, lambda: SECRET, clock=clock)


def test_the_first_key_is_made_when_first_needed(keys: SigningKeys) -> None:
    assert keys.list_keys() == []
    assert keys.jwks() == {"keys": []}

    first = keys.signing_key(900)
    again = keys.signing_key(900)

    assert again.kid == first.kid
    assert first.algorithm == ALGORITHM == "ES256"
    [info] = keys.list_keys()
    assert (info.kid, info.state) == (first.kid, KeyState.ACTIVE)
    [published] = keys.jwks()["keys"]
    assert published["kid"] == first.kid
    assert {published["kty"], published["crv"], published["alg"], published["use"]} == {
        "EC",
        "P-256",
        "ES256",
        "sig",
    }
    assert "d" not in published  # the private part is never published


def test_the_key_id_is_the_rfc_7638_thumbprint_of_the_public_key(keys: SigningKeys) -> None:
    key = keys.signing_key(900)
    [published] = keys.jwks()["keys"]
    assert thumbprint(published) == key.kid
    assert thumbprint(public_jwk(key.private_key.public_key(), kid="other")) == key.kid


def test_the_private_key_is_stored_encrypted_and_bound_to_its_id(
    keys: SigningKeys, database: Database
) -> None:
    key = keys.signing_key(900)
    with database.read() as session:
        stored = session.scalars(select(SigningKeyRow.private_key_encrypted)).one()
    assert "PRIVATE KEY" not in stored
    assert stored.startswith("v1.")

    encryption = KeyEncryption(SECRET)
    assert b"BEGIN PRIVATE KEY" in encryption.decrypt(key.kid, stored)
    with pytest.raises(KeyDecryptionError, match="cannot be decrypted"):
        encryption.decrypt("another-kid", stored)
    with pytest.raises(KeyDecryptionError, match="TOWNHALL_SECRET_KEY"):
        KeyEncryption(b"some other secret").decrypt(key.kid, stored)
    with pytest.raises(KeyDecryptionError, match="cannot read"):
        encryption.decrypt(key.kid, "v0.abc.def")


def test_an_instance_with_another_secret_cannot_sign(keys: SigningKeys, database: Database) -> None:
    keys.signing_key(900)
    stranger = SigningKeys(database, lambda: b"not the secret the key was stored with")
    with pytest.raises(KeyDecryptionError, match="keys rotate --retire-now"):
        stranger.signing_key(900)


def test_the_instance_keys_use_the_secret_key_setting_when_set(
    settings: Settings, database: Database
) -> None:
    with_secret = settings.model_copy(update={"secret_key": SecretStr("s3cret-for-signing-keys")})
    signed = instance_signing_keys(with_secret, database).signing_key(900)
    with database.read() as session:
        stored = session.scalars(select(SigningKeyRow.private_key_encrypted)).one()
    assert KeyEncryption(b"s3cret-for-signing-keys").decrypt(signed.kid, stored)
    # Without the setting, the instance secret in the database is used instead: other key.
    with pytest.raises(KeyDecryptionError):
        instance_signing_keys(settings, database).signing_key(900)


def test_rotation_signs_with_the_new_key_and_keeps_the_old_one_until_its_tokens_expire(
    keys: SigningKeys, clock: Clock
) -> None:
    old = keys.signing_key(900)
    clock.advance(hours=1)

    new, [replaced] = keys.rotate(900, actor="cli:test")

    assert replaced.kid == old.kid
    assert replaced.state is KeyState.RETIRING
    assert replaced.retire_after == clock.now + timedelta(seconds=900) + RETIREMENT_MARGIN
    assert new.state is KeyState.ACTIVE
    assert keys.signing_key(900).kid == new.kid
    assert [k["kid"] for k in keys.jwks()["keys"]] == [new.kid, old.kid]
    assert {k.kid for k in keys.verification_keys()} == {new.kid, old.kid}

    clock.advance(seconds=900 + RETIREMENT_MARGIN.total_seconds())

    assert [k["kid"] for k in keys.jwks()["keys"]] == [new.kid]
    assert [k.kid for k in keys.verification_keys()] == [new.kid]
    assert {k.kid: k.state for k in keys.list_keys()}[old.kid] is KeyState.RETIRED
    [retired] = keys.retire_due()
    assert (retired.kid, retired.retired_at) == (old.kid, clock.now)
    assert keys.retire_due() == []


def test_a_key_retires_after_the_longest_lived_token_it_signed(
    keys: SigningKeys, clock: Clock
) -> None:
    # Tokens were once issued for a day; the TTL was lowered since. The key must outlive them.
    old = keys.signing_key(900)
    keys.signing_key(86_400)
    keys.signing_key(600)

    _new, [replaced] = keys.rotate(600, actor="cli:test")

    assert replaced.kid == old.kid
    assert replaced.longest_ttl_seconds == 86_400
    assert replaced.retire_after == clock.now + timedelta(days=1) + RETIREMENT_MARGIN


def test_retire_now_stops_the_old_key_at_once(keys: SigningKeys) -> None:
    old = keys.signing_key(900)

    new, [replaced] = keys.rotate(900, actor="cli:test", retire_now=True)

    assert replaced.state is KeyState.RETIRED
    assert [k["kid"] for k in keys.jwks()["keys"]] == [new.kid]
    assert old.kid not in {k.kid for k in keys.verification_keys()}


def test_rotation_is_in_the_change_log(keys: SigningKeys, database: Database) -> None:
    old = keys.signing_key(900)
    new, _ = keys.rotate(900, actor="cli:alice")

    [change] = list_changes(database, PageRequest(limit=10), target_type="signing_key").items
    assert (change.actor, change.action, change.target_id) == (
        "cli:alice",
        "signing_key.rotated",
        new.kid,
    )
    assert change.details == {"replaced": [old.kid], "retire_now": False}


def test_the_published_key_verifies_what_the_private_key_signs(keys: SigningKeys) -> None:
    key = keys.signing_key(900)
    token = jwt.encode({"sub": "x"}, key.private_key, algorithm="ES256")
    [published] = keys.jwks()["keys"]
    public = jwt.PyJWK.from_json(json.dumps(published)).key
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert jwt.decode(token, public, algorithms=["ES256"]) == {"sub": "x"}
    [verification] = keys.verification_keys()
    assert jwt.decode(token, verification.public_key, algorithms=["ES256"]) == {"sub": "x"}


def test_two_first_needs_at_once_agree_on_one_key(
    keys: SigningKeys, database: Database, clock: Clock
) -> None:
    other_worker = SigningKeys(database, lambda: SECRET, clock=clock)
    assert keys.signing_key(900).kid == other_worker.signing_key(900).kid
    assert len(keys.list_keys()) == 1


def test_a_key_whose_retirement_was_brought_forward_stops_verifying(
    keys: SigningKeys, database: Database, clock: Clock
) -> None:
    old = keys.signing_key(900)
    keys.rotate(900, actor="cli:test")
    with database.write() as session:
        session.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.kid == old.kid)
            .values(retire_after=clock.now - timedelta(seconds=1))
        )
    assert old.kid not in {k.kid for k in keys.verification_keys()}
