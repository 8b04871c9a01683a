"""Reading the gazetteer: what the addresses API, the portal and the matcher ask of it.

This module owns the read side of the addresses domain. Each function opens its own
``database.read()`` unit of work and returns the public shapes of ``schemas.py``: an address
search with every filter (``find_addresses``), a property with its addresses, parent and
children, a street and its addresses, a property's cross-references and its history. An unknown
UPRN or USRN is a ``NotFound``; a filter that cannot be read (a malformed postcode, a bounding
box out of range) a ``ValidationFailed`` naming the query parameter. Lists are keyset pages in
the search index's order (street, number, flat), or nearest first when searching near a point.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from townhall.domains.addresses import search_index
from townhall.domains.addresses.classifications import describe
from townhall.domains.addresses.models import (
    AddressChange,
    AddressRecord,
    CrossReference,
    Property,
    Street,
)
from townhall.domains.addresses.schemas import (
    BLPU_LOGICAL_STATUSES,
    BLPU_STATES,
    LPI_LOGICAL_STATUSES,
    STREET_RECORD_TYPES,
    STREET_STATES,
    AddressChangePublic,
    AddressFilters,
    AddressPublic,
    BoundingBox,
    CodeMeaning,
    Coordinates,
    CrossReferencePublic,
    Near,
    PropertyPublic,
    StreetPublic,
)
from townhall.domains.addresses.search_models import SearchEntry
from townhall.domains.addresses.text import normalise_words, postcode_filter, single_line
from townhall.errors import FieldError, NotFound, ValidationFailed
from townhall.platform.db import Database
from townhall.platform.geography import grid_to_wgs84
from townhall.platform.http.pagination import Page, PageRequest, keyset_page

# What a longitude and a latitude look like in a query (decimal degrees, in range).
LONGITUDE_PATTERN = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[0-9]{1,2})(?:\.[0-9]+)?)"
LATITUDE_PATTERN = r"-?(?:90(?:\.0+)?|[0-8]?[0-9](?:\.[0-9]+)?)"
BBOX_PATTERN = rf"^{LONGITUDE_PATTERN},{LATITUDE_PATTERN},{LONGITUDE_PATTERN},{LATITUDE_PATTERN}$"
NEAR_PATTERN = rf"^{LATITUDE_PATTERN},{LONGITUDE_PATTERN}$"
MAX_RADIUS_METRES = 5_000.0
LPI_STATUSES = frozenset(LPI_LOGICAL_STATUSES)
# Metres per degree of latitude, and of longitude at the equator (WGS84, near enough for a
# few kilometres: the error is well under one per cent).
_METRES_PER_DEGREE_LATITUDE = 111_132.0
_METRES_PER_DEGREE_LONGITUDE = 111_320.0


# --- reading filters ---------------------------------------------------------------------------


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field=f"query.{field}", message=message)])


def parse_bbox(text: str) -> BoundingBox:
    """``min_lon,min_lat,max_lon,max_lat`` (WGS84 degrees), checked; ValidationFailed if not.

    The two corners may come in either order: a box is the same box however its corners are
    named. Any size is allowed, because a page is read in index order whatever the box holds.
    """
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(value) for value in values):
        raise _invalid("bbox", "Give four numbers: min_lon,min_lat,max_lon,max_lat (WGS84).")
    lon_a, lat_a, lon_b, lat_b = values
    if not (-180 <= lon_a <= 180 and -180 <= lon_b <= 180):
        raise _invalid("bbox", "Longitudes must be between -180 and 180.")
    if not (-90 <= lat_a <= 90 and -90 <= lat_b <= 90):
        raise _invalid("bbox", "Latitudes must be between -90 and 90.")
    return BoundingBox(min(lon_a, lon_b), min(lat_a, lat_b), max(lon_a, lon_b), max(lat_a, lat_b))


def parse_near(text: str, radius_m: float | None) -> Near:
    """``lat,lon`` (WGS84 degrees) and a radius in metres, checked; ValidationFailed if not."""
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 2 or not all(math.isfinite(value) for value in values):
        raise _invalid("near", "Give a latitude and a longitude: lat,lon (WGS84).")
    lat, lon = values
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise _invalid("near", "The latitude must be within ±90 and the longitude within ±180.")
    radius = 500.0 if radius_m is None else radius_m
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_METRES):
        raise _invalid(
            "radius_m", f"The radius must be more than 0 and at most {MAX_RADIUS_METRES:g}."
        )
    return Near(lat, lon, radius)


# --- the search --------------------------------------------------------------------------------


def find_addresses(
    database: Database, filters: AddressFilters, page: PageRequest
) -> Page[AddressPublic]:
    """One page of the addresses matching every filter given (see ``AddressFilters``)."""
    with database.read() as session:
        conditions = _conditions(session, filters)
        if conditions is None:
            return Page(items=[], next_position=None)
        keys: list[ColumnElement[Any]] = [SearchEntry.sort_key.expression]
        extra: list[ColumnElement[Any]] = []
        if filters.near is not None:
            distance = _distance_squared(filters.near)
            extra.append(distance.label("distance"))
            keys = [distance, SearchEntry.sort_key.expression]
        statement = _address_select(*extra).where(*conditions)
        result = keyset_page(
            session,
            statement,
            keys,
            page,
            position_of=lambda row: (
                (row.distance, row.sort_key) if filters.near is not None else (row.sort_key,)
            ),
        )
        return Page(
            items=[_address_of(row) for row in result.items], next_position=result.next_position
        )


# What an address in a response is made of: plain columns of the tables, read as rows, never as
# ORM objects (loading three objects per address and expiring them at the end of the unit of
# work cost more than the query itself). ``_address_of`` unpacks them in this order.
_LPI = AddressRecord.__table__.c
_BLPU = Property.__table__.c
_STREET = Street.__table__.c
_ADDRESS_COLUMNS: tuple[Any, ...] = (
    _LPI.lpi_key,
    _LPI.uprn,
    _LPI.usrn,
    _LPI.sao_start_number,
    _LPI.sao_start_suffix,
    _LPI.sao_end_number,
    _LPI.sao_end_suffix,
    _LPI.sao_text,
    _LPI.pao_start_number,
    _LPI.pao_start_suffix,
    _LPI.pao_end_number,
    _LPI.pao_end_suffix,
    _LPI.pao_text,
    _LPI.postcode,
    _LPI.level,
    _LPI.logical_status,
    _LPI.start_date,
    _LPI.end_date,
    _LPI.last_update_date,
    _LPI.modified_at,
    _BLPU.parent_uprn,
    _BLPU.organisation,
    _BLPU.classification_code,
    _BLPU.latitude,
    _BLPU.longitude,
    _BLPU.easting,
    _BLPU.northing,
    _STREET.descriptor,
    _STREET.locality,
    _STREET.town,
)
_ADDRESS_WIDTH = len(_ADDRESS_COLUMNS)


@cache
def _search_select() -> Select[Any]:
    """The search's statement before its conditions: built once, it is immutable."""
    entry = SearchEntry.__table__.c
    return (
        select(*_ADDRESS_COLUMNS, entry.sort_key)
        .select_from(SearchEntry.__table__)
        .join(AddressRecord.__table__, _LPI.lpi_key == entry.lpi_key)
        .join(Property.__table__, _BLPU.uprn == _LPI.uprn)
        .join(Street.__table__, _STREET.usrn == _LPI.usrn)
    )


