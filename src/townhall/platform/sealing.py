"""Sealing small secrets for storage: AES-256-GCM under a key derived from an instance secret.

This module owns the sealed form shared by every table that must keep a secret it can read back
(signing keys' private halves, webhook signing secrets): ``v1.<nonce>.<ciphertext>``, base64url,
with the key derived by HKDF-SHA256 from the instance's secret and a per-use ``info`` label (so
one use's key opens nothing of another's). The id of the row a secret belongs to is bound in as
associated data: a sealed value copied to another row does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


class UnsealError(ValueError):
    """A sealed value could not be opened."""


class UnknownSealedForm(UnsealError):
    """The value is not in a sealed form this version reads."""


class SealDoesNotOpen(UnsealError):
    """The value was sealed under another secret, or for another row, or was altered."""


class Sealer:
    """Seals and opens values under a key derived from ``secret`` for the use named by ``info``."""

    def __init__(self, secret: bytes, *, info: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
        self._aead = AESGCM(derived)

    def seal(self, plaintext: bytes, *, bound_to: str) -> str:
        """``v1.<nonce>.<ciphertext>``, base64url, opening only for ``bound_to``."""
        # A random 96-bit nonce per seal: far below the 2^32 seals under one key where
        # collisions would start to matter.
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, bound_to.encode())
        return ".".join((_VERSION, b64url(nonce), b64url(sealed)))

    def unseal(self, stored: str, *, bound_to: str) -> bytes:
        """The plaintext ``seal`` sealed for ``bound_to``; an ``UnsealError`` otherwise."""
        version, _, rest = stored.partition(".")
        nonce_text, _, sealed_text = rest.partition(".")
        if version != _VERSION or not sealed_text:
            raise UnknownSealedForm(stored[:8])
        try:
            nonce, sealed = unb64url(nonce_text), unb64url(sealed_text)
            return self._aead.decrypt(nonce, sealed, bound_to.encode())
        except (InvalidTag, ValueError) as exc:
            raise SealDoesNotOpen(bound_to) from exc


def b64url(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of unpadded base64url ``text``."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
