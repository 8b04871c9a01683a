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
    uses: Sequence[DataUse]
    done: Future[None]


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
            return done
        with self._condition:
            if self._closed:
                done.set_exception(DataUseNotRecorded())
                return done
            self._queue.append(_Pending(uses, done))
            if self._thread is None:
                # Started at the first use, so apps that never serve a read own no thread.
                self._thread = threading.Thread(
                    target=self._run, name="townhall-audit-recorder", daemon=True
                )
                self._thread.start()
            self._condition.notify()
        return done

    async def record(self, uses: Sequence[DataUse]) -> None:
        """Record ``uses`` and return once they are committed; ``DataUseNotRecorded`` otherwise."""
        await asyncio.wrap_future(self.submit(uses))

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
            for pending in batch:
                pending.done.set_exception(DataUseNotRecorded())
            return
        self.batches += 1
        self.recorded += len(uses)
        for pending in batch:
            pending.done.set_result(None)
