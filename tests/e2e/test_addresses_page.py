"""The staff address pages in a real browser: search, a property and its map, accessibility.

Run on the small demo borough with the backend under test. Each page is checked with axe-core
as a person meets it, the map included, and any console error or Content Security Policy
violation fails the test (the page watch in ``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible, sign_in_staff
from tests.sign_in import PASSWORD, install_test_doubles, make_staff
from townhall.demo import BoroughSize, build_borough
from townhall.platform.db import Database

pytestmark = pytest.mark.browser

STAFF_EMAIL = "officer@hackney.gov.uk"
BAD_REQUEST = "status of 400 (Bad Request)"


@pytest.fixture
def signed_in(page: Page, live_server: LiveServer, database: Database) -> Page:
    """A member of staff signed in on the small demo borough, on the staff home page."""
    build_borough(database, council_code="E09000012", size=BoroughSize.SMALL, seed=42)
    install_test_doubles(live_server.app)
    make_staff(database, STAFF_EMAIL)
    sign_in_staff(page, live_server, STAFF_EMAIL, PASSWORD)
    expect(page).to_have_url(live_server.at("/staff"))
    return page


def test_search_open_a_property_and_see_it_on_its_map(
    signed_in: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    page = signed_in
    page.get_by_role("link", name="Find an address").click()
    expect(page.locator("h1")).to_have_text("Find an address")
    assert_accessible(page)

    page.get_by_label("Address", exact=True).fill("flat 1 hill house")
    page.get_by_label("Postcode").fill("e8 3al")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#results")
    expect(results).to_be_visible()
    assert_accessible(page)

    results.get_by_role("link", name="FLAT 1, HILL HOUSE, WILTON ROAD").first.click()
    expect(page).to_have_url(live_server.at("/staff/addresses/100021000006"))
    expect(page.locator("h1")).to_contain_text("FLAT 1, HILL HOUSE, WILTON ROAD")

    # The map is one image, named and described, drawn in the page.
    drawing = page.get_by_role("img", name="Map of FLAT 1, HILL HOUSE")
    expect(drawing).to_be_visible()
    expect(drawing).to_have_accessible_description(re.compile("^Drawn from the gazetteer's own"))
    description = page.locator("#address-map-desc").text_content() or ""
    assert "is the diamond at easting 534,786, northing 183,983" in description
    assert "Hill House is the square: 23 units" in description
    box = drawing.bounding_box()
    assert box is not None
    assert box["width"] > 600  # drawn at the page's width
    assert box["height"] > 300
    # Its shapes are there: the street, the property's diamond, its block's square.
    assert page.locator("#address-map .app-address-map__subject").count() == 1
    assert page.locator("#address-map .app-address-map__block").count() == 1
    assert page.locator("#address-map line[stroke='#505a5f']").count() == 1
    assert_accessible(page)
    page.screenshot(path=tmp_path / "address-page.png", full_page=True)

    # A point on the map is a link to its property: the block's square (outside the diamond in
    # its middle) leads to the block.
    block = page.locator("#address-map a[href='/staff/addresses/100021000002']")
    block.click(position={"x": 3, "y": 3})
    expect(page).to_have_url(live_server.at("/staff/addresses/100021000002"))
    expect(page.locator("h1")).to_contain_text("HILL HOUSE, WILTON ROAD")
    assert_accessible(page)

    # The street is a link too, to its addresses.
    page.get_by_role("link", name="Wilton Road, LONDON").click()
    expect(page.locator("h1")).to_have_text("Addresses on Wilton Road")
    assert_accessible(page)


def test_the_list_under_the_map_reaches_every_point_by_keyboard(
    signed_in: Page, live_server: LiveServer
) -> None:
    page = signed_in
    page.goto(live_server.at("/staff/addresses/100021000511"))
    map_links = page.locator("#address-map a").count()
    page.get_by_text("Properties on the map").click()
    listed = page.locator(".govuk-details a.govuk-link")
    # One link in the list for each point on the map, the street aside.
    assert listed.count() == map_links - 1
    listed.first.focus()
    expect(listed.first).to_be_focused()
    assert_accessible(page)


def test_a_malformed_postcode_and_no_results_are_accessible(
    signed_in: Page, live_server: LiveServer, page_watch: PageWatch
) -> None:
    page = signed_in
    page.goto(live_server.at("/staff/addresses"))
    page.get_by_label("Postcode").fill("ZZ99 9ZZ9")
    page.get_by_role("button", name="Search").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # GOV.UK Frontend moves focus to it
    expect(page.locator("#postcode-error")).to_contain_text("Enter a real postcode")
    assert_accessible(page)
    page_watch.accept(BAD_REQUEST)

    page.get_by_label("Postcode").fill("")
    page.get_by_label("Address", exact=True).fill("99 Nowhere Boulevard")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="No addresses found")).to_be_visible()
    assert_accessible(page)


def test_pages_of_results_follow_one_another(signed_in: Page, live_server: LiveServer) -> None:
    page = signed_in
    page.goto(live_server.at("/staff/addresses?postcode=E8"))
    first = page.locator("#results tbody tr").first.text_content()
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#results caption")).to_contain_text("Results, page 2")
    assert page.locator("#results tbody tr").first.text_content() != first
    assert_accessible(page)
    page.get_by_role("link", name="First page").click()
    assert page.locator("#results tbody tr").first.text_content() == first
