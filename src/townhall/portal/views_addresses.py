"""Staff address pages: search the gazetteer, and see one property with its map.

This module owns ``/staff/addresses`` (a search by free text and postcode, or every address on a
street or in a block, a page at a time) and ``/staff/addresses/{uprn}`` (a property: its
addresses, classification, status, coordinates, parent, children, street and cross-references,
and a map of it drawn by ``address_map``). Both need a signed-in member of staff: addresses are
not personal data, but the portal's staff pages are for staff. The gazetteer is read only through
``townhall.domains.addresses.queries``; this module turns answers and refusals into pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from townhall.domains.addresses.queries import (
    cross_references,
    find_addresses,
    get_property,
    get_street,
    street_properties,
)
from townhall.domains.addresses.schemas import (
    AddressFilters,
    AddressPublic,
    PropertyPublic,
    StreetPublic,
)
from townhall.errors import NotFound, ValidationFailed
from townhall.platform.auth.sessions import SignedInStaff, require_staff
from townhall.platform.context import AppContext
from townhall.platform.db import Database
from townhall.platform.http.pagination import MAX_LIMIT, PageRequest
from townhall.platform.http.routing import townhall_router
from townhall.portal.address_map import (
    MAX_NEIGHBOURS,
    MapPlace,
    MapStreet,
    PropertyMap,
    draw_property_map,
)
from townhall.portal.paging import PagedList, PageLinks
from townhall.portal.views_sign_in import FieldProblem, FormPage

SEARCH_PATH = "/staff/addresses"
RESULTS_PER_PAGE = 25
# Longer than any address; a longer query is a mistake (or an attack), not a search.
MAX_QUERY_LENGTH = 200
# UPRNs and USRNs are at most 12 digits; a longer string of digits is no identifier.
MAX_IDENTIFIER_DIGITS = 12
# A block's units listed on a property's page, and a property's cross-references shown.
MAX_LISTED = MAX_LIMIT


@dataclass
class SearchPage:
    """What the search page shows: the form as filled in, and the results or what is wrong."""

    q: str = ""
    postcode: str = ""
    form: FormPage = field(default_factory=FormPage)
    searched: bool = False
    results: list[AddressPublic] = field(default_factory=list)
    heading: str | None = None
    scope_note: str | None = None
    links: PageLinks = field(default_factory=PageLinks)


def _identifier(text: str) -> int | None:
    """A UPRN or USRN from the URL, or None when it cannot be one."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_IDENTIFIER_DIGITS:
        return None
    return int(text)


def _short_label(address: AddressPublic) -> str | None:
    """What the map writes beside a property: its number ("12A", "14-16") or its name."""
    pao = address.pao
    if pao.start_number is not None:
        number = f"{pao.start_number}{pao.start_suffix or ''}"
        if pao.end_number is not None:
            number += f"-{pao.end_number}{pao.end_suffix or ''}"
        return number
    return pao.text


def _map_place(address: AddressPublic) -> MapPlace:
    return MapPlace(
        uprn=address.uprn,
        easting=address.coordinates.easting,
        northing=address.coordinates.northing,
        address=address.single_line,
        short_label=_short_label(address),
        parent_uprn=address.parent_uprn,
    )


def _field_of(error_field: str) -> str:
    """``query.postcode`` as the form's field id, ``postcode``."""
    return error_field.rpartition(".")[2]


@dataclass(frozen=True)
class SearchQuery:
    """The search page's query string: the form's fields, a street or block, and the page."""

    q: str = ""
    postcode: str = ""
    usrn: str = ""
    parent_uprn: str = ""
    cursor: str = ""
    page: str = "1"


