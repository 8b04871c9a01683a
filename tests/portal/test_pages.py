"""Portal pages over HTTP: what they say, their headers, and their errors."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

import townhall.demo
from townhall.app import create_app
from townhall.demo.models import DemoBuild
from townhall.errors import TownhallError
from townhall.platform.auth.dependencies import route_access
from townhall.platform.db import Database
from townhall.settings import Settings

DASH = "\u2013"  # page titles separate their parts with an en dash, as GOV.UK's do
PORTAL_PAGES = ["/", "/problems", "/problems/not-found", "/api/docs"]


def _routes(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        # FastAPI keeps an included router whole; its routes are on the router it wraps.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _routes(included.routes)
        else:
            yield route


@dataclass(frozen=True)
class _BuildReport:
    """The shape of what ``townhall.demo.latest_build`` returns, as the home page reads it."""

    size: str
    seed: int
    seconds: float
    row_counts: dict[str, int]


@pytest.mark.parametrize("path", PORTAL_PAGES)
def test_pages_are_html_with_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "content-security-policy" in response.headers
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]


@pytest.mark.parametrize("path", ["/", "/problems", "/problems/not-found"])
def test_the_inline_script_carries_this_responses_csp_nonce(client: TestClient, path: str) -> None:
    response = client.get(path)
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
    assert inline == [f' nonce="{nonce.group(1)}"'], "only the js-enabled snippet runs inline"
    assert client.get(path).text != response.text, "a nonce is never reused"


def test_home_says_what_this_instance_is(client: TestClient, settings: Settings) -> None:
    text = client.get("/").text
    assert f"<title>Home {DASH} Townhall {DASH} London Borough of Hackney</title>" in text
    assert '<h1 class="govuk-heading-xl">Townhall for London Borough of Hackney</h1>' in text
    assert "London Borough of Hackney (E09000012)" in text
    assert re.search(r"Environment\s*</dt>\s*<dd[^>]*>\s*Test\s*<", text)
    dialect = "SQLite (embedded)" if settings.is_sqlite else "PostgreSQL"
    assert re.search(rf"Database\s*</dt>\s*<dd[^>]*>\s*{re.escape(dialect)}\s*<", text)
    assert "govuk-phase-banner" in text
    assert "Alpha" in text
    assert 'href="#main-content"' in text
    assert "Open Government Licence v3.0" in text
    assert "MIT licence" in text
    for href in ["/api/docs", "/openapi.json", "/health/ready", "/metrics", "/problems"]:
        assert f'href="{href}"' in text


def test_home_links_resolve(client: TestClient) -> None:
    text = client.get("/").text
    local = set(re.findall(r'(?:href|src)="(/[^"#]*)"', text))
    assert local, "the page links to nothing on the instance"
    for path in sorted(local):
        assert client.get(path).status_code == 200, path


def test_home_without_the_api_explorer_does_not_link_to_it(database_url: str) -> None:
    settings = Settings(environment="test", database_url=database_url, api_docs_enabled=False)
    with TestClient(create_app(settings)) as client:
        assert 'href="/api/docs"' not in client.get("/").text
        assert client.get("/api/docs").status_code == 404


def test_home_shows_the_synthetic_boroughs_row_counts(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = _BuildReport("small", 42, 12.345, {"properties": 123456, "person_records": 250})
    monkeypatch.setattr(townhall.demo, "latest_build", lambda _db: build, raising=False)
    text = client.get("/").text
    assert "No synthetic borough" not in text
    assert "built at\n      size small from seed 42, in 12.3 seconds." in text
    assert re.search(r">properties</code></th>\s*<td[^>]*numeric[^>]*>123,456</td>", text)
    assert re.search(r">person_records</code></th>\s*<td[^>]*numeric[^>]*>250</td>", text)


def test_home_says_when_there_is_no_synthetic_borough(client: TestClient) -> None:
    text = client.get("/").text
    assert "No synthetic borough has been built in this database." in text
    assert "demo-row-counts" not in text


def test_home_reads_the_latest_build_from_the_database(
    client: TestClient, database: Database
) -> None:
    with database.write() as session:
        session.add(
            DemoBuild(
                council_code="E09000012",
                size="small",
                seed=7,
                row_counts={"address_streets": 77, "address_properties": 4321},
                seconds=1.5,
                built_at=datetime(2026, 3, 2, 14, 5, tzinfo=UTC),
            )
        )
    text = client.get("/").text
    assert "size small from seed 7, in 1.5 seconds" in text
    assert re.search(r">address_properties</code></th>\s*<td[^>]*>4,321</td>", text)


def test_templates_escape_what_they_show(database_url: str) -> None:
    settings = Settings(
        environment="test", database_url=database_url, council_name="<b>Borsetshire</b> & Co"
    )
    with TestClient(create_app(settings)) as client:
        text = client.get("/").text
    assert "<b>Borsetshire</b>" not in text
    assert "Townhall for &lt;b&gt;Borsetshire&lt;/b&gt; &amp; Co" in text


def test_each_app_renders_its_own_council(database_url: str) -> None:
    apps = [
        create_app(Settings(environment="test", database_url=database_url, council_name=name))
        for name in ("Borsetshire Council", "Royal Borough of Greenwich")
    ]
    for app, name in zip(apps, ("Borsetshire Council", "Royal Borough of Greenwich"), strict=True):
        with TestClient(app) as client:
            assert f"Townhall for {name}" in client.get("/").text


def test_portal_pages_are_public_and_not_in_the_openapi_document(app: FastAPI) -> None:
    portal = [
        route
        for route in _routes(app.router.routes)
        if getattr(route, "name", "").startswith("portal_")
    ]
    assert {getattr(route, "path", None) for route in portal} == {
        "/",
        "/problems",
        "/problems/{slug}",
        "/api/docs",
        "/favicon.ico",
    }
    for route in portal:
        assert [access.kind for access in route_access(route)] == ["public"]
        assert getattr(route, "include_in_schema", True) is False
    paths = app.openapi()["paths"]
    assert not [
        path for path in paths if path == "/" or path.startswith(("/problems", "/api/docs"))
    ]


def test_the_problem_list_links_every_problem_type(client: TestClient) -> None:
    text = client.get("/problems").text
    for problem in TownhallError.catalogue():
        assert f'<a class="govuk-link" href="/problems/{problem.slug}">{problem.title}</a>' in text


@pytest.mark.parametrize("problem", TownhallError.catalogue(), ids=lambda p: p.slug)
def test_every_problem_type_has_a_page(client: TestClient, problem: type[TownhallError]) -> None:
    response = client.get(f"/problems/{problem.slug}")
    assert response.status_code == 200
    text = response.text
    assert f'<h1 class="govuk-heading-xl">{problem.title}</h1>' in text
    assert f"<title>{problem.title} {DASH} Problem types {DASH} Townhall {DASH} " in text
    assert f'<code class="app-code">/problems/{problem.slug}</code>' in text
    assert f"{problem.status} " in text
    assert f'"type": "/problems/{problem.slug}"' in html.unescape(text)


def test_a_problem_page_shows_backticks_as_code_and_links_its_relatives(
    client: TestClient,
) -> None:
    text = client.get("/problems/invalid-cursor").text
    assert 'The <code class="app-code">cursor</code> was not one this API gave out' in text
    assert 'A more specific <a class="govuk-link" href="/problems/bad-request">bad request</a>' in (
        text
    )
    parent = client.get("/problems/bad-request").text
    assert '<a class="govuk-link" href="/problems/invalid-cursor">Invalid cursor</a>' in parent
    assert "422 Unprocessable Content" in client.get("/problems/validation-failed").text


def test_the_type_of_an_error_leads_to_its_page(client: TestClient) -> None:
    problem = client.get("/no-such-page").json()
    page = client.get(problem["type"])
    assert page.status_code == 200
    assert f">{problem['title']}</h1>" in page.text


@pytest.mark.parametrize("slug", ["no-such-problem", "<script>alert(1)</script>", "NOT-FOUND"])
def test_an_unknown_problem_type_is_a_404_problem(client: TestClient, slug: str) -> None:
    response = client.get(f"/problems/{slug}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "/problems/not-found"
    assert body["request_id"] == response.headers["x-request-id"]
