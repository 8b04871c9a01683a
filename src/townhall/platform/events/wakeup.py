"""Waking the dispatcher the moment events are committed, instead of polling slowly.

This module owns the in-process signal: ``outbox.emit`` arranges for ``signal_for(url).notify()``
to run after the unit of work that wrote events commits (never after a rollback), and a
dispatcher in the same process waits on ``CommitSignal.wait``. A dispatcher in another process
learns of commits another way (LISTEN/NOTIFY on PostgreSQL, SQLite's ``data_version``), which
``townhall.platform.events.listeners`` owns.
"""

from __future__ import annotations

import asyncio
import threading

_signals: dict[str, CommitSignal] = {}
_signals_lock = threading.Lock()


class CommitSignal:
    """Wakes every waiter in this process when events are committed to one database.

    Thread-safe: units of work commit in server threads, the dispatcher waits in an event loop.
    A notify that comes while nobody waits is not lost: the next ``wait`` returns at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def generation(self) -> int:
        """How many commits have been signalled so far (a waiter passes the one it last saw)."""
        return self._generation

    def notify(self) -> None:
        """Tell every waiter that events were committed."""
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    async def wait(self, seen: int, timeout: float) -> int:
        """Wait until a commit newer than generation ``seen`` is signalled, or ``timeout`` passes.

        Returns the generation now, so the caller passes it back next time.
        """
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != seen:
                return self._generation
            self._waiters.append(entry)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.remove(entry)
        return self._generation


def signal_for(key: str) -> CommitSignal:
    """The process's signal for one database (``key`` is its URL as text)."""
    with _signals_lock:
        signal = _signals.get(key)
        if signal is None:
            signal = _signals[key] = CommitSignal()
        return signal
