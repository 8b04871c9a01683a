"""Signed checkpoints: the key derived from the secret, signing the head, the copy in the log."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from structlog.testing import capture_logs

from tests.platform.audit.chain_helpers import append, stored
from townhall.platform.audit.checkpoints import (
    Checkpoint,
    PublicKeyError,
    checkpoint_key,
    keep_signing,
    key_id,
    parse_public_key,
    public_key_text,
    sign_checkpoint,
    signature_verifies,
)
from townhall.platform.audit.models import AuditCheckpoint
from townhall.platform.db import Database
from townhall.settings import Settings


def test_the_head_is_signed_once_until_records_are_added(
    database: Database, settings: Settings
) -> None:
    assert sign_checkpoint(database, settings) is None  # an empty chain has nothing to sign
    append(database, 5)

    first = sign_checkpoint(database, settings)

    assert first is not None
    assert (first.position, first.hash) == (5, stored(database, 5)["hash"])
    assert sign_checkpoint(database, settings) is None
    append(database, 2)
    second = sign_checkpoint(database, settings)
    assert second is not None
    assert second.position == 7
    with database.read() as session:
        assert session.scalars(select(AuditCheckpoint.position)).all() == [5, 7]


def test_a_checkpoint_signs_its_position_hash_and_time(
    database: Database, settings: Settings
) -> None:
    append(database, 3)
    checkpoint = sign_checkpoint(database, settings)
    assert checkpoint is not None
    public = checkpoint_key(database, settings).public_key()

    assert checkpoint.key_id == key_id(public)
    assert signature_verifies(checkpoint, public)
    assert not signature_verifies(replace(checkpoint, position=2), public)
    assert not signature_verifies(replace(checkpoint, hash="0" * 64), public)
    assert not signature_verifies(replace(checkpoint, signature="not-base64!"), public)


def test_the_key_comes_from_the_secret_key_when_set(database: Database, settings: Settings) -> None:
    one = settings.model_copy(update={"secret_key": SecretStr("one secret")})
    again = settings.model_copy(update={"secret_key": SecretStr("one secret")})
    other = settings.model_copy(update={"secret_key": SecretStr("another secret")})

    def public(of: Settings) -> str:
        return public_key_text(checkpoint_key(database, of).public_key())

    assert public(one) == public(again)
    assert public(one) != public(other)
    # Without one, from the instance secret in the database: the same for every worker.
    assert public(settings) == public(settings)
    assert public(settings) not in {public(one), public(other)}


def test_a_published_public_key_reads_back(database: Database, settings: Settings) -> None:
    key = checkpoint_key(database, settings).public_key()
    text = public_key_text(key)
    assert len(text) == 43  # 32 bytes, unpadded base64url
    assert key_id(parse_public_key(text)) == key_id(key)


@pytest.mark.parametrize("text", ["", "not base64!", "AAAA"])
def test_anything_else_is_not_a_public_key(text: str) -> None:
    with pytest.raises(PublicKeyError):
        parse_public_key(text)


def test_each_checkpoint_is_logged_for_a_store_outside_the_database(
    database: Database, settings: Settings
) -> None:
    append(database, 4)
    with capture_logs() as logs:
        checkpoint = sign_checkpoint(database, settings)
    assert checkpoint is not None
    [logged] = [entry for entry in logs if entry["event"] == "audit.checkpoint"]
    assert (logged["position"], logged["hash"]) == (4, checkpoint.hash)
    assert (logged["key_id"], logged["signature"]) == (checkpoint.key_id, checkpoint.signature)


def test_a_served_instance_keeps_signing(database: Database, settings: Settings) -> None:
    append(database, 3)

    async def until_signed() -> Checkpoint | None:
        task = asyncio.create_task(keep_signing(database, settings, interval=0.01))
        try:
            for _ in range(500):
                await asyncio.sleep(0.01)
                with database.read() as session:
                    if session.scalar(select(AuditCheckpoint.position)) is not None:
                        break
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with database.read() as session:
            row = session.execute(select(AuditCheckpoint.__table__)).first()
        return None if row is None else Checkpoint(**row._mapping)

    signed = asyncio.run(until_signed())
    assert signed is not None
    assert signed.position == 3


def test_a_failed_signing_round_is_logged_not_fatal(settings: Settings) -> None:
    broken = Database("sqlite:///file:nowhere?mode=ro&uri=true")

    async def two_rounds() -> None:
        task = asyncio.create_task(keep_signing(broken, settings, interval=0.01))
        await asyncio.sleep(0.2)
        assert not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with capture_logs() as logs:
        asyncio.run(two_rounds())
    broken.dispose()
    assert any(entry["event"] == "audit.checkpoint_failed" for entry in logs)
