"""Importing a gazetteer into Townhall and exporting it: differences only, every change recorded.

This module owns how a council's LLPG reaches the addresses tables and leaves them again. An
import reads a DTF 7.3 file (``dtf``) or a plain CSV (``plain_csv``), sets aside the rows that
fail validation (with their line and field), then, in ONE unit of work, compares what is left
with what the gazetteer holds and writes only the differences:

- a record the file holds and the gazetteer does not is created; one whose fields differ is
  updated; one that is the same is left alone (not even its ``modified_at`` changes);
- change-only files (DTF ``FILE_TYPE`` C, or CHANGE_TYPE U/D rows) apply their inserts, updates
  and deletions; a full supply (DTF ``FILE_TYPE`` F, or a plain CSV) also deletes the records of
  the kinds it carries that it leaves out, unless a row was rejected or the file looks truncated
  (a rejected row may be a record it meant to keep);
- a property is deleted only when no address, cross-reference or child property would be left
  pointing at it (so a file that deletes a block, its flats and their addresses deletes them in
  that order), and a street only when no address is on it; otherwise that deletion is refused
  and reported like a bad row.

Every change is a row of ``address_changes``, written with the bulk loader, as are the records
of a first import: an update's ``changes`` holds each changed field as ``[old, new]``, a
deletion's the record's last values as ``[old, null]``, and a creation's nothing, since the
record itself holds its values (a million creations then cost a million small rows, made in SQL
from the filled tables when the gazetteer was empty). Every change is also an event in the
outbox (``townhall.domains.addresses.events``), written in the same unit of work, so a change
that rolls back tells nobody: an update's data holds its changed fields as ``{"old", "new"}``, a
creation its values, a deletion its last values. Filling an empty gazetteer emits one
``gazetteer.loaded`` event instead, builds the search index whole in the same unit of work, and
places the index's projection just after that event; after that the projection
(``search_projection``) keeps the index current from the events, and an import leaves it
alone. Filling an empty gazetteer, the tables' indexes (and on
PostgreSQL their foreign keys) are dropped and made again after the load. WGS84 coordinates come
from each property's easting and northing; a property's postcode is that of its best address
(the lowest logical status). Progress is reported to anything with ``phase`` and ``advance``
(``townhall.platform.progress.build_progress`` gives a bar or log lines).
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import (
    JSON,
    DateTime,
    String,
    Table,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from townhall.domains.addresses import search_index, search_projection
from townhall.domains.addresses.dtf import (
    BlpuRecord,
    DescriptorRecord,
    DtfReader,
    DtfWriter,
    FileFacts,
    Rejection,
    Row,
    StreetRecord,
    UnreadableFile,
    sniff,
)
from townhall.domains.addresses.events import GAZETTEER_LOADED, RECORD_EVENT_TYPES
from townhall.domains.addresses.models import (
    AddressChange,
    AddressRecord,
    CrossReference,
    Property,
    Street,
)
from townhall.domains.addresses.plain_csv import PlainCsvReader, PlainCsvWriter
from townhall.domains.addresses.schemas import (
    NewAddress,
    NewCrossReference,
    NewProperty,
    NewStreet,
)
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base, Database
from townhall.platform.events import outbox
from townhall.platform.events.outbox import NewEvent
from townhall.platform.events.readers import hold_cursor, outbox_end, place_cursor
from townhall.platform.geography import grid_to_wgs84

__all__ = [
    "ExportReport",
    "ImportProgress",
    "ImportReport",
    "RecordCounts",
    "Rejection",
    "UnreadableFile",
    "detect_format",
    "export_gazetteer",
    "import_gazetteer",
]

Format = Literal["dtf", "csv"]
RECORD_TYPES = ("street", "property", "address", "cross_reference")
# The report keeps this many rejected rows in full (and counts them all).
MAX_REPORTED_REJECTIONS = 10_000
_CHUNK = 500


class ImportProgress(Protocol):
    """Where an import reports its phases and the work each has done."""

    def phase(self, name: str, total: int) -> None:
        """Start the next phase, which will do ``total`` units of work."""

    def advance(self, rows: int) -> None:
        """Count ``rows`` more units done in the current phase."""


class _Timed:
    """Passes progress on, and times each phase for the report."""

    def __init__(self, inner: ImportProgress | None, phases: dict[str, float]) -> None:
        self._inner = inner
        self._phases = phases
        self._name: str | None = None
        self._started = time.perf_counter()

    def phase(self, name: str, total: int) -> None:
        self.end()
        self._name, self._started = name, time.perf_counter()
        if self._inner is not None:
            self._inner.phase(name, total)

    def advance(self, rows: int) -> None:
        if self._inner is not None:
            self._inner.advance(rows)

    def end(self) -> None:
        if self._name is not None:
            self._phases[self._name] = round(time.perf_counter() - self._started, 2)
            self._name = None


@dataclass
class RecordCounts:
    """What an import did to one kind of record."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import read, changed and rejected."""

    import_id: str
    format: str
    full_supply: bool
    counts: dict[str, RecordCounts] = field(
        default_factory=lambda: {name: RecordCounts() for name in RECORD_TYPES}
    )
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0
    warnings: list[str] = field(default_factory=list)
    rows_read: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)  # seconds each phase took

    def reject(self, rejection: Rejection) -> None:
        """Set a row aside, keeping its details if fewer than the limit are kept yet."""
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTIONS:
            self.rejected.append(rejection)

    @property
    def changes(self) -> int:
        """How many records were created, updated or deleted."""
        return sum(c.created + c.updated + c.deleted for c in self.counts.values())


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote."""

    format: str
    streets: int
    properties: int
    addresses: int
    cross_references: int
    records: int


def detect_format(path: Path) -> Format:
    """``dtf`` or ``csv`` from the file's content; UnreadableFile when it is neither."""
    found = sniff(path)
    if found is None:
        msg = f"{path} is neither an NLPG DTF 7.3 file nor a Townhall plain CSV"
        raise UnreadableFile(msg)
    return "dtf" if found == "dtf" else "csv"


