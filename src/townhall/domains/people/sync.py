"""Syncing a source system: reading what changed since its position, and keeping every version.

This module owns ``sync_source``, the only way source person records are written. A sync reads
the source's connector from the position the last committed batch reached, maps each row
(``connectors.mapping``), and compares a hash of the mapped fields with the record held:

- a record not held is inserted (``platform.bulk.insert_rows``: the fast path for first loads of
  hundreds of thousands of rows), version 1;
- a record whose hash differs is updated in place, its previous version kept in
  ``people_source_record_versions``, its ``version`` bumped, its matched UPRN cleared for
  address matching to find again;
- a record whose hash is the same is left alone (a row sent again, or only its time touched);
- a row that cannot be mapped is refused and counted; ``people_syncs.problems`` keeps its
  position, column and reason (never a value), the first ``PROBLEMS_KEPT`` of them.

Every row keeps its provenance: ``raw`` (the row as it came), ``received_at``, ``sync_id`` and
``source_position``. Each batch is one unit of work holding its rows, its events, the sync's
counts and the source's new position, so a sync that stops half way (a crash, a killed process)
resumes at the next run from the last batch committed, with nothing lost or written twice.

Events (ADR 32): a source's **first load** (no finished sync yet, including the resumption of a
first load that stopped) emits no event per record: it emits one ``person-records.loaded`` when it
finishes, and its records are placed by a full linking run. **Every later sync** emits
``person-record.created`` for each new record and ``person-record.updated`` for each changed one,
in the unit of work that writes it; the incremental linker follows those.

After the rows, records with address text but no UPRN are matched to the gazetteer
(``addressing``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from townhall.domains.people import addressing
from townhall.domains.people.connectors.base import (
    POSITION_LENGTH,
    Batch,
    Connector,
    SourceUnreadable,
)
from townhall.domains.people.connectors.mapping import Refusal, RowMapper, content_hash
from townhall.domains.people.events import (
    PERSON_RECORD_CREATED,
    PERSON_RECORD_UPDATED,
    PERSON_RECORDS_LOADED,
)
from townhall.domains.people.models import (
    PeopleSource,
    PeopleSync,
    SourcePersonRecord,
    SourceRecordVersion,
)
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.sources import Source, Sync, get_source, sync_of
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base, Database
from townhall.platform.events.outbox import NewEvent, emit, emit_many
from townhall.platform.events.registry import EventType
from townhall.platform.logging import get_logger
from townhall.platform.progress import BuildProgress

log = get_logger(__name__)

PROBLEMS_KEPT = 1_000
# Ids per IN list: well under SQLite's limit of bound parameters.
_IN_CHUNK = 500
_PROVENANCE = ("raw", "received_at", "sync_id", "source_position", "content_hash", "version")
_INSERTED = (*NewSourceRecord._fields, *_PROVENANCE)
# The fields a change is told by (the time the source says it changed is not one).
_COMPARED = tuple(
    name
    for name in NewSourceRecord._fields
    if name not in ("source_system", "source_record_id", "source_updated_at")
)
_ADDRESS = frozenset({"address_text", "postcode", "uprn"})
_INTERRUPTED = (
    "The sync stopped before it finished (its process ended); the next sync resumed from the "
    "last batch it committed."
)


@dataclass(frozen=True)
class SyncReport:
    """A finished sync, whether it was a first (bulk) load, and how long it took."""

    sync: Sync
    first_load: bool
    seconds: float
    addresses_matched: int

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of the whole sync."""
        return self.sync.rows_read / self.seconds if self.seconds > 0 else 0.0


class SyncFailed(Exception):
    """A sync stopped on an error; what it committed stays, and the next sync resumes."""

    def __init__(self, sync_id: int, message: str) -> None:
        super().__init__(message)
        self.sync_id = sync_id


