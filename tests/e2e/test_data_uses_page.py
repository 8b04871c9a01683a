"""The page "How your data is used" in a real browser: signed in, entries, pages, accessibility.

Run on the backend under test. Each page is checked with axe-core as a resident meets it, and
any console error or Content Security Policy violation fails the test (the page watch in
``tests/e2e/conftest.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, assert_accessible, sign_in_resident
from tests.platform.audit.resident_uses import (
    OTHER_RESIDENT,
    RESIDENT,
    account_id_of,
    add_use,
    consumer,
    staff,
)
from tests.platform.auth.factories import register_consumer
from townhall.domains.people.data_uses import PEOPLE, SOURCE_RECORD
from townhall.platform.audit.uses import Actor
from townhall.platform.audit.vocabulary import ActorKind
from townhall.platform.auth.residents import link_resident
from townhall.platform.db import Database
from townhall.portal.views_data_uses import ENTRIES_PER_PAGE

pytestmark = pytest.mark.browser

EMAIL = "grace@example.com"


@pytest.fixture
def signed_in(page: Page, live_server: LiveServer, database: Database) -> Page:
    """A resident signed in, their account matched to ``RESIDENT``."""
    sign_in_resident(page, live_server, EMAIL)
    link_resident(database, account_id_of(database, EMAIL), RESIDENT, actor="test")
    return page


def test_from_the_account_to_the_uses_of_ones_data(
    signed_in: Page, live_server: LiveServer, database: Database, tmp_path: Path
) -> None:
    page = signed_in
    parking = register_consumer(database, name="Parking permits").consumer
    add_use(database, staff(), service=PEOPLE, data_kind=SOURCE_RECORD)
    add_use(database, consumer(parking.id))
    add_use(database, staff(), OTHER_RESIDENT)

    page.get_by_role("link", name="See how your data is used").click()
    expect(page).to_have_url(live_server.at("/account/data-uses"))
    expect(page.locator("h1")).to_have_text("How your data is used")
    summary = page.locator("#summary")
    expect(summary.locator("tbody tr")).to_have_count(2)
    entries = page.locator("#data-uses tbody tr")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text(
        "The Parking permits app (a council service) looked at your account details"
    )
    expect(entries.last).to_contain_text("Why: Checking a housing application")
    assert_accessible(page)
    page.screenshot(path=tmp_path / "data-uses.png", full_page=True)

    summary.get_by_role("link", name="Council records about you").click()
    expect(page.get_by_role("heading", name="Uses by Council records about you")).to_be_visible()
    expect(entries).to_have_count(1)
    assert_accessible(page)


def test_pages_of_uses_follow_one_another(
    signed_in: Page, live_server: LiveServer, database: Database
) -> None:
    page = signed_in
    for number in range(ENTRIES_PER_PAGE + 3):
        add_use(database, Actor(ActorKind.STAFF, f"Case {number}", id="stf_1", role="x"))
    page.goto(live_server.at("/account/data-uses"))
    entries = page.locator("#data-uses tbody tr")
    expect(entries).to_have_count(ENTRIES_PER_PAGE)
    expect(entries.first).to_contain_text(f"Case {ENTRIES_PER_PAGE + 2}")

    page.get_by_role("link", name="Next").click()
    expect(page.locator("#data-uses caption")).to_contain_text("Page 2")
    expect(entries).to_have_count(3)
    expect(entries.last).to_contain_text("Why: Case 0")
    assert_accessible(page)

    page.get_by_role("link", name="Previous").click()
    expect(entries).to_have_count(ENTRIES_PER_PAGE)
    expect(entries.first).to_contain_text(f"Case {ENTRIES_PER_PAGE + 2}")


def test_an_unmatched_account_is_told_why(page: Page, live_server: LiveServer) -> None:
    sign_in_resident(page, live_server, EMAIL)
    page.get_by_role("link", name="See how your data is used").click()
    expect(page.locator("#not-matched")).to_contain_text("not matched to the council's records")
    assert_accessible(page)
