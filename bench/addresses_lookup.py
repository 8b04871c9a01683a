"""Benchmark: address look-ups on a large gazetteer, as the API answers them.

    python bench/addresses_lookup.py sqlite:////tmp/copy-of-large.db
    python bench/addresses_lookup.py postgresql+psycopg://townhall@127.0.0.1:54330/big

The database must already hold a gazetteer with its search index (``townhall demo --size large
--build-only`` builds both); ``--refresh`` rebuilds the index first and times it. Never point it
at a database you care about with ``--refresh``. Three figures, each next to a baseline measured
in the same run on the same database:

* **postcode look-up**: ``queries.find_addresses(postcode=...)`` for real postcodes of the
  gazetteer, in any spacing and case (p50 and p99; target p99 <= 5 ms), against a raw
  ``SELECT ... WHERE postcode = ?`` on the indexed column;
* **free-text search**: ``queries.find_addresses(q=...)`` for queries made from real addresses
  as people type them: a house number, the street with a typo in one word, the last word cut
  short, sometimes a flat (p50 and p95; target p95 <= 25 ms), against a raw primary-key SELECT
  of the same address; the share of queries whose address is on the first page is printed too;
* **broad queries**: queries matching tens of thousands of addresses ("flat 1", "road", "e8",
  "12 road"), as the first keystrokes of a search (p50, p95 and the slowest);
* **UPRN look-up over HTTP**: ``GET /api/v1/properties/{uprn}`` for random UPRNs with a real
  token, served by ``townhall serve --workers 2`` on loopback and loaded by ``wrk`` (another
  process), against ``GET /health/live`` of the same server.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import gateway  # noqa: E402 - the server and wrk helpers of the gateway benchmark
from townhall.domains.addresses import queries, search_index  # noqa: E402
from townhall.domains.addresses.schemas import AddressFilters  # noqa: E402
from townhall.platform.db import Database  # noqa: E402
from townhall.platform.http.pagination import PageRequest  # noqa: E402

SCOPE = "addresses:read"
POSTCODE_P99_TARGET_MS = 5.0
FREE_TEXT_P95_TARGET_MS = 25.0


def sample_addresses(database: Database, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` addresses picked at random (the next LPI key after a random one)."""
    with database.read() as session:
        low, high = session.execute(
            text("SELECT min(lpi_key), max(lpi_key) FROM address_lpis")
        ).one()
        prefix = low[:5]
        first, last = int(low[5:]), int(high[5:])
        statement = text(
            "SELECT l.lpi_key, l.uprn, l.postcode, l.sao_start_number, l.sao_text, "
            "l.pao_start_number, l.pao_start_suffix, l.pao_text, s.descriptor "
            "FROM address_lpis l JOIN address_streets s ON s.usrn = l.usrn "
            "WHERE l.lpi_key >= :key AND l.logical_status = 1 ORDER BY l.lpi_key LIMIT 1"
        )
        found: dict[str, dict[str, Any]] = {}
        while len(found) < count:
            key = f"{prefix}{rng.randint(first, last):09d}"
            row = session.execute(statement, {"key": key}).mappings().first()
            if row is not None:
                found[row["lpi_key"]] = dict(row)
    return list(found.values())


def typed_postcode(postcode: str, rng: random.Random) -> str:
    """The postcode as people type it: any case, with or without its space."""
    variant = rng.choice([postcode, postcode.lower(), postcode.replace(" ", ""), f" {postcode} "])
    return variant


def typo(word: str, rng: random.Random) -> str:
    """One slip of the finger: a letter dropped, doubled or swapped with the next."""
    index = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:index] + word[index + 1 :]
    if kind == "double":
        return word[:index] + word[index] + word[index:]
    return word[: index - 1] + word[index] + word[index - 1] + word[index + 1 :]


def typed_query(address: dict[str, Any], rng: random.Random) -> str:
    """A free-text query for an address, as a resident types it into a search box."""
    words = address["descriptor"].split()
    long_words = [i for i, word in enumerate(words) if len(word) >= 5]
    if long_words and rng.random() < 0.7:
        chosen = rng.choice(long_words)
        words[chosen] = typo(words[chosen], rng)
    last = words[-1]
    if len(last) > 4 and rng.random() < 0.6:
        words[-1] = last[: rng.randint(3, len(last) - 1)]  # still typing
    parts: list[str] = []
    if address["sao_start_number"] is not None:
        parts.append(f"flat {address['sao_start_number']}")
    elif address["sao_text"]:
        parts.append(address["sao_text"])
    if address["pao_text"]:
        parts.append(address["pao_text"])
    if address["pao_start_number"] is not None:
        parts.append(f"{address['pao_start_number']}{address['pao_start_suffix'] or ''}")
    parts.append(" ".join(words))
    query = " ".join(parts)
    return query.lower() if rng.random() < 0.5 else query


