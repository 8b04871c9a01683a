"""Keyed hashes for sign-in: one-time codes, email addresses counted for throttling, CSRF tokens.

This module owns the key those hashes are made with and the hashing itself; it stores nothing.
The key comes from ``TOWNHALL_SECRET_KEY`` when it is set, otherwise from the instance key kept in
the database (``platform_secrets``), so every worker of an instance computes the same hashes.
Session and challenge tokens are 256 random bits, so a plain SHA-256 of them is enough to look
them up without keeping them; a six-digit code or an email address is not, so those are keyed.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from townhall.platform.db import Database
from townhall.platform.secrets import instance_secret
from townhall.settings import Settings

_INSTANCE_KEY_NAME = "sign-in"


def token_digest(token: str) -> str:
    """The SHA-256 of a random token, in hex: how a session or challenge is found and stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SignInKeys:
    """HMAC-SHA256 under the instance's sign-in key, read once on first use."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _secret(self) -> bytes:
        if self._key is None:
            with self._lock:
                if self._key is None:
                    configured = self._settings.secret_key
                    if configured is not None:
                        # A key of its own, so a sign-in hash can never stand in for a cursor.
                        self._key = hmac.new(
                            configured.get_secret_value().encode("utf-8"),
                            b"townhall sign-in",
                            hashlib.sha256,
                        ).digest()
                    else:
                        self._key = instance_secret(self._database, _INSTANCE_KEY_NAME)
        return self._key

    def mac(self, purpose: str, value: str) -> str:
        """A keyed hash of ``value`` for one ``purpose`` (hashes for two purposes never match)."""
        message = f"{purpose}\x00{value}".encode()
        return hmac.new(self._secret(), message, hashlib.sha256).hexdigest()

    def matches(self, purpose: str, value: str, expected: str) -> bool:
        """Whether ``value`` hashes to ``expected``, compared in constant time."""
        return hmac.compare_digest(self.mac(purpose, value), expected)