def sync_source(
    database: Database,
    name: str,
    *,
    progress: BuildProgress | None = None,
    match_addresses: bool = True,
    connector: Connector | None = None,
    expected_rows: int = 0,
) -> SyncReport:
    """Read source ``name`` from its position and keep what changed; the finished sync's report.

    ``progress`` is told of each batch (``expected_rows``, when the caller knows it, sizes the
    bar). ``connector`` replaces the one the source's settings make (tests). Raises NotFound for an
    unknown source and SyncFailed when the source cannot be read (the sync is recorded failed).
    """
    started = time.perf_counter()
    source = get_source(database, name)
    reader = connector if connector is not None else source.connector_instance()
    mapper = RowMapper(name, source.mapping())
    sync_id, first_load = _start(database, source)
    log.info("people.sync.started", source=name, sync_id=sync_id, first_load=first_load)
    if progress is not None:
        progress.phase(f"Syncing {name}", expected_rows)
    run = _Run(name, sync_id, mapper, datetime.now(UTC), first_load)
    try:
        for batch in reader.read(source.position):
            if len(batch.position) > POSITION_LENGTH:
                msg = f"The connector's position is longer than {POSITION_LENGTH} characters."
                raise SourceUnreadable(msg)
            with database.write() as session:
                _apply(session, run, batch)
            if progress is not None:
                progress.advance(len(batch.rows))
    except SourceUnreadable as exc:
        _fail(database, sync_id, str(exc))
        raise SyncFailed(sync_id, str(exc)) from exc
    except BaseException as exc:
        _fail(database, sync_id, f"The sync stopped on an error ({type(exc).__name__}).")
        raise
    sync = _finish(database, name, sync_id, first_load=first_load)
    matched = 0
    if match_addresses:
        matched = addressing.match_record_addresses(database, source=name, progress=progress)
    report = SyncReport(sync, first_load, round(time.perf_counter() - started, 3), matched)
    log.info(
        "people.sync.finished",
        source=name,
        sync_id=sync_id,
        rows=sync.rows_read,
        added=sync.added,
        changed=sync.changed,
        refused=sync.refused,
        seconds=report.seconds,
    )
    return report


def _start(database: Database, source: Source) -> tuple[int, bool]:
    now = datetime.now(UTC)
    with database.write() as session:
        session.execute(
            update(PeopleSync)
            .where(PeopleSync.source == source.name, PeopleSync.status == "running")
            .values(status="failed", finished_at=now, error=_INTERRUPTED)
        )
        finished_before = session.scalar(
            select(
                exists().where(PeopleSync.source == source.name, PeopleSync.status == "finished")
            )
        )
        # Read again in this unit: another sync may have moved it since get_source.
        position = session.get_one(PeopleSource, source.name).position
        row = PeopleSync(
            source=source.name,
            status="running",
            started_at=now,
            from_position=position,
            to_position=position,
            rows_read=0,
            added=0,
            changed=0,
            unchanged=0,
            refused=0,
            problems=[],
        )
        session.add(row)
        session.flush()
        return row.id, not finished_before


@dataclass(frozen=True)
class _Run:
    """What every batch of one sync shares."""

    name: str
    sync_id: int
    mapper: RowMapper
    received_at: datetime
    first_load: bool


class _Incoming(NamedTuple):
    """A mapped row: the record, where it was in the source, the row as it came, its hash."""

    record: NewSourceRecord
    position: str
    raw: dict[str, Any]
    digest: str


def _apply(session: Session, run: _Run, batch: Batch) -> None:
    """One batch in one unit of work: its records, versions, events, counts and position."""
    refusals: list[Refusal] = []
    incoming: dict[str, _Incoming] = {}
    for row in batch.rows:
        result = run.mapper.map(row, received_at=run.received_at)
        if isinstance(result, Refusal):
            refusals.append(result)
        else:
            # The same record twice in a batch: the later row is the newer.
            incoming[result.source_record_id] = _Incoming(
                result, row.position, row.values, content_hash(result)
            )
    held = _held(session, run.name, list(incoming))
    new: list[tuple[Any, ...]] = []
    changed: list[tuple[int, _Incoming]] = []
    for source_record_id, came in incoming.items():
        found = held.get(source_record_id)
        if found is None:
            provenance = (came.raw, run.received_at, run.sync_id, came.position, came.digest, 1)
            new.append((*came.record, *provenance))
        elif found[1] != came.digest:
            changed.append((found[0], came))
    table = Base.metadata.tables[SourcePersonRecord.__tablename__]
    insert_rows(session, table, _INSERTED, new)
    events = [] if run.first_load else _created_events(session, run, new)
    for record_id, came in changed:
        version, names = _update(session, run, record_id, came)
        if not run.first_load:
            events.append(_event(PERSON_RECORD_UPDATED, run, record_id, version, names))
    sync = session.get_one(PeopleSync, run.sync_id)
    sync.rows_read += len(batch.rows)
    sync.added += len(new)
    sync.changed += len(changed)
    sync.unchanged += len(incoming) - len(new) - len(changed)
    sync.refused += len(refusals)
    if refusals and len(sync.problems) < PROBLEMS_KEPT:
        kept = [refusal.as_problem() for refusal in refusals]
        sync.problems = [*sync.problems, *kept][:PROBLEMS_KEPT]
    sync.to_position = batch.position
    session.get_one(PeopleSource, run.name).position = batch.position
    # Last in the unit: event writers take turns from their first event to commit (ADR 21).
    emit_many(session, events)


