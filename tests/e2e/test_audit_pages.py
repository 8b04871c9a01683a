"""The data protection officer's pages in a real browser: search, the report, holds; axe-core.

Each page is checked with axe-core as the officer meets it, the form with its errors included,
and any console error or Content Security Policy violation fails the test (the page watch in
``tests/e2e/conftest.py``). The report is also checked as printed: its print stylesheet leaves
the navigation and the officer's notes out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible, sign_in_staff
from tests.platform.audit.trail import add_account, three_uses
from tests.sign_in import PASSWORD, install_test_doubles, make_staff
from townhall.platform.auth.sign_in_models import StaffRole
from townhall.platform.db import Database

pytestmark = pytest.mark.browser

DPO_EMAIL = "dpo@hackney.gov.uk"
BAD_REQUEST = "status of 400 (Bad Request)"


@pytest.fixture
def officer(page: Page, live_server: LiveServer, database: Database) -> Page:
    """A data protection officer signed in, with a few uses of two residents' data."""
    three_uses(database)
    add_account(database, "res_a", "grace@example.com", "r1")
    install_test_doubles(live_server.app)
    make_staff(database, DPO_EMAIL, role=StaffRole.DATA_PROTECTION_OFFICER.value)
    sign_in_staff(page, live_server, DPO_EMAIL, PASSWORD)
    expect(page).to_have_url(live_server.at("/staff"))
    return page


def test_search_then_open_a_resident_s_report(
    officer: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page = officer
    page.get_by_role("link", name="Search the audit trail").click()
    expect(page.locator("h1")).to_have_text("Search the audit trail")
    assert_accessible(page)

    page.get_by_label("Resident", exact=True).fill("r1")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#results")
    expect(results).to_be_visible()
    expect(results.locator(".govuk-summary-card")).to_have_count(2)
    assert_accessible(page)

    results.get_by_role("link", name="r1").first.click()
    expect(page).to_have_url(live_server.at("/staff/audit/residents/r1"))
    expect(page.locator("h1")).to_have_text("Everything held about resident r1")
    expect(page.get_by_text("grace@example.com")).to_be_visible()
    assert_accessible(page)

    # Printed, it is the document alone: no navigation, no notes for the officer.
    page.emulate_media(media="print")
    expect(page.locator(".govuk-service-navigation")).to_be_hidden()
    expect(page.locator(".app-audit-no-print").first).to_be_hidden()
    expect(page.locator("h1")).to_be_visible()
    page.pdf(path=tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").stat().st_size > 1000


def test_a_bad_search_is_accessible(
    officer: Page, live_server: LiveServer, page_watch: PageWatch
) -> None:
    page = officer
    page.goto(live_server.at("/staff/audit"))
    page.get_by_label("From").fill("1 November")
    page.get_by_role("button", name="Search").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(page.locator("#occurred_from-error")).to_contain_text("must be a real date")
    assert_accessible(page)
    page_watch.accept(BAD_REQUEST)


def test_make_a_hold_with_the_form_then_lift_it(
    officer: Page, live_server: LiveServer, page_watch: PageWatch
) -> None:
    page = officer
    page.goto(live_server.at("/staff/audit/residents/r1"))
    page.get_by_role("link", name="Hide accesses from this resident").click()
    expect(page.locator("h1")).to_have_text("Make a hold")
    expect(page.get_by_label("Resident", exact=True)).to_have_value("r1")
    assert_accessible(page)

    # Nothing said whose accesses to hide, nor until when: the form says so.
    page.get_by_role("button", name="Make the hold").click()
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    assert_accessible(page)
    page_watch.accept(BAD_REQUEST)

    page.get_by_label("Consumer").fill("con_parking")
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    page.get_by_label("Hidden until").fill(until)
    page.get_by_label("Reason").fill("Investigation 117")
    page.get_by_role("button", name="Make the hold").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("made")
    expect(page.locator("#holds")).to_contain_text("Investigation 117")
    assert_accessible(page)

    page.goto(live_server.at("/staff/audit/residents/r1"))
    expect(page.locator("#withheld")).to_contain_text("2 uses are left out")
    assert_accessible(page)

    page.goto(live_server.at("/staff/audit/holds"))
    page.get_by_role("button", name="Lift hold").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("lifted")
    expect(page.locator("#holds")).to_contain_text("Lifted")
    assert_accessible(page)
