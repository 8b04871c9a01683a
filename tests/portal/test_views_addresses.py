"""The staff address pages over HTTP: the sign-in gate, search, its errors, paging, a property."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.sign_in import (
    Clock,
    RecordingSender,
    install_test_doubles,
    make_staff,
    sign_in_resident,
    sign_in_staff,
)
from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.queries import find_addresses, get_property
from townhall.domains.addresses.schemas import AddressFilters
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest
from townhall.portal.views_addresses import RESULTS_PER_PAGE

_RESULT_LINK = re.compile(r'<a class="govuk-link" href="/staff/addresses/([0-9]+)">')
_NEXT = re.compile(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" rel="next">')


@pytest.fixture
def doubles(app: FastAPI) -> tuple[RecordingSender, Clock]:
    return install_test_doubles(app)


@pytest.fixture
def borough(database: Database) -> Database:
    build_borough(database, council_code="E09000012", size=BoroughSize.SMALL, seed=42)
    return database


@pytest.fixture
def staff(client: TestClient, borough: Database, doubles: tuple[RecordingSender, Clock]) -> None:
    make_staff(borough)
    sign_in_staff(client)


def _all(database: Database, filters: AddressFilters) -> list[str]:
    """Every UPRN a search finds, in order, read straight from the query functions."""
    uprns, after = [], None
    while True:
        page = find_addresses(database, filters, PageRequest(200, after))
        uprns += [address.uprn for address in page.items]
        if page.next_position is None:
            return uprns
        after = page.next_position


@pytest.mark.parametrize(
    "path", ["/staff/addresses", "/staff/addresses?q=road", "/staff/addresses/100021000006"]
)
def test_the_pages_send_someone_not_signed_in_to_the_staff_sign_in(
    client: TestClient, path: str
) -> None:
    response = client.get(path, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in"


def test_a_resident_is_sent_to_the_staff_sign_in(
    client: TestClient, borough: Database, doubles: tuple[RecordingSender, Clock]
) -> None:
    sender, _clock = doubles
    sign_in_resident(client, sender, "resident@example.com")

    response = client.get("/staff/addresses?q=road", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in"


def test_the_staff_home_links_to_the_address_search(client: TestClient, staff: None) -> None:
    assert 'href="/staff/addresses"' in client.get("/staff").text


def test_the_search_form_is_labelled_and_empty_at_first(client: TestClient, staff: None) -> None:
    page = client.get("/staff/addresses")

    assert page.status_code == 200
    assert "<title>Find an address" in page.text
    assert 'for="q"' in page.text
    assert 'for="postcode"' in page.text
    assert 'method="get" action="/staff/addresses"' in page.text
    assert "<table" not in page.text
    assert "No addresses found" not in page.text


def test_a_search_lists_what_the_query_functions_find_with_links(
    client: TestClient, staff: None, borough: Database
) -> None:
    expected = _all(borough, AddressFilters(q="hill house"))
    assert expected

    page = client.get("/staff/addresses", params={"q": "hill house"})

    assert page.status_code == 200
    assert _RESULT_LINK.findall(page.text) == expected[:RESULTS_PER_PAGE]
    assert "FLAT 1, HILL HOUSE, WILTON ROAD" in page.text
    assert 'value="hill house"' in page.text  # the form keeps what was asked


def test_a_search_by_partial_postcode_in_any_spacing_and_case(
    client: TestClient, staff: None, borough: Database
) -> None:
    expected = _all(borough, AddressFilters(postcode="E8 3AL"))

    page = client.get("/staff/addresses", params={"postcode": " e83al "})

    assert page.status_code == 200
    found = _RESULT_LINK.findall(page.text)
    assert found == expected[:RESULTS_PER_PAGE]
    assert found


def test_no_results_says_so_and_how_to_do_better(client: TestClient, staff: None) -> None:
    page = client.get("/staff/addresses", params={"q": "99 Nowhere Boulevard"})

    assert page.status_code == 200
    assert "No addresses found" in page.text
    assert "<table" not in page.text
    assert "checking the spelling" in page.text


@pytest.mark.parametrize("postcode", ["ZZZZ ZZZ", "12345", "E8 1AAA", "E8-1AA"])
def test_a_malformed_postcode_is_an_error_summary_and_an_inline_error(
    client: TestClient, staff: None, postcode: str
) -> None:
    page = client.get("/staff/addresses", params={"postcode": postcode})

    assert page.status_code == 400
    text = html.unescape(page.text)
    assert "<title>Error: Find an address" in text
    assert 'class="govuk-error-summary"' in text
    assert '<a href="#postcode">Enter a real postcode or the start of one' in text
    assert 'id="postcode-error"' in text
    assert 'aria-describedby="postcode-hint postcode-error"' in text
    assert f'value="{postcode.strip()}"' in text
    assert "<table" not in text


def test_a_query_too_long_is_an_error_not_a_search(client: TestClient, staff: None) -> None:
    page = client.get("/staff/addresses", params={"q": "road " * 50})

    assert page.status_code == 200
    assert '<a href="#q">Address must be 200 characters or fewer</a>' in page.text
    assert "<table" not in page.text


def test_pages_of_results_follow_one_another_to_the_end_without_gaps_or_repeats(
    client: TestClient, staff: None, borough: Database
) -> None:
    expected = _all(borough, AddressFilters(postcode="E8"))
    assert len(expected) > 2 * RESULTS_PER_PAGE

    seen: list[str] = []
    response = client.get("/staff/addresses", params={"postcode": "E8"})
    pages = 1
    while True:
        assert response.status_code == 200
        seen += _RESULT_LINK.findall(response.text)
        found = _NEXT.search(response.text)
        if found is None:
            break
        response = client.get(html.unescape(found.group(1)))
        pages += 1
        assert f"Results, page {pages}" in response.text
        assert (
            '<a class="govuk-link govuk-pagination__link" href="/staff/addresses?postcode=E8"'
            in (response.text)
        )

    assert seen == expected
    assert pages == -(-len(expected) // RESULTS_PER_PAGE)


def test_a_changed_cursor_starts_again_from_the_first_page(
    client: TestClient, staff: None, borough: Database
) -> None:
    first = client.get("/staff/addresses", params={"postcode": "E8"})
    found = _NEXT.search(first.text)
    assert found is not None
    # The same cursor on another search was not issued for it.
    link = html.unescape(found.group(1)).replace("postcode=E8", "postcode=E8+3")

    page = client.get(link)

    assert page.status_code == 200
    assert "had expired or was changed, so this is the first page" in page.text
    assert (
        _RESULT_LINK.findall(page.text)
        == _all(borough, AddressFilters(postcode="E8 3"))[:RESULTS_PER_PAGE]
    )


def test_a_property_page_shows_the_gazetteers_facts_and_a_map(
    client: TestClient, staff: None, borough: Database
) -> None:
    flat = get_property(borough, 100021000006)
    assert flat.parent is not None

    page = client.get("/staff/addresses/100021000006")

    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "FLAT 1, HILL HOUSE, WILTON ROAD, WELLHAM, LONDON, E8 3AL" in text
    for fact in (
        "100021000006",
        f"{flat.classification.code}: {flat.classification.description}",
        f"Easting {flat.coordinates.easting:,.2f}, northing {flat.coordinates.northing:,.2f}",
        f'<a class="govuk-link" href="/staff/addresses/{flat.parent.uprn}">',
        f'<a class="govuk-link" href="/staff/addresses?usrn={flat.addresses[0].usrn}">',
        "No other system's identifier is recorded",
    ):
        assert fact in text, fact
    # The map: one image with a name and a description, its links outside it, drawn here.
    image = (
        '<svg role="img" aria-labelledby="address-map-title" aria-describedby="address-map-desc"'
    )
    assert image in text
    assert '<title id="address-map-title">Map of FLAT 1, HILL HOUSE' in text
    assert "is the diamond at easting 534,786, northing 183,983" in text
    assert "Hill House is the square: 23 units" in text
    assert 'tabindex="-1"' in text
    # Nothing is loaded from elsewhere and nothing is styled inline (the CSP allows neither).
    assert re.search(r"\sstyle=", text) is None
    assert "<script>" not in text
    main = text.split("<main", 1)[1].split("</main>", 1)[0]
    assert re.search(r'(?:href|src)="(?:https?:)?//', main) is None
    # The map's links are also in a list, for people not using a pointer.
    assert "Properties on the map" in text
    assert f'<a class="govuk-link" href="/staff/addresses/{flat.parent.uprn}">' in text


def test_a_block_lists_its_units_and_they_can_be_searched(
    client: TestClient, staff: None, borough: Database
) -> None:
    block = get_property(borough, 100021000002)
    assert len(block.children) == 23

    page = client.get("/staff/addresses/100021000002").text
    for child in block.children:
        assert f'href="/staff/addresses/{child.uprn}"' in page

    listed = client.get("/staff/addresses", params={"parent_uprn": "100021000002"})
    assert listed.status_code == 200
    assert "The 23 units of HILL HOUSE" in listed.text
    assert len(_RESULT_LINK.findall(listed.text)) == 23


def test_a_streets_addresses_are_listed_by_its_usrn(
    client: TestClient, staff: None, borough: Database
) -> None:
    page = client.get("/staff/addresses", params={"usrn": "20400008"})

    assert page.status_code == 200
    assert '<h1 class="govuk-heading-xl">Addresses on Wilton Road</h1>' in page.text
    assert "(USRN 20400008)" in page.text
    assert (
        _RESULT_LINK.findall(page.text)
        == _all(borough, AddressFilters(usrn=20400008))[:RESULTS_PER_PAGE]
    )


@pytest.mark.parametrize(
    ("path", "heading", "detail"),
    [
        ("/staff/addresses/999999999999", "Property not found", "UPRN 999999999999"),
        ("/staff/addresses/not-a-uprn", "Property not found", "UPRN not-a-uprn"),
        ("/staff/addresses/1234567890123", "Property not found", "UPRN 1234567890123"),
        ("/staff/addresses?usrn=99999999", "Street not found", "USRN 99999999"),
        ("/staff/addresses?usrn=abc", "Street not found", "USRN abc"),
        ("/staff/addresses?parent_uprn=5", "Property not found", "UPRN 5"),
    ],
)
def test_an_unknown_property_or_street_is_a_404_page(
    client: TestClient, staff: None, path: str, heading: str, detail: str
) -> None:
    page = client.get(path)

    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert f'<h1 class="govuk-heading-xl">{heading}</h1>' in page.text
    assert detail in page.text
    assert 'href="/staff/addresses"' in page.text
