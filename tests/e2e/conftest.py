"""Fixtures for browser tests: a live server, Debian's Chromium, and a watched page.

``live_server`` serves the app on the test database (the ``settings`` fixture) over loopback;
``browser_context`` is Chromium with a fresh profile; ``page`` is a tab in it whose console
errors, uncaught exceptions and CSP violations fail the test. Check accessibility with
``tests.browser.assert_accessible(page)``. Mark browser tests ``@pytest.mark.browser``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, PageWatch, serve_in_thread
from tests.conftest import require_service
from townhall.app import create_app
from townhall.settings import Settings

PAGE_WATCH = pytest.StashKey[tuple[Page, PageWatch]]()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium (or ``TOWNHALL_TEST_CHROMIUM``); skips if absent, fails so under CI."""
    require_service(
        CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
        f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium`, "
        "or set TOWNHALL_TEST_CHROMIUM to its path",
    )
    return CHROMIUM


# Package scope: a running sync_playwright() keeps an event loop running in the main thread, and
# every asyncio.run() after it (the events tests) would fail while it lived.
@pytest.fixture(scope="package")
def playwright_driver(chromium_path: Path) -> Iterator[Playwright]:
    """Playwright's driver for the session; it drives ``chromium_path`` and downloads nothing."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_context(
    playwright_driver: Playwright, chromium_path: Path, tmp_path: Path
) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile, so no test sees another's cookies or storage."""
    context = playwright_driver.chromium.launch_persistent_context(
        tmp_path / "chromium-profile",
        executable_path=chromium_path,
        headless=True,
        args=list(CHROMIUM_ARGS),
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    """The real app on the test database, served by uvicorn on a free loopback port."""
    with serve_in_thread(create_app(settings)) as server:
        yield server


@pytest.fixture
def page_watch(browser_context: BrowserContext, request: pytest.FixtureRequest) -> PageWatch:
    """What goes wrong in ``page``; a test that causes an error on purpose accepts it here."""
    page = browser_context.pages[0] if browser_context.pages else browser_context.new_page()
    watch = PageWatch.attach(page)
    request.node.stash[PAGE_WATCH] = (page, watch)
    return watch


@pytest.fixture
def page(page_watch: PageWatch, request: pytest.FixtureRequest) -> Page:
    """A browser tab; its console errors, uncaught exceptions and CSP violations fail the test."""
    return request.node.stash[PAGE_WATCH][0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a browser test whose page reported problems; keep a screenshot of a failed one."""
    watched = item.stash.get(PAGE_WATCH, None)
    try:
        yield
        if watched is not None:
            page, watch = watched
            if not page.is_closed():
                # One round trip delivers the events the browser sent as the test was finishing.
                page.evaluate("() => 0")
            watch.assert_clean()
    except BaseException:
        if watched is not None and isinstance(item, pytest.Function):
            _keep_screenshot(item, watched[0])
        raise


def _keep_screenshot(item: pytest.Function, page: Page) -> None:
    tmp_path = item.funcargs.get("tmp_path")
    if page.is_closed() or not isinstance(tmp_path, Path):
        return
    path = tmp_path / "failure.png"
    page.screenshot(path=path, full_page=True)
    item.add_report_section("call", "screenshot", f"{page.url} as it was: {path}")
