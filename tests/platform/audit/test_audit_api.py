"""The data protection officer's API: search, holds and exports over HTTP, each recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.platform.audit.merged_residents import merge_two_residents
from tests.platform.audit.trail import OTHER_OFFICER, add_account, three_uses
from tests.tokens import TokenIssuer, bearer
from townhall.platform.audit.models import AuditRecord
from townhall.platform.db import Database

RECORDS = "/api/v1/audit/records"
# The uses of residents' data the tests make, not the access-control changes of their consumers.
USES = {"service": "account"}
HOLDS = "/api/v1/audit/holds"


@pytest.fixture
def trail(database: Database) -> Database:
    return three_uses(database)


@pytest.fixture
def officer(issue_token: TokenIssuer) -> dict[str, str]:
    """A data protection officer's application, holding every audit scope."""
    return bearer(issue_token(["audit:read", "audit:write", "audit:export"]))


def recorded(database: Database, response: Response) -> list[AuditRecord]:
    with database.read() as session:
        rows = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.request_id == response.headers["X-Request-ID"])
            .order_by(AuditRecord.position)
        )
        found = list(rows)
        session.expunge_all()
        return found


def fields_of(response: Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["field"] for error in response.json()["errors"]]


def a_hold(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resident_id": "r1",
        "actor_id": OTHER_OFFICER.id,
        "hidden_until": (datetime.now(UTC).date() + timedelta(days=60)).isoformat(),
        "reason": "Investigation 117",
    }
    body.update(changes)
    return body


# --- search ---


def test_a_search_shows_every_field_newest_first(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    response = client.get(RECORDS, params=USES, headers=officer)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["position"] for item in items] == [3, 2, 1]
    assert set(items[0]) >= {
        "position", "id", "occurred_at", "actor_kind", "actor_id", "actor_role", "consumer_id",
        "purpose", "action", "service", "data_kind", "resident_id", "subject", "request_id",
        "details", "previous_hash", "hash", "hidden",
    }  # fmt: skip
    assert items[1]["previous_hash"] == items[2]["hash"]
    assert items[0]["occurred_at"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"resident_id": "r1"}, [2, 1]),
        ({"consumer_id": "con_parking"}, [2]),
        ({"actor_id": "stf_2"}, [3]),
        ({"action": "viewed", "service": "account"}, [3, 2, 1]),
        ({"occurred_from": "2026-10-01T10:00:00Z"}, [3, 2]),
        ({"occurred_to": "2026-10-01T10:00:00+00:00"}, [2, 1]),
    ],
)
def test_each_filter(
    client: TestClient,
    trail: Database,
    officer: dict[str, str],
    query: dict[str, str],
    expected: list[int],
) -> None:
    response = client.get(RECORDS, params={**USES, **query}, headers=officer)
    assert response.status_code == 200, response.text
    assert [item["position"] for item in response.json()["items"]] == expected


def test_pages_carry_signed_cursors_for_their_filters(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    first = client.get(RECORDS, params={**USES, "limit": 2}, headers=officer)
    cursor = first.json()["next_cursor"]
    assert 'rel="next"' in first.headers["Link"]
    second = client.get(RECORDS, params={**USES, "limit": 2, "cursor": cursor}, headers=officer)
    assert [item["position"] for item in second.json()["items"]] == [1]
    assert second.json()["next_cursor"] is None
    other = client.get(
        RECORDS, params={**USES, "limit": 2, "cursor": cursor, "resident_id": "r1"}, headers=officer
    )
    assert other.status_code == 400
    assert other.json()["type"].endswith("/invalid-cursor")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"action": "peeked"}, "query.action"),
        ({"service": "astrology"}, "query.service"),
        ({"resident_id": "two words"}, "query.resident_id"),
        ({"consumer_id": "x" * 65}, "query.consumer_id"),
        ({"actor_id": ""}, "query.actor_id"),
        ({"occurred_from": "yesterday"}, "query.occurred_from"),
        ({"occurred_from": "2026-10-01T10:00:00"}, "query.occurred_from"),
        (
            {"occurred_from": "2026-10-02T00:00:00Z", "occurred_to": "2026-10-01T00:00:00Z"},
            "query.occurred_to",
        ),
        ({"limit": "0"}, "query.limit"),
    ],
)
def test_a_bad_filter_is_a_422_naming_it(
    client: TestClient, trail: Database, officer: dict[str, str], query: dict[str, str], field: str
) -> None:
    response = client.get(RECORDS, params=query, headers=officer)
    assert fields_of(response) == [field]
    assert recorded(trail, response) == []


