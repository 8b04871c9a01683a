"""The staff people pages over HTTP: who may see and decide, search, a resident, the review
queue and its evidence, accept, reject, unlink, undo, and the uses each page records."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from tests.portal.people_data import PeopleData, build_people
from tests.sign_in import form_token, install_test_doubles, make_staff, sign_in_staff
from townhall.domains.people import decisions, residents, review
from townhall.domains.people.linking import system_actor
from townhall.platform.audit.models import AuditRecord
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.db import Database

STEWARD = "steward@hackney.gov.uk"


@pytest.fixture
def people(database: Database) -> PeopleData:
    return build_people(database)


def signed_in(app: FastAPI, client: TestClient, database: Database, role: StaffRole) -> TestClient:
    install_test_doubles(app)
    email = f"{role.value}@hackney.gov.uk"
    make_staff(database, email, role=role.value, name=f"Test {role.label}")
    sign_in_staff(client, email)
    return client


@pytest.fixture
def steward(app: FastAPI, client: TestClient, database: Database, people: PeopleData) -> TestClient:
    return signed_in(app, client, database, StaffRole.DATA_STEWARD)


def uses_of(database: Database, response: Response) -> list[AuditRecord]:
    with database.read() as session:
        found = list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.request_id == response.headers["X-Request-ID"])
                .order_by(AuditRecord.position)
            )
        )
        session.expunge_all()
        return found


def post_form(client: TestClient, page: str, action: str, **fields: str) -> Response:
    token = form_token(client, page)
    return client.post(action, data={**fields, "csrf_token": token}, follow_redirects=False)


@pytest.mark.parametrize(
    ("role", "search", "review_queue"),
    [
        (StaffRole.DATA_STEWARD, 200, 200),
        (StaffRole.ADMINISTRATOR, 200, 200),
        (StaffRole.HOUSING_OFFICER, 200, 403),
        (StaffRole.PARKING_OFFICER, 200, 403),
        (StaffRole.DATA_PROTECTION_OFFICER, 403, 403),
        (StaffRole.DEVELOPER, 403, 403),
    ],
)
def test_who_may_look_residents_up_and_who_may_decide(  # noqa: PLR0917 -- parametrized
    app: FastAPI,
    client: TestClient,
    database: Database,
    role: StaffRole,
    search: int,
    review_queue: int,
) -> None:
    signed_in(app, client, database, role)
    assert client.get("/staff/people").status_code == search
    assert client.get("/staff/people/review").status_code == review_queue
    home = client.get("/staff").text
    assert ('href="/staff/people"' in home) == (search == 200)
    assert ('href="/staff/people/review"' in home) == (review_queue == 200)


def test_someone_not_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/staff/people", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in"


def test_a_search_lists_residents_and_tells_each_of_them(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    response = steward.get("/staff/people", params={"q": "adeyemi grace"})

    assert response.status_code == 200
    assert f'href="/staff/people/residents/{people.grace}"' in response.text
    assert people.kemi not in response.text
    used = uses_of(database, response)
    assert [(u.resident_id, u.action, u.data_kind) for u in used] == [
        (people.grace, "searched", "resident")
    ]
    assert used[0].purpose.startswith("Finding a resident")


def test_search_by_date_of_birth_or_postcode(steward: TestClient, people: PeopleData) -> None:
    born = steward.get("/staff/people", params={"date_of_birth": "1990-01-01"}).text
    assert f"/staff/people/residents/{people.kemi}" in born
    assert people.grace not in born
    lives = steward.get("/staff/people", params={"postcode": "e8 4rp"}).text
    assert f"/staff/people/residents/{people.grace}" in lives
    assert people.kemi not in lives


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_of_birth": "1990-13-01"}, "Date of birth must be a real date"),
        ({"uprn": "12a"}, "UPRN must be a number"),
    ],
)
def test_a_search_with_bad_fields_says_what_is_wrong(
    steward: TestClient, params: dict[str, str], message: str
) -> None:
    response = steward.get("/staff/people", params=params)
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert message in html.unescape(response.text)


def test_a_resident_page_shows_where_each_detail_came_from(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    response = steward.get(f"/staff/people/residents/{people.grace}")

    assert response.status_code == 200
    text = html.unescape(response.text)
    assert "Grace Adeyemi" in text
    assert "housing HS1001" in text
    assert "council_tax CT2001" in text
    assert "grace@example.org" in text
    assert "07700 900456" in text
    assert "Flat 4, 18 Mare Street, London" in text
    assert f'action="/staff/people/residents/{people.grace}/records/' in response.text
    assert [(u.resident_id, u.action) for u in uses_of(database, response)] == [
        (people.grace, "viewed")
    ]


def test_an_officer_sees_a_resident_but_no_forms_to_change_them(
    app: FastAPI, client: TestClient, database: Database, people: PeopleData
) -> None:
    signed_in(app, client, database, StaffRole.HOUSING_OFFICER)
    response = client.get(f"/staff/people/residents/{people.grace}")
    assert response.status_code == 200
    assert "/unlink" not in response.text
    assert "/staff/people/decisions/" not in response.text


def test_an_unknown_resident_is_a_404_page(steward: TestClient) -> None:
    response = steward.get("/staff/people/residents/RZZZZZZZZZ")
    assert response.status_code == 404
    assert "There is no resident RZZZZZZZZZ" in response.text


def test_the_queue_lists_possible_matches_most_probable_first(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    response = steward.get("/staff/people/review")

    assert response.status_code == 200
    links = re.findall(r'href="/staff/people/review/(\d+)"', response.text)
    assert [int(link) for link in links] == [people.accept_item, people.reject_item]
    assert "93.0%" in response.text
    assert "84.0%" in response.text
    assert {u.resident_id for u in uses_of(database, response)} == {people.grace, people.jon}


def test_the_evidence_shows_each_field_and_the_chart(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    response = steward.get(f"/staff/people/review/{people.accept_item}")

    assert response.status_code == 200
    text = html.unescape(response.text)
    assert "Field by field comparison" in text
    assert "Grayce" in text
    assert "Exact match" in text
    assert "Different" in text
    assert 'role="img"' in response.text
    assert "<desc" in response.text
    assert "a match probability of 93.0%" in text
    assert f'action="/staff/people/review/{people.accept_item}/accept"' in response.text
    assert [(u.resident_id, u.data_kind) for u in uses_of(database, response)] == [
        (people.grace, "review-item")
    ]


def test_accepting_links_the_record_and_shows_the_decision(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    page = f"/staff/people/review/{people.accept_item}"
    response = post_form(steward, page, page + "/accept", reason="Same date of birth and address")

    assert response.status_code == 303
    decision_page = response.headers["location"]
    assert re.fullmatch(r"/staff/people/decisions/\d+", decision_page)
    parking = people.records["grace_parking"]
    assert residents.resident_of_record(database, parking) == people.grace
    assert review.get_review_item(database, people.accept_item).status == "accepted"
    assert people.grace in {u.resident_id for u in uses_of(database, response)}
    shown = steward.get(decision_page)
    assert "Same date of birth and address" in shown.text
    assert "Possible match accepted" in shown.text


def test_a_decision_needs_a_reason(steward: TestClient, people: PeopleData) -> None:
    page = f"/staff/people/review/{people.reject_item}"
    response = post_form(steward, page, page + "/reject", reason="  ")

    assert response.status_code == 400
    assert 'href="#reject-reason"' in response.text
    assert "Enter why you are rejecting this match" in response.text


def test_rejecting_keeps_the_records_apart_and_undo_puts_it_back(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    page = f"/staff/people/review/{people.reject_item}"
    rejected = post_form(steward, page, page + "/reject", reason="Different dates of birth")
    assert rejected.status_code == 303
    decision_page = rejected.headers["location"]
    assert "now kept apart" in steward.get(decision_page).text

    undone = post_form(
        steward, decision_page, decision_page + "/undo", reason="Rejected by mistake"
    )

    assert undone.status_code == 303
    assert review.get_review_item(database, people.reject_item).status == "pending"
    decision_id = int(decision_page.rpartition("/")[2])
    assert decisions.get_decision(database, decision_id).undone
    assert "Undone" in steward.get(decision_page).text


def test_unlinking_gives_the_record_a_resident_of_its_own(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    record = people.records["kemi_benefits"]
    page = f"/staff/people/residents/{people.kemi}"
    response = post_form(
        steward, page, f"{page}/records/{record}/unlink", reason="A different Kemi Bello"
    )

    assert response.status_code == 303
    moved_to = residents.resident_of_record(database, record)
    assert moved_to not in (None, people.kemi)
    shown = steward.get(response.headers["location"])
    assert f'href="/staff/people/residents/{moved_to}"' in shown.text
    assert "Record unlinked" in shown.text


def test_an_unlink_without_a_reason_shows_the_resident_again(
    steward: TestClient, people: PeopleData
) -> None:
    record = people.records["kemi_benefits"]
    page = f"/staff/people/residents/{people.kemi}"
    response = post_form(steward, page, f"{page}/records/{record}/unlink", reason="")
    assert response.status_code == 400
    assert f'href="#reason-{record}"' in response.text


def test_an_undo_a_later_decision_prevents_is_explained(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    page = f"/staff/people/review/{people.accept_item}"
    accepted = post_form(steward, page, page + "/accept", reason="Same person")
    first = accepted.headers["location"]
    parking = people.records["grace_parking"]
    grace_page = f"/staff/people/residents/{people.grace}"
    post_form(
        steward, grace_page, f"{grace_page}/records/{parking}/unlink", reason="Not her after all"
    )

    refused = post_form(steward, first, first + "/undo", reason="Undo the acceptance")

    assert refused.status_code == 409
    assert "This decision cannot be undone" in refused.text


def test_a_merged_resident_leads_to_the_one_it_was_merged_into(
    steward: TestClient, database: Database, people: PeopleData
) -> None:
    residents.merge(database, people.john, people.jon, actor=system_actor(), reason="Test merge")

    response = steward.get(f"/staff/people/residents/{people.jon}", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == f"/staff/people/residents/{people.john}"
