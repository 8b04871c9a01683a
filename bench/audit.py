"""Benchmark: what recording every read of personal data costs, served as production serves it.

    python bench/audit.py                        # SQLite: 1, 8, 32 and 64 connections
    python bench/audit.py --postgres postgresql://townhall@127.0.0.1:54330/postgres
    python bench/audit.py --connections 32 --duration 20 --rounds 4

Two servers side by side, each ``--workers`` uvicorn processes with production settings
(``TOWNHALL_ENVIRONMENT=production``, a secret key) on one freshly migrated database (a SQLite
file in a temporary folder; with ``--postgres``, a database made on that server for the run and
dropped after), holding one people source record:

* **audited**: ``townhall serve``, called with a real bearer token from ``/oauth/token`` for a
  consumer made with ``townhall consumers create --scopes people:read``, on
  ``GET /api/v1/people/source-records/{id}``: token verified, grants checked, the record read,
  its use committed to the audit trail by the group-commit recorder before the answer;
* **unaudited**: the same app, route, request and uvicorn options, built by
  ``create_unaudited_app`` below, whose ``AppContext.audit`` is a recorder that records
  nothing and acknowledges at once. The switch lives here, in the benchmark, and nowhere in
  Townhall: there is no setting that turns recording off.

Both are loaded by ``wrk`` (Debian's package) on loopback at each of ``--connections``, in
alternating turns so that both see the same background load (the helpers are
bench/gateway.py's). Requests per second depend on the machine; the overhead of auditing is
the ratio of the two variants, measured in the same run (target: at most 10% on throughput
and on p99). Each variant's server CPU per request is printed too: it hardly moves when other
work shares the cores. Nothing here is asserted: these are figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import gateway  # noqa: E402 - the server and wrk helpers of the gateway benchmark
from borough import fresh_database  # noqa: E402
from townhall.domains.people.models import SourcePersonRecord  # noqa: E402
from townhall.domains.people.schemas import NewSourceRecord  # noqa: E402
from townhall.domains.people.service import load_source_records  # noqa: E402
from townhall.platform.audit.models import AuditRecord  # noqa: E402
from townhall.platform.audit.recorder import UseRecorder  # noqa: E402
from townhall.platform.audit.uses import DataUse  # noqa: E402
from townhall.platform.db import Database  # noqa: E402

SCOPE = "people:read"
OVERHEAD_TARGET = 0.10
VARIANTS = ("audited", "unaudited")
RECORD = NewSourceRecord(
    source_system="housing", source_record_id="BENCH-1", title="Ms", first_name="Grace",
    middle_names=None, last_name="Adeyemi", date_of_birth=date(1971, 4, 2),
    email="grace.adeyemi@example.com", phone="07700 900456",
    national_insurance_number="QQ 65 43 21 A", address_text="Flat 4, 18 Mare Street, London",
    postcode="E8 4RP", uprn=100021000042, attributes={"tenancy_reference": "T-000042"},
    source_updated_at=datetime(2025, 1, 2, 3, 4, tzinfo=UTC),
)  # fmt: skip


class NoRecorder(UseRecorder):
    """A recorder that records nothing and acknowledges every use at once (the baseline)."""

    def submit(self, uses: Sequence[DataUse]) -> Future[None]:
        done: Future[None] = Future()
        done.set_result(None)
        return done

    async def record(self, uses: Sequence[DataUse]) -> None:
        return

    def record_now(self, uses: Sequence[DataUse]) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server to measure on")
    parser.add_argument("--connections", default="1,8,32,64", help="wrk connections (1,8,32,64)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per variant (8)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before measuring (2)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating turns per variant (2)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    # How the benchmark starts its unaudited server in a process of its own.
    parser.add_argument("--serve-unaudited", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_unaudited:
        serve_unaudited(arguments.port, arguments.workers)
        return
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit(
            "bench/audit.py needs wrk to generate load: install it with `apt-get install wrk` "
            "(Debian's package), then run this again."
        )
    connections = [int(n) for n in arguments.connections.split(",")]
    with (
        tempfile.TemporaryDirectory(prefix="townhall-audit-") as folder,
        fresh_database(arguments.postgres) as database,
    ):
        load_source_records(database, [RECORD])
        with database.read() as session:
            record_id = session.scalar(select(SourcePersonRecord.id))
        path = f"/api/v1/people/source-records/{record_id}"
        environment = gateway.production_environment(Path(folder), None)
        environment["TOWNHALL_DATABASE_URL"] = database.engine.url.render_as_string(False)
        consumer = register_consumer(environment)
        audited = [*gateway.TOWNHALL, "serve", "--workers", str(arguments.workers)]
        unaudited = [sys.executable, str(Path(__file__).resolve()), "--workers"]
        unaudited += [str(arguments.workers), "--serve-unaudited"]
        with (
            gateway.server(audited, environment, Path(folder) / "audited.log") as audited_server,
            gateway.server(unaudited, environment, Path(folder) / "unaudited.log") as baseline,
        ):
            servers = {"audited": audited_server, "unaudited": baseline}
            token = issue_token(audited_server.base_url, consumer)
            header = f"Authorization: Bearer {token}"
            for name, running in servers.items():
                check_answers(database, running.base_url + path, token, audited=name == "audited")
            results = {
                count: measure(
                    wrk, servers, path=path, header=header, connections=count, arguments=arguments
                )
                for count in connections
            }
            recorded = count_records(database)
    print_report(results, recorded, database.dialect, arguments)


def register_consumer(environment: Mapping[str, str]) -> dict[str, str]:
    """A consumer allowed to read people's records, as an operator makes one."""
    printed = gateway.run_townhall(
        [
            "consumers",
            "create",
            "audit-benchmark",
            "--scopes",
            SCOPE,
            "--purpose",
            "Measuring what recording reads costs",
            "--json",
        ],
        environment,
    )
    created = json.loads(printed)
    return {"client_id": created["client_id"], "client_secret": created["client_secret"]}