# --- reading into a supply --------------------------------------------------------------------


_made = tuple.__new__  # a named tuple without its class's Python-level __new__

# A good row, kept as the reader made it (a million rows: no second tuple each).
_Entry = Row


@dataclass
class _Supply:
    """The good rows of a file, keyed by their record's key, until they are applied."""

    streets: dict[int, _Entry] = field(default_factory=dict)
    descriptors: dict[int, _Entry] = field(default_factory=dict)
    street_defaults: dict[int, StreetRecord] = field(default_factory=dict)
    properties: dict[int, _Entry] = field(default_factory=dict)
    xrefs: dict[str, _Entry] = field(default_factory=dict)
    addresses: dict[str, _Entry] = field(default_factory=dict)
    change_only_rows: bool = False
    carries_xrefs: bool = False
    _targets: dict[str, dict[Any, _Entry]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._targets = {
            "street": self.streets,
            "property": self.properties,
            "xref": self.xrefs,
            "address": self.addresses,
        }

    def add(self, row: Row, report: ImportReport) -> None:
        if row.change_type != "I":
            self.change_only_rows = True
        target = self._targets.get(row.kind)
        if target is not None:
            first = target.get(row.key)
            if first is None:
                target[row.key] = row
                if row.kind == "xref":
                    self.carries_xrefs = True
                return
            if row.kind == "xref":
                self.carries_xrefs = True
            report.reject(
                Rejection(
                    row.line, row.kind, None, f"repeats {row.key} (first on line {first.line})"
                )
            )
            return
        if row.kind == "street_default":
            self.street_defaults.setdefault(row.key, row.record)
            return
        if row.kind == "descriptor":
            current = self.descriptors.get(row.key)
            # A Welsh authority writes two descriptors per street; the English one is kept.
            if current is not None and (
                row.record is None or current.record is None or row.record.language != "ENG"
            ):
                return
            self.descriptors[row.key] = row


# --- the import -------------------------------------------------------------------------------


def import_gazetteer(
    database: Database,
    path: Path | str,
    *,
    format: Format | None = None,
    on_progress: ImportProgress | None = None,
) -> ImportReport:
    """Apply the gazetteer in ``path`` to the database; return what was done and rejected.

    Raises UnreadableFile when the file cannot be read as a gazetteer at all. Everything else
    (bad rows, references to nothing, refused deletions) is in the report; the good rows are
    applied in one unit of work.
    """
    # An import makes millions of small tuples and no reference cycles: the cyclic collector
    # would walk the whole growing heap again and again for nothing (a third of the reading
    # time), so it is paused until the import ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import(database, Path(path), format, on_progress)
    finally:
        if collecting:
            gc.enable()


def _import(
    database: Database, path: Path, format: Format | None, on_progress: ImportProgress | None
) -> ImportReport:
    started = time.perf_counter()
    chosen = format or detect_format(path)
    report = ImportReport(import_id=str(uuid.uuid4()), format=chosen, full_supply=False)
    progress = _Timed(on_progress, report.phases)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadableFile(f"{path} cannot be read: {exc.strerror or exc}") from exc
    progress.phase(f"Reading {path.name}", size)
    reader = (
        DtfReader(path, on_bytes=progress.advance)
        if chosen == "dtf"
        else PlainCsvReader(path, on_bytes=progress.advance)
    )
    supply = _Supply()
    for item in reader.rows():
        if isinstance(item, Rejection):
            report.reject(item)
        else:
            supply.add(item, report)
    facts: FileFacts = reader.facts
    report.rows_read = facts.rows
    report.warnings.extend(facts.warnings)
    if chosen == "dtf" and not facts.header_seen:
        report.warnings.append(
            "The file has no header record (10), so it was applied as change-only updates."
        )
    full = facts.full_supply and not supply.change_only_rows
    report.full_supply = full
    if full and report.rejected_count:
        full = False
        report.warnings.append(
            "Rows were rejected, so records the file leaves out were kept rather than deleted."
        )
    _Applier(database, supply, report, progress, full=full, format=chosen).run()
    progress.end()
    report.seconds = time.perf_counter() - started
    return report


class _Diff(NamedTuple):
    creates: list[Any]
    updates: list[tuple[Any, Any]]
    deletes: list[Any]
    unchanged: int


class _Applier:
    """Validates references, compares with the stored gazetteer and writes the differences."""

    def __init__(
        self,
        database: Database,
        supply: _Supply,
        report: ImportReport,
        progress: ImportProgress,
        *,
        full: bool,
        format: Format,
    ) -> None:
        self.database = database
        self.supply = supply
        self.report = report
        self.progress = progress
        self.full = full
        self.format = format
        self.now = datetime.now(UTC)
        self.tables = Base.metadata.tables

    def run(self) -> None:
        with self.database.write() as session:
            self.session = session
            empty = not any(
                session.scalar(select(func.count()).select_from(model))
                for model in (Street, Property, AddressRecord)
            )
            if empty:
                # Rebuilt whole below: the projection must not run meanwhile, and its cursor is
                # locked now, before the tables it reads are, so neither waits for the other.
                hold_cursor(session, search_projection.READER_NAME)
            else:
                # The projection will refresh the index from this import's events: its cursor
                # must exist before them, or a projection first run later would start past them.
                place_cursor(
                    session,
                    search_projection.READER_NAME,
                    outbox_end(session),
                    only_if_missing=True,
                )
            self.progress.phase("Checking references", 1)
            stored_streets = self._stored_streets()
            streets = self._streets(stored_streets)
            stored_uprns: set[int] = set() if empty else set(session.scalars(select(Property.uprn)))
            properties = self._properties(stored_uprns)
            street_keys = set(stored_streets) | {
                key for key, entry in streets.items() if entry.change_type != "D"
            }
            property_keys = stored_uprns | {
                key for key, entry in properties.items() if entry.change_type != "D"
            }
            addresses = self._references(
                self.supply.addresses, "address", property_keys, street_keys
            )
            xrefs = self._references(self.supply.xrefs, "cross_reference", property_keys, None)
            self.supply.addresses, self.supply.xrefs = {}, {}
            properties = self._derive_properties(properties, addresses)
            self.progress.advance(1)

            street_diff = self._diff_streets(streets, stored_streets)
            property_diff = self._diff(
                Property, NewProperty, properties, "property", carried=True, empty=empty
            )
            address_diff = self._diff(
                AddressRecord, NewAddress, addresses, "address", carried=True, empty=empty
            )
            xref_diff = self._diff(
                CrossReference,
                NewCrossReference,
                xrefs,
                "cross_reference",
                carried=self.format == "dtf" and (self.supply.carries_xrefs or self.full),
                empty=empty,
            )
            self._refuse_deletions(street_diff, property_diff, address_diff, xref_diff)
            diffs = (
                ("street", street_diff),
                ("property", property_diff),
                ("address", address_diff),
                ("cross_reference", xref_diff),
            )
            # Filling empty tables, each index is built once at the end rather than kept up to
            # date row by row: much the faster way on both databases.
            with self._indexes_rebuilt_after(
                (Street, Property, AddressRecord, CrossReference, AddressChange), enabled=empty
            ):
                self._write(street_diff, property_diff, address_diff, xref_diff)
                if empty:
                    self._record_creations(diffs)
                else:
                    self._record_changes(diffs)
            if empty:
                if self._emit_loaded(diffs):
                    self._build_index()
            else:
                self._emit_changes(diffs)

    @contextmanager
    def _indexes_rebuilt_after(
        self, models: Sequence[type[Base]], *, enabled: bool
    ) -> Iterator[None]:
        """Drop the secondary indexes of these tables, and create them again afterwards."""
        if not enabled:
            yield
            return
        connection = self.session.connection()
        tables: list[Table] = [model.__table__ for model in models]  # type: ignore[misc]
        indexes = [index for table in tables for index in table.indexes]
        # PostgreSQL checks a foreign key with one query per row written; added again after
        # the load, each is checked in one pass over its table. (SQLite cannot drop them.)
        foreign_keys = (
            [key for table in tables for key in table.foreign_key_constraints]
            if connection.dialect.name == "postgresql"
            else []
        )
        for key in foreign_keys:
            connection.execute(DropConstraint(key))
        for index in indexes:
            index.drop(connection)
        yield
        self.progress.phase("Building indexes", len(indexes) + len(foreign_keys))
        for key in foreign_keys:
            connection.execute(AddConstraint(key))
            self.progress.advance(1)
        # Sorting a million keys is most of building an index: SQLite may sort on a second
        # thread, and PostgreSQL sorts in memory rather than on disk with more than its 64 MB.
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA threads = 2")
        else:
            connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        try:
            for index in indexes:
                index.create(connection)
                self.progress.advance(1)
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA threads = 0")

    # -- streets --------------------------------------------------------------------------

    def _stored_streets(self) -> dict[int, NewStreet]:
        columns = [Street.__table__.c[name] for name in NewStreet._fields]
        return {row[0]: NewStreet._make(row) for row in self.session.execute(select(*columns))}

    def _streets(self, stored: dict[int, NewStreet]) -> dict[int, _Entry]:
        """Types 11 and 15 of each street merged into one record (or a deletion)."""
        supply, merged = self.supply, {}
        for usrn in sorted(set(supply.streets) | set(supply.descriptors)):
            street = supply.streets.get(usrn)
            descriptor = supply.descriptors.get(usrn)
            if street is not None and street.change_type == "D":
                merged[usrn] = Row("street", street.line, "D", usrn, None)
                continue
            if descriptor is not None and descriptor.record is None:
                continue  # a descriptor deleted alone: Townhall keeps one descriptor per street
            base: StreetRecord | NewStreet | None = (
                street.record if street is not None else None
            ) or stored.get(usrn)
            if base is None:
                base = supply.street_defaults.get(usrn)
            names: DescriptorRecord | NewStreet | None = (
                descriptor.record if descriptor is not None else None
            ) or stored.get(usrn)
            line = (street or descriptor).line  # type: ignore[union-attr]
            change = (street or descriptor).change_type  # type: ignore[union-attr]
            if base is None:
                self.report.reject(
                    Rejection(
                        line,
                        "street descriptor",
                        "USRN",
                        f"street {usrn} has no type 11 record in the file or the gazetteer",
                    )
                )
                continue
            if names is None:
                self.report.reject(
                    Rejection(
                        line,
                        "street",
                        "USRN",
                        f"street {usrn} has no descriptor (type 15) in the file or the gazetteer",
                    )
                )
                continue
            merged[usrn] = Row(
                "street",
                line,
                change,
                usrn,
                NewStreet(
                    usrn=usrn,
                    record_type=base.record_type,
                    descriptor=names.descriptor,
                    locality=names.locality,
                    town=names.town,
                    administrative_area=names.administrative_area,
                    state=base.state,
                    start_easting=base.start_easting,
                    start_northing=base.start_northing,
                    end_easting=base.end_easting,
                    end_northing=base.end_northing,
                    start_date=base.start_date,
                    end_date=base.end_date,
                    last_update_date=base.last_update_date,
                ),
            )
        supply.streets, supply.descriptors, supply.street_defaults = {}, {}, {}
        return merged

    def _diff_streets(self, incoming: dict[int, _Entry], stored: dict[int, NewStreet]) -> _Diff:
        creates, updates, deletes, unchanged = [], [], [], 0
        for usrn, old in stored.items():
            entry = incoming.pop(usrn, None)
            if entry is None:
                if self.full:
                    deletes.append(old)
                continue
            if entry.change_type == "D":
                deletes.append(old)
            elif entry.record == old:
                unchanged += 1
            else:
                updates.append((old, entry.record))
        for usrn, entry in incoming.items():
            if entry.change_type == "D":
                self._nothing_to_delete(entry, "street", usrn)
            else:
                creates.append(entry.record)
        return _Diff(creates, updates, deletes, unchanged)

    def _nothing_to_delete(self, entry: _Entry, kind: str, key: object) -> None:
        self.report.reject(
            Rejection(entry.line, kind, None, f"deletes {key}, which the gazetteer does not hold")
        )

    # -- properties and references --------------------------------------------------------

    def _properties(self, stored_uprns: set[int]) -> dict[int, _Entry]:
        """The file's properties whose parent exists (in the file or the gazetteer)."""
        incoming = self.supply.properties
        self.supply.properties = {}
        accepted: dict[int, bool] = {}

        def settle(uprn: int) -> bool:
            chain: list[int] = []
            current: int | None = uprn
            verdict = True
            while current is not None and current not in accepted:
                entry = incoming.get(current)
                if entry is None or entry.change_type == "D":
                    verdict = current in stored_uprns
                    break
                if current in chain:  # a loop of parents: none of them can be written
                    verdict = False
                    break
                chain.append(current)
                current = entry.record.parent_uprn
            else:
                verdict = accepted[current] if current is not None else True
            for member in reversed(chain):
                entry = incoming[member]
                if not verdict:
                    parent = entry.record.parent_uprn
                    self.report.reject(
                        Rejection(
                            entry.line,
                            "BLPU",
                            "PARENT_UPRN",
                            f"parent {parent} is neither in the file nor in the gazetteer",
                        )
                    )
                accepted[member] = verdict
            return verdict

        for uprn, entry in incoming.items():
            record = entry.record
            if record is None or uprn in accepted:
                continue
            parent = record.parent_uprn
            # Most properties have no parent, or one already settled: no chain to follow.
            if parent is None or accepted.get(parent):
                accepted[uprn] = True
            else:
                settle(uprn)
        if all(accepted.values()):
            return incoming
        return {
            uprn: entry
            for uprn, entry in incoming.items()
            if entry.change_type == "D" or accepted.get(uprn)
        }

    def _references(
        self,
        incoming: dict[str, _Entry],
        kind: str,
        property_keys: set[int],
        street_keys: set[int] | None,
    ) -> dict[str, _Entry]:
        """The file's addresses (or cross-references) whose property and street exist."""
        record_name = "LPI" if kind == "address" else "cross-reference"
        if all(
            entry.record is None
            or (
                entry.record.uprn in property_keys
                and (street_keys is None or entry.record.usrn in street_keys)
            )
            for entry in incoming.values()
        ):
            return incoming  # nothing refused: the usual case, checked without a copy
        kept: dict[str, _Entry] = {}
        for key, entry in incoming.items():
            record = entry.record
            if record is not None:
                if record.uprn not in property_keys:
                    self.report.reject(
                        Rejection(
                            entry.line,
                            record_name,
                            "UPRN",
                            f"property {record.uprn} is neither in the file nor in the gazetteer",
                        )
                    )
                    continue
                if street_keys is not None and record.usrn not in street_keys:
                    self.report.reject(
                        Rejection(
                            entry.line,
                            record_name,
                            "USRN",
                            f"street {record.usrn} is neither in the file nor in the gazetteer",
                        )
                    )
                    continue
            kept[key] = entry
        return kept

    def _derive_properties(
        self, properties: dict[int, _Entry], addresses: dict[str, _Entry]
    ) -> dict[int, _Entry]:
        """Each BLPU as a property: WGS84 from its grid point, the postcode of its best address."""
        best: dict[int, tuple[int, str]] = {}
        for entry in addresses.values():
            record = entry.record
            if record is None:
                continue
            current = best.get(record.uprn)
            if current is None or record.logical_status < current[0]:
                best[record.uprn] = (record.logical_status, record.postcode)
        live = [(uprn, entry) for uprn, entry in properties.items() if entry.record is not None]
        if live:
            latitudes, longitudes = grid_to_wgs84(
                [entry.record.easting for _, entry in live],
                [entry.record.northing for _, entry in live],
            )
            for (uprn, entry), latitude, longitude in zip(
                live, latitudes.tolist(), longitudes.tolist(), strict=True
            ):
                (_, parent, status, state, classification, easting, northing, rpc,
                 organisation, start, end, last) = entry.record  # a BlpuRecord  # fmt: skip
                found = best.get(uprn)
                # In the order of NewProperty's fields, made as in ``dtf`` (a million of them).
                # The postcode is empty until compared: a property whose addresses are not in
                # this file keeps its own.
                record = _made(NewProperty, (
                    uprn, parent, status, state, classification, easting, northing, latitude,
                    longitude, rpc, found[1] if found else "", organisation, start, end, last,
                ))  # fmt: skip
                properties[uprn] = _made(Row, ("property", entry.line, entry.change_type, uprn,
                                               record))  # fmt: skip
        return properties

    # -- comparing ------------------------------------------------------------------------

    def _diff(
        self,
        model: type[Base],
        shape: type[Any],
        incoming: dict[Any, _Entry],
        kind: str,
        *,
        carried: bool,
        empty: bool,
    ) -> _Diff:
        creates: list[Any] = []
        updates: list[tuple[Any, Any]] = []
        deletes: list[Any] = []
        unchanged = 0
        table: Table = model.__table__  # type: ignore[assignment]
        fill_postcode = shape is NewProperty
        if not empty:
            self.progress.phase(f"Comparing {kind.replace('_', ' ')} records", len(incoming))
            columns = [table.c[name] for name in shape._fields]
            result = self.session.execute(select(*columns), execution_options={"yield_per": 20_000})
            compared = 0
            # A partition at a time: iterating the result row by row costs a call per row.
            for old in (
                _made(shape, row) for partition in result.partitions() for row in partition
            ):
                entry = incoming.pop(old[0], None)
                if entry is None:
                    if self.full and carried:
                        deletes.append(old)
                    continue
                compared += 1
                if compared % 20_000 == 0:
                    self.progress.advance(20_000)
                if entry.change_type == "D":
                    deletes.append(old)
                    continue
                new = entry.record
                if fill_postcode and not new.postcode_locator:
                    new = new._replace(postcode_locator=old.postcode_locator)
                if new == old:
                    unchanged += 1
                else:
                    updates.append((old, new))
        for key, entry in incoming.items():
            if entry.change_type == "D":
                self._nothing_to_delete(entry, kind, key)
            else:
                creates.append(entry.record)
        incoming.clear()
        return _Diff(creates, updates, deletes, unchanged)

    # -- deletions ------------------------------------------------------------------------

    def _refuse_deletions(
        self, streets: _Diff, properties: _Diff, addresses: _Diff, xrefs: _Diff
    ) -> None:
        """Keep (and report) each deletion that would leave something pointing at nothing."""
        deleted_lpis = {old.lpi_key for old in addresses.deletes}
        written_addresses = [*addresses.creates, *(new for _, new in addresses.updates)]
        if streets.deletes:
            usrns = {old.usrn for old in streets.deletes}
            in_use = {item.usrn for item in written_addresses if item.usrn in usrns}
            in_use |= {
                usrn
                for key, usrn in self._stored_pairs(AddressRecord, "lpi_key", "usrn", usrns)
                if key not in deleted_lpis
            }
            self._keep(streets, "street", "usrn", dict.fromkeys(in_use, "addresses are on it"))
        if properties.deletes:
            blockers = self._property_blockers(
                properties, deleted_lpis, {old.xref_key for old in xrefs.deletes}
            )
            uprns = {old.uprn for old in properties.deletes}
            for item in written_addresses:
                if item.uprn in uprns:
                    blockers[item.uprn] = "it still has addresses"
            for item in [*xrefs.creates, *(new for _, new in xrefs.updates)]:
                if item.uprn in uprns:
                    blockers.setdefault(item.uprn, "it still has cross-references")
            self._keep(properties, "property", "uprn", blockers)

    def _property_blockers(
        self, properties: _Diff, deleted_lpis: set[str], deleted_xrefs: set[str]
    ) -> dict[int, str]:
        """Why each property that cannot be deleted must stay, by UPRN."""
        uprns = {old.uprn for old in properties.deletes}
        blockers: dict[int, str] = {}
        for key, uprn in self._stored_pairs(AddressRecord, "lpi_key", "uprn", uprns):
            if key not in deleted_lpis:
                blockers[uprn] = "it still has addresses"
        for key, uprn in self._stored_pairs(CrossReference, "xref_key", "uprn", uprns):
            if key not in deleted_xrefs:
                blockers.setdefault(uprn, "it still has cross-references")
        children = list(self._stored_pairs(Property, "uprn", "parent_uprn", uprns))
        children += [
            (item.uprn, item.parent_uprn)
            for item in [*properties.creates, *(new for _, new in properties.updates)]
            if item.parent_uprn in uprns
        ]
        changed = True
        while changed:  # a kept child keeps its parent, and so on up
            changed = False
            for child, parent in children:
                kept_child = child not in uprns or child in blockers
                if parent in uprns and kept_child and parent not in blockers:
                    blockers[parent] = "it still has child properties"
                    changed = True
        return blockers

    def _stored_pairs(
        self, model: type[Base], key: str, reference: str, values: Collection[int]
    ) -> Iterator[tuple[Any, Any]]:
        table: Table = model.__table__  # type: ignore[assignment]
        ordered = sorted(values)
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start : start + _CHUNK]
            statement = select(table.c[key], table.c[reference]).where(
                table.c[reference].in_(chunk)
            )
            for found, referenced in self.session.execute(statement):  # noqa: UP028
                yield found, referenced

    def _keep(self, diff: _Diff, kind: str, key_name: str, reasons: dict[int, str]) -> None:
        """Take the deletions of these keys back, reporting each with its reason."""
        if not reasons:
            return
        kept = [old for old in diff.deletes if getattr(old, key_name) in reasons]
        diff.deletes[:] = [old for old in diff.deletes if getattr(old, key_name) not in reasons]
        for old in kept:
            key = getattr(old, key_name)
            self.report.reject(
                Rejection(None, kind, None, f"{kind} {key} was not deleted: {reasons[key]}")
            )

    # -- writing --------------------------------------------------------------------------

    def _write(self, streets: _Diff, properties: _Diff, addresses: _Diff, xrefs: _Diff) -> None:
        total = sum(
            len(diff.creates) + len(diff.updates) + len(diff.deletes)
            for diff in (streets, properties, addresses, xrefs)
        )
        self.progress.phase("Writing changes", total)
        self._insert(Street, NewStreet, streets.creates)
        self._update(Street, NewStreet, streets.updates)
        self._insert(Property, NewProperty, _parents_first(properties.creates))
        self._update(Property, NewProperty, _parents_first_pairs(properties.updates))
        self._insert(CrossReference, NewCrossReference, xrefs.creates)
        self._update(CrossReference, NewCrossReference, xrefs.updates)
        self._insert(AddressRecord, NewAddress, addresses.creates)
        self._update(AddressRecord, NewAddress, addresses.updates)
        self._delete(AddressRecord, "lpi_key", [old.lpi_key for old in addresses.deletes])
        self._delete(CrossReference, "xref_key", [old.xref_key for old in xrefs.deletes])
        self._delete(Property, "uprn", _children_first(properties.deletes))
        self._delete(Street, "usrn", [old.usrn for old in streets.deletes])
        counts = self.report.counts
        for name, diff in (
            ("street", streets),
            ("property", properties),
            ("address", addresses),
            ("cross_reference", xrefs),
        ):
            counts[name] = RecordCounts(
                created=len(diff.creates),
                updated=len(diff.updates),
                deleted=len(diff.deletes),
                unchanged=diff.unchanged,
            )

    def _insert(self, model: type[Base], shape: type[Any], rows: Sequence[Any]) -> None:
        if not rows:
            return
        now = self.now
        insert_rows(
            self.session,
            self.tables[model.__tablename__],
            (*shape._fields, "modified_at"),
            ((*row, now) for row in rows),
            on_batch=self.progress.advance,
        )

    def _update(
        self, model: type[Base], shape: type[Any], pairs: Sequence[tuple[Any, Any]]
    ) -> None:
        if not pairs:
            return
        table: Table = model.__table__  # type: ignore[assignment]
        key = shape._fields[0]
        statement = (
            update(table)
            .where(table.c[key] == bindparam("_key"))
            .values({name: bindparam(name) for name in (*shape._fields[1:], "modified_at")})
        )
        for start in range(0, len(pairs), 5_000):
            batch = pairs[start : start + 5_000]
            self.session.connection().execute(
                statement,
                [{"_key": new[0], **new._asdict(), "modified_at": self.now} for _, new in batch],
            )
            self.progress.advance(len(batch))

    def _delete(self, model: type[Base], key: str, keys: Sequence[Any]) -> None:
        table: Table = model.__table__  # type: ignore[assignment]
        # One statement per key, in order: a block's flats go before the block on both databases.
        statement = delete(table).where(table.c[key] == bindparam("_key"))
        for start in range(0, len(keys), 5_000):
            batch = keys[start : start + 5_000]
            self.session.connection().execute(statement, [{"_key": value} for value in batch])
            self.progress.advance(len(batch))

    # -- change records and the search index -----------------------------------------------

    def _record_changes(self, diffs: Sequence[tuple[str, _Diff]]) -> None:
        total = sum(len(d.creates) + len(d.updates) + len(d.deletes) for _, d in diffs)
        if not total:
            return
        table = self.tables[AddressChange.__tablename__]
        columns = (
            "recorded_at",
            "import_id",
            "record_type",
            "record_key",
            "uprn",
            "action",
            "changes",
        )
        self.progress.phase("Recording changes", total)
        insert_rows(
            self.session, table, columns, self._change_rows(diffs), on_batch=self.progress.advance
        )

    def _record_creations(self, diffs: Sequence[tuple[str, _Diff]]) -> None:
        """Record a first import's creations in SQL, one statement per table.

        The gazetteer was empty, so every record now in its tables was created by this import
        and nothing was updated or deleted: each table's rows become its change rows in the
        database, without a million tuples passing through Python.
        """
        total = sum(len(diff.creates) for _, diff in diffs)
        if not total:
            return
        self.progress.phase("Recording changes", total)
        changes = self.tables[AddressChange.__tablename__]
        columns = ("recorded_at", "import_id", "record_type", "record_key", "uprn", "action",
                   "changes")  # fmt: skip
        for record_type, diff in diffs:
            if not diff.creates:
                continue
            model = _MODELS[record_type]
            table: Table = model.__table__  # type: ignore[assignment]
            key = table.primary_key.columns.values()[0]
            source = select(
                literal(self.now, DateTime(timezone=True)),
                literal(self.report.import_id, String(36)),
                literal(record_type, String(20)),
                cast(key, String(20)),
                null() if record_type == "street" else table.c.uprn,
                literal("created", String(10)),
                literal({}, JSON),
            )
            self.session.execute(insert(changes).from_select(columns, source))
            self.progress.advance(len(diff.creates))

    def _change_rows(self, diffs: Iterable[tuple[str, _Diff]]) -> Iterator[tuple[Any, ...]]:
        now, import_id = self.now, self.report.import_id
        iso: dict[date, str] = {}  # dates repeat: each is written out once

        def plain(value: Any) -> Any:
            if type(value) is date:
                text = iso.get(value)
                if text is None:
                    text = iso[value] = value.isoformat()
                return text
            return value

        for record_type, diff in diffs:
            street = record_type == "street"
            for new in diff.creates:
                # The new record is in its table: a creation needs no values (a record's
                # earlier values follow from the old halves of its later updates).
                yield (now, import_id, record_type, str(new[0]), None if street else new.uprn,
                       "created", {})  # fmt: skip
            for old, new in diff.updates:
                yield (
                    now,
                    import_id,
                    record_type,
                    str(new[0]),
                    None if street else new.uprn,
                    "updated",
                    {
                        name: [plain(before), plain(after)]
                        for name, before, after in zip(new._fields, old, new, strict=True)
                        if before != after
                    },
                )
            for old in diff.deletes:
                fields = old._fields
                yield (
                    now,
                    import_id,
                    record_type,
                    str(old[0]),
                    None if street else old.uprn,
                    "deleted",
                    {
                        fields[index]: [plain(value), None]
                        for index, value in enumerate(old)
                        if value is not None
                    },
                )

    def _emit_loaded(self, diffs: Sequence[tuple[str, _Diff]]) -> bool:
        """Emit one ``gazetteer.loaded`` event for a first import; whether it created anything.

        A million creation events would tell consumers nothing the API does not (ADR 24).
        """
        created = {record_type: len(diff.creates) for record_type, diff in diffs}
        if not any(created.values()):
            return False
        import_id = self.report.import_id
        outbox.emit(
            self.session,
            GAZETTEER_LOADED,
            import_id,
            {
                "import_id": import_id,
                "streets": created["street"],
                "properties": created["property"],
                "addresses": created["address"],
                "cross_references": created["cross_reference"],
            },
            correlation_id=import_id,
        )
        return True

    def _build_index(self) -> None:
        """Build the whole search index, and start its projection after the loaded event."""
        self.progress.phase("Building the search index", 1)
        search_index.refresh(self.session)
        place_cursor(
            self.session,
            search_projection.READER_NAME,
            outbox_end(self.session),
            only_if_missing=False,
        )
        self.progress.advance(1)

    def _emit_changes(self, diffs: Sequence[tuple[str, _Diff]]) -> None:
        """Write one event per change into the outbox, in this import's unit of work."""
        total = sum(len(d.creates) + len(d.updates) + len(d.deletes) for _, d in diffs)
        if not total:
            return
        self.progress.phase("Writing events", total)
        batch: list[NewEvent] = []
        for new_event in self._change_events(diffs):
            batch.append(new_event)
            if len(batch) == 5_000:
                outbox.emit_many(self.session, batch)
                self.progress.advance(len(batch))
                batch = []
        outbox.emit_many(self.session, batch)
        self.progress.advance(len(batch))

    def _change_events(self, diffs: Iterable[tuple[str, _Diff]]) -> Iterator[NewEvent]:
        import_id = self.report.import_id
        iso: dict[date, str] = {}

        def plain(value: Any) -> Any:
            if type(value) is date:
                text = iso.get(value)
                if text is None:
                    text = iso[value] = value.isoformat()
                return text
            return value

        def event(record_type: str, action: str, record: Any, changes: dict[str, Any]) -> NewEvent:
            return NewEvent(
                RECORD_EVENT_TYPES[(record_type, action)],
                str(record[0]),
                {
                    "uprn": None if record_type == "street" else record.uprn,
                    "import_id": import_id,
                    "changes": changes,
                },
                correlation_id=import_id,
            )

        for record_type, diff in diffs:
            for new in diff.creates:
                changes = {
                    name: {"old": None, "new": plain(value)}
                    for name, value in zip(new._fields, new, strict=True)
                    if value is not None
                }
                yield event(record_type, "created", new, changes)
            for old, new in diff.updates:
                changes = {
                    name: {"old": plain(before), "new": plain(after)}
                    for name, before, after in zip(new._fields, old, new, strict=True)
                    if before != after
                }
                yield event(record_type, "updated", new, changes)
            for old in diff.deletes:
                changes = {
                    name: {"old": plain(value), "new": None}
                    for name, value in zip(old._fields, old, strict=True)
                    if value is not None
                }
                yield event(record_type, "deleted", old, changes)


