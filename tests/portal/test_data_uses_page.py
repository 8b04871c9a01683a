"""The page "How your data is used": a summary by service, then every use, newest first."""

from __future__ import annotations

import re

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
from tests.platform.auth.factories import register_consumer
from tests.sign_in import make_staff
from townhall.app import create_app
from townhall.domains.people.data_uses import PEOPLE, SOURCE_RECORD
from townhall.platform.audit.models import AuditRecord
from townhall.platform.audit.uses import Actor
from townhall.platform.audit.vocabulary import ActorKind
from townhall.platform.db import Database
from townhall.portal.views_data_uses import ENTRIES_PER_PAGE
from townhall.settings import Settings

PAGE = "/account/data-uses"
_ROW = re.compile(r'<tr class="govuk-table__row">(.*?)</tr>', re.DOTALL)
_HREF = re.compile(r'href="([^"]+)"')


@pytest.fixture
def grace(app: FastAPI, client: TestClient, database: Database) -> SignedIn:
    """The test client, signed in as a resident matched to council records."""
    return sign_in_linked_resident(app, client, database)


def _entries(html: str) -> list[str]:
    """The text of each row of the list of uses."""
    table = html.split('id="data-uses"', 1)[1].split("</table>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in _ROW.findall(table)][1:]


def _link(html: str, text: str) -> str:
    """The href of the link whose text is ``text``."""
    link = r'<a [^>]*href="([^"]+)"[^>]*>(?:(?!</a>).)*?' + re.escape(text)
    found = re.search(link, html, re.DOTALL)
    assert found is not None, f"no link {text!r}"
    return found.group(1).replace("&amp;", "&")


def test_the_page_lists_others_uses_with_their_purpose(grace: SignedIn, database: Database) -> None:
    parking = register_consumer(database, name="Parking permits").consumer
    add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    add_use(database, consumer(parking.id))
    add_use(database, resident(grace.account_id))
    add_use(database, staff(), OTHER_RESIDENT, data_kind=SOURCE_RECORD)
    response = grace.client.get(PAGE)
    assert response.status_code == 200
    assert '<h1 class="govuk-heading-xl">How your data is used</h1>' in response.text
    [newest, oldest] = _entries(response.text)
    assert "The Parking permits app (a council service) looked at your account details" in newest
    assert "Your council account" in newest
    assert f"Why: {PURPOSE}" in newest
    assert "A housing officer looked at a council system" in oldest
    assert "Council records about you" in oldest


def test_the_summary_links_each_service_to_its_own_list(
    grace: SignedIn, database: Database
) -> None:
    add_use(database, staff())
    add_use(database, staff())
    add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    html = grace.client.get(PAGE).text
    summary = html.split('id="summary"', 1)[1].split("</table>", 1)[0]
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in _ROW.findall(summary)]
    assert rows[1].startswith("Council records about you 1 ")
    assert rows[2].startswith("Your council account 2 ")
    href = _link(html, "Council records about you")
    assert href == "/account/data-uses?service=people"
    filtered = grace.client.get(href)
    assert filtered.status_code == 200
    assert "Uses by Council records about you" in filtered.text
    assert len(_entries(filtered.text)) == 1
    assert _link(filtered.text, "See the uses by every service") == PAGE


def _purposes(html: str) -> list[str]:
    """The purpose of each use listed, in order."""
    return [entry.rsplit("Why: ", 1)[1] for entry in _entries(html)]


def test_next_and_previous_pages(grace: SignedIn, database: Database) -> None:
    count = ENTRIES_PER_PAGE * 2 + 1
    for number in range(count):
        add_use(database, Actor(ActorKind.STAFF, f"Case {number}", id="stf_1", role="x"))
    first = grace.client.get(PAGE).text
    assert "Previous" not in first
    second = grace.client.get(_link(first, "Next")).text
    assert "Page 2" in second
    third = grace.client.get(_link(second, "Next")).text
    assert "Next" not in third.split('id="data-uses"', 1)[1]
    # Newest first, each use on exactly one page.
    listed = _purposes(first) + _purposes(second) + _purposes(third)
    assert listed == [f"Case {number}" for number in reversed(range(count))]
    assert [len(_entries(page)) for page in (first, second, third)] == [
        ENTRIES_PER_PAGE,
        ENTRIES_PER_PAGE,
        1,
    ]
    back = grace.client.get(_link(third, "Previous")).text
    assert _purposes(back) == _purposes(second)
    assert "Page 2" in back
    assert _purposes(grace.client.get(_link(back, "Previous")).text) == _purposes(first)