def _address_select(*extra: ColumnElement[Any]) -> Select[Any]:
    return _search_select().add_columns(*extra) if extra else _search_select()


def _conditions(session: Session, filters: AddressFilters) -> list[ColumnElement[bool]] | None:
    """SQL conditions for the filters; None when they can match nothing."""
    conditions = _text_conditions(session, filters)
    if conditions is None:
        return None
    return conditions + _field_conditions(filters)


def _text_conditions(session: Session, filters: AddressFilters) -> list[ColumnElement[bool]] | None:
    """Conditions of the free text, postcode and street filters; None if nothing can match."""
    conditions: list[ColumnElement[bool]] = []
    if filters.q is not None and filters.q.strip():
        match = search_index.match_text(session, filters.q)
        if match.lpi_keys is not None:
            if not match.lpi_keys:
                return None
            conditions.append(SearchEntry.lpi_key.in_(match.lpi_keys))
        elif match.condition is not None:
            conditions.append(match.condition)
    if filters.postcode is not None:
        prefixes = postcode_filter(filters.postcode)
        if prefixes is None:
            raise _invalid("postcode", "Give a postcode or the start of one (E8 1AA, E8 1, E8).")
        conditions.append(search_index.postcode_condition(session, prefixes))
    if filters.street is not None:
        names = {filters.street.strip().upper(), " ".join(normalise_words(filters.street))}
        usrns = list(
            session.scalars(select(Street.usrn).where(func.upper(Street.descriptor).in_(names)))
        )
        if not usrns:
            return None
        conditions.append(SearchEntry.usrn.in_(usrns))
    return conditions


