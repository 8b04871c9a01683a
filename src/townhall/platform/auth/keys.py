"""Signing keys for access tokens: made, kept encrypted, rotated, published and retired.

This module owns the ``auth_signing_keys`` table and nothing about tokens themselves. Keys are
ES256 (ECDSA on P-256; docs/adr/0013-es256-access-tokens.md says why, with measurements). A
private key is stored encrypted with AES-256-GCM under a key derived (HKDF-SHA256) from
``TOWNHALL_SECRET_KEY``, or from the instance secret in ``platform_secrets`` where none is set,
so a copy of the table alone signs nothing. The key's id is bound into the encryption as
associated data: a ciphertext moved to another row does not decrypt.

A key's life: **active** (signs new tokens; the newest activated key is the one used),
**retiring** (a newer key signs; this one still verifies and is still published until
``retire_after``), **retired** (neither). Rotation makes a new active key and sets the old one's
``retire_after`` to when the longest-lived token it can have signed expires: each key records the
longest token lifetime it has signed with (``longest_ttl_seconds``), so the bound holds even if
``TOWNHALL_TOKEN_TTL_SECONDS`` was lowered since. The first key is made when first needed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import JSON, DateTime, Integer, String, Text, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from townhall.platform.auth.changes import record_change
from townhall.platform.db import Base, Database, aware
from townhall.platform.sealing import SealDoesNotOpen, Sealer, UnknownSealedForm, b64url
from townhall.platform.secrets import instance_secret
from townhall.settings import Settings

ALGORITHM = "ES256"
# Past a key's last token expiry: clock skew between workers and the leeway verifiers allow.
RETIREMENT_MARGIN = timedelta(seconds=60)
_ENCRYPTION_INFO = b"townhall auth_signing_keys v1"


class SigningKeyRow(Base):
    """One signing key pair: the public half as a JWK, the private half encrypted."""

    __tablename__ = "auth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    # Set when a newer key takes over: the moment no token this key signed is still valid.
    retire_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    longest_ttl_seconds: Mapped[int] = mapped_column(Integer)


class KeyState(StrEnum):
    """Where a key is in its life."""

    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"


@dataclass(frozen=True)
class KeyInfo:
    """What an operator sees of a key (never its private half)."""

    kid: str
    algorithm: str
    created_at: datetime
    activated_at: datetime
    retire_after: datetime | None
    retired_at: datetime | None
    longest_ttl_seconds: int
    state: KeyState


@dataclass(frozen=True)
class SigningKey:
    """The private key that signs new tokens, with its id."""

    kid: str
    algorithm: str
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class VerificationKey:
    """A public key tokens may be verified with, and until when."""

    kid: str
    algorithm: str
    public_key: ec.EllipticCurvePublicKey
    retire_after: datetime | None


class KeyEncryption:
    """AES-256-GCM under a key derived from the instance's secret; the kid is associated data."""

    def __init__(self, secret: bytes) -> None:
        self._sealer = Sealer(secret, info=_ENCRYPTION_INFO)

    def encrypt(self, kid: str, plaintext: bytes) -> str:
        """``v1.<nonce>.<ciphertext>``, base64url, bound to ``kid``."""
        return self._sealer.seal(plaintext, bound_to=kid)

    def decrypt(self, kid: str, stored: str) -> bytes:
        """The plaintext sealed by ``encrypt`` for ``kid``; ``KeyDecryptionError`` otherwise."""
        try:
            return self._sealer.unseal(stored, bound_to=kid)
        except UnknownSealedForm as exc:
            msg = f"signing key {kid} is stored in a form this version cannot read"
            raise KeyDecryptionError(msg) from exc
        except SealDoesNotOpen as exc:
            msg = (
                f"signing key {kid} cannot be decrypted: TOWNHALL_SECRET_KEY is not the one it "
                "was stored with. Restore that key, or run `townhall keys rotate --retire-now`."
            )
            raise KeyDecryptionError(msg) from exc


class KeyDecryptionError(RuntimeError):
    """A stored private key could not be decrypted with this instance's secret."""


