"""The portal in a real browser: it looks like GOV.UK Frontend, runs its JS, and is accessible."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser import LiveServer, PageWatch, assert_accessible

pytestmark = pytest.mark.browser

COUNCIL = "London Borough of Hackney"
DASH = "\u2013"  # page titles separate their parts with an en dash, as GOV.UK's do


def test_home_page_renders_styled_and_scripted(page: Page, live_server: LiveServer) -> None:
    response = page.goto(live_server.at("/"))
    assert response is not None
    assert response.ok
    expect(page).to_have_title(f"Home {DASH} Townhall {DASH} {COUNCIL}")
    expect(page.locator("h1")).to_have_text(f"Townhall for {COUNCIL}")
    expect(page.locator(".govuk-generic-header")).to_contain_text(COUNCIL)
    expect(page.locator(".govuk-phase-banner .govuk-tag")).to_have_text("Alpha")

    # Styles: the header is GOV.UK Frontend's near-black, in its own typeface, which has loaded.
    header = page.locator(".govuk-generic-header")
    expect(header).to_have_css("background-color", "rgb(11, 12, 12)")
    expect(page.locator("h1")).to_have_css("font-weight", "700")
    fonts = page.evaluate(
        """async () => {
            await document.fonts.ready;
            return [...document.fonts]
              .filter((font) => font.family.includes("GDS Transport"))
              .map((font) => font.status);
        }"""
    )
    assert fonts, "GOV.UK Frontend's fonts were not declared"
    assert "loaded" in fonts, f"GOV.UK Frontend's fonts did not load: {fonts}"

    # Scripts: the inline snippet ran under the CSP nonce, and init.js started the components.
    expect(page.locator("body")).to_have_class(
        "govuk-template__body js-enabled govuk-frontend-supported"
    )
    expect(page.locator('[data-module="govuk-service-navigation"]')).to_have_attribute(
        "data-govuk-service-navigation-init", ""
    )
    assert_accessible(page)


def test_home_page_links_lead_to_the_api_reference_and_health(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.at("/"))
    page.get_by_role("main").get_by_role("link", name="API reference").click()
    expect(page).to_have_url(live_server.at("/api/docs"))
    # Swagger UI comes from the instance and renders the OpenAPI document, within its CSP.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(f"Townhall API: {COUNCIL}")

    page.go_back()
    page.get_by_role("main").get_by_role("link", name="Health").click()
    expect(page).to_have_url(live_server.at("/health/ready"))
    readiness = json.loads(page.locator("body").inner_text())
    assert readiness["status"] == "ok"


def test_every_link_on_the_home_page_resolves(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.at("/"))
    hrefs: list[str] = page.eval_on_selector_all("a[href^='/']", "links => links.map(a => a.href)")
    assert len(hrefs) > 5
    for href in sorted(set(hrefs)):
        assert page.request.get(href).ok, href


def test_service_navigation_collapses_into_a_menu_on_a_phone(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.at("/"))
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(page.locator("#navigation")).to_be_hidden()
    menu.click()
    expect(page.locator("#navigation")).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    assert_accessible(page)


def test_problem_pages_are_accessible(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.at("/problems"))
    expect(page.locator("h1")).to_have_text("Problem types")
    assert_accessible(page)
    page.get_by_role("link", name="Validation failed").click()
    expect(page).to_have_url(live_server.at("/problems/validation-failed"))
    expect(page.locator("h1")).to_have_text("Validation failed")
    expect(page.locator(".govuk-service-navigation__item--active")).to_have_text("Problem types")
    assert_accessible(page)


def test_an_errors_type_is_a_page_a_person_can_read(page: Page, live_server: LiveServer) -> None:
    problem = page.request.get(live_server.at("/no-such-page")).json()
    page.goto(live_server.at(problem["type"]))
    expect(page.locator("h1")).to_have_text(problem["title"])
    assert_accessible(page)


def test_the_harness_catches_csp_violations_and_console_errors(
    page: Page, page_watch: PageWatch, live_server: LiveServer
) -> None:
    page.goto(live_server.at("/"))
    # As a page script would: an inline <style> the policy forbids, and a logged error.
    page.evaluate(
        """() => {
            const style = document.createElement("style");
            style.textContent = "body { color: red; }";
            document.head.append(style);
            console.error("something broke");
        }"""
    )
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")
    assert any("Content Security Policy violation: style-src" in p for p in page_watch.problems)
    assert any("console error: something broke" in p for p in page_watch.problems)
    with pytest.raises(AssertionError, match="problem"):
        page_watch.assert_clean()
    page_watch.accept("style-src", "something broke")


def test_the_harness_catches_accessibility_violations(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.at("/"))
    page.evaluate(
        """() => {
            const image = document.createElement("img");
            image.src = "/static/portal/favicon.svg";
            document.querySelector("main").append(image);
        }"""
    )
    with pytest.raises(AssertionError, match=r"image-alt \(critical\)[\s\S]*\n    at img\n"):
        assert_accessible(page)
