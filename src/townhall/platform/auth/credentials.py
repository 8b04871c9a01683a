"""Client credentials: identifiers, secrets shown once, and their argon2 hashes.

This module owns how identifiers and secrets are made and checked; it touches no table.
A secret is 256 random bits behind a fixed prefix (``thsec_``), so secret scanners (GitHub's,
gitleaks, trufflehog) can be taught to find one that leaked into a repository or a log.
Only its argon2id hash is kept: a copy of the database gives nobody a usable secret.
"""

from __future__ import annotations

import re
import secrets
import string
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

SECRET_PREFIX = "thsec_"  # noqa: S105 (a prefix, not a secret)
CLIENT_ID_PREFIX = "thcid_"
_CLIENT_ID_SHAPE = re.compile(re.escape(CLIENT_ID_PREFIX) + "[0-9a-f]{24}")
_ALPHABET = string.ascii_letters + string.digits
# 43 characters of 62 give 256 bits: far beyond guessing, whatever the hash's cost.
_SECRET_LENGTH = 43


@cache
def _hasher() -> PasswordHasher:
    # OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane). The secrets are random, not chosen by
    # people, so a costlier hash would add no safety, only latency to every token request.
    return PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


@cache
def _dummy_hash() -> str:
    # Made on first use rather than at import: hashing takes tens of milliseconds.
    return _hasher().hash(new_secret())


def new_id(prefix: str) -> str:
    """An opaque identifier such as ``con_3f9a0c1d2b4e5f60``: 64 random bits after a prefix."""
    return f"{prefix}_{secrets.token_hex(8)}"


def looks_like_client_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id ``new_client_id`` gives out."""
    return _CLIENT_ID_SHAPE.fullmatch(text) is not None


def new_client_id() -> str:
    """A client id: public, but unguessable, so a client id alone reveals no consumer."""
    return CLIENT_ID_PREFIX + secrets.token_hex(12)


def new_secret() -> str:
    """A fresh client secret, to be shown once and then kept only as its hash."""
    return SECRET_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))


def hash_secret(secret: str) -> str:
    """The argon2id hash to store for ``secret``."""
    return _hasher().hash(secret)


def secret_matches(secret_hash: str, secret: str) -> bool:
    """Whether ``secret`` is the one ``secret_hash`` was made from."""
    try:
        return _hasher().verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def spend_verification_time(secret: str) -> None:
    """Check ``secret`` against a hash nobody holds the secret of.

    Called when there is nothing real to check it against (an unknown client id), so that the
    answer takes as long as a real check and its timing does not reveal which client ids exist.
    """
    secret_matches(_dummy_hash(), secret)
