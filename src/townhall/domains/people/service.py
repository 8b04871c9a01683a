"""The people domain's service: the only code that writes person source records.

Source systems' extracts (and the demo borough) arrive here; linkage into residents reads them
later. Each function opens its own unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import func, select

from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base, Database


def load_source_records(
    database: Database,
    records: Iterable[NewSourceRecord],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Add source records in one unit of work (all or none); return how many were added.

    ``on_progress`` is called with the number of records written after each batch.
    """
    with database.write() as session:
        return insert_rows(
            session,
            Base.metadata.tables[SourcePersonRecord.__tablename__],
            NewSourceRecord._fields,
            records,
            on_batch=on_progress,
        )


def count_source_records(database: Database) -> int:
    """How many source person records are held, across every source system."""
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(SourcePersonRecord)) or 0
