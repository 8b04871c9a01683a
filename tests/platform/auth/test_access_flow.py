"""The whole flow, as a person runs it: scripts/access_flow_demo.py against a live server.

The script registers consumers with the ``townhall`` command, gets tokens over HTTP, calls a
protected route, revokes a grant and disables a consumer, and measures how long the instance
keeps accepting the tokens. Here it runs against the app served by uvicorn on loopback, on the
test database, with a one-second access cache, so the measured time has a bound to meet.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import LiveServer, serve_in_thread
from townhall.app import create_app
from townhall.platform.auth.changes import list_changes
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest
from townhall.settings import Settings

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "access_flow_demo.py"
ACCESS_CACHE_SECONDS = 1.0


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    quick = settings.model_copy(update={"access_cache_seconds": ACCESS_CACHE_SECONDS})
    with serve_in_thread(create_app(quick)) as server:
        yield server


def test_revoking_or_disabling_ends_access_within_the_cache_time(
    live_server: LiveServer, settings: Settings, database: Database
) -> None:
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("TOWNHALL_")
    }
    environment |= {
        "TOWNHALL_DATABASE_URL": settings.database_url,
        "TOWNHALL_ENVIRONMENT": "test",
        "TOWNHALL_LOG_FORMAT": "json",
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--base-url", live_server.url, "--json", "--timeout", "20"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout.strip().splitlines()[-1])["steps"]
    assert [(s["change"], s["accepted_status"], s["refused_status"]) for s in steps] == [
        ("revoke", 200, 403),
        ("disable", 200, 401),
    ]
    for step in steps:
        # The tokens had most of 15 minutes to run; the instance stopped them within the cache.
        assert step["token_expires_in"] == 900
        assert step["seconds_to_refusal"] <= ACCESS_CACHE_SECONDS + 1.0
    actions = {c.action for c in list_changes(database, PageRequest(limit=50)).items}
    assert {"consumer.created", "consumer.disabled"} <= actions
