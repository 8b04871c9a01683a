"""The people API: one source person record, as its source system holds it, each read recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.platform.auth.factories import register_consumer
from tests.tokens import TokenIssuer, bearer
from townhall.domains.people.models import SourcePersonRecord
from townhall.domains.people.schemas import NewSourceRecord
from townhall.domains.people.service import load_source_records
from townhall.platform.audit.models import AuditRecord
from townhall.platform.db import Database

PURPOSE = "Checks who lives at an address before a housing visit."
RECORD = NewSourceRecord(
    source_system="housing", source_record_id="HS0000007", title="Mr", first_name="Bill",
    middle_names="James", last_name="O'Brien", date_of_birth=date(1980, 3, 7),
    email="bill.obrien7@example.com", phone="07700 900123",
    national_insurance_number="QQ 12 34 56 C", address_text="3/12 Mortimer Road, London",
    postcode="N1 4LA", uprn=100021000003, attributes={"tenancy_reference": "T-7", "tags": ["a"]},
    source_updated_at=datetime(2024, 5, 6, 7, 8, tzinfo=UTC),
)  # fmt: skip


@pytest.fixture
def record_id(database: Database) -> int:
    load_source_records(database, [RECORD])
    with database.read() as session:
        found = session.scalar(select(SourcePersonRecord.id))
    assert found is not None
    return found


@pytest.fixture
def reader(client: TestClient, issue_token: TokenIssuer) -> tuple[str, dict[str, str]]:
    """A consumer granted people:read for ``PURPOSE``, and its token's headers."""
    consumer = register_consumer(issue_token.database, scopes=["people:read"], purpose=PURPOSE)
    return consumer.consumer.id, bearer(issue_token(consumer=consumer))


def _records(database: Database) -> list[Any]:
    """The records of the people service (registering a consumer makes records of its own)."""
    with database.read() as session:
        return list(
            session.execute(
                select(AuditRecord.__table__)
                .where(AuditRecord.service == "people")
                .order_by(AuditRecord.position)
            )
        )


def test_a_record_is_answered_as_its_source_holds_it_and_its_read_is_recorded(
    client: TestClient, database: Database, record_id: int, reader: tuple[str, dict[str, str]]
) -> None:
    consumer_id, headers = reader

    response = client.get(f"/api/v1/people/source-records/{record_id}", headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": record_id,
        "source_system": "housing",
        "source_record_id": "HS0000007",
        "title": "Mr",
        "first_name": "Bill",
        "middle_names": "James",
        "last_name": "O'Brien",
        "date_of_birth": "1980-03-07",
        "email": "bill.obrien7@example.com",
        "phone": "07700 900123",
        "national_insurance_number": "QQ 12 34 56 C",
        "address_text": "3/12 Mortimer Road, London",
        "postcode": "N1 4LA",
        "uprn": 100021000003,
        "attributes": {"tenancy_reference": "T-7", "tags": ["a"]},
        "source_updated_at": "2024-05-06T07:08:00Z",
    }
    assert response.headers["ETag"].startswith('"')
    [record] = _records(database)
    assert (record.actor_kind, record.consumer_id, record.actor_id) == (
        "consumer",
        consumer_id,
        None,
    )
    assert record.purpose == PURPOSE
    assert record.action == "viewed"
    assert (record.service, record.data_kind) == ("people", "source-record")
    assert record.subject == f"people-source-record:{record_id}"
    # No source record is linked to a resident until linkage exists.
    assert record.resident_id is None
    assert record.request_id == response.headers["X-Request-ID"]
    # The record names the data by its key, never by what it holds.
    assert "O'Brien" not in f"{record.details} {record.subject}"


def test_a_read_answered_not_modified_is_recorded_too(
    client: TestClient, database: Database, record_id: int, reader: tuple[str, dict[str, str]]
) -> None:
    _, headers = reader
    url = f"/api/v1/people/source-records/{record_id}"
    etag = client.get(url, headers=headers).headers["ETag"]

    again = client.get(url, headers={**headers, "If-None-Match": etag})

    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert len(_records(database)) == 2


def test_a_missing_record_is_a_404_problem_and_records_nothing(
    client: TestClient, database: Database, reader: tuple[str, dict[str, str]]
) -> None:
    _, headers = reader

    response = client.get("/api/v1/people/source-records/999999", headers=headers)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "999999" in response.json()["detail"]
    assert _records(database) == []


@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", str(2**63)])
def test_a_bad_id_is_a_422_problem(
    client: TestClient, bad: str, reader: tuple[str, dict[str, str]]
) -> None:
    _, headers = reader

    response = client.get(f"/api/v1/people/source-records/{bad}", headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_no_record_no_data_when_the_audit_trail_cannot_commit(
    app: FastAPI, client: TestClient, record_id: int, reader: tuple[str, dict[str, str]]
) -> None:
    _, headers = reader
    # A closed recorder refuses every use, as a failed commit would.
    app.state.townhall.audit.close()

    response = client.get(f"/api/v1/people/source-records/{record_id}", headers=headers)

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "O'Brien" not in response.text