class PageNotFound(Exception):
    """The page names a street or property the gazetteer does not have."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(detail)
        self.what = what
        self.detail = detail


@dataclass
class AddressPages:
    """The pages' work, between the routes and the gazetteer's queries."""

    context: AppContext
    templates: Jinja2Templates

    @property
    def database(self) -> Database:
        """The instance's database, which the queries read."""
        return self.context.database

    def render(
        self, request: Request, template: str, values: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        """A page of this module."""
        response = self.templates.TemplateResponse(
            request, template, values, status_code=status_code
        )
        assert isinstance(response, HTMLResponse)
        return response

    def not_found(self, request: Request, missing: PageNotFound) -> HTMLResponse:
        """The 404 page of a street or property that is not there."""
        return self.render(
            request,
            "addresses/not_found.html",
            {"what": missing.what, "detail": missing.detail},
            status_code=404,
        )

    # --- the search ---

    def search(self, request: Request, query: SearchQuery) -> HTMLResponse:
        """The search page for ``query``."""
        shown = SearchPage(q=query.q.strip(), postcode=query.postcode.strip())
        try:
            filters = self._filters(query, shown)
        except PageNotFound as missing:
            return self.not_found(request, missing)
        except NotFound as exc:
            what = "street" if query.usrn else "property"
            return self.not_found(request, PageNotFound(what, exc.detail))
        if filters is None:
            return self.render(request, "addresses/search.html", {"page": shown})
        status = self._run(filters, query, shown)
        return self.render(request, "addresses/search.html", {"page": shown}, status)

    def _filters(self, query: SearchQuery, shown: SearchPage) -> dict[str, str] | None:
        """The list asked for: a street's, a block's, or a search; None to show just the form."""
        if query.usrn:
            street = get_street(self.database, _identifier_or_404(query.usrn, "street"))
            shown.heading = f"Addresses on {street.descriptor.title()}"
            shown.scope_note = (
                f"{street.address_count:,} addresses on {street.descriptor}, "
                f"{street.town} (USRN {street.usrn})."
            )
            return {"usrn": street.usrn}
        if query.parent_uprn:
            parent = get_property(self.database, _identifier_or_404(query.parent_uprn, "property"))
            name = parent.addresses[0].single_line if parent.addresses else f"UPRN {parent.uprn}"
            shown.heading = "Addresses in this block"
            shown.scope_note = f"The {len(parent.children):,} units of {name}."
            return {"parent_uprn": parent.uprn}
        if len(shown.q) > MAX_QUERY_LENGTH:
            shown.form.errors.append(
                FieldProblem("q", f"Address must be {MAX_QUERY_LENGTH} characters or fewer")
            )
        for field_id, value, label in (
            ("q", shown.q, "Address"),
            ("postcode", shown.postcode, "Postcode"),
        ):
            if any(ord(character) < 32 for character in value):
                shown.form.errors.append(
                    FieldProblem(field_id, f"{label} must not contain control characters")
                )
        if not (shown.q or shown.postcode) or shown.form.errors:
            return None
        # Only the fields filled in: the page links carry them as the form would.
        filled = {"q": shown.q, "postcode": shown.postcode}
        return {name: value for name, value in filled.items() if value}

    def _run(self, filters: dict[str, str], query: SearchQuery, shown: SearchPage) -> int:
        """Fill ``shown`` with one page of results; the status code of the page."""
        shown.searched = True
        paged = PagedList(self.context.cursors, SEARCH_PATH, filters)
        after = paged.position(query.cursor, query.page, shown.links)
        request = PageRequest(RESULTS_PER_PAGE, after)
        try:
            if "usrn" in filters:
                found = street_properties(self.database, int(filters["usrn"]), request)
            else:
                search = AddressFilters(
                    q=filters.get("q") or None,
                    postcode=filters.get("postcode") or None,
                    parent_uprn=int(filters["parent_uprn"]) if "parent_uprn" in filters else None,
                )
                found = find_addresses(self.database, search, request)
        except ValidationFailed as exc:
            shown.searched = False
            for error in exc.errors:
                shown.form.errors.append(FieldProblem(_field_of(error.field), _message(error)))
            return 400
        shown.results = found.items
        paged.links(found, shown.links)
        return 200

    # --- one property ---

    def property_page(self, request: Request, uprn: str) -> HTMLResponse:
        """The page of one property."""
        try:
            item = get_property(self.database, _identifier_or_404(uprn, "property"))
        except PageNotFound as missing:
            return self.not_found(request, missing)
        except NotFound as exc:
            return self.not_found(request, PageNotFound("property", exc.detail))
        references = cross_references(self.database, int(item.uprn), PageRequest(MAX_LISTED))
        primary = item.addresses[0] if item.addresses else None
        street = get_street(self.database, int(primary.usrn)) if primary is not None else None
        parent = (
            get_property(self.database, int(item.parent_uprn))
            if item.parent_uprn is not None
            else None
        )
        drawn = self._draw(item, parent, street)
        return self.render(
            request,
            "addresses/property.html",
            {
                "item": item,
                "title": primary.single_line if primary else f"UPRN {item.uprn}",
                "primary": primary,
                "street": street,
                "references": references.items,
                "map": drawn,
                "on_map": _places_on_map(drawn),
            },
        )

    def _draw(
        self, item: PropertyPublic, parent: PropertyPublic | None, street: StreetPublic | None
    ) -> PropertyMap:
        """The map of ``item``: it, its block, its street and the street's other properties."""
        primary = item.addresses[0] if item.addresses else None
        subject = _summary_place(item, primary, item.parent_uprn)
        # The block: the parent and its other units, or this property's own units.
        holder = parent if parent is not None else item
        block: list[MapPlace] = []
        block_name = None
        if holder.children:
            holder_address = holder.addresses[0] if holder.addresses else None
            block_name = _short_label(holder_address) if holder_address else None
            if parent is not None:
                block.append(_summary_place(parent, holder_address, parent.parent_uprn))
            block.extend(
                MapPlace(
                    uprn=child.uprn,
                    easting=child.coordinates.easting,
                    northing=child.coordinates.northing,
                    address=child.single_line or f"UPRN {child.uprn}",
                    parent_uprn=holder.uprn,
                )
                for child in holder.children
            )
        if street is None:
            return draw_property_map(subject, block=block, block_name=block_name)
        map_street = MapStreet(
            usrn=street.usrn,
            name=street.descriptor.title(),
            start_easting=street.start.easting,
            start_northing=street.start.northing,
            end_easting=street.end.easting,
            end_northing=street.end.northing,
        )
        return draw_property_map(
            subject,
            block=block,
            block_name=block_name,
            street=map_street,
            neighbours=self._street_places(int(street.usrn)),
        )

    def _street_places(self, usrn: int) -> list[MapPlace]:
        """The properties with an address on the street, a page at a time, up to one more than
        the map draws (so it can say some were left out); a property comes once."""
        places: dict[str, MapPlace] = {}
        after = None
        while len(places) <= MAX_NEIGHBOURS:
            page = street_properties(self.database, usrn, PageRequest(MAX_LIMIT, after))
            for address in page.items:
                places.setdefault(address.uprn, _map_place(address))
            if page.next_position is None:
                break
            after = page.next_position
        return list(places.values())


def build_addresses_router(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The staff address pages."""
    router = townhall_router(include_in_schema=False, default_response_class=HTMLResponse)
    pages = AddressPages(context, templates)

    @router.get(SEARCH_PATH, name="staff_addresses")
    def search(
        request: Request,
        _staff: Annotated[SignedInStaff, require_staff()],
        query: Annotated[SearchQuery, Depends()],
    ) -> HTMLResponse:
        """Search addresses by free text and postcode, or list a street's or a block's."""
        return pages.search(request, query)

    @router.get(SEARCH_PATH + "/{uprn}", name="staff_address_property")
    def property_page(
        request: Request,
        _staff: Annotated[SignedInStaff, require_staff()],
        uprn: str,
    ) -> HTMLResponse:
        """One property: its addresses and what the gazetteer says of it, and its map."""
        return pages.property_page(request, uprn)

    return router


def _identifier_or_404(text: str, what: str) -> int:
    """A UPRN or USRN from the URL; PageNotFound when it cannot be one."""
    number = _identifier(text)
    if number is None:
        name = "USRN" if what == "street" else "UPRN"
        raise PageNotFound(what, f"There is no {what} with {name} {text}.")
    return number


def _summary_place(
    item: PropertyPublic, address: AddressPublic | None, parent: str | None
) -> MapPlace:
    return MapPlace(
        uprn=item.uprn,
        easting=item.coordinates.easting,
        northing=item.coordinates.northing,
        address=address.single_line if address else f"UPRN {item.uprn}",
        short_label=_short_label(address) if address else None,
        parent_uprn=parent,
    )


def _message(error: Any) -> str:
    """A field error as the form says it."""
    if _field_of(error.field) == "postcode":
        return "Enter a real postcode or the start of one, like E8 1AA, E8 1 or E8"
    return str(error.message)


@dataclass(frozen=True)
class OnMap:
    """A property drawn on the map, as the list under it links to it."""

    href: str
    text: str
    shape: str


def _places_on_map(drawn: PropertyMap) -> list[OnMap]:
    """Every link on the map, in words, so no one needs the map to follow them."""
    shapes = {"subject": "diamond", "block": "square", "neighbour": "circle"}
    listed = [OnMap(m.href, m.title, shapes[m.kind.value]) for m in drawn.markers]
    return sorted(listed, key=lambda item: (item.shape != "diamond", item.shape, item.text))
