"""The change feed over HTTP: pages after a position, type filters, the Link, bad input, waiting."""

from __future__ import annotations

import threading
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.tokens import TokenIssuer, bearer
from townhall.domains.addresses.events import GAZETTEER_LOADED, RECORD_EVENT_TYPES
from townhall.platform.db import Database
from townhall.platform.events import envelope
from townhall.platform.events.models import OutboxEvent
from townhall.platform.events.outbox import NewEvent, emit_many

ADDRESS_UPDATED = RECORD_EVENT_TYPES[("address", "updated")]
STREET_UPDATED = RECORD_EVENT_TYPES[("street", "updated")]
CHANGE = {"uprn": 1, "import_id": None, "changes": {"postcode": {"old": "E8 1AA", "new": "E8 1AB"}}}


@pytest.fixture
def headers(issue_token: TokenIssuer) -> dict[str, str]:
    return bearer(issue_token(["events:read"]))


def emit(database: Database, *events: NewEvent) -> None:
    with database.write() as session:
        emit_many(session, events)


def stored(database: Database) -> list[OutboxEvent]:
    with database.read() as session:
        rows = list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.position)))
        session.expunge_all()
        return rows


def next_link(response_link: str) -> list[tuple[str, str]]:
    url = response_link.split(";", maxsplit=1)[0].strip("<>")
    return parse_qsl(urlsplit(url).query)


def test_the_feed_pages_through_every_event_in_order(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    emit(database, *(NewEvent(ADDRESS_UPDATED, f"5360L{n:09d}", CHANGE) for n in range(5)))
    rows = stored(database)

    first = client.get("/api/v1/events", params={"limit": 3}, headers=headers)

    assert first.status_code == 200, first.text
    body = first.json()
    assert body["items"] == [envelope.to_dict(row, council_code="E09000012") for row in rows[:3]]
    assert body["next_after"] == rows[2].position
    assert ("after", str(rows[2].position)) in next_link(first.headers["link"])
    assert ("limit", "3") in next_link(first.headers["link"])
    second = client.get("/api/v1/events", params={"limit": 3, "after": body["next_after"]},
                        headers=headers)  # fmt: skip
    assert [item["subject"] for item in second.json()["items"]] == [
        "5360L000000003",
        "5360L000000004",
    ]
    end = client.get("/api/v1/events", params={"after": rows[-1].position}, headers=headers)
    assert end.json() == {"items": [], "next_after": rows[-1].position}
    assert ("after", str(rows[-1].position)) in next_link(end.headers["link"])


def test_type_filters_select_events_and_stay_in_the_link(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    emit(
        database,
        NewEvent(ADDRESS_UPDATED, "5360L000000001", CHANGE),
        NewEvent(STREET_UPDATED, "20400001", {**CHANGE, "uprn": None}),
        NewEvent(GAZETTEER_LOADED, "import-1", {"import_id": "import-1", "streets": 1,
                 "properties": 1, "addresses": 1, "cross_references": 0}),
    )  # fmt: skip
    filters = ["uk.gov.townhall.street.*", "uk.gov.townhall.gazetteer.loaded"]

    response = client.get("/api/v1/events", params={"type": filters}, headers=headers)

    assert response.status_code == 200, response.text
    assert [item["type"] for item in response.json()["items"]] == [
        "uk.gov.townhall.street.updated",
        "uk.gov.townhall.gazetteer.loaded",
    ]
    link = next_link(response.headers["link"])
    assert [value for name, value in link if name == "type"] == filters


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "-1"}, "query.after"),
        ({"after": "seven"}, "query.after"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "1001"}, "query.limit"),
        ({"wait": "31"}, "query.wait"),
        ({"type": "uk.gov.townhall.adress.*"}, "query.type"),
        ({"type": "address.updated"}, "query.type"),
        ({"type": "uk.gov.townhall.addr*"}, "query.type"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient, headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/events", params=params, headers=headers)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_the_feed_needs_the_events_read_scope(client: TestClient, issue_token: TokenIssuer) -> None:
    assert client.get("/api/v1/events").status_code == 401
    other = bearer(issue_token(["addresses:read"]))
    assert client.get("/api/v1/events", headers=other).status_code == 403


def test_a_waiting_read_answers_when_an_event_is_committed(
    client: TestClient, database: Database, headers: dict[str, str]
) -> None:
    committed = threading.Timer(
        0.2, emit, args=(database, NewEvent(ADDRESS_UPDATED, "5360L000000009", CHANGE))
    )
    committed.start()
    try:
        response = client.get("/api/v1/events", params={"wait": 20}, headers=headers)
    finally:
        committed.join()

    assert response.status_code == 200, response.text
    assert [item["subject"] for item in response.json()["items"]] == ["5360L000000009"]
