"""Benchmark: importing a 1,000,000-address gazetteer (NLPG DTF 7.3), on SQLite and PostgreSQL.

    python bench/addresses_import.py /tmp/copy-of-large.db
    python bench/addresses_import.py /tmp/copy-of-large.db --postgres postgresql://townhall@127.0.0.1:54330/postgres

The source is a SQLite database holding a large gazetteer (``townhall demo --size large
--build-only``): it is only read, to export the DTF file the imports read. For each backend the
benchmark times, into a database it creates and drops:

* the first import into an empty gazetteer (every record created, every change recorded, the
  search index built; target under 60 s on 2 cores);
* a re-import of the same file (nothing changes: the whole file is read and compared);
* an import of a file in which 1% of the addresses changed (a new building name).

Each is printed as seconds and rows per second, next to the baseline measured in the same run:
reading the same file with the standard library's ``csv`` module and nothing else, so the ratio
says how much dearer than a bare read of the file an import is.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from townhall.domains.addresses.gazetteer_import import export_gazetteer, import_gazetteer
from townhall.platform.db import Database
from townhall.platform.migrations import upgrade


def _baseline(path: Path) -> tuple[float, int]:
    """Seconds to read every row of the file with ``csv`` and do nothing else, and the rows."""
    started = time.perf_counter()
    rows = 0
    with path.open(encoding="utf-8", newline="") as file:
        for _ in csv.reader(file):
            rows += 1
    return time.perf_counter() - started, rows


def _one_percent_changed(source: Path, target: Path) -> int:
    """A copy of the DTF file with every hundredth address's building name changed."""
    changed = 0
    lpis = 0
    with (
        source.open(encoding="utf-8", newline="") as inp,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        writer = csv.writer(out, lineterminator="\r\n")
        for fields in csv.reader(inp):
            if fields[0] == "24":
                lpis += 1
                if lpis % 100 == 0:
                    fields[20] = f"Renamed House {lpis}"
                    changed += 1
            writer.writerow(fields)
    return changed


def _timed_import(database: Database, path: Path) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    report = import_gazetteer(database, path)
    seconds = time.perf_counter() - started
    return {
        # The machine's one-minute load average before and after: other work on the same
        # cores slows every phase, so a figure is only comparable beside its load.
        "load": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "seconds": round(seconds, 2),
        "rows_per_second": round(report.rows_read / seconds),
        "changes": report.changes,
        "rejected": report.rejected_count,
        "counts": {name: vars(counts) for name, counts in report.counts.items()},
        "phases": report.phases,
    }


def _backend_runs(
    url: str, file: Path, changed_file: Path, baseline: float
) -> dict[str, dict[str, Any]]:
    database = Database(url)
    upgrade(database)
    results: dict[str, dict[str, Any]] = {}
    try:
        for name, path in (("first", file), ("same_again", file), ("one_percent", changed_file)):
            result = _timed_import(database, path)
            result["ratio_to_csv_read"] = round(result["seconds"] / baseline, 1)
            results[name] = result
            print(
                f"  {name:<12} {result['seconds']:>8.1f} s {result['rows_per_second']:>10,} rows/s"
                f" {result['ratio_to_csv_read']:>6.1f} x the csv read, "
                f"{result['changes']:,} changes, load {result['load'][0]} to {result['load'][1]}",
                flush=True,
            )
            phases = ", ".join(
                f"{phase} {seconds:.1f} s" for phase, seconds in result["phases"].items()
            )
            print(f"               {phases}", flush=True)
    finally:
        database.dispose()
    return results


def _postgres_database(admin_url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from townhall.platform.db import normalise_url

    name = f"townhall_import_bench_{os.getpid()}"
    engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, drop


def run(source_db: Path, *, postgres_admin_url: str | None = None) -> dict[str, Any]:
    """Export the source's gazetteer to DTF, then time the imports; return every figure."""
    work = Path(tempfile.mkdtemp(prefix="townhall-import-bench-"))
    try:
        file, changed_file = work / "gazetteer.dtf", work / "gazetteer-1pc.dtf"
        started = time.perf_counter()
        source = Database(f"sqlite:///{source_db}")
        exported = export_gazetteer(source, file)
        source.dispose()
        export_seconds = time.perf_counter() - started
        changed = _one_percent_changed(file, changed_file)
        baseline, rows = _baseline(file)
        figures: dict[str, Any] = {
            "addresses": exported.addresses,
            "properties": exported.properties,
            "rows": rows,
            "file_mb": round(file.stat().st_size / 1e6, 1),
            "export_seconds": round(export_seconds, 2),
            "csv_read_seconds": round(baseline, 2),
            "csv_read_rows_per_second": round(rows / baseline),
            "one_percent_changed": changed,
            "cores": os.cpu_count(),
        }
        print(
            f"{exported.addresses:,} addresses, {rows:,} DTF rows ({figures['file_mb']} MB); "
            f"export {export_seconds:.1f} s; baseline csv read {baseline:.2f} s "
            f"({figures['csv_read_rows_per_second']:,} rows/s); {os.cpu_count()} cores",
            flush=True,
        )
        print("SQLite", flush=True)
        figures["sqlite"] = _backend_runs(
            f"sqlite:///{work / 'import.db'}", file, changed_file, baseline
        )
        if postgres_admin_url:
            print("PostgreSQL", flush=True)
            url, drop = _postgres_database(postgres_admin_url)
            try:
                figures["postgresql"] = _backend_runs(url, file, changed_file, baseline)
            finally:
                drop()
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Run the benchmark from the command line and print the figures as JSON at the end."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="SQLite database holding a large gazetteer")
    parser.add_argument("--postgres", help="URL of a PostgreSQL server to create a database on")
    arguments = parser.parse_args()
    # Import progress is logged at info; the benchmark prints its own lines.
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    figures = run(arguments.source, postgres_admin_url=arguments.postgres)
    print(json.dumps(figures, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
