"""The addresses domain's service: the only code that writes the gazetteer tables.

Other domains, the CLI and the demo reach streets, properties and addresses through these
functions, never through the tables. Each function opens its own unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from townhall.domains.addresses import search_index
from townhall.domains.addresses.models import AddressRecord, Property, Street
from townhall.domains.addresses.schemas import (
    GazetteerCounts,
    NewAddress,
    NewProperty,
    NewStreet,
)
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base, Database


def load_gazetteer(
    database: Database,
    *,
    streets: Sequence[NewStreet],
    properties: Sequence[NewProperty],
    addresses: Sequence[NewAddress],
    on_progress: Callable[[int], None] | None = None,
) -> GazetteerCounts:
    """Add streets, properties and addresses in one unit of work: all of them or none.

    The search index is rebuilt in the same unit of work, so what is loaded is searchable.

    Properties may come in any order: parents are written before their children, because both
    databases check the parent reference as each row is written. ``on_progress`` is called with
    the number of rows written after each batch.
    """
    tables = Base.metadata.tables
    now = datetime.now(UTC)
    with database.write() as session:
        street_count = insert_rows(
            session,
            tables[Street.__tablename__],
            (*NewStreet._fields, "modified_at"),
            _stamped(streets, now),
            on_batch=on_progress,
        )
        property_count = insert_rows(
            session,
            tables[Property.__tablename__],
            (*NewProperty._fields, "modified_at"),
            _stamped(_parents_first(properties), now),
            on_batch=on_progress,
        )
        address_count = insert_rows(
            session,
            tables[AddressRecord.__tablename__],
            (*NewAddress._fields, "modified_at"),
            _stamped(addresses, now),
            on_batch=on_progress,
        )
        # The new addresses are searchable as soon as they are committed, not after a reindex.
        search_index.refresh(session)
    return GazetteerCounts(street_count, property_count, address_count)


def _stamped(rows: Iterable[tuple[Any, ...]], now: datetime) -> Iterator[tuple[Any, ...]]:
    """Each row with the time Townhall wrote it appended (its ``modified_at``)."""
    for row in rows:
        yield (*row, now)


def count_gazetteer(database: Database) -> GazetteerCounts:
    """How many streets, properties and addresses the gazetteer holds."""
    with database.read() as session:
        streets = session.scalar(select(func.count()).select_from(Street)) or 0
        properties = session.scalar(select(func.count()).select_from(Property)) or 0
        addresses = session.scalar(select(func.count()).select_from(AddressRecord)) or 0
    return GazetteerCounts(streets, properties, addresses)


def count_properties(database: Database) -> int:
    """How many properties (BLPUs) the gazetteer holds."""
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(Property)) or 0


def _parents_first(properties: Sequence[NewProperty]) -> list[NewProperty]:
    """The properties ordered so that each comes after its parent (blocks before their flats).

    A parent outside this load is taken to be in the gazetteer already.
    """
    parent_of = {item.uprn: item.parent_uprn for item in properties}
    depth: dict[int, int] = {}
    for item in properties:
        chain: list[int] = []
        uprn: int | None = item.uprn
        while uprn is not None and uprn in parent_of and uprn not in depth:
            if uprn in chain:
                msg = f"property {uprn} is its own ancestor"
                raise ValueError(msg)
            chain.append(uprn)
            uprn = parent_of[uprn]
        known = depth.get(uprn, -1) if uprn is not None else -1
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member] = known + offset
    return sorted(properties, key=lambda item: depth[item.uprn])