def test_a_search_is_recorded_once_per_resident_shown(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    response = client.get(RECORDS, headers=officer)
    uses = recorded(trail, response)
    assert sorted(use.resident_id or "" for use in uses) == ["r1", "r2"]
    for use in uses:
        assert (use.action, use.service, use.data_kind) == (
            "viewed",
            "data-protection",
            "data-uses",
        )
        assert use.actor_kind == "consumer"
        assert use.consumer_id is not None
    # A search about no resident records nothing.
    empty = client.get(RECORDS, params={"resident_id": "nobody"}, headers=officer)
    assert empty.json()["items"] == []
    assert recorded(trail, empty) == []


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", RECORDS, "audit:read"),
        ("GET", HOLDS, "audit:read"),
        ("POST", HOLDS, "audit:write"),
        ("POST", HOLDS + "/hld_x/lift", "audit:write"),
        ("GET", "/api/v1/audit/subject-access/r1", "audit:export"),
    ],
)
def test_each_route_needs_its_scope(
    client: TestClient, issue_token: TokenIssuer, method: str, path: str, scope: str
) -> None:
    others = {"audit:read", "audit:write", "audit:export", "people:read"} - {scope}
    response = client.request(method, path, headers=bearer(issue_token(sorted(others))), json={})
    assert response.status_code == 403
    assert client.request(method, path, json={}).status_code == 401


# --- holds ---


def test_a_hold_is_made_found_listed_and_lifted(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    made = client.post(HOLDS, json=a_hold(), headers=officer)
    assert made.status_code == 201, made.text
    hold = made.json()
    assert hold["active"] is True
    assert hold["lifted_at"] is None
    [record] = recorded(trail, made)
    assert (record.action, record.resident_id, record.position) == (
        "hid",
        "r1",
        hold["record_position"],
    )
    assert client.get(made.headers["Location"], headers=officer).json() == hold

    search = client.get(RECORDS, params={"resident_id": "r1"}, headers=officer).json()["items"]
    hidden = {item["position"] for item in search if item["hidden"]}
    assert hidden == {hold["record_position"]}  # the other officer never used r1's data

    listed = client.get(HOLDS, params={"resident_id": "r1"}, headers=officer)
    assert [item["id"] for item in listed.json()["items"]] == [hold["id"]]
    assert [use.resident_id for use in recorded(trail, listed)] == ["r1"]

    lifted = client.post(f"{HOLDS}/{hold['id']}/lift", headers=officer)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["active"] is False
    assert [use.action for use in recorded(trail, lifted)] == ["lifted"]
    again = client.post(f"{HOLDS}/{hold['id']}/lift", headers=officer)
    assert again.status_code == 409
    missing = client.post(f"{HOLDS}/hld_missing/lift", headers=officer)
    assert missing.status_code == 404


def test_a_retried_hold_with_its_key_makes_one_hold(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    headers = {**officer, "Idempotency-Key": "hold-1"}
    first = client.post(HOLDS, json=a_hold(), headers=headers)
    second = client.post(HOLDS, json=a_hold(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(HOLDS, headers=officer).json()["items"]) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"actor_id": None}, "body.consumer_id"),
        ({"hidden_until": "2020-01-01"}, "body.hidden_until"),
        ({"hidden_until": "2999-01-01"}, "body.hidden_until"),
        ({"hidden_until": "soon"}, "body.hidden_until"),
        ({"reason": ""}, "body.reason"),
        ({"reason": " "}, "body.reason"),
        ({"resident_id": "two words"}, "body.resident_id"),
        ({"accessed_from": "2026-10-01T00:00:00"}, "body.accessed_from"),
        (
            {"accessed_from": "2026-10-02T00:00:00Z", "accessed_to": "2026-10-01T00:00:00Z"},
            "body.accessed_to",
        ),
        ({"hidden": True}, "body.hidden"),
    ],
)
def test_a_hold_that_may_not_be_made_is_a_422_naming_the_field(
    client: TestClient,
    trail: Database,
    officer: dict[str, str],
    changes: dict[str, Any],
    field: str,
) -> None:
    response = client.post(HOLDS, json=a_hold(**changes), headers=officer)
    assert fields_of(response) == [field]
    assert recorded(trail, response) == []