def issue_token(base_url: str, consumer: Mapping[str, str]) -> str:
    answer = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(consumer["client_id"], consumer["client_secret"]),
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def count_records(database: Database) -> int:
    with database.read() as session:
        return session.scalar(select(func.count()).select_from(AuditRecord)) or 0


def check_answers(database: Database, url: str, token: str, *, audited: bool) -> None:
    """Fail before measuring unless the route answers 200, and records the read only if audited."""
    before = count_records(database)
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code != 200:
        sys.exit(f"GET {url} answered {answer.status_code}: {answer.text}")
    if (count_records(database) > before) != audited:
        sys.exit(f"GET {url} was {'not ' if audited else ''}recorded")


def measure(
    wrk: str,
    servers: Mapping[str, gateway.Server],
    *,
    path: str,
    header: str,
    connections: int,
    arguments: argparse.Namespace,
) -> dict[str, gateway.Load]:
    """Both variants at ``connections``: warmed up, then loaded in alternating turns."""
    at = argparse.Namespace(**{**vars(arguments), "connections": connections})
    for running in servers.values():
        gateway.run_wrk(wrk, running.base_url + path, header, connections, arguments.warmup)
    windows: dict[str, list[gateway.Window]] = {name: [] for name in servers}
    seconds = max(1, round(arguments.duration / arguments.rounds))
    order = list(servers)
    for _ in range(arguments.rounds):
        for name in order:
            windows[name].append(
                gateway.window(
                    wrk, servers[name], path=path, header=header, seconds=seconds, arguments=at
                )
            )
        order.reverse()  # neither variant always goes first
    return {name: gateway.Load.of(found) for name, found in windows.items()}


def print_report(
    results: Mapping[int, Mapping[str, gateway.Load]],
    recorded: int,
    dialect: str,
    arguments: argparse.Namespace,
) -> None:
    backend = "PostgreSQL" if dialect == "postgresql" else "SQLite"
    print(
        f"GET /api/v1/people/source-records/{{id}} with a token: {arguments.workers} uvicorn "
        f"workers, production settings, {backend}"
    )
    print(
        f"wrk: 1 thread, loopback; {arguments.duration} s per variant and connection count in "
        f"{arguments.rounds} alternating turns, after {arguments.warmup} s of warm-up each"
    )
    print()
    print(
        f"{'conns':>5}  {'variant':<10}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'requests':>10}"
        f"{'failed':>7}{'server CPU':>12}{'others':>8}"
    )
    for connections, loads in results.items():
        for name in VARIANTS:
            load = loads[name]
            print(
                f"{connections:>5}  {name:<10}{load.requests_per_second:>8,.0f}"
                f"{load.p50_ms:>8.2f}{load.p99_ms:>8.2f}{load.requests:>10,}{load.failed:>7}"
                f"{load.server_cpu_ms:>9.3f} ms{load.others_cpu_share:>8.0%}"
            )
    print(
        "(p50, p99: medians over the turns; server CPU per request; others: share of the "
        "machine used by processes outside the run)"
    )
    print()
    print(f"{'conns':>5}  {'throughput':>11}{'p99':>9}{'CPU':>9}   audited / unaudited")
    worst = 0.0
    for connections, loads in results.items():
        audited, baseline = loads["audited"], loads["unaudited"]
        throughput = audited.requests_per_second / baseline.requests_per_second
        p99 = audited.p99_ms / baseline.p99_ms
        cpu = audited.server_cpu_ms / baseline.server_cpu_ms
        worst = max(worst, 1 - throughput, p99 - 1)
        print(f"{connections:>5}  {throughput:>10.3f}x{p99:>8.3f}x{cpu:>8.3f}x")
    print(
        f"worst overhead {worst:.1%} on throughput or p99 (target: at most "
        f"{OVERHEAD_TARGET:.0%}) {gateway.verdict(worst <= OVERHEAD_TARGET)}"
    )
    print(f"{recorded:,} reads recorded in the audit trail during the run")
    loads = [load for by_variant in results.values() for load in by_variant.values()]
    if any(load.failed for load in loads):
        print("WARNING: some requests failed or were refused; the figures are not comparable")
    if max(load.others_cpu_share for load in loads) > 0.1:
        print("WARNING: other processes used the machine during the run; figures are noisier")


def serve_unaudited(port: int, workers: int) -> None:
    """Run ``create_unaudited_app`` under uvicorn exactly as ``townhall serve`` runs Townhall."""
    import uvicorn

    from townhall.cli.serve import _uvicorn_options

    uvicorn.run(
        "audit:create_unaudited_app",
        factory=True,
        workers=workers,
        app_dir=str(BENCH_DIR),
        **_uvicorn_options("127.0.0.1", port),
    )


def create_unaudited_app() -> FastAPI:
    """Townhall's app whose audit recorder records nothing: the baseline."""
    from townhall.app import create_app_from_environment

    app = create_app_from_environment()
    context = app.state.townhall
    app.state.townhall = dataclasses.replace(context, audit=NoRecorder(context.database))
    return app


if __name__ == "__main__":
    main()
