"""The gazetteer's read API: addresses, properties and streets under ``/api/v1``.

This module owns the routes ``GET /addresses`` (search with every filter), ``/properties/{uprn}``
(with its cross-references and history) and ``/streets/{usrn}`` (with its addresses). It is a
thin router: it parses, checks the caller holds ``addresses:read``, calls
``townhall.domains.addresses.queries`` and shapes the answer, as JSON or, when the client asks
for ``application/geo+json``, as GeoJSON.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from townhall.domains.addresses import geojson, queries
from townhall.domains.addresses.schemas import (
    AddressChangePublic,
    AddressFilters,
    AddressPublic,
    CrossReferencePublic,
    PropertyPublic,
    StreetPublic,
)
from townhall.errors import InvalidCursor, NotFound
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.http.dependencies import DatabaseDep
from townhall.platform.http.pagination import PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.query_times import QueryTime
from townhall.platform.http.routing import api_router, joined

TAG = "addresses"
Reader = Annotated[Principal, require("addresses:read")]
Uprn = Annotated[
    str,
    Path(
        pattern=r"^[0-9]{1,12}$",
        description="The property's UPRN: up to 12 digits.",
        examples=["100021000391"],
    ),
]
Usrn = Annotated[
    str,
    Path(
        pattern=r"^[0-9]{1,8}$",
        description="The street's USRN: up to 8 digits.",
        examples=["20400050"],
    ),
]
DigitsQuery = Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")]


class Status(IntEnum):
    """The LPI logical statuses a search may ask for."""

    APPROVED = 1
    ALTERNATIVE = 3
    CANDIDATE = 5
    PROVISIONAL = 6
    REJECTED_INTERNAL = 7
    HISTORICAL = 8
    REJECTED = 9


# A whole postcode or its start, as ``postcode_filter`` reads it.
POSTCODE_PATTERN = r"^ *[A-Za-z]{1,2}[0-9][A-Za-z0-9]? *(?:[0-9][A-Za-z]{0,2})? *$"

_GEOJSON_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {geojson.GEOJSON: {"schema": geojson.FEATURE_COLLECTION_SCHEMA}}}
}
_GEOJSON_ONE: dict[int | str, dict[str, Any]] = {
    200: {"content": {geojson.GEOJSON: {"schema": geojson.FEATURE_SCHEMA}}}
}


def _geojson(body: dict[str, Any], response: Response) -> JSONResponse:
    headers = {name: value for name, value in response.headers.items() if name == "link"}
    return JSONResponse(body, media_type=geojson.GEOJSON, headers=headers)


def build_addresses_router() -> APIRouter:
    """The routes of addresses, properties and streets."""
    addresses = api_router("/addresses", tag=TAG)
    _add_address_routes(addresses)
    properties = api_router("/properties", tag=TAG)
    _add_property_routes(properties)
    streets = api_router("/streets", tag=TAG)
    _add_street_routes(streets)
    return joined(addresses, properties, streets)


def _add_address_routes(router: APIRouter) -> None:
    @router.get(
        "",
        response_model=PageOut[AddressPublic],
        responses={**error_responses(InvalidCursor), **_GEOJSON_PAGE},
    )
    def find_addresses(
        *,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        q: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=200,
                description="Free text, typo tolerant; house numbers are exact and the last "
                "word may be the start of a word.",
                examples=["12 mare stret"],
            ),
        ] = None,
        postcode: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=10,
                pattern=POSTCODE_PATTERN,
                description="A whole or partial postcode, any spacing or case: "
                "E8 1AA, e81aa, E8 1, E8.",
                examples=["E8 3SE"],
            ),
        ] = None,
        uprn: DigitsQuery = None,
        usrn: DigitsQuery = None,
        street: Annotated[
            str | None,
            Query(
                min_length=1,
                max_length=100,
                description="The street's name, any case.",
                examples=["Durham Road"],
            ),
        ] = None,
        building_number: Annotated[
            int | None,
            # BS 7666 numbers a building with at most four digits (the column is a smallint).
            Query(
                ge=0,
                le=9999,
                description="The building (PAO) number, or within its range (BS 7666: 0 to 9999).",
            ),
        ] = None,
        status: Annotated[
            list[Status] | None,
            Query(
                description="LPI logical status, one or more: 1 approved, 3 alternative, "
                "5 candidate, 6 provisional, 7 rejected (internal), 8 historical, 9 rejected.",
            ),
        ] = None,
        classification: Annotated[
            str | None,
            Query(
                pattern=r"^[A-Za-z0-9]{1,6}$",
                description="A classification code or its start: R, RD, RD04.",
            ),
        ] = None,
        parent_uprn: DigitsQuery = None,
        bbox: Annotated[
            str | None,
            Query(
                max_length=100,
                pattern=queries.BBOX_PATTERN,
                description="min_lon,min_lat,max_lon,max_lat (WGS84 decimal degrees).",
                examples=["-0.06,51.53,-0.05,51.55"],
            ),
        ] = None,
        near: Annotated[
            str | None,
            Query(
                max_length=60,
                pattern=queries.NEAR_PATTERN,
                description="lat,lon (WGS84): addresses within radius_m, nearest first.",
                examples=["51.5398,-0.0572"],
            ),
        ] = None,
        radius_m: Annotated[
            float | None,
            Query(
                gt=0,
                le=queries.MAX_RADIUS_METRES,
                description="The radius around `near`, in metres (default 500).",
            ),
        ] = None,
        modified_since: Annotated[
            QueryTime | None,
            Query(
                description="Only addresses Townhall changed at or after this time (RFC 3339; "
                "UTC when no offset is given)."
            ),
        ] = None,
    ) -> Any:
        """Search addresses by free text, postcode, identifiers, status, class or place."""
        filters = AddressFilters(
            q=q,
            postcode=postcode,
            uprn=int(uprn) if uprn is not None else None,
            usrn=int(usrn) if usrn is not None else None,
            street=street,
            building_number=building_number,
            status=tuple(int(value) for value in status or ()),
            classification=classification,
            parent_uprn=int(parent_uprn) if parent_uprn is not None else None,
            bbox=queries.parse_bbox(bbox) if bbox is not None else None,
            near=queries.parse_near(near, radius_m) if near is not None else None,
            modified_since=(
                queries.modified_since_ok(modified_since) if modified_since is not None else None
            ),
        )
        page = queries.find_addresses(database, filters, params.request)
        body = page_response(page, params, request, response, page.items)
        if geojson.wants_geojson(request.headers.get("accept")):
            features = [geojson.address_feature(item) for item in page.items]
            return _geojson(geojson.feature_collection(features, body.next_cursor), response)
        return body


def _add_property_routes(router: APIRouter) -> None:
    @router.get(
        "/{uprn}",
        response_model=PropertyPublic,
        responses={**error_responses(NotFound), **_GEOJSON_ONE},
    )
    def get_property(
        *, uprn: Uprn, principal: Reader, database: DatabaseDep, request: Request
    ) -> Any:
        """Read a property with all its addresses, its parent and its children."""
        item = queries.get_property(database, int(uprn))
        if geojson.wants_geojson(request.headers.get("accept")):
            return JSONResponse(geojson.property_feature(item), media_type=geojson.GEOJSON)
        return item

    @router.get("/{uprn}/cross-references", responses=error_responses(NotFound, InvalidCursor))
    def list_cross_references(
        *,
        uprn: Uprn,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[CrossReferencePublic]:
        """List a property's identifiers in other systems."""
        page = queries.cross_references(database, int(uprn), params.request)
        return page_response(page, params, request, response, page.items)

    @router.get("/{uprn}/history", responses=error_responses(NotFound, InvalidCursor))
    def list_property_history(
        *,
        uprn: Uprn,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[AddressChangePublic]:
        """List the changes Townhall applied to a property and its addresses, oldest first."""
        page = queries.property_history(database, int(uprn), params.request)
        return page_response(page, params, request, response, page.items)


def _add_street_routes(router: APIRouter) -> None:
    @router.get(
        "/{usrn}",
        response_model=StreetPublic,
        responses={**error_responses(NotFound), **_GEOJSON_ONE},
    )
    def get_street(
        *, usrn: Usrn, principal: Reader, database: DatabaseDep, request: Request
    ) -> Any:
        """Read a street by its USRN."""
        street = queries.get_street(database, int(usrn))
        if geojson.wants_geojson(request.headers.get("accept")):
            return JSONResponse(geojson.street_feature(street), media_type=geojson.GEOJSON)
        return street

    @router.get(
        "/{usrn}/properties",
        response_model=PageOut[AddressPublic],
        responses={**error_responses(NotFound, InvalidCursor), **_GEOJSON_PAGE},
    )
    def list_street_properties(
        *,
        usrn: Usrn,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> Any:
        """List the addresses on a street, in number order."""
        page = queries.street_properties(database, int(usrn), params.request)
        body = page_response(page, params, request, response, page.items)
        if geojson.wants_geojson(request.headers.get("accept")):
            features = [geojson.address_feature(item) for item in page.items]
            return _geojson(geojson.feature_collection(features, body.next_cursor), response)
        return body
