"""Signing in to the portal in a real browser: staff passwords, lockout, resident codes, CSRF.

Each page is checked with axe-core as a person meets it, errors included: the error summary is
what a screen-reader user hears first when a form comes back.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible, sign_in_staff
from tests.sign_in import PASSWORD, RecordingSender, install_test_doubles, make_staff
from townhall.platform.db import Database
from townhall.settings import Settings

pytestmark = pytest.mark.browser

# A form that comes back with errors is answered 400 (403 for a forged form), and Chromium logs
# every document answered with an error status to the console: expected here, and only here.
BAD_REQUEST = "status of 400 (Bad Request)"
FORBIDDEN = "status of 403 (Forbidden)"

STAFF_EMAIL = "officer@hackney.gov.uk"
RESIDENT_EMAIL = "resident@example.com"


@pytest.fixture
def sender(live_server: LiveServer) -> RecordingSender:
    recording, _clock = install_test_doubles(live_server.app)
    return recording


def _sign_in_as_staff(page: Page, live_server: LiveServer, password: str) -> None:
    sign_in_staff(page, live_server, STAFF_EMAIL, password)


def test_staff_sign_in_then_sign_out(
    page: Page, live_server: LiveServer, database: Database, sender: RecordingSender
) -> None:
    make_staff(database)
    page.goto(live_server.at("/staff/sign-in"))
    expect(page.locator("h1")).to_have_text("Sign in as staff")
    assert_accessible(page)

    _sign_in_as_staff(page, live_server, PASSWORD)
    expect(page).to_have_url(live_server.at("/staff"))
    expect(page.locator("h1")).to_have_text("Ada Officer")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Housing officer")
    navigation = page.get_by_role("navigation", name="Townhall")
    expect(navigation.get_by_role("link", name="Staff")).to_have_attribute("aria-current", "page")
    sign_out = navigation.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    assert_accessible(page)

    # The home page shows who is signed in too.
    page.goto(live_server.at("/"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.at("/staff/sign-in?signed-out=1"))
    expect(page.locator(".govuk-notification-banner")).to_contain_text("You have signed out.")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_accessible(page)
    page.goto(live_server.at("/staff"))
    expect(page).to_have_url(live_server.at("/staff/sign-in"))


def test_a_wrong_password_is_summarised_and_linked_to_the_field(
    page: Page,
    page_watch: PageWatch,
    live_server: LiveServer,
    database: Database,
    sender: RecordingSender,
) -> None:
    make_staff(database)
    _sign_in_as_staff(page, live_server, "not the right password")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to it
    expect(page).to_have_title(
        "Error: Sign in as staff \u2013 Townhall \u2013 London Borough of Hackney"
    )
    expect(page.locator("#email-error")).to_contain_text(
        "Enter a correct email address and password"
    )
    expect(page.get_by_label("Email address")).to_have_value(STAFF_EMAIL)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert_accessible(page)
    summary.get_by_role("link").click()
    expect(page.get_by_label("Email address")).to_be_focused()
    page_watch.accept(BAD_REQUEST)


@pytest.mark.usefixtures("sender")
def test_too_many_wrong_passwords_lock_the_account(
    page: Page,
    page_watch: PageWatch,
    live_server: LiveServer,
    database: Database,
    settings: Settings,
) -> None:
    make_staff(database)
    for _ in range(settings.staff_lockout_attempts):
        _sign_in_as_staff(page, live_server, "not the right password")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Your account is locked")
    expect(page.locator(".govuk-error-summary")).to_contain_text("Try again after")
    assert_accessible(page)
    _sign_in_as_staff(page, live_server, PASSWORD)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Your account is locked")
    page_watch.accept(BAD_REQUEST)


def test_a_resident_signs_in_with_a_code_from_their_email(
    page: Page, page_watch: PageWatch, live_server: LiveServer, sender: RecordingSender
) -> None:
    page.goto(live_server.at("/account"))
    expect(page).to_have_url(live_server.at("/account/sign-in"))
    assert_accessible(page)
    page.get_by_label("What is your email address?").fill(RESIDENT_EMAIL)
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(live_server.at("/account/sign-in/code"))
    expect(page.locator("h1")).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text(f"We have sent a code to {RESIDENT_EMAIL}")
    assert_accessible(page)
    code = page.get_by_label("Code")
    expect(code).to_have_attribute("autocomplete", "one-time-code")

    code.fill("000000" if sender.last_code() != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("The code is not correct")
    assert_accessible(page)

    page.get_by_label("Code").fill(sender.last_code(RESIDENT_EMAIL))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(live_server.at("/account"))
    expect(page.locator("h1")).to_have_text("Your account")
    expect(page.locator(".govuk-summary-list")).to_contain_text(RESIDENT_EMAIL)
    assert_accessible(page)

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.at("/account/sign-in?signed-out=1"))
    page.goto(live_server.at("/account"))
    expect(page).to_have_url(live_server.at("/account/sign-in"))
    page_watch.accept(BAD_REQUEST)


def test_a_form_with_a_forged_token_is_refused_and_changes_nothing(
    page: Page,
    page_watch: PageWatch,
    live_server: LiveServer,
    database: Database,
    sender: RecordingSender,
) -> None:
    make_staff(database)
    page.goto(live_server.at("/staff/sign-in"))
    page.locator("input[name=csrf_token]").evaluate("input => { input.value = 'forged'; }")
    page.get_by_label("Email address").fill(STAFF_EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Your form could not be sent")
    assert_accessible(page)
    page.goto(live_server.at("/staff"))
    expect(page).to_have_url(live_server.at("/staff/sign-in"))
    page_watch.accept(FORBIDDEN)
