"""What every connector is: rows read from a source system in batches, each batch with its position.

This module owns the ``Connector`` Protocol and the shapes it hands the sync. A connector knows
one kind of source (a folder of CSV drops, a table of a legacy database) and nothing of Townhall's
tables: it reads rows exactly as they are (``SourceRow.values``), in an order it can resume, and
says after each batch how far it got (``Batch.position``). Positions are opaque strings only the
connector that made them understands; the sync stores the last one it committed and hands it back
as ``since``, so the next read starts after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

# people_sources.position and people_source_records.source_position hold at most this.
POSITION_LENGTH = 200


class SourceUnreadable(Exception):
    """The source could not be read: a folder missing, a database refusing, a bad position.

    The message names the place and what is wrong, never a row's values.
    """


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row as the source holds it (JSON-able values), and where it is in the source."""

    position: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows in the order read, and the position to resume from once they are kept."""

    rows: list[SourceRow]
    position: str


class Connector(Protocol):
    """Reads a source system's rows from a position, in batches that can be resumed."""

    def read(self, since: str | None) -> Iterator[Batch]:
        """Every row after ``since`` (None: from the start), in batches, in a resumable order.

        Raises SourceUnreadable when the source cannot be read or ``since`` is not a position
        this connector made.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """The connector's settings for people to read: never a secret nor a full address."""
        ...
