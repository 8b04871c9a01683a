"""Benchmark: build a synthetic borough into a fresh database and compare with a raw insert.

    python bench/borough.py                      # the borough size on SQLite (target: < 120 s)
    python bench/borough.py --size large
    python bench/borough.py --database-url postgresql://townhall@127.0.0.1:54330/postgres

With a PostgreSQL URL, a new database is created on that server for the run and dropped after.
Times depend on the machine, so each figure is also given against a baseline measured in the
same run: inserting as many fixed-width rows with plain ``sqlite3`` ``executemany`` into a
fresh file. "generator+load = N x raw insert" then reads the same on a fast or a slow machine.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from townhall.demo import BoroughSize, BuildReport, build_borough
from townhall.demo.postcodes import council_postcodes
from townhall.platform.db import Database, normalise_url
from townhall.platform.migrations import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=BoroughSize, default=BoroughSize.BOROUGH)
    parser.add_argument("--council", default="E09000012", help="GSS code (default Hackney)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server to build on (default SQLite)"
    )
    arguments = parser.parse_args()
    # The figures are the output; the build's own progress lines would bury them.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    # The postcode directory is read once per process; the CLI pays for it too, so it is timed
    # separately rather than hidden in the build or left out.
    started = time.perf_counter()
    council_postcodes(arguments.council)
    postcode_seconds = time.perf_counter() - started

    with fresh_database(arguments.database_url) as database:
        report = build_borough(
            database,
            council_code=arguments.council,
            size=arguments.size,
            seed=arguments.seed,
            show_progress=False,
        )
        dialect = database.dialect
    total_rows = sum(report.row_counts.values())
    baseline_seconds = raw_sqlite_insert_seconds(total_rows)
    print_report(report, dialect, postcode_seconds, baseline_seconds)


@contextmanager
def fresh_database(server_url: str | None) -> Iterator[Database]:
    """A migrated, empty database: a SQLite file in a temporary folder, or a new PostgreSQL one."""
    if server_url is None:
        with tempfile.TemporaryDirectory() as folder:
            database = Database(f"sqlite:///{Path(folder) / 'bench.db'}")
            upgrade(database)
            try:
                yield database
            finally:
                database.dispose()
        return
    name = f"townhall_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(make_url(server_url).set(database=name).render_as_string(False))
    try:
        upgrade(database)
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def raw_sqlite_insert_seconds(rows: int) -> float:
    """Seconds to insert ``rows`` fixed-width rows with plain sqlite3, in one transaction."""
    values = [
        (number, 100_021_000_000 + number, f"5360L{number:09d}", "N1 3GN", 533_000.5, 184_000.5)
        for number in range(rows)
    ]
    with tempfile.TemporaryDirectory() as folder:
        connection = sqlite3.connect(Path(folder) / "baseline.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE baseline (id INTEGER PRIMARY KEY, uprn INTEGER, lpi_key TEXT, "
            "postcode TEXT, easting REAL, northing REAL)"
        )
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO baseline VALUES (?, ?, ?, ?, ?, ?)", values)
        connection.execute("COMMIT")
        seconds = time.perf_counter() - started
        connection.close()
    return seconds


def print_report(
    report: BuildReport, dialect: str, postcode_seconds: float, baseline_seconds: float
) -> None:
    total_rows = sum(report.row_counts.values())
    baseline_rate = total_rows / baseline_seconds
    print(f"Synthetic borough {report.council_code}, size {report.size}, seed {report.seed}")
    print(f"database: {dialect}")
    print()
    print(f"{'table':<24}{'rows':>12}")
    for table, rows in report.row_counts.items():
        print(f"{table:<24}{rows:>12,}")
    print(f"{'total':<24}{total_rows:>12,}")
    print()
    print(f"reading postcodes       {postcode_seconds:8.2f} s (once per process)")
    print(
        f"generator+load          {report.seconds:8.2f} s  {report.rows_per_second:>10,.0f} rows/s"
    )
    print(f"raw sqlite3 insert      {baseline_seconds:8.2f} s  {baseline_rate:>10,.0f} rows/s")
    print()
    print(f"generator+load = {report.seconds / baseline_seconds:.1f} x raw insert")
    whole = postcode_seconds + report.seconds
    if report.size is BoroughSize.BOROUGH:
        print(f"postcodes+generator+load = {whole:.1f} s (target on SQLite: under 120 s)")
    else:
        print(f"postcodes+generator+load = {whole:.1f} s")


if __name__ == "__main__":
    main()
