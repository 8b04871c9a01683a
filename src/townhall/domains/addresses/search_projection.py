"""The address search index as a read model, kept current by the gazetteer's events.

This module owns ``SearchIndexProjection``, the ``EventReader`` that follows the street,
property and address events and refreshes the index entries they touch, in the unit of work that
moves its cursor (``townhall.platform.events.readers.run_reader``): the index is never a night
behind the gazetteer, and never refreshed twice for one change. It is the pattern later read
models follow (ADR 24): a reader with a cursor and a lease, built whole from a snapshot once, then
kept by events.

An import into an empty gazetteer still builds the index whole (far faster than a million
small refreshes) and places this reader's cursor just after its ``gazetteer.loaded`` event, in the
same unit of work; every later import only emits events, and this reader does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from townhall.domains.addresses import search_index
from townhall.domains.addresses.models import AddressRecord
from townhall.platform.db import Database
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.readers import run_reader
from townhall.platform.events.registry import TYPE_PREFIX

# The cursor's name in event_cursors.
READER_NAME = "addresses-search-index"
_STREET = TYPE_PREFIX + "street."
_PROPERTY = TYPE_PREFIX + "property."
_ADDRESS = TYPE_PREFIX + "address."
_CHUNK = 500


class SearchIndexProjection:
    """Refreshes the search index entries of the addresses a batch of events touched."""

    name = READER_NAME
    type_filters: tuple[str, ...] = (_STREET + "*", _PROPERTY + "*", _ADDRESS + "*")

    def handle(self, session: Session, events: Sequence[OutboxEvent]) -> None:
        """Refresh the entries of every address the events touch, once each."""
        lpi_keys: set[str] = set()
        usrns: set[int] = set()
        uprns: set[int] = set()
        for event in events:
            if event.type.startswith(_ADDRESS):
                lpi_keys.add(event.subject)
            elif event.type.startswith(_STREET):
                # A street's words are in each of its addresses' entries (and a new street
                # gets its row, with no addresses yet).
                usrns.add(int(event.subject))
            elif event.type.startswith(_PROPERTY):
                # A property's postcode and position are in its addresses' entries; a created
                # or deleted property's addresses have events of their own.
                uprns.add(int(event.subject))
        ordered = sorted(uprns)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            lpi_keys.update(
                session.scalars(select(AddressRecord.lpi_key).where(AddressRecord.uprn.in_(chunk)))
            )
        if lpi_keys or usrns:
            search_index.refresh(session, lpi_keys=lpi_keys, usrns=usrns)


def catch_up(database: Database, *, owner: str, lease_seconds: float, batch: int = 2_000) -> int:
    """Run the projection until it has read every event; return how many it read.

    Stops early (returning what it read) when another owner, a running dispatcher, holds the
    projection's lease: that owner is keeping the index current.
    """
    reader = SearchIndexProjection()
    total = 0
    # Larger batches than a dispatcher's: each refresh has fixed costs (recounting terms).
    while read := run_reader(
        database, reader, owner=owner, lease_seconds=lease_seconds, batch=batch
    ):
        total += read
    return total
