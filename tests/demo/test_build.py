"""Building the synthetic borough: deterministic, recorded, and never into a database in use."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select, text

from townhall.demo import (
    BoroughSize,
    DatabaseNotEmpty,
    InvalidSeed,
    UnknownCouncil,
    borough_is_built,
    build_borough,
    latest_build,
)
from townhall.demo.models import DemoBuild
from townhall.domains.people import sources
from townhall.domains.people.sync import sync_sources
from townhall.platform.db import Database
from townhall.platform.migrations import upgrade

HACKNEY = "E09000012"

# Every table a build fills, each ordered by its natural key (the source records' surrogate id
# is left out: it only says in which order rows arrived; so is ``modified_at``, the time of the
# write).
TABLES = {
    "address_streets": "SELECT * FROM address_streets ORDER BY usrn",
    "address_properties": "SELECT * FROM address_properties ORDER BY uprn",
    "address_lpis": "SELECT * FROM address_lpis ORDER BY lpi_key",
    "people_source_records": (
        "SELECT source_system, source_record_id, title, first_name, middle_names, last_name, "
        "date_of_birth, email, phone, national_insurance_number, address_text, postcode, uprn, "
        "attributes, source_updated_at FROM people_source_records "
        "ORDER BY source_system, source_record_id"
    ),
    "demo_person_truth": (
        "SELECT * FROM demo_person_truth ORDER BY source_system, source_record_id"
    ),
    "demo_builds": "SELECT council_code, size, seed, row_counts FROM demo_builds ORDER BY id",
}


def digest(database: Database) -> dict[str, str]:
    """A fingerprint of every row of every table the build fills."""
    fingerprints = {}
    with database.read() as session:
        for table, query in TABLES.items():
            hashed = hashlib.sha256()
            for row in session.execute(text(query)).mappings():
                values = tuple(value for name, value in row.items() if name != "modified_at")
                hashed.update(repr(values).encode())
            fingerprints[table] = hashed.hexdigest()
    return fingerprints


@pytest.fixture
def other_database(empty_database_url: str) -> Iterator[Database]:
    """A second migrated, empty database on the backend under test."""
    database = Database(empty_database_url)
    upgrade(database)
    yield database
    database.dispose()


def build_small(database: Database, seed: int = 42) -> None:
    build_borough(
        database, council_code=HACKNEY, size=BoroughSize.SMALL, seed=seed, show_progress=False
    )


def test_the_same_seed_builds_the_same_rows(database: Database, other_database: Database) -> None:
    build_small(database)
    build_small(other_database)

    assert digest(database) == digest(other_database)


def test_another_seed_builds_another_borough(database: Database, other_database: Database) -> None:
    build_small(database, seed=42)
    build_small(other_database, seed=43)

    first, second = digest(database), digest(other_database)
    assert all(first[table] != second[table] for table in TABLES)


def test_a_build_reports_and_records_what_it_made(database: Database) -> None:
    assert not borough_is_built(database)
    assert latest_build(database) is None

    report = build_borough(
        database, council_code="e09000012", size=BoroughSize.SMALL, seed=7, show_progress=False
    )

    assert borough_is_built(database)
    assert (report.council_code, report.size, report.seed) == (HACKNEY, BoroughSize.SMALL, 7)
    assert set(report.row_counts) == {
        "address_streets",
        "address_properties",
        "address_lpis",
        "people_source_records",
        "demo_person_truth",
    }
    with database.read() as session:
        for table, count in report.row_counts.items():
            assert session.scalar(text(f"SELECT count(*) FROM {table}")) == count
    assert 300 <= report.row_counts["address_properties"] <= 500
    assert report.seconds > 0
    assert report.rows_per_second == sum(report.row_counts.values()) / report.seconds
    # The database records what was built, not where this machine kept the extracts.
    assert latest_build(database) == replace(report, extracts=None)


def test_the_records_come_in_through_each_source_system_connector(
    database: Database, tmp_path: Path
) -> None:
    report = build_borough(
        database, council_code=HACKNEY, size=BoroughSize.SMALL, seed=7, show_progress=False,
        extracts=tmp_path / "extracts",
    )  # fmt: skip

    assert report.extracts == str(tmp_path / "extracts")
    assert sorted(path.name for path in (tmp_path / "extracts").iterdir()) == [
        "benefits.sqlite", "council_tax", "housing.csv", "parking.csv", "social_care.csv",
    ]  # fmt: skip
    standings = [sources.source_standing(database, s.name) for s in sources.all_sources(database)]
    assert [(s.source.name, s.source.trust, s.source.connector) for s in standings] == [
        ("benefits", 1, "sql"), ("council_tax", 2, "csv"), ("housing", 3, "csv"),
        ("social_care", 4, "csv"), ("parking", 5, "csv"),
    ]  # fmt: skip
    assert all(s.last_sync is not None and s.last_sync.status == "finished" for s in standings)
    assert all(s.last_sync is not None and s.last_sync.refused == 0 for s in standings)
    assert sum(s.records for s in standings) == report.row_counts["people_source_records"]
    with database.read() as session:
        unkept = session.scalar(
            text("SELECT count(*) FROM people_source_records WHERE raw IS NULL OR sync_id IS NULL")
        )
        housing_raw = session.scalar(
            text("SELECT raw FROM people_source_records WHERE source_system = 'housing' LIMIT 1")
        )
    assert unkept == 0
    # Kept as housing wrote it: "SURNAME, Forenames" in one column, dates as dd/mm/yyyy.
    raw = housing_raw if isinstance(housing_raw, dict) else json.loads(housing_raw)
    assert re.fullmatch(r"[A-Z' -]+, [A-Z' -]+", raw["Name"])
    assert re.fullmatch(r"(\d{2}/\d{2}/\d{4})?", raw["DOB"])
    # A first load emits one event per source, never one per record.
    with database.read() as session:
        kinds = session.scalars(text("SELECT type FROM event_outbox")).all()
    assert kinds == ["uk.gov.townhall.person-records.loaded"] * 5


def test_a_second_sync_of_the_built_borough_changes_nothing(database: Database) -> None:
    build_small(database, seed=7)

    reports = sync_sources(database, [source.name for source in sources.all_sources(database)])

    assert all(
        report.sync.added == report.sync.changed == report.sync.refused == 0 for report in reports
    )
    # Append-only drops are not read again at all; the others from their last change on.
    assert {r.sync.source: r.sync.rows_read for r in reports}["council_tax"] == 0


def test_a_database_that_holds_a_borough_is_refused(database: Database) -> None:
    build_small(database)

    with pytest.raises(DatabaseNotEmpty, match="already holds 400 properties"):
        build_small(database)

    with database.read() as session:
        assert len(session.scalars(select(DemoBuild)).all()) == 1


def test_an_unknown_council_is_refused_before_anything_is_written(database: Database) -> None:
    with pytest.raises(UnknownCouncil, match="E99999999"):
        build_borough(
            database, council_code="E99999999", size=BoroughSize.SMALL, seed=1, show_progress=False
        )

    assert not borough_is_built(database)


@pytest.mark.parametrize("seed", [-1, 2**31])
def test_a_seed_that_cannot_be_recorded_is_refused(database: Database, seed: int) -> None:
    with pytest.raises(InvalidSeed, match="0 to 2147483647"):
        build_small(database, seed=seed)


def test_progress_is_logged_without_personal_data(
    database: Database, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    build_small(database)

    # Unconfigured, structlog prints; once an app has configured logging, it goes through logging.
    printed = capsys.readouterr()
    output = printed.out + printed.err + caplog.text
    assert "progress.phase.finished" in output
    assert "Syncing housing" in output
    with database.read() as session:
        surnames = set(session.scalars(text("SELECT last_name FROM people_source_records")))
        streets = set(session.scalars(text("SELECT descriptor FROM address_streets")))
    assert not [word for word in surnames | streets if word in output]


def test_a_progress_bar_can_be_asked_for(
    database: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    build_borough(
        database, council_code=HACKNEY, size=BoroughSize.SMALL, seed=42, show_progress=True
    )

    assert "Saving the gazetteer" in capsys.readouterr().err
