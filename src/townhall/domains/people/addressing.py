"""Linking source records to addresses by UPRN when their source gave only the address text.

This module owns ``matched_uprn`` and ``uprn_match_score`` of ``people_source_records``. Records
with address text but no UPRN of their own, not yet tried since their address last changed, are
given to the addresses domain's fast matcher (``domains.addresses.matching``), which accepts only
matches it is sure of (its score at least ``results.MATCHED``, 0.90: 99.6% precise, ADR 19).
A record is tried once: the score is kept even when no address was accepted (``matched_uprn``
stays null), and a sync that changes the record's address clears both, so it is tried again.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from sqlalchemy import bindparam, select, update

from townhall.domains.addresses.matching.methods import match_batch
from townhall.domains.addresses.matching.results import MatchInput, MatchOutcome
from townhall.domains.addresses.service import count_properties
from townhall.domains.people.models import SourcePersonRecord
from townhall.platform.db import Base, Database
from townhall.platform.progress import BuildProgress

_WRITE_BATCH = 5_000


def match_record_addresses(
    database: Database, *, source: str | None = None, progress: BuildProgress | None = None
) -> int:
    """Match the address text of records without a UPRN (of one source, or all); how many matched.

    Does nothing while the gazetteer is empty: there is nothing to match against yet.
    """
    if count_properties(database) == 0:
        return 0
    record = SourcePersonRecord
    statement = select(record.id, record.address_text, record.postcode, record.content_hash).where(
        record.uprn.is_(None),
        record.address_text.is_not(None),
        record.uprn_match_score.is_(None),
    )
    if source is not None:
        statement = statement.where(record.source_system == source)
    with database.read() as session:
        found = list(session.execute(statement.order_by(record.id)))
    waiting = {row.id: row.content_hash for row in found}
    inputs = [MatchInput(row.address_text, row.postcode, str(row.id)) for row in found]
    if not inputs:
        return 0
    outcomes = match_batch(database, inputs, method="fast", on_progress=progress, total=len(inputs))
    table = Base.metadata.tables[record.__tablename__]
    # Only a record still as it was when read: a sync may have changed its address since.
    write = (
        update(table)
        .where(table.c.id == bindparam("record_id"))
        .where(table.c.content_hash == bindparam("digest"))
        .values(matched_uprn=bindparam("found_uprn"), uprn_match_score=bindparam("score"))
    )
    matched = 0
    for chunk in _chunks(outcomes):
        rows = []
        for outcome in chunk:
            record_id = int(outcome.id or 0)
            matched += outcome.uprn is not None
            rows.append(
                {
                    "record_id": record_id,
                    "digest": waiting[record_id],
                    "found_uprn": outcome.uprn,
                    "score": outcome.score,
                }
            )
        with database.write() as session:
            session.connection().execute(write, rows)
    return matched


def _chunks(outcomes: Iterator[MatchOutcome]) -> Iterator[list[MatchOutcome]]:
    while chunk := list(islice(outcomes, _WRITE_BATCH)):
        yield chunk
