"""The people domain's source systems over the API: what each holds and how its syncs went.

This module owns the routes under ``/api/v1/people/sources``. They are read only: registering
and changing a source is an operator's job on the instance (``townhall people sources``), so a
database URL never travels through the API. Sources and syncs hold no personal data (a refused
row is told by its position, column and reason), so these routes declare none.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from townhall.domains.people import sources
from townhall.domains.people.schemas import SourcePublic, SyncPublic
from townhall.errors import InvalidCursor, InvalidHeader, NotFound
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.http.concurrency import answer_not_modified, etag_of, with_etag
from townhall.platform.http.dependencies import DatabaseDep
from townhall.platform.http.pagination import PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import api_router

Reader = Annotated[Principal, require("people:read")]
SourceName = Annotated[
    str, Path(min_length=2, max_length=32, pattern=sources.NAME.pattern, examples=["housing"])
]


def source_public(standing: sources.SourceStanding) -> SourcePublic:
    """The public shape of a source with its record count and latest sync."""
    source = standing.source
    return SourcePublic(
        name=source.name,
        label=source.label,
        connector=source.connector,
        trust=source.trust,
        settings=source.connector_instance().describe(),
        position=source.position,
        last_synced_at=source.last_synced_at,
        created_at=source.created_at,
        records=standing.records,
        last_sync=None if standing.last_sync is None else SyncPublic.of(standing.last_sync),
    )


def build_sources_router() -> APIRouter:
    """The ``/api/v1/people/sources`` operations."""
    router = api_router("/people/sources", tag="people")

    @router.get("", responses=error_responses(InvalidCursor))
    def list_sources(
        *,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[SourcePublic]:
        """List the council's source systems, most trusted first, each with the number of
        records it holds and its latest sync."""
        page = sources.list_sources(database, params.request)
        items = [source_public(standing) for standing in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/{name}", responses=error_responses(NotFound, InvalidHeader))
    def get_source(
        *,
        name: SourceName,
        principal: Reader,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> Any:
        """Read one source system, with its ETag."""
        public = source_public(sources.source_standing(database, name))
        etag = etag_of(public)
        if answer_not_modified(request, etag):
            return Response(status_code=304, headers={"ETag": etag})
        with_etag(response, etag)
        return public

    @router.get("/{name}/syncs", responses=error_responses(NotFound, InvalidCursor))
    def list_syncs(
        *,
        name: SourceName,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[SyncPublic]:
        """List a source's syncs, newest first: positions, counts and refused rows' reasons."""
        page = sources.list_syncs(database, name, params.request)
        items = [SyncPublic.of(sync) for sync in page.items]
        return page_response(page, params, request, response, items)

    return router
