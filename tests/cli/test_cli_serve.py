"""``townhall serve``: strict about the schema, and really serving on one worker or several."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from townhall.cli import app
from townhall.cli.serve import settings_environment
from townhall.platform.db import normalise_url
from townhall.settings import Settings

READY_WITHIN_SECONDS = 60


def serve(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(
        app, ["serve", *args], env={"TOWNHALL_DATABASE_URL": database_url}, prog_name="townhall"
    )


def test_serve_refuses_a_database_that_is_not_there(empty_database_url: str) -> None:
    result = serve(empty_database_url)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert "run `townhall db upgrade`" in line


def test_serve_refuses_a_database_with_no_schema(empty_database_url: str) -> None:
    runner = CliRunner()
    env = {"TOWNHALL_DATABASE_URL": empty_database_url}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(app, ["db", "downgrade", "base"], env=env).exit_code == 0

    result = serve(empty_database_url)

    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "The database has no schema yet: run `townhall db upgrade` first."
    )


@pytest.fixture
def database_from_the_future(database_url: str) -> Iterator[str]:
    """The migrated test database, stamped with a revision this code has never heard of."""
    engine = create_engine(normalise_url(database_url))
    with engine.begin() as connection:
        (real,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    yield database_url
    # On PostgreSQL the migrated database is shared by the whole run: put the real revision back.
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": real})
    engine.dispose()


def test_serve_refuses_a_schema_newer_than_the_code(database_from_the_future: str) -> None:
    result = serve(database_from_the_future)

    assert result.exit_code == 1
    assert "at 9999, which this version of Townhall does not know" in result.stderr


def test_workers_rebuild_the_same_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = Settings(
        environment="test",
        council_code="E09000033",
        secret_key="not-a-real-secret",
        database_pool_size=5,
        hsts_enabled=True,
    )
    for name in list(os.environ):
        if name.startswith("TOWNHALL_"):
            monkeypatch.delenv(name)
    for name, value in settings_environment(given).items():
        monkeypatch.setenv(name, value)

    rebuilt = Settings()

    assert rebuilt == given
    assert rebuilt.secret_key is not None
    assert rebuilt.secret_key.get_secret_value() == "not-a-real-secret"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_serve_answers_ready_on_a_migrated_database(
    database_url: str, tmp_path: Path, workers: int
) -> None:
    port = _free_port()
    environment = {
        **os.environ,
        "TOWNHALL_DATABASE_URL": database_url,
        "TOWNHALL_ENVIRONMENT": "test",
    }
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as output:
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "townhall.cli", "serve"),
                *("--port", str(port), "--workers", str(workers)),
            ],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            ready = _wait_until_ready(f"http://127.0.0.1:{port}/health/ready", server, log)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    body = ready.json()
    assert body["status"] == "ok"
    assert body["database"]["schema_revision"] == body["database"]["schema_head"]
    assert "server" not in ready.headers  # the server software is not advertised
    shown = log.read_text(encoding="utf-8")
    assert f"at http://127.0.0.1:{port}/ ({workers} worker" in shown


def _wait_until_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            response = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            return response
        time.sleep(0.2)
    pytest.fail(f"{url} was not ready within {READY_WITHIN_SECONDS}s:\n{log.read_text()}")
