"""Building the synthetic borough: generate it from a seed, hand it to the domains, record it.

This module owns the order of a build and its bookkeeping. The gazetteer goes to the addresses
domain's service. The person records go the way a real council's do: each source system's
records are written as that system's extract (``extracts``: CSV files and a SQLite database),
registered as a source, and read by the people domain's connectors in a sync, the only writer of
its tables. The demo writes just its own tables, the truth and the record of the build. A build
never runs on a database that already holds data, so two boroughs never mix.

The extracts stay where they were written, so the sources can be synced again: beside a SQLite
database file (``<name>-extracts``), or for any other database in a new temporary directory
named in the build's report and log (ADR 32).
"""

from __future__ import annotations

import math
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select

from townhall.demo.exceptions import DatabaseNotEmpty, InvalidSeed
from townhall.demo.extracts import write_extracts
from townhall.demo.models import DemoBuild, PersonTruth
from townhall.demo.names import NameSampler
from townhall.demo.people import populate
from townhall.demo.postcodes import CouncilPostcode, council_postcodes
from townhall.demo.properties import place_properties
from townhall.demo.sizes import PROFILES, BoroughSize
from townhall.demo.source_systems import TruthRow, write_source_records
from townhall.demo.streets import plan_streets
from townhall.domains.addresses.service import count_gazetteer, count_properties, load_gazetteer
from townhall.domains.people.service import count_source_records
from townhall.domains.people.sources import all_sources, register_source
from townhall.domains.people.sync import sync_sources
from townhall.platform.bulk import insert_rows
from townhall.platform.db import Base, Database
from townhall.platform.geography import BoundingBox
from townhall.platform.logging import get_logger
from townhall.platform.progress import BuildProgress, build_progress

log = get_logger(__name__)

# The borough is as it stood on this day, whatever day it is built: ages, dates of moves and
# record dates all count from it, so the same seed gives the same rows next year too.
REFERENCE_DATE = date(2025, 4, 1)

_LARGEST_SEED = 2**31 - 1  # demo_builds.seed is a 32-bit integer on PostgreSQL


