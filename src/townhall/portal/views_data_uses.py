"""The resident's page "How your data is used": who used their data, when, and why.

This module owns ``/account/data-uses``: a summary of the uses of the signed-in resident's data
by service, each linking to that service's uses (``?service=<key>``), then the uses themselves,
newest first, a page at a time. Like every resident page it takes whose data it is only from
the session. What it shows is ``townhall.platform.audit.resident_view``'s, the same as
``GET /api/v1/me/data-uses`` (under every id the resident has had, found the same way:
``me_api.viewer_of``); this module turns it into a page, and records the resident's view of it
like any other use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.templating import Jinja2Templates

from townhall.errors import InvalidCursor, ValidationFailed
from townhall.platform.audit import resident_view
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.me_api import viewer_of, whose
from townhall.platform.audit.resident_view import (
    DataUseEntry,
    ResidentViewer,
    ServiceUses,
    account_subject,
    london_time,
)
from townhall.platform.audit.vocabulary import ACCOUNT, DATA_USES, Service
from townhall.platform.auth.sessions import SignedInResident, require_resident
from townhall.platform.context import AppContext
from townhall.platform.http.pagination import PageRequest
from townhall.platform.http.routing import townhall_router

DATA_USES_PATH = "/account/data-uses"
ENTRIES_PER_PAGE = 20
# Pages beyond this are numbered as this: the number is only a caption, the cursor is the place.
_MAX_PAGE_NUMBER = 999_999


@dataclass(frozen=True)
class DataUsesQuery:
    """The page's query string: one service or all, and where in the list."""

    service: str = ""
    cursor: str = ""
    page: str = "1"


@dataclass(frozen=True)
class ShownUse:
    """One entry as the page shows it."""

    entry: DataUseEntry
    when: str


@dataclass(frozen=True)
class ShownService:
    """One row of the summary."""

    uses: ServiceUses
    most_recent: str
    href: str


@dataclass
class DataUsesPage:
    """What the page shows."""

    matched: bool = True
    unknown_service: str | None = None
    service: Service | None = None
    summary: list[ShownService] = field(default_factory=list)
    entries: list[ShownUse] = field(default_factory=list)
    page_number: int = 1
    restarted: bool = False
    next_url: str | None = None
    previous_url: str | None = None

    @property
    def total_uses(self) -> int:
        """Uses of the resident's data by every service."""
        return sum(row.uses.uses for row in self.summary)


@dataclass
class DataUsesPages:
    """The page's work, between the route and the resident's view of the audit trail."""

    context: AppContext
    templates: Jinja2Templates

    def show(self, viewer: ResidentViewer, query: DataUsesQuery) -> tuple[DataUsesPage, int]:
        """The page for ``query``, and its status (400 for a service that does not exist)."""
        now = resident_view.utc_now()
        shown = DataUsesPage()
        database = self.context.database
        summary = resident_view.summarise_data_uses(database, viewer, now=now)
        shown.summary = [
            ShownService(item, london_time(item.most_recent), _page_url(item.service.key, None, 1))
            for item in summary
        ]
        if query.service:
            try:
                shown.service = resident_view.known_service(query.service)
            except ValidationFailed:
                shown.unknown_service = query.service
                return shown, 400
        key = shown.service.key if shown.service else ""
        scope = DATA_USES_PATH + "?" + json.dumps({"service": key}, separators=(",", ":"))
        after = None
        if query.cursor:
            try:
                after = self.context.cursors.decode(query.cursor, scope=scope)
                page = query.page
                number = int(page) if page.isdigit() and len(page) < 7 else 2
                shown.page_number = min(max(2, number), _MAX_PAGE_NUMBER)
            except InvalidCursor:
                # An edited or stale link: start again rather than show a wrong page.
                shown.restarted = True
        found = resident_view.list_data_uses(
            database,
            viewer,
            PageRequest(ENTRIES_PER_PAGE, after),
            now=now,
            service=shown.service,
            show_staff_names=self.context.settings.audit_show_staff_names,
        )
        shown.entries = [ShownUse(entry, london_time(entry.occurred_at)) for entry in found.items]
        if found.next_position is not None:
            cursor = self.context.cursors.encode(found.next_position, scope=scope)
            shown.next_url = _page_url(key, cursor, shown.page_number + 1)
        if after is not None and isinstance(after[0], int):
            before = resident_view.previous_position(
                database, viewer, after[0], ENTRIES_PER_PAGE, now=now, service=shown.service
            )
            back = self.context.cursors.encode(before, scope=scope) if before else None
            shown.previous_url = _page_url(key, back, shown.page_number - 1)
        return shown, 200

    def render(self, request: Request, shown: DataUsesPage, status_code: int) -> HTMLResponse:
        """The page."""
        response = self.templates.TemplateResponse(
            request, "account/data_uses.html", {"page": shown}, status_code=status_code
        )
        assert isinstance(response, HTMLResponse)
        return response


def build_data_uses_pages(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The pages under ``/account/data-uses``."""
    router = townhall_router(include_in_schema=False, default_response_class=HTMLResponse)
    pages = DataUsesPages(context, templates)

    @router.get(DATA_USES_PATH, name="account_data_uses")
    async def data_uses(
        request: Request,
        resident: Annotated[SignedInResident, require_resident()],
        uses: Annotated[DataUses, personal_data(ACCOUNT, DATA_USES)],
        query: Annotated[DataUsesQuery, Depends()],
    ) -> HTMLResponse:
        """Who used the signed-in resident's data, when, and why, by service and newest first."""
        # The reads in the threadpool: the wait for the audit commit then holds no thread.
        viewer = await run_in_threadpool(viewer_of, context.database, resident.member)
        shown, status = DataUsesPage(matched=False), 200
        if viewer is not None:
            shown, status = await run_in_threadpool(pages.show, viewer, query)
        await uses.record(
            uses.of(
                whose(viewer, resident.member),
                subject=account_subject(resident.member),
                details={"shown": len(shown.entries)},
            )
        )
        return pages.render(request, shown, status)

    return router


def _page_url(service: str, cursor: str | None, page_number: int) -> str:
    """A link to a page of the list; relative, so it works behind any proxy."""
    query: dict[str, Any] = {"service": service} if service else {}
    if cursor is not None:
        query["cursor"] = cursor
        query["page"] = str(page_number)
    return f"{DATA_USES_PATH}?{urlencode(query)}" if query else DATA_USES_PATH
