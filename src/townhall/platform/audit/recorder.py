"""Recording reads: batched, durable before the reader is answered, never dropped.

A route that shows personal data hands its ``DataUse`` records to the app's ``UseRecorder`` and
waits for them to commit before it answers (``await recorder.record(uses)``). One writer thread
commits whatever has queued in one unit of work (a group commit): while one batch commits, the
next gathers, so under load a batch holds many requests' records and each request waits about
one commit, not one commit each.

Nothing is acknowledged before it is committed, so a crash loses no use that a caller was told
was recorded; a use whose commit fails raises ``DataUseNotRecorded`` in the caller, which
answers 503 without the data (no record, no data). Routes record after reading, just before
answering, so the wait is the only time the record adds.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from townhall.errors import DataUseNotRecorded
from townhall.platform.audit.uses import DataUse, record_uses
from townhall.platform.db import Database
from townhall.platform.logging import get_logger

# A batch bigger than this is split: one unit of work stays short even under a flood.
MAX_BATCH = 1000

log = get_logger("townhall.audit")


@dataclass
class _Pending:
    """Uses waiting for a commit, and who waits for them: a thread or a coroutine."""

    uses: Sequence[DataUse]
    done: Future[None] | None = None
    waiter: asyncio.Future[None] | None = None


class UseRecorder:
    """Commits data uses in batches from one thread; callers wait for their own batch."""

    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Figures for metrics and benchmarks: batches committed and uses in them.
        self.batches = 0
        self.recorded = 0

    def submit(self, uses: Sequence[DataUse]) -> Future[None]:
        """Queue ``uses``; the future completes once they are committed (or fails)."""
        done: Future[None] = Future()
        if not uses:
            done.set_result(None)
        elif not self._enqueue(_Pending(uses, done=done)):
            done.set_exception(DataUseNotRecorded())
        return done

    async def record(self, uses: Sequence[DataUse]) -> None:
        """Record ``uses`` and return once they are committed; ``DataUseNotRecorded`` otherwise."""
        if not uses:
            return
        waiter = asyncio.get_running_loop().create_future()
        if not self._enqueue(_Pending(uses, waiter=waiter)):
            raise DataUseNotRecorded
        await waiter

    def record_now(self, uses: Sequence[DataUse]) -> None:
        """``record`` for code that is not async (a sync route runs in a worker thread)."""
        self.submit(uses).result()

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop; later submissions fail with ``DataUseNotRecorded``."""
        with self._condition:
            self._closed = True
            self._condition.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _enqueue(self, pending: _Pending) -> bool:
        with self._condition:
            if self._closed:
                return False
            self._queue.append(pending)
            if self._thread is None:
                # Started at the first use, so apps that never serve a read own no thread.
                self._thread = threading.Thread(
                    target=self._run, name="townhall-audit-recorder", daemon=True
                )
                self._thread.start()
            self._condition.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._queue and not self._closed:
                    self._condition.wait()
                if not self._queue:
                    return
                batch = self._take()
            self._commit(batch)

    def _take(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while self._queue and (not batch or size + len(self._queue[0].uses) <= self.max_batch):
            pending = self._queue.popleft()
            batch.append(pending)
            size += len(pending.uses)
        return batch

    def _commit(self, batch: list[_Pending]) -> None:
        uses = [use for pending in batch for use in pending.uses]
        try:
            with self.database.write() as session:
                record_uses(session, uses)
        except Exception:
            log.exception("audit.record_failed", uses=len(uses))
            _settle(batch, recorded=False)
            return
        self.batches += 1
        self.recorded += len(uses)
        _settle(batch, recorded=True)


def _settle(batch: list[_Pending], *, recorded: bool) -> None:
    """Tell every waiter of ``batch`` how its uses went.

    Coroutines are woken with one call per event loop for the whole batch: waking each through
    its own thread-safe call cost a write to the loop's wake-up pipe, and a turn of the loop,
    per request.
    """
    waiters: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for pending in batch:
        if pending.waiter is not None:
            waiters.setdefault(pending.waiter.get_loop(), []).append(pending.waiter)
        elif pending.done is not None:
            if recorded:
                pending.done.set_result(None)
            else:
                pending.done.set_exception(DataUseNotRecorded())
    for loop, futures in waiters.items():
        try:
            loop.call_soon_threadsafe(_wake, futures, recorded)
        except RuntimeError:  # the loop has closed: no one is waiting any more
            continue


def _wake(futures: list[asyncio.Future[None]], recorded: bool) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (its client went away)
            continue
        if recorded:
            future.set_result(None)
        else:
            future.set_exception(DataUseNotRecorded())