_MODELS: dict[str, type[Base]] = {
    "street": Street,
    "property": Property,
    "address": AddressRecord,
    "cross_reference": CrossReference,
}


def _depths(items: Iterable[tuple[int, int | None]]) -> dict[int, int]:
    """How far below a property outside these ``(uprn, parent)`` pairs each one is."""
    parent_of = dict(items)
    # Most properties have no parent among these: depth 0 without following a chain.
    depth: dict[int, int] = {
        uprn: 0 for uprn, parent in parent_of.items() if parent is None or parent not in parent_of
    }
    for start in parent_of:
        if start in depth:
            continue
        chain: list[int] = []
        current: int | None = start
        while current is not None and current in parent_of and current not in depth:
            if current in chain:
                break
            chain.append(current)
            current = parent_of[current]
        known = depth.get(current, -1) if current is not None else -1
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member] = known + offset
    return depth


def _parents_first(properties: list[NewProperty]) -> list[NewProperty]:
    depth = _depths((item.uprn, item.parent_uprn) for item in properties)
    return sorted(properties, key=lambda item: depth[item.uprn])


def _parents_first_pairs(
    pairs: list[tuple[NewProperty, NewProperty]],
) -> list[tuple[NewProperty, NewProperty]]:
    depth = _depths((new.uprn, new.parent_uprn) for _, new in pairs)
    return sorted(pairs, key=lambda pair: depth[pair[1].uprn])


