"""The people domain's service: reading person source records one at a time, naming and counting
them.

Source systems' records arrive only through a sync of their connector (``sync.sync_source``),
which keeps each row's provenance and versions. ``load_source_records`` writes records without
any of that: it is for tests' fixtures alone. Each function opens its own unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import func, select

from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.residents import chunks
from townhall.domains.people.schemas import NewSourceRecord, SourceRecord
from townhall.errors import NotFound
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base, Database, aware


def load_source_records(
    database: Database,
    records: Iterable[NewSourceRecord],
    *,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Add source records in one unit of work (all or none); return how many were added.

    For tests' fixtures only: a source system's records come in through ``sync.sync_source``.

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


def record_references(database: Database, record_ids: Iterable[int]) -> dict[int, str]:
    """Each record's name as its source system knows it ("parking PK3001"), by record id.

    Ids with no record (none yet, or a typo) are left out; a page shows those by number.
    """
    named: dict[int, str] = {}
    with database.read() as session:
        for some in chunks(sorted(set(record_ids))):
            rows = session.execute(
                select(
                    SourcePersonRecord.id,
                    SourcePersonRecord.source_system,
                    SourcePersonRecord.source_record_id,
                ).where(SourcePersonRecord.id.in_(some))
            )
            named.update((record_id, f"{system} {ref}") for record_id, system, ref in rows)
    return named


def get_source_record(database: Database, record_id: int) -> SourceRecord:
    """One source person record; NotFound when there is none with ``record_id``."""
    with database.read() as session:
        row = session.get(SourcePersonRecord, record_id)
        if row is None:
            raise NotFound(f"There is no source person record {record_id}.")
        source = NewSourceRecord._make(getattr(row, name) for name in NewSourceRecord._fields)
        return SourceRecord(
            id=row.id, source=source._replace(source_updated_at=aware(source.source_updated_at))
        )
