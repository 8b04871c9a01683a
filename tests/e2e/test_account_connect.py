"""A resident connects their account to the council's records in a real browser, and sees them.

Signed in with a code from their email, they find the call to connect on their account page,
give a date that is not a real one, then details that do not match (the one refusal), then the
right ones, and see what the council holds about them and where it came from. Each page is
checked with axe-core as they meet it, errors included.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible, sign_in_resident
from tests.portal.people_data import GRACE_BORN, build_people
from townhall.domains.people.connection import REFUSAL
from townhall.platform.db import Database

pytestmark = pytest.mark.browser

# A form that comes back with errors is answered 400, which Chromium logs to the console.
BAD_REQUEST = "status of 400 (Bad Request)"
EMAIL = "grace.adeyemi@example.com"


def _fill(page: Page, reference: str, born: tuple[str, str, str], postcode: str) -> None:
    day, month, year = born
    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Day").fill(day)
    page.get_by_label("Month").fill(month)
    page.get_by_label("Year").fill(year)
    page.get_by_label("Postcode").fill(postcode)
    page.get_by_role("button", name="Connect your records").click()


def test_a_resident_connects_their_council_records_and_sees_them(
    page: Page, page_watch: PageWatch, live_server: LiveServer, database: Database
) -> None:
    build_people(database)
    sign_in_resident(page, live_server, EMAIL)

    page.get_by_role("button", name="Connect your council records").click()
    expect(page).to_have_url(live_server.at("/account/connect"))
    expect(page.locator("h1")).to_have_text("Connect your council records")
    assert_accessible(page)

    born = (str(GRACE_BORN.day), str(GRACE_BORN.month), str(GRACE_BORN.year))
    _fill(page, "HS1001", ("31", "2", born[2]), "E8 4RP")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Date of birth must be a real date")
    expect(page.locator("#date-of-birth-error")).to_contain_text(
        "Date of birth must be a real date"
    )
    assert_accessible(page)
    summary.get_by_role("link").click()
    expect(page.get_by_label("Day")).to_be_focused()

    _fill(page, "HS1001", born, "E8 4RQ")
    expect(page.locator(".govuk-error-summary")).to_contain_text(REFUSAL)
    assert_accessible(page)

    _fill(page, "hs1001", born, "e84rp")
    expect(page).to_have_url(live_server.at("/account?connected=1"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Your account is connected to your council records."
    )
    main = page.locator("main")
    expect(main).to_contain_text("What the council holds about you")
    expect(main).to_contain_text("Grace Adeyemi")
    expect(main).to_contain_text("2 April 1971")
    expect(main).to_contain_text("Flat 4, 18 Mare Street, London, E8 4RP")
    records = page.get_by_role("table", name="Where your records come from")
    expect(records).to_contain_text("HS1001")
    expect(records).to_contain_text("CT2001")
    assert_accessible(page)

    page.get_by_role("link", name="See how your data is used").click()
    expect(page.locator("h1")).to_have_text("How your data is used")
    page_watch.accept(BAD_REQUEST)