def _field_conditions(filters: AddressFilters) -> list[ColumnElement[bool]]:
    """Conditions of the filters on plain fields and places."""
    conditions: list[ColumnElement[bool]] = []
    if filters.building_number is not None:
        number = filters.building_number
        conditions.append(
            or_(
                AddressRecord.pao_start_number == number,
                and_(
                    AddressRecord.pao_start_number < number, AddressRecord.pao_end_number >= number
                ),
            )
        )
    if filters.uprn is not None:
        conditions.append(AddressRecord.uprn == filters.uprn)
    if filters.usrn is not None:
        conditions.append(SearchEntry.usrn == filters.usrn)
    if filters.status:
        conditions.append(AddressRecord.logical_status.in_(sorted(set(filters.status))))
    if filters.classification is not None:
        code = filters.classification.strip().upper()
        if not code.isalnum() or len(code) > 6:
            raise _invalid(
                "classification", "Give a classification code or its start (R, RD, RD04)."
            )
        conditions.append(Property.classification_code.startswith(code, autoescape=True))
    if filters.parent_uprn is not None:
        conditions.append(Property.parent_uprn == filters.parent_uprn)
    if filters.bbox is not None:
        box = filters.bbox
        conditions.append(Property.longitude.between(box.min_lon, box.max_lon))
        conditions.append(Property.latitude.between(box.min_lat, box.max_lat))
    if filters.near is not None:
        conditions.extend(_near_conditions(filters.near))
    if filters.modified_since is not None:
        since = filters.modified_since
        conditions.append(or_(AddressRecord.modified_at >= since, Property.modified_at >= since))
    return conditions


def _longitude_scale(lat: float) -> float:
    return _METRES_PER_DEGREE_LONGITUDE * max(math.cos(math.radians(lat)), 1e-6)


def _near_conditions(near: Near) -> list[ColumnElement[bool]]:
    """The box around the circle (an index range), then the circle itself."""
    dlat = near.radius_m / _METRES_PER_DEGREE_LATITUDE
    dlon = near.radius_m / _longitude_scale(near.lat)
    return [
        Property.longitude.between(near.lon - dlon, near.lon + dlon),
        Property.latitude.between(near.lat - dlat, near.lat + dlat),
        _distance_squared(near) <= near.radius_m * near.radius_m,
    ]


def _distance_squared(near: Near) -> ColumnElement[float]:
    """The squared distance in metres from the point (flat-earth, fine for a few kilometres)."""
    dx = (Property.longitude - near.lon) * _longitude_scale(near.lat)
    dy = (Property.latitude - near.lat) * _METRES_PER_DEGREE_LATITUDE
    return dx * dx + dy * dy


# --- shaping -----------------------------------------------------------------------------------


