"""Staff passwords: what a password must be, and its argon2id hash.

This module owns the password rules and the hashing parameters; it touches no table. The
parameters are RFC 9106's second recommended option (argon2id, 3 passes over 64 MiB, 4 lanes):
people choose passwords, and a costly hash is what keeps a guessable one safe in a stolen copy of
the database. Hashes made with older parameters are upgraded at the next successful sign-in.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

# NCSC and NIST SP 800-63B: length matters, composition rules do not. Long passphrases welcome;
# the upper bound only keeps one request from costing the server too much.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


@cache
def _unguessable_hash() -> str:
    # Made on first use rather than at import: hashing takes tens of milliseconds.
    return _hasher().hash("no account has this password: it is only here to be compared with")


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or None when it may."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be {MIN_PASSWORD_LENGTH} characters or more"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Password must be {MAX_PASSWORD_LENGTH} characters or fewer"
    if not password.strip():
        return "Password must not be only spaces"
    return None


def hash_password(password: str) -> str:
    """The argon2id hash to store for ``password``."""
    return _hasher().hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False  # no stored password is this long
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def spend_verification_time(password: str) -> None:
    """Check ``password`` against a hash no account has, so that an unknown email address takes
    as long to answer as a known one and the timing does not tell which addresses have accounts.
    """
    password_matches(_unguessable_hash(), password)