def public_jwk(public_key: ec.EllipticCurvePublicKey, kid: str) -> dict[str, Any]:
    """The JWK (RFC 7517) of ``public_key`` as the JWKS endpoint publishes it."""
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(public_key, as_dict=True)
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): a key id no two keys share."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def instance_signing_keys(settings: Settings, database: Database) -> SigningKeys:
    """The signing keys of the instance ``settings`` describe, encrypted under its secret."""
    secret = settings.secret_key

    def encryption_secret() -> bytes:
        if secret is not None:
            return secret.get_secret_value().encode()
        return instance_secret(database, "signing-key-encryption")

    return SigningKeys(database, encryption_secret)


class SigningKeys:
    """The instance's signing keys: the one to sign with, the ones to verify with, rotation.

    One per app. It remembers decrypted private keys and the token lifetimes it has recorded,
    so issuing a token reads one row and writes nothing in the common case.
    """

    def __init__(
        self,
        database: Database,
        encryption_secret: Callable[[], bytes],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._database = database
        self._encryption_secret = encryption_secret
        self._encryption: KeyEncryption | None = None
        self._clock = clock
        self._private_keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._recorded_ttls: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def _encryptor(self) -> KeyEncryption:
        # Derived on first use: the instance secret may live in a database not yet migrated.
        if self._encryption is None:
            self._encryption = KeyEncryption(self._encryption_secret())
        return self._encryption

    def signing_key(self, ttl_seconds: int) -> SigningKey:
        """The active key, to sign a token valid for ``ttl_seconds``; made if there is none."""
        with self._database.read() as session:
            row = session.scalars(_active_keys().limit(1)).first()
            found = None if row is None else (row.kid, row.private_key_encrypted, row.algorithm)
            longest = None if row is None else row.longest_ttl_seconds
        if found is None:
            return self._first_key(ttl_seconds)
        kid, encrypted, algorithm = found
        if longest is not None and ttl_seconds > longest:
            self._record_ttl(kid, ttl_seconds)
        return SigningKey(kid=kid, algorithm=algorithm, private_key=self._private(kid, encrypted))

    def _first_key(self, ttl_seconds: int) -> SigningKey:
        # Before the write: the instance secret may itself need a write unit of work.
        encryption = self._encryptor()
        with self._database.write() as session:
            # Another worker may have made it while this one waited for the write lock.
            row = session.scalars(_active_keys().limit(1)).first()
            if row is None:
                row = self._new_key(session, encryption, ttl_seconds)
            kid, encrypted, algorithm = row.kid, row.private_key_encrypted, row.algorithm
        return SigningKey(kid=kid, algorithm=algorithm, private_key=self._private(kid, encrypted))

    def _record_ttl(self, kid: str, ttl_seconds: int) -> None:
        # Only ever raised, so that rotation knows how long this key's tokens can outlive it.
        if (kid, ttl_seconds) in self._recorded_ttls:
            return
        with self._database.write() as session:
            row = session.get(SigningKeyRow, kid)
            if row is not None and row.longest_ttl_seconds < ttl_seconds:
                row.longest_ttl_seconds = ttl_seconds
        self._recorded_ttls.add((kid, ttl_seconds))

    def _private(self, kid: str, encrypted: str) -> ec.EllipticCurvePrivateKey:
        with self._lock:
            cached = self._private_keys.get(kid)
        if cached is not None:
            return cached
        pem = self._encryptor().decrypt(kid, encrypted)
        loaded = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):  # pragma: no cover - we wrote it
            msg = f"signing key {kid} is not an elliptic-curve key"
            raise KeyDecryptionError(msg)
        with self._lock:
            self._private_keys[kid] = loaded
        return loaded

    def _new_key(
        self, session: Session, encryption: KeyEncryption, ttl_seconds: int
    ) -> SigningKeyRow:
        private_key = ec.generate_private_key(ec.SECP256R1())
        jwk = public_jwk(private_key.public_key(), kid="")
        kid = thumbprint(jwk)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        now = self._clock()
        row = SigningKeyRow(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk={**jwk, "kid": kid},
            private_key_encrypted=encryption.encrypt(kid, pem),
            created_at=now,
            activated_at=now,
            retire_after=None,
            retired_at=None,
            longest_ttl_seconds=ttl_seconds,
        )
        session.add(row)
        session.flush()
        return row

    def rotate(
        self, ttl_seconds: int, *, actor: str, retire_now: bool = False
    ) -> tuple[KeyInfo, list[KeyInfo]]:
        """Make a new active key; the old ones retire once their last tokens have expired.

        ``retire_now`` retires them at once, for a key that may have leaked: every token they
        signed stops working. The change log records who rotated. Returns the new key and the
        keys it replaced.
        """
        now = self._clock()
        encryption = self._encryptor()
        with self._database.write() as session:
            replaced = list(session.scalars(_active_keys()))
            for old in replaced:
                if retire_now:
                    old.retire_after = now
                    old.retired_at = now
                else:
                    old.retire_after = (
                        now + timedelta(seconds=old.longest_ttl_seconds) + (RETIREMENT_MARGIN)
                    )
            new = self._new_key(session, encryption, ttl_seconds)
            record_change(
                session,
                actor=actor,
                action="signing_key.rotated",
                target_type="signing_key",
                target_id=new.kid,
                details={"replaced": [old.kid for old in replaced], "retire_now": retire_now},
            )
            session.flush()
            return _info(new, now), [_info(old, now) for old in replaced]

    def retire_due(self) -> list[KeyInfo]:
        """Mark retired every key whose ``retire_after`` has passed; returns those keys."""
        now = self._clock()
        with self._database.write() as session:
            due = list(
                session.scalars(
                    select(SigningKeyRow).where(
                        SigningKeyRow.retired_at.is_(None),
                        SigningKeyRow.retire_after.is_not(None),
                        SigningKeyRow.retire_after <= now,
                    )
                )
            )
            for row in due:
                row.retired_at = now
            return [_info(row, now) for row in due]

    def list_keys(self) -> list[KeyInfo]:
        """Every key, newest first."""
        now = self._clock()
        with self._database.read() as session:
            rows = session.scalars(
                select(SigningKeyRow).order_by(
                    SigningKeyRow.activated_at.desc(), SigningKeyRow.kid.desc()
                )
            )
            return [_info(row, now) for row in rows]

    def verification_keys(self) -> list[VerificationKey]:
        """Every key tokens may still be verified with: active and retiring ones."""
        now = self._clock()
        with self._database.read() as session:
            rows = list(session.scalars(_usable_keys(now)))
            found = [(row.kid, row.algorithm, row.public_jwk, row.retire_after) for row in rows]
        keys = []
        for kid, algorithm, jwk, retire_after in found:
            public_key = ECAlgorithm.from_jwk(json.dumps(jwk))
            assert isinstance(public_key, ec.EllipticCurvePublicKey)
            keys.append(
                VerificationKey(
                    kid=kid,
                    algorithm=algorithm,
                    public_key=public_key,
                    retire_after=None if retire_after is None else aware(retire_after),
                )
            )
        return keys

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set (RFC 7517) of the keys tokens may be verified with."""
        now = self._clock()
        with self._database.read() as session:
            rows = list(session.scalars(_usable_keys(now)))
            return {"keys": [dict(row.public_jwk) for row in rows]}


def _active_keys() -> Any:
    """Keys that sign: newest first, so the first is the one to use."""
    return (
        select(SigningKeyRow)
        .where(SigningKeyRow.retire_after.is_(None), SigningKeyRow.retired_at.is_(None))
        .order_by(SigningKeyRow.activated_at.desc(), SigningKeyRow.kid.desc())
    )


def _usable_keys(now: datetime) -> Any:
    return (
        select(SigningKeyRow)
        .where(
            SigningKeyRow.retired_at.is_(None),
            or_(SigningKeyRow.retire_after.is_(None), SigningKeyRow.retire_after > now),
        )
        .order_by(SigningKeyRow.activated_at.desc(), SigningKeyRow.kid.desc())
    )


def _info(row: SigningKeyRow, now: datetime) -> KeyInfo:
    retire_after = None if row.retire_after is None else aware(row.retire_after)
    retired_at = None if row.retired_at is None else aware(row.retired_at)
    if retired_at is not None or (retire_after is not None and retire_after <= now):
        state = KeyState.RETIRED
    elif retire_after is not None:
        state = KeyState.RETIRING
    else:
        state = KeyState.ACTIVE
    return KeyInfo(
        kid=row.kid,
        algorithm=row.algorithm,
        created_at=aware(row.created_at),
        activated_at=aware(row.activated_at),
        retire_after=retire_after,
        retired_at=retired_at,
        longest_ttl_seconds=row.longest_ttl_seconds,
        state=state,
    )
