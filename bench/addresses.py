"""Benchmark: every figure issue 4 asks of the addresses domain, in one run.

    python bench/addresses.py                                   # SQLite only
    python bench/addresses.py --postgres postgresql://townhall@127.0.0.1:54330/postgres

It runs the three address benchmarks in turn and prints each one's figures beside the baseline it
measured in the same run:

1. ``addresses_import.py``: a 1,000,000-address NLPG DTF 7.3 file imported into an empty
   database, then again unchanged, then with 1% of addresses changed (target: under 60 s);
2. ``addresses_lookup.py``: postcode look-up p99 (target 5 ms), free-text search p95 (target
   25 ms) and UPRN look-ups per second over HTTP, on the same 1,000,000-address gazetteer, on
   SQLite and, with ``--postgres``, on PostgreSQL (each loaded by a DTF import into a database
   created for the run and dropped after);
3. ``addresses_matching.py``: precision, recall and addresses per second of Townhall's matchers
   and of uk-address-matcher used directly, on 11,000 messy addresses made by ``address-errors``
   from the 100,000-property borough, 10% of them with no true match.

The large and borough-size gazetteers are built once with the demo generator (seed 42) into
``bench/.cache`` (about 7 minutes and 1 minute) and reused by later runs; ``--large`` and
``--borough`` point at databases built elsewhere. Nothing here is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

BENCH_DIR = Path(__file__).resolve().parent
CACHE = BENCH_DIR / ".cache"
sys.path.insert(0, str(BENCH_DIR))

import addresses_import  # noqa: E402
import addresses_lookup  # noqa: E402
import addresses_matching  # noqa: E402
from borough import fresh_database  # noqa: E402
from townhall.demo import BoroughSize, build_borough  # noqa: E402
from townhall.domains.addresses.gazetteer_import import (  # noqa: E402
    export_gazetteer,
    import_gazetteer,
)
from townhall.platform.db import Database  # noqa: E402
from townhall.platform.migrations import upgrade  # noqa: E402


def demo_gazetteer(path: Path | None, size: BoroughSize) -> Path:
    """A SQLite database holding the demo borough of ``size`` (seed 42), built once and kept."""
    if path is not None:
        return path
    CACHE.mkdir(exist_ok=True)
    built = CACHE / f"{size}.db"
    if not built.exists():
        print(f"Building the {size} demo borough into {built} (once)", flush=True)
        partial = built.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        database = Database(f"sqlite:///{partial}")
        try:
            upgrade(database)
            build_borough(
                database, council_code="E09000012", size=size, seed=42, show_progress=False
            )
        finally:
            database.dispose()
        partial.rename(built)
    return built


def lookups(large: Path, admin_url: str | None, **options: Any) -> dict[str, Any]:
    """The look-up figures on a database loaded from the large gazetteer by a DTF import.

    The source is only read: its gazetteer is exported, then imported into a new database (a
    SQLite file in a temporary folder, or a database created on ``admin_url`` and dropped after),
    so the search index is the one the current code builds, whatever built the source.
    """
    with tempfile.TemporaryDirectory(prefix="townhall-lookup-bench-") as work:
        file = Path(work) / "gazetteer.dtf"
        source = Database(f"sqlite:///{large}")
        try:
            export_gazetteer(source, file)
        finally:
            source.dispose()
        with fresh_database(admin_url) as database:
            started = time.perf_counter()
            import_gazetteer(database, file)
            print(f"Loaded by import in {time.perf_counter() - started:.1f} s", flush=True)
            url = database.engine.url.render_as_string(hide_password=False)
            return addresses_lookup.run(url, **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to also measure")
    parser.add_argument("--large", type=Path, help="a SQLite database with the large borough")
    parser.add_argument("--borough", type=Path, help="a SQLite database with a borough-size one")
    parser.add_argument("--queries", type=int, default=3000, help="look-ups per kind")
    parser.add_argument("--http-seconds", type=int, default=10, help="0 skips the HTTP load")
    parser.add_argument("--strings", type=int, default=11_000, help="messy addresses to match")
    parser.add_argument(
        "--only", choices=("import", "lookup", "matching"), action="append", help="run only these"
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    logging.getLogger("uk_address_matcher").setLevel(logging.WARNING)
    only = set(arguments.only or ("import", "lookup", "matching"))
    figures: dict[str, Any] = {}

    if only & {"import", "lookup"}:
        large = demo_gazetteer(arguments.large, BoroughSize.LARGE)
    if "import" in only:
        print("\n== Import (NLPG DTF 7.3)", flush=True)
        figures["import"] = addresses_import.run(large, postgres_admin_url=arguments.postgres)
        print(json.dumps(figures["import"], indent=2), flush=True)
    if "lookup" in only:
        options = {"queries_count": arguments.queries, "http_seconds": arguments.http_seconds}
        print("\n== Look-ups: SQLite", flush=True)
        figures["lookup_sqlite"] = lookups(large, None, **options)
        addresses_lookup.print_report(figures["lookup_sqlite"])
        if arguments.postgres:
            print("\n== Look-ups: PostgreSQL", flush=True)
            figures["lookup_postgresql"] = lookups(large, arguments.postgres, **options)
            addresses_lookup.print_report(figures["lookup_postgresql"])
    if "matching" in only:
        borough = demo_gazetteer(arguments.borough, BoroughSize.BOROUGH)
        print("\n== Matching accuracy", flush=True)
        figures["matching"] = addresses_matching.run(f"sqlite:///{borough}", size=arguments.strings)
        addresses_matching.print_report(figures["matching"])
    CACHE.mkdir(exist_ok=True)
    (CACHE / "addresses-figures.json").write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(f"\nAll figures: {CACHE / 'addresses-figures.json'}")


if __name__ == "__main__":
    main()
