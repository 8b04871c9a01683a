"""GET /api/v1/me/data-uses(/summary): the signed-in resident's data uses, as JSON."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.platform.audit.merged_residents import merge_two_residents
from tests.platform.audit.resident_uses import (
    OTHER_RESIDENT,
    PURPOSE,
    RESIDENT,
    SignedIn,
    add_hold_with_record,
    add_use,
    consumer,
    record_of,
    resident,
    sign_in_linked_resident,
    staff,
)
from tests.sign_in import make_staff
from tests.tokens import TokenIssuer, bearer
from townhall.app import create_app
from townhall.domains.people.data_uses import PEOPLE, SOURCE_RECORD
from townhall.platform.audit.models import AuditRecord
from townhall.platform.db import Database
from townhall.settings import Settings

LIST = "/api/v1/me/data-uses"
SUMMARY = "/api/v1/me/data-uses/summary"


@pytest.fixture
def grace(app: FastAPI, client: TestClient, database: Database) -> SignedIn:
    """The test client, signed in as a resident matched to ``RESIDENT``."""
    return sign_in_linked_resident(app, client, database)


def _walk(client: TestClient, **params: str) -> list[list[str]]:
    """The ids on each page, following ``next_cursor`` (and checking the Link header)."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get(LIST, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            assert 'rel="next"' not in response.headers["link"]
            return pages
        assert f"cursor={cursor}" in response.headers["link"]


def _record_ids(database: Database, *positions: int) -> list[str]:
    with database.read() as session:
        rows = session.execute(
            select(AuditRecord.position, AuditRecord.id).where(AuditRecord.position.in_(positions))
        )
        found: dict[int, str] = dict(rows.all())
    return [found[position] for position in positions]


def test_the_list_shows_others_uses_of_your_data_as_sentences(
    grace: SignedIn, database: Database
) -> None:
    add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    add_use(database, resident(grace.account_id))
    add_use(database, staff(), OTHER_RESIDENT)
    response = grace.client.get(LIST)
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["service"] == {"key": "people", "name": "Council records about you"}
    assert item["action"] == "viewed"
    assert item["data_kind"]["key"] == "source-record"
    assert item["actor"] == {"kind": "staff", "description": "A housing officer"}
    assert item["purpose"] == PURPOSE
    assert item["description"].startswith("A housing officer looked at a council system's record")
    assert item["occurred_at"].endswith("Z")
    assert response.json()["next_cursor"] is None


def test_pages_cover_every_use_once_newest_first(grace: SignedIn, database: Database) -> None:
    made = [add_use(database, consumer("con_parking")) for _ in range(5)]
    pages = _walk(grace.client, limit="2")
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [item for page in pages for item in page] == _record_ids(database, *reversed(made))


def test_one_service_at_a_time(grace: SignedIn, database: Database) -> None:
    add_use(database, staff())
    [people] = _record_ids(
        database, add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    )
    assert _walk(grace.client, service="people") == [[people]]
    assert len(_walk(grace.client)[0]) == 2


def test_a_cursor_works_only_on_the_list_it_came_from(grace: SignedIn, database: Database) -> None:
    for _ in range(3):
        add_use(database, staff())
    cursor = grace.client.get(LIST, params={"limit": 1}).json()["next_cursor"]
    response = grace.client.get(LIST, params={"service": "people", "cursor": cursor})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/invalid-cursor"