def timed(calls: Sequence[Callable[[], Any]]) -> list[float]:
    """Milliseconds each call took."""
    spent: list[float] = []
    for call in calls:
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def figures(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 3),
        "p95_ms": round(percentile(values, 0.95), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
    }


def measure_postcodes(
    database: Database, addresses: Sequence[dict[str, Any]], rng: random.Random
) -> dict[str, Any]:
    postcodes = [typed_postcode(a["postcode"], rng) for a in addresses]
    page = PageRequest(limit=50)
    calls = [
        (lambda p=p: queries.find_addresses(database, AddressFilters(postcode=p), page))
        for p in postcodes
    ]
    timed(calls[:50])  # warm the caches
    ours = timed(calls)

    def raw(postcode: str) -> None:
        with database.read() as session:
            session.execute(
                text("SELECT * FROM address_lpis WHERE postcode = :p LIMIT 50"), {"p": postcode}
            ).all()

    baseline = timed([(lambda p=a["postcode"]: raw(p)) for a in addresses])
    return {"find_addresses": figures(ours), "raw_select": figures(baseline)}


def measure_free_text(
    database: Database, addresses: Sequence[dict[str, Any]], rng: random.Random
) -> dict[str, Any]:
    typed = [(typed_query(a, rng), a["lpi_key"]) for a in addresses]
    page = PageRequest(limit=50)
    hits = 0
    spent: list[float] = []
    examples: list[str] = []
    for query, key in typed:
        started = time.perf_counter()
        result = queries.find_addresses(database, AddressFilters(q=query), page)
        spent.append((time.perf_counter() - started) * 1000)
        if any(item.lpi_key == key for item in result.items):
            hits += 1
        elif len(examples) < 5:
            examples.append(query)

    def raw(key: str) -> None:
        with database.read() as session:
            session.execute(text("SELECT * FROM address_lpis WHERE lpi_key = :k"), {"k": key}).all()

    baseline = timed([(lambda k=a["lpi_key"]: raw(k)) for a in addresses])
    return {
        "find_addresses": figures(spent),
        "raw_primary_key_select": figures(baseline),
        "found_on_first_page": round(hits / len(typed), 4),
        "missed_examples": examples,
        "queries": len(typed),
    }


def broad_queries(addresses: Sequence[dict[str, Any]]) -> list[str]:
    """Queries that match tens of thousands of addresses, as the first keystrokes of a search."""
    street_types = sorted({a["descriptor"].split()[-1].lower() for a in addresses})[:4]
    outward = sorted({a["postcode"].split()[0].lower() for a in addresses})[:2]
    found = ["flat 1", "flat 2 house", "house", *street_types, *outward]
    found += [f"12 {kind}" for kind in street_types[:2]] + [f"3 {code}" for code in outward[:1]]
    return found