def _children_first(properties: list[NewProperty]) -> list[int]:
    depth = _depths((item.uprn, item.parent_uprn) for item in properties)
    return sorted((item.uprn for item in properties), key=lambda uprn: -depth[uprn])


# --- the export -------------------------------------------------------------------------------


def export_gazetteer(
    database: Database, path: Path | str, *, format: Format = "dtf"
) -> ExportReport:
    """Write the whole gazetteer to ``path`` as a DTF 7.3 full supply or a plain CSV."""
    path = Path(path)
    with database.read() as session, path.open("w", encoding="utf-8", newline="") as file:
        streets = {
            row.usrn: row
            for row in (
                NewStreet._make(values)
                for values in session.execute(
                    select(*[Street.__table__.c[name] for name in NewStreet._fields])
                )
            )
        }
        if format == "csv":
            return _export_csv(session, file, streets)
        first_key = session.scalar(select(func.min(AddressRecord.lpi_key)))
        custodian = int(first_key[:4]) if first_key and first_key[:4].isdigit() else 0
        writer = DtfWriter(file, custodian_code=custodian)
        writer.header()
        for street in sorted(streets.values()):
            writer.street(street)
        properties = 0
        for values in _stream(session, Property, BlpuRecord._fields, Property.uprn):
            writer.blpu(BlpuRecord._make(values))
            properties += 1
        xrefs = 0
        for values in _stream(
            session, CrossReference, NewCrossReference._fields, CrossReference.xref_key
        ):
            writer.xref(NewCrossReference._make(values))
            xrefs += 1
        addresses = 0
        for values in _stream(session, AddressRecord, NewAddress._fields, AddressRecord.lpi_key):
            address = NewAddress._make(values)
            on_street = streets.get(address.usrn)
            writer.lpi(address, on_street.town if on_street else "")
            addresses += 1
        writer.trailer()
        return ExportReport("dtf", len(streets), properties, addresses, xrefs, writer.records)


