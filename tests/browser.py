"""The browser harness: a real server on loopback, Debian's Chromium, the checks every page gets.

Browser tests (``tests/e2e``) drive the real app as a person's browser would: ``LiveServer`` runs
it under uvicorn in a background thread, Playwright drives the Chromium that Debian installs (it
never downloads one), ``PageWatch`` records what a page reports going wrong (console errors,
uncaught exceptions, Content Security Policy violations) and ``assert_accessible`` runs axe-core
against the WCAG 2.2 AA rules. The fixtures that put these together live in
``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Error, Page, expect

from tests.sign_in import install_test_doubles

ROOT = Path(__file__).resolve().parent.parent
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path(os.environ.get("TOWNHALL_TEST_CHROMIUM", "/usr/bin/chromium"))
# Quiet and self-contained: no updates, no sync, no first-run pages, no GPU on headless CI hosts.
# --no-sandbox because CI and these machines run as root, where Chromium's sandbox cannot start.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
_STARTUP_SECONDS = 10.0


@dataclass(frozen=True)
class LiveServer:
    """An app served over real HTTP on a loopback port."""

    app: FastAPI
    url: str

    def at(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.url + path


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[LiveServer]:
    """Serve ``app`` with uvicorn on a free loopback port until the block ends."""
    # Bound here, not by uvicorn, so the port is known before the server starts and no other
    # process can take it in between.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,  # keep the app's own logging configuration
        access_log=False,
        lifespan="on",
        ws="none",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                msg = "the live server did not start: see the captured log"
                raise RuntimeError(msg)
            time.sleep(0.01)
        yield LiveServer(app=app, url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# Runs in every page before its own scripts. It reports what the browser blocked, because a page
# that breaks its own Content Security Policy is broken for the people using it.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__townhallReportCspViolation(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline code"}` +
      ` at ${event.sourceFile || event.documentURI}:${event.lineNumber}` +
      (event.sample ? ` (${event.sample})` : "")
  );
});
"""


@dataclass
class PageWatch:
    """What went wrong in a page: console errors, uncaught exceptions and CSP violations."""

    problems: list[str] = field(default_factory=list)

    @classmethod
    def attach(cls, page: Page) -> PageWatch:
        """Start watching ``page`` (before it loads anything)."""
        watch = cls()
        page.on("console", watch._on_console)
        page.on("pageerror", watch._on_page_error)
        page.expose_function("__townhallReportCspViolation", watch._on_csp_violation)
        page.add_init_script(_REPORT_CSP_VIOLATIONS)
        return watch

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location
            where = f" at {location['url']}:{location['lineNumber']}" if location else ""
            self.problems.append(f"console error: {message.text}{where}")

    def _on_page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught exception: {error.name}: {error.message}")

    def _on_csp_violation(self, description: str) -> None:
        self.problems.append(f"Content Security Policy violation: {description}")

    def accept(self, *fragments: str) -> None:
        """Accept the problems containing any of ``fragments`` (caused by the test on purpose)."""
        self.problems = [p for p in self.problems if not any(f in p for f in fragments)]

    def assert_clean(self) -> None:
        """Fail if the page reported anything going wrong."""
        if self.problems:
            listed = "\n  ".join(self.problems)
            msg = f"the page reported {len(self.problems)} problem(s):\n  {listed}"
            raise AssertionError(msg)


def assert_accessible(page: Page, *, context: str | None = None) -> None:
    """Fail if axe-core finds a WCAG 2.2 A or AA violation in ``page`` (or in ``context``)."""
    if not AXE_SCRIPT.is_file():
        msg = f"axe-core is not installed at {AXE_SCRIPT}: run `make install`"
        raise AssertionError(msg)
    # Evaluated through the DevTools protocol rather than added as a <script>, which the page's
    # CSP would (rightly) block: the page is checked as it is served, policy and all.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8"))
    results: dict[str, Any] = page.evaluate(
        """async ([context, tags]) => axe.run(context ?? document, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
        })""",
        [context, list(WCAG_TAGS)],
    )
    violations: list[dict[str, Any]] = results["violations"]
    if violations:
        raise AssertionError(describe_violations(page.url, violations))


def describe_violations(url: str, violations: list[dict[str, Any]]) -> str:
    """axe-core's violations as a message a person can act on: rule, impact, where, why."""
    lines = [f"{len(violations)} accessibility rule(s) violated on {url}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact') or 'unknown impact'}): "
            f"{violation['help']} <{violation['helpUrl']}>"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    at {target}")
            summary = (node.get("failureSummary") or "").strip().replace("\n", "\n      ")
            if summary:
                lines.append(f"      {summary}")
    return "\n".join(lines)


def sign_in_staff(page: Page, live_server: LiveServer, email: str, password: str) -> None:
    """Fill in and send the staff sign-in form as a person would (the outcome is the caller's)."""
    page.goto(live_server.at("/staff/sign-in"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_resident(page: Page, live_server: LiveServer, email: str) -> None:
    """Sign in as the resident with ``email`` through the code emailed to them, as they would."""
    sender, _clock = install_test_doubles(live_server.app)
    page.goto(live_server.at("/account/sign-in"))
    page.get_by_label("What is your email address?").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code").fill(sender.last_code(email))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(live_server.at("/account"))