def measure_broad(database: Database, addresses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    page = PageRequest(limit=50)
    asked = broad_queries(addresses)
    calls = [
        (lambda q=q: queries.find_addresses(database, AddressFilters(q=q), page)) for q in asked
    ]
    timed(calls)  # warm the caches
    spent = timed(calls * 5)
    slowest = max(range(len(spent)), key=spent.__getitem__)
    return {
        "find_addresses": figures(spent),
        "max_ms": round(spent[slowest], 3),
        "slowest": asked[slowest % len(asked)],
        "queries": asked,
    }


def measure_http(
    database_url: str, uprns: Sequence[int], seconds: int, connections: int, workers: int
) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="addresses-bench-"))
    environment = gateway.production_environment(folder, None)
    environment["TOWNHALL_DATABASE_URL"] = database_url
    # Each run has a secret key of its own: a signing key a previous run stored (sealed with
    # that run's secret) is retired, and a new one sealed with this run's.
    gateway.run_townhall(["keys", "rotate", "--retire-now"], environment)
    printed = gateway.run_townhall(
        [
            "consumers", "create", f"addresses-benchmark-{int(time.time())}", "--scopes", SCOPE,
            "--purpose", "Measuring address look-ups", "--json",
        ],
        environment,
    )  # fmt: skip
    consumer = json.loads(printed)
    script = folder / "uprns.lua"
    script.write_text(
        "local uprns = {" + ",".join(str(u) for u in uprns) + "}\n"
        "request = function()\n"
        "  return wrk.format('GET', '/api/v1/properties/' .. uprns[math.random(#uprns)])\n"
        "end\n"
    )
    command = [*gateway.TOWNHALL, "serve", "--host", "127.0.0.1", "--workers", str(workers)]
    results: dict[str, Any] = {}
    with gateway.server(command, environment, folder / "server.log") as running:
        answer = gateway.httpx.post(
            f"{running.base_url}/oauth/token",
            data={"grant_type": "client_credentials", "scope": SCOPE},
            auth=(consumer["client_id"], consumer["client_secret"]),
            timeout=10,
        )
        answer.raise_for_status()
        token = answer.json()["access_token"]
        header = f"Authorization: Bearer {token}"
        check = gateway.httpx.get(
            f"{running.base_url}/api/v1/properties/{uprns[0]}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        if check.status_code != 200:
            sys.exit(f"GET /api/v1/properties/{uprns[0]} answered {check.status_code}")
        for name, path, extra in (
            ("uprn_lookup", "/", ["-s", str(script)]),
            ("health_live_baseline", "/health/live", []),
        ):
            done = gateway.subprocess.run(
                [
                    "wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
                    "--timeout", "10s", "-H", header, "--latency", *extra,
                    running.base_url + path,
                ],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            window = gateway.parse_wrk(
                done.stdout, server_cpu=0.0, wrk_cpu=0.0, others_cpu=0.0, machine_seconds=1.0
            )
            results[name] = {
                "requests_per_second": round(window.requests / window.seconds, 1),
                "p50_ms": window.p50_ms,
                "p99_ms": window.p99_ms,
                "failed": window.failed,
            }
    return results


def run(
    database_url: str,
    *,
    queries_count: int = 3000,
    http_seconds: int = 10,
    connections: int = 32,
    workers: int = 2,
    refresh: bool = False,
    seed: int = 7,
) -> dict[str, Any]:
    """Every figure of the benchmark on the gazetteer at ``database_url``."""
    rng = random.Random(seed)
    database = Database(database_url)
    report: dict[str, Any] = {"dialect": database.dialect}
    with database.read() as session:
        report["addresses"] = session.execute(text("SELECT count(*) FROM address_lpis")).scalar()
    if refresh:
        started = time.perf_counter()
        with database.write() as session:
            search_index.refresh(session)
        report["refresh_seconds"] = round(time.perf_counter() - started, 1)
    addresses = sample_addresses(database, queries_count, rng)
    report["postcode"] = measure_postcodes(database, addresses, rng)
    report["free_text"] = measure_free_text(database, addresses, rng)
    report["broad"] = measure_broad(database, addresses)
    database.dispose()
    if http_seconds > 0:
        uprns = [a["uprn"] for a in addresses[:1000]]
        report["http"] = measure_http(database_url, uprns, http_seconds, connections, workers)
    return report


def print_report(report: dict[str, Any]) -> None:
    postcode = report["postcode"]
    free = report["free_text"]
    print(f"{report['dialect']}, {report['addresses']:,} addresses")
    if "refresh_seconds" in report:
        print(f"  search index refresh: {report['refresh_seconds']} s")
    ours, raw = postcode["find_addresses"], postcode["raw_select"]
    print(
        f"  postcode look-up      p50 {ours['p50_ms']:.2f} ms  p99 {ours['p99_ms']:.2f} ms "
        f"(target p99 <= {POSTCODE_P99_TARGET_MS} ms: "
        f"{'met' if ours['p99_ms'] <= POSTCODE_P99_TARGET_MS else 'NOT met'}); "
        f"raw SELECT p50 {raw['p50_ms']:.2f} ms p99 {raw['p99_ms']:.2f} ms"
    )
    ours, raw = free["find_addresses"], free["raw_primary_key_select"]
    print(
        f"  free-text search      p50 {ours['p50_ms']:.2f} ms  p95 {ours['p95_ms']:.2f} ms "
        f"(target p95 <= {FREE_TEXT_P95_TARGET_MS} ms: "
        f"{'met' if ours['p95_ms'] <= FREE_TEXT_P95_TARGET_MS else 'NOT met'}); "
        f"raw PK SELECT p50 {raw['p50_ms']:.2f} ms p95 {raw['p95_ms']:.2f} ms; "
        f"address on the first page for {free['found_on_first_page']:.1%} of "
        f"{free['queries']} queries"
    )
    if free["missed_examples"]:
        print(f"    missed, e.g.: {free['missed_examples']}")
    broad = report["broad"]
    print(
        f"  broad queries         p50 {broad['find_addresses']['p50_ms']:.2f} ms  "
        f"p95 {broad['find_addresses']['p95_ms']:.2f} ms  max {broad['max_ms']:.2f} ms "
        f"({broad['slowest']!r}) over {len(broad['queries'])} queries such as "
        f"{broad['queries'][:4]}"
    )
    if "http" in report:
        http = report["http"]
        ours, base = http["uprn_lookup"], http["health_live_baseline"]
        print(
            f"  GET /properties/{{uprn}} {ours['requests_per_second']:,.0f} req/s "
            f"(p50 {ours['p50_ms']:.1f} ms, p99 {ours['p99_ms']:.1f} ms, failed {ours['failed']}); "
            f"GET /health/live {base['requests_per_second']:,.0f} req/s on the same server"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url")
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--http-seconds", type=int, default=10, help="0 skips the HTTP load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--refresh", action="store_true", help="rebuild the index first")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    arguments = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    report = run(
        arguments.database_url,
        queries_count=arguments.queries,
        http_seconds=arguments.http_seconds,
        connections=arguments.connections,
        workers=arguments.workers,
        refresh=arguments.refresh,
    )
    print_report(report)
    if arguments.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
