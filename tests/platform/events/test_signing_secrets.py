"""Webhook signing secrets: their form, Standard Webhooks signatures, and sealed storage."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from townhall.platform.db import Database
from townhall.platform.events.signing_secrets import (
    SecretSealer,
    SecretUnsealError,
    new_secret,
    secret_key,
    sign,
)
from townhall.platform.secrets import InstanceSecret
from townhall.settings import Settings


def test_a_new_secret_is_whsec_and_24_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 24
    assert first != second


def test_the_signature_is_the_standard_webhooks_one() -> None:
    secret = new_secret()
    body = b'{"type":"uk.gov.townhall.address.updated","data":{"uprn":"1"}}'
    timestamp = 1_700_000_000
    signature = sign(secret, "msg_1", timestamp, body)
    expected = Webhook(secret).sign(
        "msg_1", datetime.fromtimestamp(timestamp, tz=UTC), body.decode()
    )
    assert signature == expected
    # And by hand, from the spec's words: HMAC-SHA256 over "id.timestamp.body".
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, b"msg_1.1700000000." + body, hashlib.sha256).digest()
    assert signature == "v1," + base64.b64encode(digest).decode()


def test_the_reference_library_verifies_a_signed_message() -> None:
    secret = new_secret()
    body = b'{"id":"e1"}'
    now = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "e1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "e1", now, body),
    }
    assert Webhook(secret).verify(body, headers) == {"id": "e1"}


@pytest.mark.parametrize("bad", ["thsec_AAAA", "whsec_not base64!", "AAAA"])
def test_a_secret_not_in_the_whsec_form_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="webhook secret"):
        secret_key(bad)


def test_a_sealed_secret_opens_only_for_its_subscription(
    settings: Settings, database: Database
) -> None:
    sealer = SecretSealer(database, settings)
    secret = new_secret()
    sealed = sealer.seal(secret, "sub-1")
    assert secret not in sealed
    assert secret.removeprefix("whsec_") not in sealed
    assert sealer.unseal(sealed, "sub-1") == secret
    # Copied to another row, it does not open.
    with pytest.raises(SecretUnsealError, match="sub-2"):
        sealer.unseal(sealed, "sub-2")
    with pytest.raises(SecretUnsealError):
        sealer.unseal("v0.abc.def", "sub-1")
    # The instance secret was made once, in the database, for every worker.
    with database.read() as session:
        names = session.scalars(select(InstanceSecret.name)).all()
    assert "webhook-secret-encryption" in names
    assert SecretSealer(database, settings).unseal(sealed, "sub-1") == secret


def test_the_secret_key_setting_seals_when_set(settings: Settings, database: Database) -> None:
    configured = settings.model_copy(update={"secret_key": SecretStr("k" * 40)})
    sealed = SecretSealer(database, configured).seal("whsec_AAAA", "sub-1")
    assert SecretSealer(database, configured).unseal(sealed, "sub-1") == "whsec_AAAA"
    # Another instance (its own secret in the database) cannot open it.
    with pytest.raises(SecretUnsealError, match="TOWNHALL_SECRET_KEY"):
        SecretSealer(database, settings).unseal(sealed, "sub-1")
