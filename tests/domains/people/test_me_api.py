"""``/api/v1/me`` and connecting an account to the council's records: who may call, what a
connected resident sees, the generic refusal, the limit on attempts, and the records kept."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.portal.people_data import GRACE_BORN, PeopleData, build_people
from tests.sign_in import RecordingSender, install_test_doubles, sign_in_resident
from townhall.domains.people.connection import ATTEMPTS, REFUSAL
from townhall.domains.people.linking import system_actor
from townhall.domains.people.residents import merge
from townhall.platform.audit.models import AuditRecord
from townhall.platform.auth.models import Change
from townhall.platform.db import Database

EMAIL = "grace.adeyemi@example.com"
CONNECT = "/api/v1/me/resident-connection"
GRACE = {"reference": "HS1001", "date_of_birth": GRACE_BORN.isoformat(), "postcode": "E8 4RP"}


@pytest.fixture
def people(database: Database) -> PeopleData:
    return build_people(database)


@pytest.fixture
def resident(app: FastAPI, client: TestClient, people: PeopleData) -> TestClient:
    """The client, signed in as a resident whose account is not yet connected."""
    sender: RecordingSender = install_test_doubles(app)[0]
    sign_in_resident(client, sender, EMAIL)
    return client


def uses_of(database: Database, response: Response) -> list[AuditRecord]:
    with database.read() as session:
        found = list(
            session.scalars(
                select(AuditRecord).where(
                    AuditRecord.request_id == response.headers["X-Request-ID"]
                )
            )
        )
        session.expunge_all()
        return found


def changes(database: Database, action: str) -> list[Change]:
    with database.read() as session:
        found = list(session.scalars(select(Change).where(Change.action == action)))
        session.expunge_all()
        return found


def test_someone_not_signed_in_gets_a_401_problem(client: TestClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert client.post(CONNECT, json=GRACE).status_code == 401


def test_before_connecting_me_is_the_account_alone(
    resident: TestClient, database: Database
) -> None:
    response = resident.get("/api/v1/me")

    assert response.status_code == 200
    body = response.json()
    assert body["account"]["email"] == EMAIL
    assert body["account"]["verified"] is True
    assert body["account"]["connected"] is False
    assert body["council_record"] is None
    used = uses_of(database, response)
    assert [(u.resident_id, u.actor_kind, u.data_kind) for u in used] == [
        (None, "resident", "resident")
    ]


def test_connecting_shows_the_council_records_and_which_systems_hold_what(
    resident: TestClient, database: Database, people: PeopleData
) -> None:
    # Typed as people do: lower case, the postcode without its space.
    typed = {**GRACE, "reference": "hs1001", "postcode": "e84rp"}
    response = resident.post(CONNECT, json=typed)

    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith("/api/v1/me")
    record = response.json()["council_record"]
    assert record["resident_id"] == people.grace
    details = {detail["field"]: detail for detail in record["details"]}
    assert details["first_name"]["value"] == "Grace"
    assert details["date_of_birth"]["value"] == "1971-04-02"
    assert {(r["system"], r["reference"]) for r in record["records"]} == {
        ("housing", "HS1001"),
        ("council_tax", "CT2001"),
    }
    contact = {(c["kind"], c["value"]): c["systems"] for c in record["contact_details"]}
    assert contact[("email", "grace@example.org")] == ["housing"]
    # Internal record ids are not the resident's business.
    assert "record_id" not in str(record)
    assert resident.get("/api/v1/me").json()["council_record"] == record
    # The change log's own record of the account's change is in the trail too.
    used = [u for u in uses_of(database, response) if u.service == "people"]
    assert [(u.resident_id, u.action, u.data_kind) for u in used] == [
        (people.grace, "changed", "links")
    ]
    linked = changes(database, "resident_account.linked")
    assert [change.details for change in linked] == [{"resident_id": people.grace}]


@pytest.mark.parametrize(
    "wrong",
    [
        {"reference": "HS9999"},
        {"date_of_birth": "1971-04-03"},
        {"postcode": "E8 4RQ"},
        # A reference and postcode of one record, the date of birth of another.
        {"reference": "CT2002", "postcode": "E5 0AA"},
    ],
)
def test_a_refusal_never_says_which_part_was_wrong(
    resident: TestClient, database: Database, wrong: dict[str, str]
) -> None:
    response = resident.post(CONNECT, json={**GRACE, **wrong})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == REFUSAL
    assert resident.get("/api/v1/me").json()["account"]["connected"] is False
    assert len(changes(database, "resident_account.connection_refused")) == 1


def test_attempts_are_limited_even_for_the_right_details(resident: TestClient) -> None:
    for _ in range(ATTEMPTS.quota):
        assert resident.post(CONNECT, json={**GRACE, "postcode": "N1 1AA"}).status_code == 422

    response = resident.post(CONNECT, json=GRACE)

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert resident.get("/api/v1/me").json()["account"]["connected"] is False


@pytest.mark.parametrize(
    "body",
    [
        {"reference": "HS1001", "postcode": "E8 4RP"},
        {**GRACE, "date_of_birth": "1971-13-02"},
        {**GRACE, "reference": ""},
        {**GRACE, "extra": "field"},
    ],
)
def test_bad_input_is_a_clear_422(resident: TestClient, body: dict[str, Any]) -> None:
    response = resident.post(CONNECT, json=body)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/validation-failed")


def test_a_connected_resident_merged_into_another_sees_the_survivor(
    resident: TestClient, database: Database, people: PeopleData
) -> None:
    assert resident.post(CONNECT, json=GRACE).status_code == 201
    merge(database, people.kemi, people.grace, actor=system_actor(), reason="Test merge")

    record = resident.get("/api/v1/me").json()["council_record"]

    assert record["resident_id"] == people.kemi
    assert ("housing", "HS1001") in {(r["system"], r["reference"]) for r in record["records"]}


def test_me_has_an_etag_that_changes_when_the_account_is_connected(
    resident: TestClient, database: Database
) -> None:
    first = resident.get("/api/v1/me")
    etag = first.headers["ETag"]

    unchanged = resident.get("/api/v1/me", headers={"If-None-Match": etag})

    assert unchanged.status_code == 304
    assert unchanged.headers["ETag"] == etag
    assert unchanged.content == b""
    # A 304 still answers what the resident holds: it is recorded as a look like any other.
    assert len(uses_of(database, unchanged)) == 1
    assert resident.post(CONNECT, json=GRACE).status_code == 201
    connected = resident.get("/api/v1/me", headers={"If-None-Match": etag})
    assert connected.status_code == 200
    assert connected.headers["ETag"] != etag
    assert connected.json()["council_record"] is not None
    malformed = resident.get("/api/v1/me", headers={"If-None-Match": "not-quoted"})
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"