def _stream(
    session: Session, model: type[Base], fields: Sequence[str], order: Any
) -> Iterator[Any]:
    table: Table = model.__table__  # type: ignore[assignment]
    yield from session.execute(
        select(*[table.c[name] for name in fields]).order_by(order),
        execution_options={"yield_per": 20_000},
    )


def _export_csv(session: Session, file: Any, streets: dict[int, NewStreet]) -> ExportReport:
    writer = PlainCsvWriter(file)
    lpis: Table = AddressRecord.__table__  # type: ignore[assignment]
    blpus: Table = Property.__table__  # type: ignore[assignment]
    columns = [lpis.c[name] for name in NewAddress._fields] + [
        blpus.c[name] for name in BlpuRecord._fields
    ]
    statement = (
        select(*columns)
        .join_from(lpis, blpus, lpis.c.uprn == blpus.c.uprn)
        .order_by(lpis.c.lpi_key)
    )
    width = len(NewAddress._fields)
    uprns: set[int] = set()
    for values in session.execute(statement, execution_options={"yield_per": 20_000}):
        address = NewAddress._make(values[:width])
        blpu = BlpuRecord._make(values[width:])
        writer.address(address, streets[address.usrn], blpu)
        uprns.add(address.uprn)
    return ExportReport("csv", len(streets), len(uprns), writer.records, 0, writer.records + 1)
