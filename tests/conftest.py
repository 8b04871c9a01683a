"""Fixtures every test shares: settings, a migrated database on the chosen backend, an app.

One suite runs on either backend. ``TOWNHALL_TEST_DATABASE=sqlite`` (the default) gives each test
a fresh SQLite file copied from one migrated once per session; ``TOWNHALL_TEST_DATABASE=postgresql``
runs the same tests on the PostgreSQL server at ``TOWNHALL_TEST_POSTGRES_URL``, in a database
created for this run and emptied between tests. Tests that need a service skip when it is absent,
except under ``CI=true``, where a missing service is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.tokens import TokenIssuer
from townhall.app import create_app
from townhall.platform.db import Database, normalise_url
from townhall.platform.migrations import load_models, upgrade
from townhall.settings import Settings

BACKEND = os.environ.get("TOWNHALL_TEST_DATABASE", "sqlite")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, reason: str) -> None:
    """Skip the test when a service is missing, or fail it under CI, where nothing may skip."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this service: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the Redis server the tests may use (each test keeps to keys of its own)."""
    url = os.environ.get("TOWNHALL_TEST_REDIS_URL", "")
    require_service(bool(url), "Redis is not configured: set TOWNHALL_TEST_REDIS_URL")
    return url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[Any]:
    """A Redis client of the test's own, for arranging and inspecting the server."""
    import redis

    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of a PostgreSQL server this run may create databases on."""
    url = os.environ.get("TOWNHALL_TEST_POSTGRES_URL", "")
    require_service(bool(url), "PostgreSQL is not configured: set TOWNHALL_TEST_POSTGRES_URL")
    return url


def create_postgres_database(admin_url: str, prefix: str = "townhall_test") -> str:
    """Create an empty database on the server and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    """Drop a database created by ``create_postgres_database``."""
    name = make_url(url).database
    engine = create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def empty_database_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A database with nothing in it, on the backend under test."""
    if BACKEND == "postgresql":
        admin = request.getfixturevalue("postgres_admin_url")
        url = create_postgres_database(admin)
        yield url
        drop_postgres_database(admin, url)
    else:
        yield f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture(scope="session")
def _migrated_template(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """One database migrated to head per session; tests get copies or emptied versions."""
    if BACKEND == "postgresql":
        admin = request.getfixturevalue("postgres_admin_url")
        url = create_postgres_database(admin)
        database = Database(url)
        upgrade(database)
        database.dispose()
        yield url
        drop_postgres_database(admin, url)
    else:
        path = tmp_path_factory.mktemp("template") / "template.db"
        database = Database(f"sqlite:///{path}")
        upgrade(database)
        with database.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        database.dispose()
        yield str(path)


@pytest.fixture
def database_url(_migrated_template: str, tmp_path: Path) -> Iterator[str]:
    """A database at the migration head with no rows, on the backend under test."""
    if BACKEND == "postgresql":
        yield _migrated_template
        _empty_every_table(_migrated_template)
    else:
        path = tmp_path / "townhall.db"
        shutil.copyfile(_migrated_template, path)
        yield f"sqlite:///{path}"


def _empty_every_table(url: str) -> None:
    metadata = load_models()
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    engine = create_engine(normalise_url(url))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings of a test instance on the migrated test database."""
    return Settings(
        environment="test",
        database_url=database_url,
        council_code="E09000012",
        council_name="London Borough of Hackney",
        log_format="json",
        # Tests that want a dispatcher build one; a served app's own would race them.
        events_dispatcher=False,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """The test instance's database, for arranging and inspecting rows."""
    db = Database(settings.database_url)
    yield db
    db.dispose()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """A Townhall app on the test database."""
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client for the test app (in process, with the app's lifespan)."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def issue_token(client: TestClient, database: Database) -> TokenIssuer:
    """``issue_token(["consumers:read"])``: a real token from the test app's /oauth/token.

    Registers a consumer holding the scopes (or pass ``consumer=`` one from
    ``issue_token.register(...)``) and asks the app for a token as a client would.
    """
    return TokenIssuer(client=client, database=database)