def test_a_changed_cursor_starts_again_from_the_first_page(
    grace: SignedIn, database: Database
) -> None:
    for _ in range(ENTRIES_PER_PAGE + 1):
        add_use(database, staff())
    response = grace.client.get(PAGE, params={"cursor": "made.up", "page": "2"})
    assert response.status_code == 200
    assert "this is the first page" in response.text
    assert len(_entries(response.text)) == ENTRIES_PER_PAGE


def test_an_unknown_service_is_a_400_page_pointing_at_the_summary(
    grace: SignedIn, database: Database
) -> None:
    add_use(database, staff())
    response = grace.client.get(PAGE, params={"service": "parking-fines"})
    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert 'href="#summary"' in response.text
    assert 'id="summary"' in response.text
    assert 'id="data-uses"' not in response.text


def test_held_back_uses_are_not_shown(grace: SignedIn, database: Database) -> None:
    add_use(database, staff("stf_suspect"))
    add_use(database, staff("stf_other", "parking_officer"))
    add_hold_with_record(database, actor_id="stf_suspect")
    entries = _entries(grace.client.get(PAGE).text)
    assert len(entries) == 1
    assert "A parking officer" in entries[0]


def test_an_unmatched_account_is_told_why_nothing_is_listed(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    signed_in = sign_in_linked_resident(app, client, database, resident_id=None)
    add_use(database, staff())
    response = signed_in.client.get(PAGE)
    assert response.status_code == 200
    assert 'id="not-matched"' in response.text
    assert "not matched to the council's records" in response.text
    assert 'id="data-uses"' not in response.text


def test_no_uses_yet(grace: SignedIn) -> None:
    response = grace.client.get(PAGE)
    assert response.status_code == 200
    assert "No one has used your data yet" in response.text


def test_another_residents_uses_are_never_shown(
    app: FastAPI, grace: SignedIn, database: Database
) -> None:
    add_use(database, staff())
    omar = TestClient(app)
    sign_in_linked_resident(app, omar, database, "omar@example.com", OTHER_RESIDENT)
    response = omar.get(PAGE, params={"resident_id": "resident-grace"})
    assert "No one has used your data yet" in response.text


def test_someone_not_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get(PAGE, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/account/sign-in"


@pytest.mark.parametrize(("path", "data_kind"), [(PAGE, "data-uses"), ("/account", "account")])
def test_each_look_is_recorded_as_the_residents_own(
    grace: SignedIn, database: Database, path: str, data_kind: str
) -> None:
    response = grace.client.get(path)
    assert response.status_code == 200
    record = record_of(database, response)
    assert (record.actor_kind, record.actor_id) == ("resident", grace.account_id)
    assert (record.service, record.data_kind) == ("account", data_kind)
    assert record.resident_id == RESIDENT


def test_the_account_page_links_here(grace: SignedIn) -> None:
    assert _link(grace.client.get("/account").text, "See how your data is used") == PAGE


@pytest.mark.parametrize("show", [False, True], ids=["by-role", "by-name"])
def test_staff_names_follow_the_councils_setting(
    settings: Settings, database: Database, show: bool
) -> None:
    app = create_app(settings.model_copy(update={"audit_show_staff_names": show}))
    with TestClient(app) as client:
        signed_in = sign_in_linked_resident(app, client, database)
        member = make_staff(database, "sam@hackney.gov.uk", name="Sam Patel")
        add_use(database, staff(member.id))
        [entry] = _entries(signed_in.client.get(PAGE).text)
    expected = "Sam Patel (housing officer) looked" if show else "A housing officer looked"
    assert expected in entry
    assert ("Sam Patel" in entry) is show


def test_a_resident_merged_into_another_sees_the_uses_under_both_ids(
    app: FastAPI, client: TestClient, database: Database
) -> None:
    mary = merge_two_residents(database)
    signed_in = sign_in_linked_resident(app, client, database, "mary@example.com", mary.earlier)
    parking = register_consumer(database, name="Parking permits").consumer
    add_use(database, staff(), mary.earlier, service=PEOPLE, data_kind=SOURCE_RECORD)
    add_use(database, consumer(parking.id), mary.survivor)
    add_use(database, staff(), OTHER_RESIDENT)
    response = signed_in.client.get(PAGE)
    assert response.status_code == 200
    [newest, older, *_merge] = _entries(response.text)
    assert "The Parking permits app (a council service) looked at your account details" in newest
    assert "A housing officer looked at a council system" in older
    assert record_of(database, response).resident_id == mary.survivor
    account = signed_in.client.get("/account")
    with database.read() as session:
        looked_at = dict(
            session.execute(
                select(AuditRecord.data_kind, AuditRecord.resident_id).where(
                    AuditRecord.request_id == account.headers["x-request-id"]
                )
            ).all()
        )
    assert looked_at["account"] == mary.survivor