def utc(moment: datetime) -> datetime:
    """A stored time with its offset (SQLite hands times back without one; they are UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _code(value: int | None, meanings: dict[int, str]) -> CodeMeaning | None:
    return None if value is None else CodeMeaning(code=value, meaning=meanings.get(value))


def _line_of(row: Sequence[Any]) -> str:
    """The printed single-line address of a row starting with ``_ADDRESS_COLUMNS``."""
    (
        _key, _uprn, _usrn, sao_start, sao_start_suffix, sao_end, sao_end_suffix, sao_text,
        pao_start, pao_start_suffix, pao_end, pao_end_suffix, pao_text, postcode, _level,
        _status, _start, _end, _updated, _modified, _parent, organisation, classification_code,
        _lat, _lon, _east, _north, descriptor, locality, town,
    ) = row[:_ADDRESS_WIDTH]  # fmt: skip
    return single_line(
        sao_start_number=sao_start,
        sao_start_suffix=sao_start_suffix,
        sao_end_number=sao_end,
        sao_end_suffix=sao_end_suffix,
        sao_text=sao_text,
        pao_start_number=pao_start,
        pao_start_suffix=pao_start_suffix,
        pao_end_number=pao_end,
        pao_end_suffix=pao_end_suffix,
        pao_text=pao_text,
        street=descriptor,
        locality=locality,
        town=town,
        postcode=postcode,
        organisation=organisation,
        classification_code=classification_code,
    )


def _address_of(row: Sequence[Any]) -> AddressPublic:
    """The public shape of a row starting with ``_ADDRESS_COLUMNS``."""
    (
        lpi_key, uprn, usrn, sao_start, sao_start_suffix, sao_end, sao_end_suffix, sao_text,
        pao_start, pao_start_suffix, pao_end, pao_end_suffix, pao_text, postcode, level,
        logical_status, start_date, end_date, last_update_date, modified_at, parent_uprn,
        organisation, classification_code, latitude, longitude, easting, northing, descriptor,
        locality, town,
    ) = row[:_ADDRESS_WIDTH]  # fmt: skip
    line = _line_of(row)
    usrn_text = str(usrn)
    # One validation of a plain nested dict (in pydantic-core) costs a fraction of building each
    # nested model in Python: it matters at 50 addresses a page.
    return AddressPublic.model_validate(
        {
            "lpi_key": lpi_key,
            "uprn": str(uprn),
            "usrn": usrn_text,
            "parent_uprn": None if parent_uprn is None else str(parent_uprn),
            "single_line": line,
            "organisation": organisation,
            "sao": {
                "start_number": sao_start,
                "start_suffix": sao_start_suffix,
                "end_number": sao_end,
                "end_suffix": sao_end_suffix,
                "text": sao_text,
            },
            "pao": {
                "start_number": pao_start,
                "start_suffix": pao_start_suffix,
                "end_number": pao_end,
                "end_suffix": pao_end_suffix,
                "text": pao_text,
            },
            "street": {
                "usrn": usrn_text,
                "descriptor": descriptor,
                "locality": locality,
                "town": town,
            },
            "postcode": postcode,
            "level": level,
            "logical_status": {
                "code": logical_status,
                "meaning": LPI_LOGICAL_STATUSES.get(logical_status),
            },
            "classification": {
                "code": classification_code,
                "description": describe(classification_code),
            },
            "coordinates": {
                "latitude": latitude,
                "longitude": longitude,
                "easting": easting,
                "northing": northing,
            },
            "start_date": start_date,
            "end_date": end_date,
            "last_update_date": last_update_date,
            "modified_at": utc(modified_at),
        }
    )


# --- one property, one street ------------------------------------------------------------------


_PROPERTY_COLUMNS: tuple[Any, ...] = (
    _BLPU.uprn,
    _BLPU.parent_uprn,
    _BLPU.logical_status,
    _BLPU.blpu_state,
    _BLPU.classification_code,
    _BLPU.latitude,
    _BLPU.longitude,
    _BLPU.easting,
    _BLPU.northing,
    _BLPU.postcode_locator,
    _BLPU.organisation,
    _BLPU.start_date,
    _BLPU.end_date,
    _BLPU.last_update_date,
    _BLPU.modified_at,
)


@cache
def _addresses_select() -> Select[Any]:
    """Addresses of some properties (``uprns``, expanding), each property's approved first."""
    return (
        select(*_ADDRESS_COLUMNS)
        .join(Property.__table__, _BLPU.uprn == _LPI.uprn)
        .join(Street.__table__, _STREET.usrn == _LPI.usrn)
        .where(_LPI.uprn.in_(bindparam("uprns", expanding=True)))
        .order_by(_LPI.uprn, _LPI.logical_status, _LPI.lpi_key)
    )


