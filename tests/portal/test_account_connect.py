"""``/account/connect`` and what ``/account`` shows once connected: each field's error, the
generic refusal, the limit on attempts, success, the form token, and only ever one's own."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.portal.people_data import GRACE_BORN, PeopleData, build_people
from tests.sign_in import (
    START,
    RecordingSender,
    form_token,
    install_test_doubles,
    sign_in_resident,
)
from townhall.domains.people.connection import ATTEMPTS, REFUSAL
from townhall.domains.people.linking import system_actor
from townhall.domains.people.residents import merge
from townhall.platform.audit.models import AuditRecord
from townhall.platform.db import Database

CONNECT = "/account/connect"
EMAIL = "grace.adeyemi@example.com"
GRACE = {
    "reference": "HS1001",
    "date-of-birth-day": str(GRACE_BORN.day),
    "date-of-birth-month": str(GRACE_BORN.month),
    "date-of-birth-year": str(GRACE_BORN.year),
    "postcode": "E8 4RP",
}
KEMI = {
    "reference": "CT2002",
    "date-of-birth-day": "1",
    "date-of-birth-month": "1",
    "date-of-birth-year": "1990",
    "postcode": "E5 0AA",
}
_SUMMARY_LINK = re.compile(r'<a href="(#[^"]+)">([^<]+)</a>')


@pytest.fixture
def people(database: Database) -> PeopleData:
    return build_people(database)


@pytest.fixture
def sender(app: FastAPI) -> RecordingSender:
    return install_test_doubles(app)[0]


@pytest.fixture
def grace(client: TestClient, sender: RecordingSender, people: PeopleData) -> TestClient:
    """The client, signed in as a resident whose account is not yet connected."""
    sign_in_resident(client, sender, EMAIL)
    return client


def post(client: TestClient, answers: dict[str, str]) -> httpx.Response:
    data = {**answers, "csrf_token": form_token(client, CONNECT)}
    return client.post(CONNECT, data=data, follow_redirects=False)


def summary(html: str) -> dict[str, str]:
    """The error summary's links: where each goes, by its message."""
    box = html.split('class="govuk-error-summary', 1)[1].split("</ul>", 1)[0]
    return {unescape(message.strip()): href for href, message in _SUMMARY_LINK.findall(box)}


def uses_of(database: Database, response: httpx.Response) -> list[tuple[str | None, ...]]:
    with database.read() as session:
        rows = session.execute(
            select(
                AuditRecord.service,
                AuditRecord.data_kind,
                AuditRecord.action,
                AuditRecord.resident_id,
            ).where(AuditRecord.request_id == response.headers["x-request-id"])
        )
        return sorted(tuple(row) for row in rows)


def test_before_connecting_the_account_offers_to_connect(grace: TestClient) -> None:
    html = grace.get("/account").text

    assert "Connect your council records" in html
    assert 'href="/account/connect"' in html
    assert "What the council holds about you" not in html
    form = grace.get(CONNECT)
    assert form.status_code == 200
    for field in ("reference", "date-of-birth-day", "date-of-birth-month", "date-of-birth-year"):
        assert f'name="{field}"' in form.text
    assert 'autocomplete="bday-year"' in form.text
    assert 'name="postcode"' in form.text


def test_blank_answers_say_what_to_enter_for_each_field(grace: TestClient) -> None:
    response = post(grace, {})

    assert response.status_code == 400
    assert response.text.count("<title>Error: ") == 1
    assert summary(response.text) == {
        "Enter your reference": "#reference",
        "Enter your date of birth": "#date-of-birth-day",
        "Enter your postcode": "#postcode",
    }
    # Each field carries its own message, and every part of the empty date is marked.
    assert 'id="date-of-birth-error"' in response.text
    assert response.text.count("govuk-input--error") == 5


@pytest.mark.parametrize(
    ("date_parts", "message", "first_wrong"),
    [
        (("2", "", "1971"), "Date of birth must include a month", "month"),
        (("", "", "1971"), "Date of birth must include a day and month", "day"),
        (("31", "2", "1971"), "Date of birth must be a real date", "day"),
        (("2", "April", "1971"), "Date of birth must be a real date", "day"),
        (("2", "4", "71"), "Date of birth must be a real date", "day"),
        (("1", "1", "2090"), "Date of birth must be in the past", "day"),
    ],
)
def test_a_date_of_birth_that_is_not_a_past_date_says_why(
    grace: TestClient, date_parts: tuple[str, str, str], message: str, first_wrong: str
) -> None:
    day, month, year = date_parts
    answers = {
        **GRACE,
        "date-of-birth-day": day,
        "date-of-birth-month": month,
        "date-of-birth-year": year,
    }
    response = post(grace, answers)

    assert response.status_code == 400
    assert summary(response.text) == {message: f"#date-of-birth-{first_wrong}"}
    # What was typed is kept, so only the mistake needs typing again.
    assert 'value="HS1001"' in response.text
    assert f'value="{year}"' in response.text


