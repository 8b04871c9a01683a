"""Benchmark: what access control costs a protected read, served as production serves it.

    python bench/gateway.py                      # 10 s per variant (targets: <= 15 %, >= 2,500/s)
    python bench/gateway.py --duration 30 --connections 64
    python bench/gateway.py --redis-url redis://127.0.0.1:6379/0   # count limits in Redis

Two servers, one after the other, each ``--workers`` uvicorn processes with production settings
(``TOWNHALL_ENVIRONMENT=production``, a secret key, a migrated SQLite database in a temporary
folder), loaded by ``wrk`` on loopback for a bounded time:

* **guarded**: ``townhall serve --workers 2``, called with a real bearer token from
  ``/oauth/token`` for a consumer made with ``townhall consumers create``, on
  ``GET /api/v1/consumers/{id}``: token verified, grants checked, rate limit and quota counted
  (the instance's limits are set high enough that no request of the run is refused);
* **unguarded**: the same app, the same route, the same request bytes and the same uvicorn
  options, built by ``create_unguarded_app`` below, which swaps every ``require(scope)`` guard
  for one that hands over the consumer's principal without looking. The switch lives here, in
  the benchmark, and nowhere in Townhall.

Requests per second depend on the machine, and on whatever else runs on it; the overhead of
access control is the ratio of the two, measured in the same run, and reads the same anywhere.
Each variant's CPU time per request (read from Linux's /proc for the server's process group) is
printed too: unlike req/s, it hardly moves when other work shares the cores, and the last line
turns it into what the cores could serve with nothing else running. ``wrk`` (Debian's package)
generates the load because it costs a fraction of a core where a Python client would compete
with the server for the same two cores.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

BENCH_DIR = Path(__file__).resolve().parent
TOWNHALL = [sys.executable, "-m", "townhall.cli"]
SCOPE = "consumers:read"
# Read by the unguarded app's workers (not TOWNHALL_*: settings refuse unknown variables).
CONSUMER_ENV = "GATEWAY_BENCH_CONSUMER_ID"
CLIENT_ENV = "GATEWAY_BENCH_CLIENT_ID"
CONSUMER_NAME = "gateway-benchmark"
# The instance's rate limit and quota, which the consumer has as it sets none of its own: high
# enough that no request of the run is refused, while every one is still counted.
UNTHROTTLED = 1_000_000_000
OVERHEAD_TARGET = 0.15
THROUGHPUT_TARGET = 2_500


@dataclass(frozen=True)
class Window:
    """What one stretch of load on one server measured."""

    seconds: float
    requests: int
    failed: int
    p50_ms: float
    p99_ms: float
    server_cpu: float  # seconds of CPU used by every process of the server
    wrk_cpu: float  # seconds of CPU used by the load generator
    others_cpu: float  # seconds of CPU used by everything else on the machine
    machine_seconds: float  # CPU seconds the machine had in all (cores x wall time)


@dataclass(frozen=True)
class Load:
    """One variant's windows put together."""

    requests_per_second: float
    p50_ms: float  # the median of the windows' medians
    p99_ms: float  # the median of the windows' 99th percentiles
    requests: int
    failed: int
    server_cpu_ms: float  # per request
    wrk_cpu_ms: float  # per request
    others_cpu_share: float  # of the machine, used by processes outside the run

    @classmethod
    def of(cls, windows: list[Window]) -> Load:
        requests = sum(w.requests for w in windows)
        per_request = 1000 / max(requests, 1)
        return cls(
            requests_per_second=requests / sum(w.seconds for w in windows),
            p50_ms=statistics.median(w.p50_ms for w in windows),
            p99_ms=statistics.median(w.p99_ms for w in windows),
            requests=requests,
            failed=sum(w.failed for w in windows),
            server_cpu_ms=sum(w.server_cpu for w in windows) * per_request,
            wrk_cpu_ms=sum(w.wrk_cpu for w in windows) * per_request,
            others_cpu_share=sum(w.others_cpu for w in windows)
            / sum(w.machine_seconds for w in windows),
        )