def _address_rows(session: Session, uprns: Sequence[int]) -> dict[int, list[Any]]:
    """The address rows of these properties, approved first."""
    found: dict[int, list[Any]] = {uprn: [] for uprn in uprns}
    if uprns:
        for row in session.execute(_addresses_select(), {"uprns": list(uprns)}):
            found[row[1]].append(row)
    return found


def _addresses_of(session: Session, uprns: Sequence[int]) -> dict[int, list[AddressPublic]]:
    """Every address of these properties, approved first."""
    rows = _address_rows(session, uprns)
    return {uprn: [_address_of(row) for row in found] for uprn, found in rows.items()}


def _summary(row: Any, addresses: Sequence[Any]) -> dict[str, Any]:
    """A related property in brief: only its first address is printed, never shaped whole."""
    return {
        "uprn": str(row.uprn),
        "single_line": _line_of(addresses[0]) if addresses else None,
        "classification": _classification_of(row.classification_code),
        "coordinates": {
            "latitude": row.latitude,
            "longitude": row.longitude,
            "easting": row.easting,
            "northing": row.northing,
        },
    }


def _classification_of(code: str) -> dict[str, Any]:
    return {"code": code, "description": describe(code)}


def _property(session: Session, uprn: int) -> Property:
    item = session.get(Property, uprn)
    if item is None:
        raise NotFound(f"There is no property with UPRN {uprn}.")
    return item


@cache
def _property_select() -> Select[Any]:
    """A property (``uprn``), and the properties it is related to (its parent and children)."""
    wanted, parent = bindparam("uprn", type_=BigInteger), bindparam("parent", type_=BigInteger)
    return (
        select(*_PROPERTY_COLUMNS)
        .where(or_(_BLPU.uprn == wanted, _BLPU.uprn == parent, _BLPU.parent_uprn == wanted))
        .order_by(_BLPU.uprn)
    )


def get_property(database: Database, uprn: int) -> PropertyPublic:
    """A property with all its addresses (approved first), its parent and its children."""
    with database.read() as session:
        item = session.execute(
            select(*_PROPERTY_COLUMNS).where(_BLPU.uprn == bindparam("uprn")), {"uprn": uprn}
        ).first()
        if item is None:
            raise NotFound(f"There is no property with UPRN {uprn}.")
        related = [
            row
            for row in session.execute(
                _property_select(), {"uprn": uprn, "parent": item.parent_uprn}
            )
            if row.uprn != uprn
        ]
        rows = _address_rows(session, [uprn, *(row.uprn for row in related)])
    parent = next((row for row in related if row.uprn == item.parent_uprn), None)
    return PropertyPublic.model_validate(
        {
            "uprn": str(item.uprn),
            "parent_uprn": None if item.parent_uprn is None else str(item.parent_uprn),
            "logical_status": {
                "code": item.logical_status,
                "meaning": BLPU_LOGICAL_STATUSES.get(item.logical_status),
            },
            "state": None
            if item.blpu_state is None
            else {"code": item.blpu_state, "meaning": BLPU_STATES.get(item.blpu_state)},
            "classification": _classification_of(item.classification_code),
            "coordinates": {
                "latitude": item.latitude,
                "longitude": item.longitude,
                "easting": item.easting,
                "northing": item.northing,
            },
            "postcode_locator": item.postcode_locator,
            "organisation": item.organisation,
            "start_date": item.start_date,
            "end_date": item.end_date,
            "last_update_date": item.last_update_date,
            "modified_at": utc(item.modified_at),
            "addresses": [_address_of(row) for row in rows[uprn]],
            "parent": None if parent is None else _summary(parent, rows[parent.uprn]),
            "children": [
                _summary(row, rows[row.uprn]) for row in related if row.parent_uprn == uprn
            ],
        }
    )


