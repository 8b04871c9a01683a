"""The data steward's people pages in a real browser: search, a resident, the review queue and
its evidence, accept, reject, unlink and undo; every page checked with axe-core as met.

The residents and possible matches come from ``tests.portal.people_data`` (Grace's parking record
to accept, Jon and John to keep apart, Kemi's two records to unlink). Console errors and Content
Security Policy violations fail the test (the page watch in ``tests/e2e/conftest.py``); a form
sent without its reason answers 400 on purpose, and the test accepts that one console line.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible, sign_in_staff
from tests.portal.people_data import PeopleData, build_people
from tests.sign_in import PASSWORD, install_test_doubles, make_staff
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.db import Database

pytestmark = pytest.mark.browser

STEWARD_EMAIL = "steward@hackney.gov.uk"
OFFICER_EMAIL = "housing@hackney.gov.uk"
BAD_REQUEST = "status of 400 (Bad Request)"
DECISION_PAGE = re.compile(r"/staff/people/decisions/\d+$")


@pytest.fixture
def people(database: Database) -> PeopleData:
    return build_people(database)


def signed_in(
    page: Page, live_server: LiveServer, database: Database, email: str, role: StaffRole
) -> Page:
    install_test_doubles(live_server.app)
    make_staff(database, email, role=role.value)
    sign_in_staff(page, live_server, email, PASSWORD)
    expect(page).to_have_url(live_server.at("/staff"))
    return page


@pytest.fixture
def steward(page: Page, live_server: LiveServer, database: Database, people: PeopleData) -> Page:
    return signed_in(page, live_server, database, STEWARD_EMAIL, StaffRole.DATA_STEWARD)


def test_search_then_open_a_resident_with_their_records(
    steward: Page, live_server: LiveServer, people: PeopleData
) -> None:
    page = steward
    page.get_by_role("link", name="People", exact=True).click()
    expect(page.locator("h1")).to_have_text("Find a resident")
    assert_accessible(page)

    page.get_by_label("Name").fill("adeyemi grace")
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table", name="Residents")
    expect(results).to_be_visible()
    assert_accessible(page)

    results.get_by_role("link", name=re.compile("Grace Adeyemi")).first.click()
    expect(page).to_have_url(live_server.at(f"/staff/people/residents/{people.grace}"))
    expect(page.locator("h1")).to_have_text("Grace Adeyemi")
    records = page.get_by_role("table", name="Council records joined to this resident")
    expect(records).to_contain_text("HS1001")
    expect(records).to_contain_text("CT2001")
    expect(page.get_by_role("table", name=re.compile("Contact details"))).to_contain_text(
        "grace@example.org"
    )
    assert_accessible(page)


def test_a_search_that_finds_nobody_says_so(steward: Page, live_server: LiveServer) -> None:
    page = steward
    page.goto(live_server.at("/staff/people?q=Nobody+Here"))
    expect(page.locator("#no-results")).to_have_text("No residents found")
    assert_accessible(page)


def test_accept_a_possible_match_on_its_evidence_then_undo_it(
    steward: Page, live_server: LiveServer, people: PeopleData, page_watch: PageWatch
) -> None:
    page = steward
    page.goto(live_server.at("/staff/people"))
    page.get_by_role("link", name="Possible matches to review").click()
    expect(page.locator("h1")).to_have_text("Possible matches to review")
    queue = page.get_by_role("table", name="Waiting for review")
    expect(queue.locator("tbody tr")).to_have_count(2)
    assert_accessible(page)

    page.goto(live_server.at(f"/staff/people/review/{people.accept_item}"))
    expect(page.locator("h1")).to_contain_text(f"about resident {people.grace}?")
    evidence = page.get_by_role("table", name="Field by field comparison")
    expect(evidence).to_contain_text("Grayce")
    expect(evidence).to_contain_text("Date of birth")
    chart = page.get_by_role("img", name=re.compile("match weight", re.IGNORECASE))
    expect(chart).to_be_visible()
    assert_accessible(page)

    # No reason given: the form says what is missing, and nothing is decided.
    page.get_by_role("button", name="Accept: same person").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#accept-reason-error")).to_be_visible()
    assert_accessible(page)
    page_watch.accept(BAD_REQUEST)

    page.get_by_label("Why are they the same person?").fill("Same date of birth; Grayce is a typo")
    page.get_by_role("button", name="Accept: same person").click()
    expect(page).to_have_url(DECISION_PAGE)
    expect(page.locator("h1")).to_contain_text("possible match accepted")
    expect(page.get_by_role("table", name="Records it moved")).to_contain_text("parking PK3001")
    assert_accessible(page)

    page.goto(live_server.at(f"/staff/people/residents/{people.grace}"))
    records = page.get_by_role("table", name="Council records joined to this resident")
    expect(records).to_contain_text("PK3001")
    page.go_back()

    page.get_by_label("Why undo it?").fill("Accepted the wrong record")
    page.get_by_role("button", name=re.compile("Undo decision")).click()
    expect(page).to_have_url(DECISION_PAGE)
    expect(page.locator("h1")).to_contain_text(": undo")
    assert_accessible(page)

    page.goto(live_server.at(f"/staff/people/residents/{people.grace}"))
    records = page.get_by_role("table", name="Council records joined to this resident")
    expect(records).not_to_contain_text("PK3001")
    expect(records).to_contain_text("HS1001")


def test_reject_a_possible_match_keeps_them_apart(
    steward: Page, live_server: LiveServer, people: PeopleData
) -> None:
    page = steward
    page.goto(live_server.at(f"/staff/people/review/{people.reject_item}"))
    page.get_by_label("Why are they different people?").fill("Born a month apart")
    page.get_by_role("button", name="Reject: different people").click()
    expect(page).to_have_url(DECISION_PAGE)
    expect(page.locator("h1")).to_contain_text("possible match rejected")
    expect(page.get_by_role("heading", name="Records kept apart")).to_be_visible()
    expect(page.get_by_text("are now kept apart")).to_contain_text("benefits BN4001")
    assert_accessible(page)

    page.goto(live_server.at("/staff/people/review"))
    expect(page.get_by_role("table", name="Waiting for review").locator("tbody tr")).to_have_count(
        1
    )


def test_unlink_a_record_from_a_resident_then_undo_it(
    steward: Page, live_server: LiveServer, people: PeopleData, page_watch: PageWatch
) -> None:
    page = steward
    page.goto(live_server.at(f"/staff/people/residents/{people.kemi}"))
    expect(page.locator("h1")).to_have_text("Kemi Bello")
    record = people.records["kemi_benefits"]
    # Each record's form waits, folded away, under its own name.
    page.locator("summary", has_text="Unlink benefits BN4002").click()
    page.get_by_role("button", name="Unlink benefits BN4002").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator(f"#reason-{record}-error")).to_be_visible()
    assert_accessible(page)
    page_watch.accept(BAD_REQUEST)

    page.locator(f"#reason-{record}").fill("A different Kemi Bello at the same address")
    page.get_by_role("button", name="Unlink benefits BN4002").click()
    expect(page).to_have_url(DECISION_PAGE)
    expect(page.locator("h1")).to_contain_text("record unlinked")
    expect(page.get_by_role("table", name="Records it moved")).to_contain_text("benefits BN4002")
    assert_accessible(page)

    page.goto(live_server.at(f"/staff/people/residents/{people.kemi}"))
    records = page.get_by_role("table", name="Council records joined to this resident")
    expect(records).not_to_contain_text("BN4002")
    page.go_back()
    page.get_by_label("Why undo it?").fill("They are the same Kemi")
    page.get_by_role("button", name=re.compile("Undo decision")).click()
    expect(page.locator("h1")).to_contain_text(": undo")

    page.goto(live_server.at(f"/staff/people/residents/{people.kemi}"))
    expect(
        page.get_by_role("table", name="Council records joined to this resident")
    ).to_contain_text("BN4002")


def test_an_officer_may_look_up_but_not_decide(
    page: Page, live_server: LiveServer, database: Database, people: PeopleData
) -> None:
    signed_in(page, live_server, database, OFFICER_EMAIL, StaffRole.HOUSING_OFFICER)
    page.goto(live_server.at(f"/staff/people/residents/{people.kemi}"))
    expect(page.locator("h1")).to_have_text("Kemi Bello")
    expect(page.get_by_role("button", name=re.compile("^Unlink"))).to_have_count(0)
    expect(page.get_by_role("link", name="Possible matches to review")).to_have_count(0)
    assert_accessible(page)