@dataclass(frozen=True)
class Server:
    """A running server: where to reach it, and its process group (the supervisor and workers)."""

    base_url: str
    group: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per variant (10)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before measuring (3)")
    parser.add_argument(
        "--rounds", type=int, default=5, help="turns each variant takes, in alternation (5)"
    )
    parser.add_argument("--connections", type=int, default=32, help="open connections (32)")
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    parser.add_argument("--redis-url", default=None, help="count rate limits in this Redis")
    # How the benchmark starts its unguarded server in a process of its own.
    parser.add_argument("--serve-unguarded", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve_unguarded:
        serve_unguarded(arguments.port, arguments.workers)
        return
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit(
            "bench/gateway.py needs wrk to generate load: install it with `apt-get install wrk` "
            "(Debian's package), then run this again."
        )
    with tempfile.TemporaryDirectory(prefix="townhall-gateway-") as folder:
        environment = production_environment(Path(folder), arguments.redis_url)
        run_townhall(["db", "upgrade"], environment)
        consumer = register_consumer(environment)
        guarded = [*TOWNHALL, "serve", "--workers", str(arguments.workers)]
        unguarded = [sys.executable, str(Path(__file__).resolve()), "--workers"]
        unguarded += [str(arguments.workers), "--serve-unguarded"]
        with server(guarded, environment, Path(folder) / "guarded.log") as guarded_server:
            base_url = guarded_server.base_url
            token = issue_token(base_url, consumer["client_id"], consumer["client_secret"])
            environment[CONSUMER_ENV] = consumer_id(base_url, token)
            environment[CLIENT_ENV] = consumer["client_id"]
            path = f"/api/v1/consumers/{environment[CONSUMER_ENV]}"
            check_answers(base_url + path, token, guarded=True)
            with server(unguarded, environment, Path(folder) / "unguarded.log") as unguarded_server:
                check_answers(unguarded_server.base_url + path, token, guarded=False)
                servers = {"guarded": guarded_server, "unguarded": unguarded_server}
                results = load_both(wrk, servers, path, f"Authorization: Bearer {token}", arguments)
    print_report(results, arguments)


def production_environment(folder: Path, redis_url: str | None) -> dict[str, str]:
    """``TOWNHALL_*`` variables of a production instance on a fresh SQLite file in ``folder``."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("TOWNHALL_")
    }
    environment.update(
        {
            "TOWNHALL_ENVIRONMENT": "production",
            "TOWNHALL_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "TOWNHALL_DATABASE_URL": f"sqlite:///{folder / 'townhall.db'}",
            # Production logs one JSON access line per request; the benchmark pays for it too.
            "TOWNHALL_LOG_FORMAT": "json",
            "TOWNHALL_RATE_LIMIT_PER_MINUTE": str(UNTHROTTLED),
            "TOWNHALL_QUOTA_PER_DAY": str(UNTHROTTLED),
        }
    )
    if redis_url:
        environment["TOWNHALL_REDIS_URL"] = redis_url
    return environment


def run_townhall(arguments: list[str], environment: Mapping[str, str]) -> str:
    """Run a ``townhall`` command and return what it printed."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [*TOWNHALL, *arguments],
        env=dict(environment),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"townhall {' '.join(arguments)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def register_consumer(environment: Mapping[str, str]) -> dict[str, str]:
    """A consumer allowed to read consumers (its client id and secret), as an operator makes one."""
    printed = run_townhall(
        [
            "consumers",
            "create",
            CONSUMER_NAME,
            "--scopes",
            SCOPE,
            "--purpose",
            "Measuring what access control costs",
            "--json",
        ],
        environment,
    )
    created = json.loads(printed)
    return {"client_id": created["client_id"], "client_secret": created["client_secret"]}


def consumer_id(base_url: str, token: str) -> str:
    """The benchmark consumer's id, found through the API it is about to read."""
    answer = httpx.get(
        f"{base_url}/api/v1/consumers",
        params={"q": CONSUMER_NAME},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["items"][0]["id"])


@contextmanager
def server(command: list[str], environment: Mapping[str, str], log: Path) -> Iterator[Server]:
    """Start a server on a free loopback port, wait until it is ready, and stop it after."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "--port", str(port)],
            env=dict(environment),
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own process group, so stopping it reaches the workers it forked and nothing else.
            start_new_session=True,
        )
        try:
            wait_until_ready(base_url, process, log)
            yield Server(base_url=base_url, group=os.getpgid(process.pid))
        finally:
            stop(process)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server stopped before it was ready:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    sys.exit(f"the server was not ready within 60 s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group: SIGINT, as Ctrl+C would, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        process.wait()


def issue_token(base_url: str, client_id: str, client_secret: str) -> str:
    """A bearer token from the token endpoint, by client credentials."""
    answer = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(client_id, client_secret),
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def check_answers(url: str, token: str, *, guarded: bool) -> None:
    """Fail before measuring unless the route answers 200, rate-limited only when guarded."""
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    if answer.status_code != 200:
        sys.exit(f"GET {url} answered {answer.status_code}: {answer.text}")
    if ("ratelimit" in answer.headers) != guarded:
        sys.exit(f"GET {url} was {'not ' if guarded else ''}rate-limited: {answer.headers}")
    bad = httpx.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=10)
    if (bad.status_code == 401) != guarded:
        sys.exit(f"GET {url} with a bad token answered {bad.status_code}")


def load_both(
    wrk: str,
    servers: Mapping[str, Server],
    path: str,
    header: str,
    arguments: argparse.Namespace,
) -> dict[str, Load]:
    """Warm both servers up, then load them in turns, so both see the same background load."""
    for running in servers.values():
        run_wrk(wrk, running.base_url + path, header, arguments.connections, arguments.warmup)
    windows: dict[str, list[Window]] = {name: [] for name in servers}
    seconds = max(1, round(arguments.duration / arguments.rounds))
    order = list(servers)
    for _ in range(arguments.rounds):
        for name in order:
            windows[name].append(
                window(
                    wrk,
                    servers[name],
                    path=path,
                    header=header,
                    seconds=seconds,
                    arguments=arguments,
                )
            )
        order.reverse()  # neither variant always goes first
    return {name: Load.of(found) for name, found in windows.items()}


def window(
    wrk: str,
    running: Server,
    *,
    path: str,
    header: str,
    seconds: int,
    arguments: argparse.Namespace,
) -> Window:
    """Load one server for ``seconds``; what wrk reports, and the CPU everyone used meanwhile."""
    server_before, machine_before = group_cpu_seconds(running.group), machine_cpu_seconds()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = run_wrk(wrk, running.base_url + path, header, arguments.connections, seconds)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = group_cpu_seconds(running.group) - server_before
    busy, total = (
        after - before for after, before in zip(machine_cpu_seconds(), machine_before, strict=True)
    )
    wrk_cpu = (wrk_after.ru_utime - wrk_before.ru_utime) + (
        wrk_after.ru_stime - wrk_before.ru_stime
    )
    return parse_wrk(
        report,
        server_cpu=server_cpu,
        wrk_cpu=wrk_cpu,
        others_cpu=max(busy - server_cpu - wrk_cpu, 0.0),
        machine_seconds=total,
    )


def run_wrk(wrk: str, url: str, header: str, connections: int, seconds: int) -> str:
    """wrk's report of ``seconds`` of load on ``url`` from one thread."""
    command = [wrk, "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s"]
    done = subprocess.run(  # noqa: S603 - wrk, with our arguments
        [*command, "-H", header, "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def group_cpu_seconds(group: int) -> float:
    """CPU seconds used so far by every process in a process group (Linux's /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[2]) == group:  # pgrp; then utime and stime are fields 11 and 12
            used += int(fields[11]) + int(fields[12])
    return used / ticks


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy, and in all, since it started."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = [int(n) for n in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def parse_wrk(
    report: str, *, server_cpu: float, wrk_cpu: float, others_cpu: float, machine_seconds: float
) -> Window:
    """A window from ``wrk --latency``'s report and the CPU figures measured around it."""

    def milliseconds(percentile: str) -> float:
        found = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", report, re.MULTILINE)
        if found is None:
            sys.exit(f"no {percentile}th percentile in wrk's report:\n{report}")
        value, unit = float(found[1]), found[2]
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", report, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", report, re.MULTILINE)
    if rate is None or total is None or float(rate[1]) == 0:
        sys.exit(f"unreadable wrk report:\n{report}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", report)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report
    )
    failed = int(non_2xx[1]) if non_2xx else 0
    failed += sum(int(n) for n in errors.groups()) if errors else 0
    return Window(
        seconds=int(total[1]) / float(rate[1]),
        requests=int(total[1]),
        failed=failed,
        p50_ms=milliseconds("50"),
        p99_ms=milliseconds("99"),
        server_cpu=server_cpu,
        wrk_cpu=wrk_cpu,
        others_cpu=others_cpu,
        machine_seconds=machine_seconds,
    )


def print_report(results: Mapping[str, Load], arguments: argparse.Namespace) -> None:
    store = "Redis" if arguments.redis_url else "in-process"
    cores = os.cpu_count() or 1
    print(
        f"GET /api/v1/consumers/{{id}}: {arguments.workers} uvicorn workers, production "
        f"settings, SQLite; rate limits counted {store}"
    )
    print(
        f"wrk: 1 thread, {arguments.connections} connections, loopback, {cores} cores shared "
        f"with the servers; {arguments.duration} s per variant in {arguments.rounds} alternating "
        f"turns, after {arguments.warmup} s of warm-up each"
    )
    print()
    print(
        f"{'variant':<11}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'requests':>10}{'failed':>7}"
        f"{'server CPU':>12}{'wrk CPU':>9}{'others':>8}"
    )
    for name, load in results.items():
        print(
            f"{name:<11}{load.requests_per_second:>8,.0f}{load.p50_ms:>8.2f}{load.p99_ms:>8.2f}"
            f"{load.requests:>10,}{load.failed:>7}{load.server_cpu_ms:>9.3f} ms"
            f"{load.wrk_cpu_ms:>6.3f} ms{load.others_cpu_share:>8.0%}"
        )
    print(
        "(p50, p99: medians over the turns; CPU per request; others: share of the machine used "
        "by processes outside the run)"
    )
    guarded, unguarded = results["guarded"], results["unguarded"]
    ratio = guarded.requests_per_second / unguarded.requests_per_second
    cpu_ratio = guarded.server_cpu_ms / unguarded.server_cpu_ms
    print()
    print(
        f"guarded = {ratio:.3f} x unguarded throughput: access control costs {1 - ratio:.1%} "
        f"(target: at most {OVERHEAD_TARGET:.0%}) {verdict(1 - ratio <= OVERHEAD_TARGET)}"
    )
    print(f"guarded = {cpu_ratio:.3f} x unguarded server CPU per request")
    print(
        f"guarded throughput {guarded.requests_per_second:,.0f} req/s (target: at least "
        f"{THROUGHPUT_TARGET:,} on 2 cores) "
        f"{verdict(guarded.requests_per_second >= THROUGHPUT_TARGET)}"
    )
    # What the same cores could serve with nothing else running: the figure to compare across
    # runs when other work shared the machine (the "others" column).
    capacity = cores * 1000 / (guarded.server_cpu_ms + guarded.wrk_cpu_ms)
    print(f"guarded, by CPU per request: {capacity:,.0f} req/s on {cores} otherwise idle cores")
    if guarded.failed or unguarded.failed:
        print("WARNING: some requests failed or were refused; the figures are not comparable")
    if max(guarded.others_cpu_share, unguarded.others_cpu_share) > 0.1:
        print("WARNING: other processes used the machine during the run; req/s are understated")


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def serve_unguarded(port: int, workers: int) -> None:
    """Run ``create_unguarded_app`` under uvicorn exactly as ``townhall serve`` runs Townhall."""
    import uvicorn

    from townhall.cli.serve import _uvicorn_options

    uvicorn.run(
        "gateway:create_unguarded_app",
        factory=True,
        workers=workers,
        app_dir=str(BENCH_DIR),
        **_uvicorn_options("127.0.0.1", port),
    )


def create_unguarded_app() -> FastAPI:
    """Townhall's app with every ``require(scope)`` guard replaced by the benchmark consumer.

    The guards are swapped in the routes' dependency trees rather than through
    ``app.dependency_overrides``: with any override set, FastAPI rebuilds every dependency of
    every request, which would slow the baseline and flatter the guarded figures.
    """
    from fastapi import Request, Response

    from townhall.app import create_app_from_environment
    from townhall.platform.auth.dependencies import access_of, every_route
    from townhall.platform.auth.principal import Principal

    app = create_app_from_environment()
    principal = Principal(
        consumer_id=os.environ[CONSUMER_ENV],
        client_id=os.environ[CLIENT_ENV],
        scopes=frozenset({SCOPE}),
        purpose="benchmark",
        token_id="benchmark",  # noqa: S106 - an id, not a secret
        expires_at=datetime.now(UTC) + timedelta(days=1),
    )

    # The guard's own parameters, and async as it is, so FastAPI resolves it the same way.
    async def benchmark_consumer(request: Request, response: Response) -> Principal:
        return principal

    replaced = 0
    for route in every_route(app):
        pending = [route.dependant] if hasattr(route, "dependant") else []
        while pending:
            dependant = pending.pop()
            pending.extend(dependant.dependencies)
            access = access_of(dependant.call)
            if access is not None and access.kind == "scope":
                dependant.call = benchmark_consumer
                replaced += 1
    if not replaced:
        msg = "no require(scope) guard was found to replace"
        raise RuntimeError(msg)
    return app


if __name__ == "__main__":
    main()
