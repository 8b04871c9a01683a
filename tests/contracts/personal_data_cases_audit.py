"""The data protection officer's personal-data routes, as the contract test calls them.

The API cases call with a token holding every audit scope; the page cases sign in as a data
protection officer. A case that needs something to show first makes it: a use of the world's
resident's data, or a hold on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.contracts.personal_data_world import Case, World
from tests.platform.audit.trail import OFFICER, add_use
from tests.sign_in import form_token
from townhall.platform.auth.sign_in_models import StaffRole

SCOPES = ("audit:read", "audit:write", "audit:export")
HOLDS = "/api/v1/audit/holds"


def a_hold(world: World) -> dict[str, Any]:
    return {
        "resident_id": world.resident_id,
        "actor_id": OFFICER.id,
        "hidden_until": (datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
        "reason": "Contract case",
    }


def api_hold(world: World, headers: dict[str, str]) -> str:
    made = world.client.post(HOLDS, json=a_hold(world), headers=headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def search_records(world: World) -> httpx.Response:
    add_use(world.database, world.resident_id)
    return world.client.get(
        "/api/v1/audit/records",
        params={"resident_id": world.resident_id},
        headers=world.token_headers(*SCOPES),
    )


def export(world: World) -> httpx.Response:
    return world.client.get(
        f"/api/v1/audit/subject-access/{world.resident_id}", headers=world.token_headers(*SCOPES)
    )


def make_hold(world: World) -> httpx.Response:
    return world.client.post(HOLDS, json=a_hold(world), headers=world.token_headers(*SCOPES))


def list_holds(world: World) -> httpx.Response:
    headers = world.token_headers(*SCOPES)
    api_hold(world, headers)
    return world.client.get(HOLDS, headers=headers)


def read_hold(world: World) -> httpx.Response:
    headers = world.token_headers(*SCOPES)
    return world.client.get(f"{HOLDS}/{api_hold(world, headers)}", headers=headers)


def lift_hold(world: World) -> httpx.Response:
    headers = world.token_headers(*SCOPES)
    return world.client.post(f"{HOLDS}/{api_hold(world, headers)}/lift", headers=headers)


def as_officer(world: World) -> TestClient:
    world.sign_in_staff(StaffRole.DATA_PROTECTION_OFFICER)
    return world.client


def search_page(world: World) -> httpx.Response:
    add_use(world.database, world.resident_id)
    return as_officer(world).get("/staff/audit", params={"resident_id": world.resident_id})


def report_page(world: World) -> httpx.Response:
    return as_officer(world).get(f"/staff/audit/residents/{world.resident_id}")


def page_hold(world: World) -> httpx.Response:
    client = as_officer(world)
    token = form_token(client, "/staff/audit/holds/new")
    form = {**a_hold(world), "consumer_id": "", "csrf_token": token}
    return client.post("/staff/audit/holds", data=form, follow_redirects=False)


def holds_page(world: World) -> httpx.Response:
    page_hold(world)
    return world.client.get("/staff/audit/holds")


def lift_page(world: World) -> httpx.Response:
    made = page_hold(world)
    hold_id = made.headers["location"].rpartition("=")[2]
    token = form_token(world.client, "/staff/audit/holds")
    return world.client.post(
        f"/staff/audit/holds/{hold_id}/lift", data={"csrf_token": token}, follow_redirects=False
    )


CASES = [
    Case("GET", "/api/v1/audit/records", search_records),
    Case("GET", "/api/v1/audit/subject-access/{resident_id}", export),
    Case("POST", "/api/v1/audit/holds", make_hold),
    Case("GET", "/api/v1/audit/holds", list_holds),
    Case("GET", "/api/v1/audit/holds/{hold_id}", read_hold),
    Case("POST", "/api/v1/audit/holds/{hold_id}/lift", lift_hold),
    Case("GET", "/staff/audit", search_page),
    Case("GET", "/staff/audit/residents/{resident_id}", report_page),
    Case("GET", "/staff/audit/holds", holds_page),
    Case("POST", "/staff/audit/holds", page_hold),
    Case("POST", "/staff/audit/holds/{hold_id}/lift", lift_page),
]