def test_the_form_says_when_a_postcode_or_reference_cannot_be_one(grace: TestClient) -> None:
    response = post(grace, {**GRACE, "postcode": "not a postcode", "reference": "X" * 65})

    assert response.status_code == 400
    assert summary(response.text) == {
        "Reference must be 64 characters or fewer": "#reference",
        "Enter a real postcode": "#postcode",
    }


@pytest.mark.parametrize(
    "wrong",
    [
        {"reference": "HS9999"},
        {"date-of-birth-day": "3"},
        {"postcode": "E8 4RQ"},
        # Another resident's reference and postcode with Grace's date of birth.
        {"reference": "CT2002", "postcode": "E5 0AA"},
    ],
)
def test_details_that_do_not_match_get_the_one_refusal(
    grace: TestClient, wrong: dict[str, str]
) -> None:
    response = post(grace, {**GRACE, **wrong})

    assert response.status_code == 400
    assert summary(response.text) == {REFUSAL: "#reference"}
    assert "Connect your council records" in grace.get("/account").text


def test_too_many_attempts_get_a_page_saying_when_to_try_again(grace: TestClient) -> None:
    for _ in range(ATTEMPTS.quota):
        assert post(grace, {**GRACE, "postcode": "N1 1AA"}).status_code == 400

    # Even the right details wait: the limit is on attempts, not on wrong answers.
    response = post(grace, GRACE)

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "You have tried too many times" in response.text
    assert re.search(r"You can try again after \d+ \w+ \d{4} at ", response.text)
    assert "What the council holds about you" not in grace.get("/account").text


def test_connecting_shows_the_council_records_and_where_they_came_from(
    grace: TestClient, database: Database, people: PeopleData
) -> None:
    # Typed as people do: lower case, the postcode without its space, a day with a zero.
    response = post(
        grace, {**GRACE, "reference": "hs1001", "postcode": "e84rp", "date-of-birth-day": "02"}
    )

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account?connected=1"
    # Besides the change log's own record of the account's change.
    connected = [use for use in uses_of(database, response) if use[0] == "people"]
    assert connected == [("people", "links", "changed", people.grace)]
    home = grace.get(response.headers["location"])
    html = home.text
    assert "Your account is connected to your council records." in html
    assert "Grace Adeyemi" in html
    assert "2 April 1971" in html
    assert "Flat 4, 18 Mare Street, London, E8 4RP" in html
    assert "grace@example.org" in html
    assert "07700 900456" in html
    assert "From: Council tax" in html
    records = html.split('id="records"', 1)[1].split("</table>", 1)[0]
    assert "HS1001" in records
    assert "CT2001" in records
    assert "Housing" in records
    assert 'href="/account/data-uses"' in html
    # Reading the record is the resident's own use of it, under their resident's id.
    assert ("people", "resident", "viewed", people.grace) in uses_of(database, home)
    # The banner is for the moment of connecting, not for a link typed later.
    assert "connected to your council records." not in grace.get("/account").text.split("<h1")[0]


def test_the_page_follows_a_merge_to_the_survivor(
    grace: TestClient, database: Database, people: PeopleData
) -> None:
    assert post(grace, GRACE).status_code == 303
    merge(database, people.kemi, people.grace, actor=system_actor(), reason="Test merge")

    home = grace.get("/account")

    assert "HS1001" in home.text
    assert "CT2002" in home.text
    assert ("people", "resident", "viewed", people.kemi) in uses_of(database, home)


def test_connecting_needs_the_form_token(grace: TestClient) -> None:
    response = grace.post(CONNECT, data=GRACE, follow_redirects=False)

    assert response.status_code == 403
    assert "Connect your council records" in grace.get("/account").text


def test_someone_not_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    for response in (
        client.get(CONNECT, follow_redirects=False),
        client.post(CONNECT, data=GRACE, follow_redirects=False),
    ):
        assert response.status_code in {303, 403}
    assert client.get(CONNECT, follow_redirects=False).headers["location"] == "/account/sign-in"


def test_a_resident_only_ever_sees_their_own_records(
    app: FastAPI, sender: RecordingSender, people: PeopleData
) -> None:
    with TestClient(app) as kemi, TestClient(app) as grace:
        sign_in_resident(kemi, sender, "kemi@example.com")
        sign_in_resident(grace, sender, EMAIL)
        assert post(kemi, KEMI).status_code == 303
        assert post(grace, GRACE).status_code == 303

        kemi_home = kemi.get("/account", params={"resident_id": people.grace}).text
        grace_home = grace.get("/account").text

    assert "Kemi Bello" in kemi_home
    assert "Adeyemi" not in kemi_home
    assert "HS1001" not in kemi_home
    assert "Grace Adeyemi" in grace_home
    assert "Bello" not in grace_home
    assert "CT2002" not in grace_home


def test_the_date_check_uses_the_day_it_is(grace: TestClient) -> None:
    # The sign-in clock of the tests stands still; a birthday on its day is not yet past.
    today = START.date()
    answers = {
        **GRACE,
        "date-of-birth-day": str(today.day),
        "date-of-birth-month": str(today.month),
        "date-of-birth-year": str(today.year),
    }
    assert summary(post(grace, answers).text) == {
        "Date of birth must be in the past": "#date-of-birth-day"
    }
