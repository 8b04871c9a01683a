"""The recorder's coroutine waiters: woken together per batch, told of failures, never lost."""

from __future__ import annotations

import asyncio

import pytest

from tests.platform.audit.test_uses import records, use
from townhall.errors import DataUseNotRecorded
from townhall.platform.audit.recorder import UseRecorder
from townhall.platform.db import Database


def test_coroutines_return_once_their_uses_are_committed(database: Database) -> None:
    recorder = UseRecorder(database)
    committed: list[int] = []

    async def reader(n: int) -> None:
        for i in range(10):
            await recorder.record([use(f"{n}-{i}")])
            # Awaiting returned: the use is in the database already.
            committed.append(len([r for r in records(database) if r.resident_id == f"{n}-{i}"]))

    async def readers() -> None:
        await asyncio.gather(*(reader(n) for n in range(16)))

    asyncio.run(readers())
    recorder.close()
    assert committed == [1] * 160
    assert [record.position for record in records(database)] == list(range(1, 161))
    assert recorder.batches < 160  # group commit


def test_a_cancelled_waiter_leaves_the_others_of_its_batch_answered(database: Database) -> None:
    recorder = UseRecorder(database)

    async def scenario() -> list[BaseException | None]:
        waiting = [asyncio.ensure_future(recorder.record([use(f"r{n}")])) for n in range(4)]
        await asyncio.sleep(0)
        waiting[0].cancel()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        return list(results)

    results = asyncio.run(scenario())
    recorder.close()
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == [None, None, None]
    # Cancelling the wait does not take back the use: it is recorded all the same.
    assert {record.resident_id for record in records(database)} == {"r0", "r1", "r2", "r3"}


def test_a_failed_commit_fails_every_waiter_of_the_batch(database: Database) -> None:
    recorder = UseRecorder(database)
    bad = use(email="someone@example.com")  # refused by record_uses: details hold personal data

    async def scenario() -> list[BaseException | None]:
        return list(
            await asyncio.gather(
                recorder.record([bad]), recorder.record([use()]), return_exceptions=True
            )
        )

    results = asyncio.run(scenario())
    recorder.close()
    # Whether the good use shared the bad one's batch or not, no one is told of a use that
    # was not committed, and the bad use is never committed.
    assert isinstance(results[0], DataUseNotRecorded)
    assert results[1] is None or isinstance(results[1], DataUseNotRecorded)
    assert len(records(database)) == (1 if results[1] is None else 0)


def test_a_closed_recorder_refuses_coroutines_too(database: Database) -> None:
    recorder = UseRecorder(database)
    recorder.close()
    with pytest.raises(DataUseNotRecorded):
        asyncio.run(recorder.record([use()]))