def _held(session: Session, name: str, record_ids: Sequence[str]) -> dict[str, tuple[int, str]]:
    """The records held of these source ids: id here and content hash."""
    held: dict[str, tuple[int, str]] = {}
    for start in range(0, len(record_ids), _IN_CHUNK):
        chunk = record_ids[start : start + _IN_CHUNK]
        rows = session.execute(
            select(
                SourcePersonRecord.source_record_id,
                SourcePersonRecord.id,
                SourcePersonRecord.content_hash,
            ).where(
                SourcePersonRecord.source_system == name,
                SourcePersonRecord.source_record_id.in_(chunk),
            )
        )
        for source_record_id, record_id, digest in rows:
            held[source_record_id] = (record_id, digest or "")
    return held


def _created_events(session: Session, run: _Run, new: Sequence[tuple[Any, ...]]) -> list[NewEvent]:
    if not new:
        return []
    index = NewSourceRecord._fields.index("source_record_id")
    ids = _held(session, run.name, [row[index] for row in new])
    every = list(_COMPARED)
    return [_event(PERSON_RECORD_CREATED, run, ids[row[index]][0], 1, every) for row in new]


def _event(kind: EventType, run: _Run, record_id: int, version: int, fields: list[str]) -> NewEvent:
    data = {
        "record_id": record_id,
        "source_system": run.name,
        "sync_id": run.sync_id,
        "version": version,
        "changed_fields": fields,
    }
    return NewEvent(kind, str(record_id), data)


def _update(session: Session, run: _Run, record_id: int, came: _Incoming) -> tuple[int, list[str]]:
    """Keep the held version, write the new one; its version and the names of what changed."""
    held = session.get_one(SourcePersonRecord, record_id)
    names = [name for name in _COMPARED if getattr(held, name) != getattr(came.record, name)]
    session.add(
        SourceRecordVersion(
            record_id=record_id,
            version=held.version,
            fields=_jsonable_fields(held),
            raw=held.raw,
            content_hash=held.content_hash,
            received_at=held.received_at,
            sync_id=held.sync_id,
            replaced_at=run.received_at,
        )
    )
    for name, value in came.record._asdict().items():
        setattr(held, name, value)
    held.raw = came.raw
    held.received_at = run.received_at
    held.sync_id = run.sync_id
    held.source_position = came.position
    held.content_hash = came.digest
    held.version += 1
    if _ADDRESS.intersection(names):
        held.matched_uprn = None
        held.uprn_match_score = None
    return held.version, names


def _jsonable_fields(held: SourcePersonRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in NewSourceRecord._fields:
        value = getattr(held, name)
        fields[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return fields


def _finish(database: Database, name: str, sync_id: int, *, first_load: bool) -> Sync:
    now = datetime.now(UTC)
    with database.write() as session:
        sync = session.get_one(PeopleSync, sync_id)
        sync.status = "finished"
        sync.finished_at = now
        session.get_one(PeopleSource, name).last_synced_at = now
        if first_load and (sync.added or sync.changed):
            data = {
                "source_system": name,
                "sync_id": sync_id,
                "added": sync.added,
                "changed": sync.changed,
            }
            emit(session, PERSON_RECORDS_LOADED, name, data)
        session.flush()
        return sync_of(sync)


def _fail(database: Database, sync_id: int, message: str) -> None:
    with database.write() as session:
        sync = session.get_one(PeopleSync, sync_id)
        sync.status = "failed"
        sync.finished_at = datetime.now(UTC)
        sync.error = message


def sync_sources(
    database: Database,
    names: Iterable[str],
    *,
    progress: BuildProgress | None = None,
    expected_rows: Mapping[str, int] | None = None,
) -> list[SyncReport]:
    """Sync each source in turn, then match the address text of all of them once."""
    expected = expected_rows or {}
    reports = [
        sync_source(
            database,
            name,
            progress=progress,
            match_addresses=False,
            expected_rows=expected.get(name, 0),
        )
        for name in names
    ]
    if reports:
        addressing.match_record_addresses(database, progress=progress)
    return reports
