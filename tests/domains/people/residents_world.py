"""Small worlds of source records and scored pairs for the residents tests.

Pairs here are plain data (``ScoredPair``), as the scorer hands them over: the residents service
is tested on what it is given, not on a model.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from townhall.domains.people.linkage.results import ScoredPair, Thresholds, ordered
from townhall.domains.people.linking import RunResult, link_batch, relink
from townhall.domains.people.models import PeopleSource, Resident, ResidentLink, SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.audit.uses import Actor
from townhall.platform.audit.vocabulary import ActorKind
from townhall.platform.db import Database

THRESHOLDS = Thresholds(link=0.99, review=0.80)
STAFF = Actor(
    kind=ActorKind.STAFF, purpose="Keeping residents' records right", id="staff-7", role="admin"
)
SOURCES = (("council_tax", 1), ("housing", 2), ("parking", 3))


def add_sources(database: Database) -> None:
    """The three source systems, council tax trusted most."""
    with database.write() as session:
        for name, trust in SOURCES:
            session.add(
                PeopleSource(
                    name=name, label=name.replace("_", " ").title(), connector="csv", config={},
                    trust=trust, created_at=datetime(2024, 1, 1, tzinfo=UTC),
                )
            )  # fmt: skip


def a_record(source: str, key: str, **changes: Any) -> NewSourceRecord:
    """A source record of Mary O'Neill unless ``changes`` say otherwise."""
    record = NewSourceRecord(
        source_system=source, source_record_id=key, title="Ms", first_name="Mary",
        middle_names=None, last_name="O'Neill", date_of_birth=date(1980, 3, 7),
        email=None, phone=None, national_insurance_number=None,
        address_text="3 Mortimer Road, London", postcode="N1 4LA", uprn=100021000003,
        attributes={}, source_updated_at=datetime(2024, 5, 6, tzinfo=UTC),
    )  # fmt: skip
    return record._replace(**changes)


def add_records(database: Database, *records: NewSourceRecord) -> list[int]:
    """Load ``records``; return their ids here, in the order given."""
    load_source_records(database, records)
    with database.read() as session:
        ids = {
            (source, key): record_id
            for record_id, source, key in session.execute(
                select(
                    SourcePersonRecord.id,
                    SourcePersonRecord.source_system,
                    SourcePersonRecord.source_record_id,
                )
            )
        }
    return [ids[(record.source_system, record.source_record_id)] for record in records]


def pair(a: int, b: int, probability: float) -> ScoredPair:
    """A scored pair of ``a`` and ``b`` (a weight that goes with its probability)."""
    left, right = ordered(a, b)
    return ScoredPair(
        left, right, match_weight=probability * 20 - 10, match_probability=probability
    )


def rerun(database: Database, pairs: list[ScoredPair]) -> RunResult:
    """A full re-run on ``pairs``."""
    with database.write() as session:
        return relink(session, pairs, thresholds=THRESHOLDS, model_id=None)


def batch(database: Database, records: list[int], pairs: list[ScoredPair]) -> None:
    """The incremental linker's work for one batch of ``records``."""
    with database.write() as session:
        link_batch(session, records, pairs, thresholds=THRESHOLDS, model_id=None)


def placement(database: Database) -> dict[int, str]:
    """Each record's resident now."""
    with database.read() as session:
        rows = session.execute(select(ResidentLink.source_record_id, ResidentLink.resident_id))
        return {int(record): resident for record, resident in rows}


def residents(database: Database) -> dict[str, tuple[str, str | None, int, dict[str, Any]]]:
    """Each resident's status, where it was merged, version and golden record."""
    with database.read() as session:
        return {
            row.id: (row.status, row.merged_into, row.version, row.golden)
            for row in session.scalars(select(Resident))
        }


def state(database: Database) -> tuple[dict[int, str], dict[str, tuple[str, str | None, Any]]]:
    """Links and residents (status, merged into, golden record): what undo must restore.

    A resident an undone decision created stays, empty (its id is never given out again).
    """
    return placement(database), {
        resident: (status, into, golden)
        for resident, (status, into, _version, golden) in residents(database).items()
        if status != "empty"
    }