def test_an_unknown_service_is_a_422_problem(grace: SignedIn) -> None:
    response = grace.client.get(LIST, params={"service": "parking-fines"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["field"] == "query.service"
    assert "people" in error["message"]


def test_held_back_uses_are_not_listed_until_the_hold_ends(
    grace: SignedIn, database: Database
) -> None:
    add_use(database, staff("stf_suspect"))
    add_hold_with_record(database, actor_id="stf_suspect")
    assert _walk(grace.client) == [[]]
    assert grace.client.get(SUMMARY).json()["total_uses"] == 0


def test_held_back_uses_show_again_once_the_hold_has_ended(
    grace: SignedIn, database: Database
) -> None:
    add_use(database, staff("stf_suspect"))
    add_hold_with_record(database, actor_id="stf_suspect", hidden_for=timedelta(seconds=-1))
    assert len(_walk(grace.client)[0]) == 2


def test_the_summary_counts_uses_by_service(grace: SignedIn, database: Database) -> None:
    add_use(database, staff())
    add_use(database, staff())
    add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    add_use(database, resident(grace.account_id))
    body = grace.client.get(SUMMARY).json()
    assert body["matched_to_council_records"] is True
    assert body["total_uses"] == 3
    counts = {item["service"]["key"]: item["uses"] for item in body["services"]}
    assert counts == {"account": 2, "people": 1}
    # The newest use was the people service's, so it comes first.
    assert body["services"][0]["service"]["key"] == "people"


def test_an_account_not_matched_to_council_records_has_nothing_to_list(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    signed_in = sign_in_linked_resident(app, client, database, resident_id=None)
    add_use(database, staff())
    assert signed_in.client.get(LIST).json() == {"items": [], "next_cursor": None}
    assert signed_in.client.get(SUMMARY).json() == {
        "matched_to_council_records": False,
        "total_uses": 0,
        "services": [],
    }


def test_another_residents_uses_are_never_shown(
    app: FastAPI, grace: SignedIn, database: Database
) -> None:
    add_use(database, staff())
    omar = TestClient(app)
    sign_in_linked_resident(app, omar, database, "omar@example.com", OTHER_RESIDENT)
    assert _walk(omar) == [[]]
    # Naming the other resident anywhere in the request changes nothing.
    response = omar.get(LIST, params={"resident_id": RESIDENT, "account_id": grace.account_id})
    assert response.json()["items"] == []


@pytest.mark.parametrize("path", [LIST, SUMMARY])
def test_without_a_session_the_answer_is_a_401_problem(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Cookie realm="townhall"')
    assert "/account/sign-in" in response.json()["detail"]


def test_a_token_is_no_substitute_for_the_residents_session(
    client: TestClient, issue_token: TokenIssuer
) -> None:
    token = issue_token(["people:read", "audit:read"])
    assert client.get(LIST, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize("path", [LIST, SUMMARY])
def test_reading_is_recorded_as_the_residents_own_use(
    grace: SignedIn, database: Database, path: str
) -> None:
    response = grace.client.get(path)
    assert response.status_code == 200
    record = record_of(database, response)
    assert (record.actor_kind, record.actor_id) == ("resident", grace.account_id)
    assert (record.service, record.data_kind) == ("account", "data-uses")
    assert record.resident_id == RESIDENT
    assert record.subject == f"resident-account:{grace.account_id}"
    # The resident's own look is not listed back to them.
    assert grace.client.get(LIST).json()["items"] == []


@pytest.fixture
def names_shown(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"audit_show_staff_names": True}))
    with TestClient(app) as client:
        yield client


def test_staff_names_are_shown_where_the_council_says_so(
    names_shown: TestClient, database: Database
) -> None:
    app = names_shown.app
    assert isinstance(app, FastAPI)
    grace = sign_in_linked_resident(app, names_shown, database)
    member = make_staff(database, "sam@hackney.gov.uk", name="Sam Patel")
    add_use(database, staff(member.id))
    [item] = grace.client.get(LIST).json()["items"]
    assert item["actor"]["description"] == "Sam Patel (housing officer)"


def test_staff_are_named_by_role_by_default(grace: SignedIn, database: Database) -> None:
    member = make_staff(database, "sam@hackney.gov.uk", name="Sam Patel")
    add_use(database, staff(member.id))
    [item] = grace.client.get(LIST).json()["items"]
    assert item["actor"]["description"] == "A housing officer"
    assert "Sam Patel" not in grace.client.get(LIST).text


def test_the_operations_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    listing = document["paths"][LIST]["get"]
    assert listing["operationId"] == "me_list_data_uses"
    assert {"200", "400", "401", "422", "503"} <= set(listing["responses"])
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("PageOut_DataUsePublic_")
    [service] = [p for p in listing["parameters"] if p["name"] == "service"]
    assert service["schema"]["enum"] == ["access-control", "account", "data-protection", "people"]
    summary = document["paths"][SUMMARY]["get"]
    assert summary["operationId"] == "me_summarise_data_uses"
    assert summary["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "DataUseSummaryPublic"
    )


def test_an_account_connected_to_a_merged_resident_sees_the_uses_under_every_id(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    mary = merge_two_residents(database)
    signed_in = sign_in_linked_resident(app, client, database, "mary@example.com", mary.earlier)
    before = add_use(database, staff("stf_before"), mary.earlier)
    after = add_use(database, consumer("con_parking"), mary.survivor)
    theirs = add_use(database, staff(), OTHER_RESIDENT)
    response = signed_in.client.get(LIST, params={"limit": 100})
    assert response.status_code == 200
    listed = [item["id"] for item in response.json()["items"]]
    [before_id, after_id, theirs_id] = _record_ids(database, before, after, theirs)
    assert listed[:2] == [after_id, before_id]
    assert theirs_id not in listed
    # The look is recorded under the id Mary has now.
    assert record_of(database, response).resident_id == mary.survivor
    summary = signed_in.client.get(SUMMARY)
    assert summary.json()["total_uses"] == len(listed)
    assert record_of(database, summary).resident_id == mary.survivor