@dataclass(frozen=True)
class BuildReport:
    """What a build made: the council, size and seed, how long it took, rows per table."""

    council_code: str
    size: BoroughSize
    seed: int
    seconds: float
    row_counts: dict[str, int]
    # Where the source systems' extracts were written (None for a build read back from the
    # database's record of it).
    extracts: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Rows written per second of the whole build (generating and writing)."""
        return sum(self.row_counts.values()) / self.seconds if self.seconds > 0 else 0.0


def build_borough(
    database: Database,
    *,
    council_code: str,
    size: BoroughSize,
    seed: int,
    show_progress: bool | None = None,
    extracts: Path | None = None,
) -> BuildReport:
    """Generate the council's synthetic borough from ``seed`` and write it to ``database``.

    The same council, size and seed always give the same rows. Raises UnknownCouncil for a
    code with no postcodes, DatabaseNotEmpty when the database already holds a gazetteer or
    person records, and InvalidSeed for a seed outside 0 to 2**31 - 1. ``show_progress``
    defaults to a progress bar when standard error is a terminal, and log lines otherwise.
    ``extracts`` is the folder the source systems' extracts are written to (by default beside
    a SQLite database file, or a new temporary directory).
    """
    started = time.perf_counter()
    size = BoroughSize(size)
    council_code = council_code.strip().upper()
    if not 0 <= seed <= _LARGEST_SEED:
        msg = f"The seed must be a whole number from 0 to {_LARGEST_SEED}; {seed} is not."
        raise InvalidSeed(msg)
    all_postcodes = council_postcodes(council_code)
    _refuse_unless_empty(database)
    folder = extracts if extracts is not None else _extracts_folder(database)
    on_terminal = sys.stderr.isatty() if show_progress is None else show_progress
    log.info("demo.build.started", council_code=council_code, size=str(size), seed=seed)
    with build_progress(on_terminal=on_terminal) as progress:
        row_counts = _generate_and_write(
            database,
            all_postcodes=all_postcodes,
            council_code=council_code,
            size=size,
            seed=seed,
            progress=progress,
            extracts=folder,
        )
    report = BuildReport(
        council_code=council_code,
        size=size,
        seed=seed,
        seconds=round(time.perf_counter() - started, 3),
        row_counts=row_counts,
        extracts=str(folder),
    )
    with database.write() as session:
        session.add(
            DemoBuild(
                council_code=report.council_code,
                size=str(report.size),
                seed=report.seed,
                row_counts=report.row_counts,
                seconds=report.seconds,
                built_at=datetime.now(UTC),
            )
        )
    log.info(
        "demo.build.finished",
        council_code=council_code,
        size=str(size),
        seed=seed,
        seconds=report.seconds,
        rows=sum(row_counts.values()),
        extracts=str(folder),
    )
    return report


def borough_is_built(database: Database) -> bool:
    """Whether the gazetteer already has properties (from a demo build or a real import)."""
    return count_properties(database) > 0


def latest_build(database: Database) -> BuildReport | None:
    """The most recent demo build recorded in this database, or None."""
    with database.read() as session:
        build = session.scalars(select(DemoBuild).order_by(DemoBuild.id.desc()).limit(1)).first()
        if build is None:
            return None
        return BuildReport(
            council_code=build.council_code,
            size=BoroughSize(build.size),
            seed=build.seed,
            seconds=build.seconds,
            row_counts=dict(build.row_counts),
        )


def _extracts_folder(database: Database) -> Path:
    """Beside a SQLite database file; otherwise a new temporary directory, kept after the build."""
    url = database.engine.url
    if database.is_sqlite and url.database not in (None, "", ":memory:"):
        path = Path(str(url.database))
        return path.with_name(f"{path.stem}-extracts")
    return Path(tempfile.mkdtemp(prefix="townhall-demo-extracts-"))


def _refuse_unless_empty(database: Database) -> None:
    gazetteer = count_gazetteer(database)
    records = count_source_records(database)
    sources = len(all_sources(database))
    with database.read() as session:
        truth = session.scalar(select(func.count()).select_from(PersonTruth)) or 0
    if (
        gazetteer.streets
        or gazetteer.properties
        or gazetteer.addresses
        or records
        or truth
        or sources
    ):
        msg = (
            f"This database already holds {gazetteer.properties:,} properties, "
            f"{gazetteer.streets:,} streets, {records:,} person records and {sources} source "
            "systems. A borough is only "
            "built into an empty database, so that two boroughs never mix: point "
            "TOWNHALL_DATABASE_URL at a new database, or empty this one first."
        )
        raise DatabaseNotEmpty(msg)


def _generate_and_write(
    database: Database,
    *,
    all_postcodes: tuple[CouncilPostcode, ...],
    council_code: str,
    size: BoroughSize,
    seed: int,
    progress: BuildProgress,
    extracts: Path,
) -> dict[str, int]:
    profile = PROFILES[size]

    def stream(stage: str) -> random.Random:
        # One generator per stage: changing how one stage draws leaves the others' rows alone.
        return random.Random(f"{council_code}:{size}:{seed}:{stage}")

    postcodes = _neighbourhood(all_postcodes, profile.postcodes, stream("postcodes"))
    bounds = BoundingBox.around((point.easting, point.northing) for point in all_postcodes)

    progress.phase("Laying streets", len(postcodes))
    street_rng = stream("streets")
    streets = plan_streets(
        postcodes,
        rng=street_rng,
        names=NameSampler(street_rng),
        bounds=bounds,
        reference_date=REFERENCE_DATE,
    )
    progress.advance(len(postcodes))

    progress.phase("Placing properties", profile.properties)
    property_rng = stream("properties")
    placed = place_properties(
        streets,
        target=profile.properties,
        rng=property_rng,
        names=NameSampler(property_rng),
        bounds=bounds,
        council_code=council_code,
        reference_date=REFERENCE_DATE,
    )
    progress.advance(profile.properties)

    progress.phase("Housing residents", len(placed.homes))
    people_rng = stream("people")
    households = populate(
        placed.homes, rng=people_rng, names=NameSampler(people_rng), reference_date=REFERENCE_DATE
    )
    progress.advance(len(placed.homes))

    progress.phase("Writing source records", len(households))
    source = write_source_records(
        households, rng=stream("source_systems"), reference_date=REFERENCE_DATE
    )
    progress.advance(len(households))
    log.info(
        "demo.borough.generated",
        residents=sum(len(household.members) for household in households),
        households=len(households),
        records=len(source.records),
    )

    street_rows = [street.as_new_street(council_code, REFERENCE_DATE) for street in streets]
    progress.phase(
        "Saving the gazetteer", len(street_rows) + len(placed.properties) + len(placed.addresses)
    )
    gazetteer = load_gazetteer(
        database,
        streets=street_rows,
        properties=placed.properties,
        addresses=placed.addresses,
        on_progress=progress.advance,
    )
    progress.phase("Writing source extracts", len(source.records))
    definitions = write_extracts(source.records, extracts)
    progress.advance(len(source.records))
    for definition in definitions:
        register_source(
            database,
            name=definition.name,
            label=definition.label,
            connector=definition.connector,
            config=definition.config,
            trust=definition.trust,
        )
    expected = Counter(record.source_system for record in source.records)
    reports = sync_sources(
        database,
        [definition.name for definition in definitions],
        progress=progress,
        expected_rows=expected,
    )
    records = sum(report.sync.added for report in reports)
    progress.phase("Saving the truth", len(source.truth))
    truth = _save_truth(database, source.truth, progress)
    return {
        "address_streets": gazetteer.streets,
        "address_properties": gazetteer.properties,
        "address_lpis": gazetteer.addresses,
        "people_source_records": records,
        "demo_person_truth": truth,
    }


def _neighbourhood(
    postcodes: tuple[CouncilPostcode, ...], wanted: int | None, rng: random.Random
) -> tuple[CouncilPostcode, ...]:
    """The ``wanted`` postcodes nearest one chosen at random: a compact neighbourhood."""
    if wanted is None or wanted >= len(postcodes):
        return postcodes
    centre = rng.choice(postcodes)
    nearest = sorted(
        postcodes,
        key=lambda point: (
            math.dist((point.easting, point.northing), (centre.easting, centre.northing)),
            point.postcode,
        ),
    )
    return tuple(sorted(nearest[:wanted]))


def _save_truth(database: Database, truth: list[TruthRow], progress: BuildProgress) -> int:
    with database.write() as session:
        return insert_rows(
            session,
            Base.metadata.tables[PersonTruth.__tablename__],
            TruthRow._fields,
            truth,
            on_batch=progress.advance,
        )
