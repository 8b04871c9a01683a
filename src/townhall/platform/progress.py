"""Progress of a long job: a rich progress bar on a terminal, log lines anywhere else.

This module owns how a long job (building the demo borough, importing a gazetteer, matching a
file of addresses) tells someone it is alive. Phases report counts of rows and their names
only: never a name, date of birth or address.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from townhall.platform.logging import get_logger

log = get_logger(__name__)


class BuildProgress(Protocol):
    """Where a build reports its phases and the rows each has done."""

    def phase(self, name: str, total: int) -> None:
        """Start the next phase, which will do ``total`` rows (ending the previous one)."""

    def advance(self, rows: int) -> None:
        """Count ``rows`` more rows done in the current phase."""


@contextmanager
def build_progress(*, on_terminal: bool) -> Iterator[BuildProgress]:
    """A progress reporter: a bar on the terminal, or log lines; closed when the block ends."""
    if on_terminal:
        columns = (
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as bar:
            yield _BarProgress(bar)
        return
    logged = _LoggedProgress()
    try:
        yield logged
    finally:
        logged.end_phase()


class _BarProgress:
    def __init__(self, bar: Progress) -> None:
        self._bar = bar
        self._task: TaskID | None = None

    def phase(self, name: str, total: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=self._bar.tasks[self._task].total)
        self._task = self._bar.add_task(name, total=max(total, 1))

    def advance(self, rows: int) -> None:
        if self._task is not None:
            self._bar.advance(self._task, rows)


class _LoggedProgress:
    """Logs each phase's start and end, and every tenth of the way through long ones."""

    def __init__(self) -> None:
        self._name: str | None = None
        self._total = 0
        self._done = 0
        self._logged_tenths = 0
        self._started = time.perf_counter()

    def phase(self, name: str, total: int) -> None:
        self.end_phase()
        self._name, self._total, self._done, self._logged_tenths = name, total, 0, 0
        self._started = time.perf_counter()
        log.info("progress.phase.started", phase=name, rows=total)

    def advance(self, rows: int) -> None:
        self._done += rows
        tenths = self._done * 10 // self._total if self._total else 0
        if tenths > self._logged_tenths and self._done < self._total:
            self._logged_tenths = tenths
            log.info("progress.phase.progress", phase=self._name, rows=self._done, of=self._total)

    def end_phase(self) -> None:
        """Log the end of the current phase, if one is running."""
        if self._name is None:
            return
        seconds = round(time.perf_counter() - self._started, 2)
        log.info("progress.phase.finished", phase=self._name, rows=self._done, seconds=seconds)
        self._name = None