# --- subject access ---


def test_the_export_holds_accounts_and_uses_and_is_recorded(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    add_account(trail, "res_a", "grace@example.com", "r1", verified=False)
    hold = client.post(
        HOLDS, json=a_hold(actor_id=None, consumer_id="con_parking"), headers=officer
    )
    response = client.get("/api/v1/audit/subject-access/r1", headers=officer)
    assert response.status_code == 200, response.text
    export = response.json()
    assert (export["resident_id"], export["resident_ids"]) == ("r1", ["r1"])
    accounts, people = export["sections"]
    assert accounts["service"] == "account"
    assert (people["service"], people["items"]) == ("people", [])
    assert {f["name"]: f["value"] for f in accounts["items"][0]["fields"]} == {
        "email": "grace@example.com",
        "verified": False,
        "created_at": "2026-09-01T00:00:00.000000Z",
        "sign_in_provider": "A code sent by email",
    }
    assert [use["position"] for use in export["uses"]] == [1]
    assert export["withheld_total"] == 2
    [withheld] = export["withheld"]
    assert (withheld["hold"]["id"], withheld["records"]) == (hold.json()["id"], 2)
    [use] = recorded(trail, response)
    assert (use.action, use.data_kind, use.resident_id) == ("exported", "everything-held", "r1")


def test_the_export_of_a_merged_resident_says_which_ids_it_covers(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    mary = merge_two_residents(trail)
    add_account(trail, "res_m", "mary@example.com", mary.earlier)
    response = client.get(f"/api/v1/audit/subject-access/{mary.earlier}", headers=officer)
    assert response.status_code == 200, response.text
    export = response.json()
    assert export["resident_id"] == mary.survivor
    assert export["resident_ids"] == [mary.survivor, mary.earlier]
    accounts, people = export["sections"]
    assert [item["subject"] for item in accounts["items"]] == ["resident-account:res_m"]
    assert (people["name"], people["service"], people["title"]) == (
        "people-records",
        "people",
        "Your records in the council's systems",
    )
    references = [
        field["value"]
        for item in people["items"]
        for field in item["fields"]
        if field["name"] == "reference"
    ]
    assert references == ["CT1", "P1"]
    # The merge itself was recorded under both ids: the export lists it under each.
    assert {use["resident_id"] for use in export["uses"]} == {mary.survivor, mary.earlier}
    [use] = recorded(trail, response)
    assert (use.action, use.resident_id) == ("exported", mary.survivor)


def test_an_export_names_a_resident_by_a_real_identifier(
    client: TestClient, officer: dict[str, str]
) -> None:
    response = client.get("/api/v1/audit/subject-access/two%20words", headers=officer)
    assert fields_of(response) == ["path.resident_id"]


def test_an_export_of_a_resident_nothing_is_held_about_is_a_404(
    client: TestClient, trail: Database, officer: dict[str, str]
) -> None:
    response = client.get("/api/v1/audit/subject-access/nobody", headers=officer)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert recorded(trail, response) == []
