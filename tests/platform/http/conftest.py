"""An app with the test-only notes resource mounted, to exercise the conventions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.platform.http.notes_api import drop_tables, mount_notes
from townhall.app import create_app
from townhall.platform.db import Database
from townhall.settings import Settings


@pytest.fixture
def notes_app(settings: Settings, database: Database) -> Iterator[FastAPI]:
    app = create_app(settings)
    mount_notes(app, database)
    yield app
    drop_tables(database)


@pytest.fixture
def notes(notes_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(notes_app, raise_server_exceptions=False) as client:
        yield client