def get_properties(database: Database, uprns: Iterable[int]) -> list[AddressPublic]:
    """The addresses of several properties at once (for the matcher), approved first."""
    wanted = sorted(set(uprns))
    with database.read() as session:
        found = _addresses_of(session, wanted)
    return [address for uprn in wanted for address in found[uprn]]


def _street_point(easting: float, northing: float) -> Coordinates:
    latitudes, longitudes = grid_to_wgs84([easting], [northing])
    return Coordinates(
        latitude=float(latitudes[0]),
        longitude=float(longitudes[0]),
        easting=easting,
        northing=northing,
    )


def get_street(database: Database, usrn: int) -> StreetPublic:
    """A street by its USRN, with how many addresses it has."""
    with database.read() as session:
        street = session.get(Street, usrn)
        if street is None:
            raise NotFound(f"There is no street with USRN {usrn}.")
        count = session.scalar(
            select(func.count()).select_from(AddressRecord).where(AddressRecord.usrn == usrn)
        )
        return StreetPublic(
            usrn=str(street.usrn),
            record_type=CodeMeaning(
                code=street.record_type, meaning=STREET_RECORD_TYPES.get(street.record_type)
            ),
            descriptor=street.descriptor,
            locality=street.locality,
            town=street.town,
            administrative_area=street.administrative_area,
            state=_code(street.state, STREET_STATES),
            start=_street_point(street.start_easting, street.start_northing),
            end=_street_point(street.end_easting, street.end_northing),
            start_date=street.start_date,
            end_date=street.end_date,
            last_update_date=street.last_update_date,
            modified_at=utc(street.modified_at),
            address_count=count or 0,
        )


def street_properties(database: Database, usrn: int, page: PageRequest) -> Page[AddressPublic]:
    """One page of the addresses on a street, in number order; NotFound for an unknown USRN."""
    with database.read() as session:
        if session.get(Street, usrn) is None:
            raise NotFound(f"There is no street with USRN {usrn}.")
    return find_addresses(database, AddressFilters(usrn=usrn), page)


def cross_references(
    database: Database, uprn: int, page: PageRequest
) -> Page[CrossReferencePublic]:
    """One page of a property's identifiers in other systems; NotFound for an unknown UPRN."""
    with database.read() as session:
        _property(session, uprn)
        result = keyset_page(
            session,
            select(CrossReference).where(CrossReference.uprn == uprn),
            [CrossReference.xref_key.expression],
            page,
            position_of=lambda row: (row.CrossReference.xref_key,),
        )
        items = [
            CrossReferencePublic(
                xref_key=ref.xref_key,
                uprn=str(ref.uprn),
                source=ref.source,
                cross_reference=ref.cross_reference,
                version=ref.version,
                start_date=ref.start_date,
                end_date=ref.end_date,
                last_update_date=ref.last_update_date,
            )
            for ref in (row.CrossReference for row in result.items)
        ]
        return Page(items=items, next_position=result.next_position)


def property_history(database: Database, uprn: int, page: PageRequest) -> Page[AddressChangePublic]:
    """One page of the changes Townhall applied to a property, oldest first."""
    with database.read() as session:
        _property(session, uprn)
        result = keyset_page(
            session,
            select(AddressChange).where(AddressChange.uprn == uprn),
            [AddressChange.id.expression],
            page,
            position_of=lambda row: (row.AddressChange.id,),
        )
        items = [
            AddressChangePublic(
                id=change.id,
                recorded_at=utc(change.recorded_at),
                record_type=change.record_type,
                record_key=change.record_key,
                action=change.action,
                changes=change.changes,
            )
            for change in (row.AddressChange for row in result.items)
        ]
        return Page(items=items, next_position=result.next_position)


def modified_since_ok(value: datetime) -> datetime:
    """``modified_since`` with its offset; a time given without one is taken as UTC."""
    return utc(value)
