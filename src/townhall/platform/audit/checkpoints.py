"""Signed checkpoints of the audit chain: the instance's Ed25519 key, signing, and checking.

This module owns ``audit_checkpoints``' rows and the key that signs them. A checkpoint is a
signed statement "the chain up to ``position`` ends in ``hash``, as of ``created_at``": a DBA who
rewrites a record and recomputes every later hash still cannot make the signed hash match. The
key is never stored: its 32-byte seed is derived with HKDF-SHA256 from ``TOWNHALL_SECRET_KEY``
(or, where none is set, the instance secret ``audit-checkpoints``), so anyone holding the secret
gets the same key and a copy of the database alone signs nothing (ADR 27).

Each checkpoint is also logged, so a log store outside the database keeps a copy of it.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from townhall.platform.audit.chain import canonical_time
from townhall.platform.audit.models import AuditCheckpoint, AuditRecord
from townhall.platform.db import Database, aware, order_commits
from townhall.platform.logging import get_logger
from townhall.platform.sealing import b64url, unb64url
from townhall.platform.secrets import instance_secret
from townhall.settings import Settings

_KEY_INFO = b"townhall audit checkpoints v1"
_INSTANCE_SECRET_NAME = "audit-checkpoints"  # noqa: S105 (a name)
# Characters of the public key's SHA-256 (base64url) that name it: 96 bits, plenty to tell a
# handful of keys apart, short enough to read out.
_KEY_ID_LENGTH = 16

log = get_logger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    """A signed head of the chain, as stored."""

    position: int
    hash: str
    created_at: datetime
    key_id: str
    signature: str


class PublicKeyError(ValueError):
    """Text that is not an Ed25519 public key in base64url."""


def checkpoint_key(database: Database, settings: Settings) -> Ed25519PrivateKey:
    """The instance's checkpoint signing key, derived from its secret (never stored)."""
    configured = settings.secret_key
    secret = (
        configured.get_secret_value().encode()
        if configured is not None
        else instance_secret(database, _INSTANCE_SECRET_NAME)
    )
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(secret)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64url, as the council publishes it."""
    return b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def parse_public_key(text: str) -> Ed25519PublicKey:
    """The key ``public_key_text`` wrote; a ``PublicKeyError`` for anything else."""
    try:
        raw = unb64url(text.strip())
    except (binascii.Error, ValueError) as exc:
        msg = f"{text!r} is not base64url"
        raise PublicKeyError(msg) from exc
    if len(raw) != 32:  # the size of an Ed25519 public key
        msg = f"{text!r} is not an Ed25519 public key (32 bytes in base64url)"
        raise PublicKeyError(msg)
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short thumbprint of ``key``: the start of its SHA-256, base64url."""
    digest = hashlib.sha256(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).digest()
    return b64url(digest)[:_KEY_ID_LENGTH]


def signed_payload(position: int, chain_hash: str, created_at: datetime) -> bytes:
    """The canonical JSON a checkpoint's signature covers."""
    payload = {"created_at": canonical_time(created_at), "hash": chain_hash, "position": position}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def signature_verifies(checkpoint: Checkpoint, key: Ed25519PublicKey) -> bool:
    """Whether ``key`` signed exactly this checkpoint's position, hash and time."""
    try:
        key.verify(
            unb64url(checkpoint.signature),
            signed_payload(checkpoint.position, checkpoint.hash, aware(checkpoint.created_at)),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def sign_checkpoint(
    database: Database, settings: Settings, *, key: Ed25519PrivateKey | None = None
) -> Checkpoint | None:
    """Sign the chain's head if records were added since the last checkpoint; else ``None``."""
    # Derived before the write unit: the first derivation may write the instance secret.
    signing_key = key or checkpoint_key(database, settings)
    with database.write() as session:
        # Under the commit-order lock the head cannot move while it is read and signed.
        order_commits(session)
        head = session.execute(
            select(AuditRecord.position, AuditRecord.hash)
            .order_by(AuditRecord.position.desc())
            .limit(1)
        ).first()
        signed_to = session.scalar(select(func.max(AuditCheckpoint.position)))
        if head is None or (signed_to is not None and signed_to >= head[0]):
            return None
        created_at = datetime.now(UTC)
        position, chain_hash = int(head[0]), str(head[1])
        signature = signing_key.sign(signed_payload(position, chain_hash, created_at))
        checkpoint = Checkpoint(
            position=position,
            hash=chain_hash,
            created_at=created_at,
            key_id=key_id(signing_key.public_key()),
            signature=b64url(signature),
        )
        session.add(AuditCheckpoint(**vars(checkpoint)))
    # A copy for the log store: a checkpoint deleted from the database is still on record there.
    log.info(
        "audit.checkpoint",
        position=checkpoint.position,
        hash=checkpoint.hash,
        created_at=canonical_time(checkpoint.created_at),
        key_id=checkpoint.key_id,
        signature=checkpoint.signature,
    )
    return checkpoint


async def keep_signing(database: Database, settings: Settings, *, interval: float) -> None:
    """Sign a checkpoint every ``interval`` seconds until cancelled; failures are logged."""
    key: Ed25519PrivateKey | None = None
    while True:
        await asyncio.sleep(interval)
        try:
            if key is None:
                key = await run_in_threadpool(checkpoint_key, database, settings)
            await run_in_threadpool(sign_checkpoint, database, settings, key=key)
        except Exception as exc:  # a locked or unreachable database must not stop serving
            log.warning("audit.checkpoint_failed", error=type(exc).__name__)
