"""Signing in through OpenID Connect in a real browser, at a real provider on loopback.

Chromium follows the whole flow itself: the button posts to Townhall, Townhall sends it to the
provider, the provider sends it straight back with a code. The CSP of the sign-in page must let
that form lead to the provider, and every page on the way is checked with axe-core.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible, serve_in_thread
from tests.oidc_provider import (
    RESIDENT_USER,
    STAFF_USER,
    Provider,
    ResidentClientKey,
    resident_client_key,
    serve_provider,
    settings_with_oidc,
)
from townhall.app import create_app
from townhall.settings import Settings

pytestmark = pytest.mark.browser

FORBIDDEN = "status of 403 (Forbidden)"


@pytest.fixture(scope="module")
def client_key() -> ResidentClientKey:
    return resident_client_key()


@pytest.fixture
def provider(client_key: ResidentClientKey) -> Iterator[Provider]:
    with serve_provider(client_key) as served:
        served.user = dict(STAFF_USER)
        yield served


@pytest.fixture
def oidc_server(
    settings: Settings, provider: Provider, client_key: ResidentClientKey
) -> Iterator[LiveServer]:
    """Townhall, with staff and residents signing in through ``provider``."""
    with serve_in_thread(create_app(settings_with_oidc(settings, provider, client_key))) as server:
        yield server


def test_staff_sign_in_through_the_provider(page: Page, oidc_server: LiveServer) -> None:
    page.goto(oidc_server.at("/staff/sign-in"))
    assert_accessible(page)
    page.get_by_role("button", name="Sign in with Hackney Staff Account").click()
    expect(page).to_have_url(oidc_server.at("/staff"))
    expect(page.locator("h1")).to_have_text("Grace Officer")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Housing officer")
    assert_accessible(page)


def test_resident_sign_in_through_one_login(
    page: Page, oidc_server: LiveServer, provider: Provider
) -> None:
    provider.user = dict(RESIDENT_USER)
    page.goto(oidc_server.at("/account/sign-in"))
    assert_accessible(page)
    page.get_by_role("button", name="Sign in with GOV.UK One Login").click()
    expect(page).to_have_url(oidc_server.at("/account"))
    expect(page.locator("main")).to_contain_text("resident@example.com")
    assert_accessible(page)


def test_unmapped_group_is_refused_with_a_readable_page(
    page: Page, page_watch: PageWatch, oidc_server: LiveServer, provider: Provider
) -> None:
    provider.user = {**STAFF_USER, "groups": ["everyone"]}
    page.goto(oidc_server.at("/staff/sign-in"))
    page.get_by_role("button", name="Sign in with Hackney Staff Account").click()
    expect(page.locator("h1")).to_have_text("You were not signed in")
    expect(page.locator("#oidc-problem")).to_contain_text("not in any group")
    assert_accessible(page)
    # The refusal is answered 403, which Chromium logs: expected here.
    page_watch.accept(FORBIDDEN)
    page.goto(oidc_server.at("/staff"))
    expect(page).to_have_url(oidc_server.at("/staff/sign-in"))
