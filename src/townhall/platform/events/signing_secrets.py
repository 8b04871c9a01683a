"""Webhook signing secrets: made, signed with, and kept sealed in the subscriptions table.

This module owns the Standard Webhooks (https://www.standardwebhooks.com) secret format and
signature, and how a secret is stored. A secret is ``whsec_`` + base64 of 24 random bytes; the
signature of a message is ``v1,`` + base64 of HMAC-SHA256 over ``{id}.{timestamp}.{body}`` keyed
with those bytes. The dispatcher must sign every delivery, so the secret is stored sealed (not
hashed): AES-256-GCM under a key derived from the instance secret, bound to the subscription's
id (docs/adr/0023-webhook-secrets-and-targets.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable

from townhall.platform.db import Database
from townhall.platform.sealing import Sealer, UnsealError
from townhall.platform.secrets import instance_secret
from townhall.settings import Settings

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 24
SIGNATURE_VERSION = "v1"
# HKDF label: the key that seals webhook secrets opens nothing else the instance seals.
_SEALING_INFO = b"townhall event_subscriptions.secret v1"
_INSTANCE_SECRET_NAME = "webhook-secret-encryption"  # noqa: S105 (a name)


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks form: ``whsec_`` + base64(24 bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_`` secret stands for; ``ValueError`` if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        msg = f"a webhook secret starts with {SECRET_PREFIX!r}"
        raise ValueError(msg)
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        msg = "a webhook secret is base64 after its prefix"
        raise ValueError(msg) from exc


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of one message: ``v1,<base64 HMAC-SHA256>``.

    ``timestamp`` is the ``webhook-timestamp`` header's value, whole seconds since the epoch.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


class SecretUnsealError(RuntimeError):
    """A stored webhook secret could not be opened with this instance's secret."""


class SecretSealer:
    """Seals webhook secrets for ``event_subscriptions.secret_sealed`` and opens them again.

    The key comes from ``TOWNHALL_SECRET_KEY`` when set, else from the instance secret kept in
    the database, and is derived on first use (the database may not be migrated before then).
    """

    def __init__(self, database: Database, settings: Settings) -> None:
        configured = settings.secret_key

        def instance_key() -> bytes:
            if configured is not None:
                return configured.get_secret_value().encode()
            return instance_secret(database, _INSTANCE_SECRET_NAME)

        self._instance_key: Callable[[], bytes] = instance_key
        self._sealer: Sealer | None = None

    def _get_sealer(self) -> Sealer:
        if self._sealer is None:
            self._sealer = Sealer(self._instance_key(), info=_SEALING_INFO)
        return self._sealer

    def seal(self, secret: str, subscription_id: str) -> str:
        """``secret`` sealed so that only this instance, for this subscription, opens it."""
        return self._get_sealer().seal(secret.encode("ascii"), bound_to=subscription_id)

    def unseal(self, sealed: str, subscription_id: str) -> str:
        """The secret ``seal`` sealed for ``subscription_id``; ``SecretUnsealError`` otherwise."""
        try:
            return self._get_sealer().unseal(sealed, bound_to=subscription_id).decode("ascii")
        except UnsealError as exc:
            msg = (
                f"the signing secret of subscription {subscription_id} cannot be opened: it was "
                "sealed under another TOWNHALL_SECRET_KEY or for another subscription. Restore "
                "the key, or rotate the subscription's secret."
            )
            raise SecretUnsealError(msg) from exc
