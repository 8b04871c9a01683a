"""Portal pages: home, problem types, the API reference, and the static assets they load.

This module owns the portal's routes. Views are thin: they gather what a page shows from the
services and the settings, then render a template; the rules live in the services and the look in
the templates. Every page is HTML for people, so none appears in the OpenAPI document, and every
page here is public (``public()``): none shows anything a token would protect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import Mount
from fastapi.staticfiles import StaticFiles

from townhall import __version__
from townhall.errors import NotFound, TownhallError, ValidationFailed
from townhall.platform.auth.dependencies import mark_public, public
from townhall.platform.auth.sessions import look_up_viewer
from townhall.platform.context import AppContext
from townhall.platform.db import Database
from townhall.platform.http.routing import add_operations, townhall_router
from townhall.platform.logging import get_logger
from townhall.portal.templating import (
    GOVUK_FRONTEND,
    STATIC_PATH,
    SWAGGER_UI,
    build_templates,
    static_url,
)
from townhall.portal.views_addresses import build_addresses_router
from townhall.portal.views_audit import build_audit_pages
from townhall.portal.views_data_uses import build_data_uses_pages
from townhall.portal.views_people import build_people_pages
from townhall.portal.views_sign_in import install_sign_in

STATIC_DIRECTORY = Path(__file__).parent / "static"
FAVICON = "portal/favicon.svg"

DIALECT_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

log = get_logger(__name__)


@dataclass(frozen=True)
class DemoSummary:
    """What the home page says about the synthetic borough in the database."""

    size: str
    seed: int
    seconds: float
    row_counts: list[tuple[str, int]]


def latest_demo_summary(database: Database) -> DemoSummary | None:
    """The latest synthetic borough built into ``database``, or None if there is none."""
    # Imported when a page asks, not when the app is built: the generator behind it loads Faker
    # and the postcode tables, which an instance serving real data never needs.
    from townhall.demo import latest_build  # noqa: PLC0415

    build = latest_build(database)
    if build is None:
        return None
    counts: Mapping[str, Any] = build.row_counts
    return DemoSummary(
        size=str(build.size),
        seed=int(build.seed),
        seconds=float(build.seconds),
        row_counts=[(str(table), int(count)) for table, count in counts.items()],
    )


def problem_types() -> list[type[TownhallError]]:
    """Every documented problem type, in the order of the tree in ``townhall.errors``."""
    return TownhallError.catalogue()


def example_problem(problem: type[TownhallError]) -> str:
    """A response body of this type, as the problem page shows it."""
    body: dict[str, Any] = {
        "type": f"/problems/{problem.slug}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.title,
        "instance": "/api/v1/properties/100023336956",
        "request_id": "4f1c2a0e6b9d4d2f8a7e5c3b1a090807",
    }
    if issubclass(problem, ValidationFailed):
        body["detail"] = "1 input is invalid."
        body["errors"] = [
            {"field": "query.limit", "message": "Input should be less than or equal to 200"}
        ]
    return json.dumps(body, indent=2)


def _parent_of(problem: type[TownhallError]) -> type[TownhallError] | None:
    parent = problem.__base__
    if problem is TownhallError or parent is None or not issubclass(parent, TownhallError):
        return None
    return parent


def _build_router(context: AppContext) -> APIRouter:
    settings = context.settings
    templates = build_templates(settings)
    # Every page looks up who is signed in (one read, only with a session cookie), so the header
    # can offer "Sign out" wherever they are.
    router = townhall_router(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[Depends(look_up_viewer)],
    )

    @router.get("/", name="portal_home", dependencies=[public()])
    def home(request: Request) -> HTMLResponse:
        """What this instance is, what it holds, and where its APIs are documented."""
        database = context.database
        return templates.TemplateResponse(
            request,
            "home.html",
            {
                "environment": settings.environment.value,
                "council_code": settings.council_code,
                "dialect": DIALECT_NAMES.get(database.dialect, database.dialect),
                "embedded": database.is_sqlite,
                "version": __version__,
                "demo": latest_demo_summary(database),
            },
        )

    @router.get("/problems", name="portal_problem_types", dependencies=[public()])
    def problem_type_list(request: Request) -> HTMLResponse:
        """Every problem type a Townhall API can answer with."""
        return templates.TemplateResponse(
            request,
            "problems/list.html",
            {"problems": problem_types()},
        )

    @router.get("/problems/{slug}", name="portal_problem_type", dependencies=[public()])
    def problem_type(request: Request, slug: str) -> HTMLResponse:
        """The page a problem's ``type`` URI points at."""
        found = {problem.slug: problem for problem in problem_types()}.get(slug)
        if found is None:
            raise NotFound(f"There is no problem type called {slug!r}.")
        return templates.TemplateResponse(
            request,
            "problems/detail.html",
            {
                "problem": found,
                "parent": _parent_of(found),
                "kinds": found.__subclasses__(),
                "example": example_problem(found),
            },
        )

    @router.get("/favicon.ico", name="portal_favicon", dependencies=[public()])
    def favicon() -> FileResponse:
        """The icon browsers ask for on pages that name none, such as JSON opened in a tab."""
        return FileResponse(STATIC_DIRECTORY / FAVICON, media_type="image/svg+xml")

    if settings.api_docs_enabled:

        @router.get("/api/docs", name="portal_api_reference", dependencies=[public()])
        def api_reference(request: Request) -> HTMLResponse:
            """The interactive API reference: Swagger UI on the OpenAPI document."""
            swagger = static_url(SWAGGER_UI)
            return get_swagger_ui_html(
                openapi_url=request.app.openapi_url,
                title=request.app.title,
                swagger_js_url=f"{swagger}/swagger-ui-bundle.js",
                swagger_css_url=f"{swagger}/swagger-ui.css",
                swagger_favicon_url=static_url(FAVICON),
            )

    return router


def build_portal(app: FastAPI, context: AppContext) -> None:
    """Mount the portal's pages and static assets on ``app``."""
    if not (STATIC_DIRECTORY / GOVUK_FRONTEND).is_dir():
        # Pages still render, unstyled; say why once instead of leaving a trail of 404s.
        log.warning(
            "portal_assets_missing",
            directory=str(STATIC_DIRECTORY / "vendor"),
            fix="run `make install` to copy GOV.UK Frontend and htmx from node_modules",
        )
    assets = Mount(STATIC_PATH, app=StaticFiles(directory=STATIC_DIRECTORY), name="static")
    mark_public(assets)
    app.router.routes.append(assets)
    templates = build_templates(context.settings)
    install_sign_in(app, context, templates)
    add_operations(
        app,
        build_addresses_router(context, templates),
        build_data_uses_pages(context, templates),
        build_audit_pages(context, templates),
        build_people_pages(context, templates),
        _build_router(context),
    )
