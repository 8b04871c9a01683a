"""GeoJSON (RFC 7946) for the addresses API: what a client gets when it asks for
``application/geo+json``.

This module owns turning addresses, properties and streets into Features (WGS84 points and
lines, longitude first) whose properties are the JSON representation without its coordinates,
plus easting and northing (British National Grid). It also holds the JSON Schemas the OpenAPI
document gives for these bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from townhall.domains.addresses.schemas import (
    AddressPublic,
    Coordinates,
    PropertyPublic,
    StreetPublic,
)

GEOJSON = "application/geo+json"


def _point(coordinates: Coordinates) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [coordinates.longitude, coordinates.latitude]}


def _properties(item: BaseModel, coordinates: Coordinates) -> dict[str, Any]:
    properties: dict[str, Any] = item.model_dump(mode="json", exclude={"coordinates"})
    properties["easting"] = coordinates.easting
    properties["northing"] = coordinates.northing
    return properties


def address_feature(address: AddressPublic) -> dict[str, Any]:
    """An address as a Feature: its property's point; its LPI key is the Feature's id."""
    return {
        "type": "Feature",
        "id": address.lpi_key,
        "geometry": _point(address.coordinates),
        "properties": _properties(address, address.coordinates),
    }


def property_feature(item: PropertyPublic) -> dict[str, Any]:
    """A property as a Feature: its point; its UPRN is the Feature's id."""
    return {
        "type": "Feature",
        "id": item.uprn,
        "geometry": _point(item.coordinates),
        "properties": _properties(item, item.coordinates),
    }


def street_feature(street: StreetPublic) -> dict[str, Any]:
    """A street as a Feature: the line from its start to its end; its USRN is the id."""
    properties: dict[str, Any] = street.model_dump(mode="json")
    return {
        "type": "Feature",
        "id": street.usrn,
        "geometry": {
            "type": "LineString",
            "coordinates": [
                [street.start.longitude, street.start.latitude],
                [street.end.longitude, street.end.latitude],
            ],
        },
        "properties": properties,
    }


def feature_collection(
    features: Sequence[dict[str, Any]], next_cursor: str | None
) -> dict[str, Any]:
    """Features of one page; ``next_cursor`` continues the list as in the JSON form."""
    return {"type": "FeatureCollection", "features": list(features), "next_cursor": next_cursor}


# --- JSON Schemas for the OpenAPI document ------------------------------------------------------

_GEOMETRY: dict[str, Any] = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Point", "LineString"]},
        "coordinates": {"type": "array"},
    },
}
FEATURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A GeoJSON Feature (RFC 7946): WGS84 geometry, longitude first; the "
    "properties are the JSON representation, with easting and northing.",
    "required": ["type", "id", "geometry", "properties"],
    "properties": {
        "type": {"type": "string", "enum": ["Feature"]},
        "id": {"type": "string"},
        "geometry": _GEOMETRY,
        "properties": {"type": "object"},
    },
}
FEATURE_COLLECTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A page of GeoJSON Features (RFC 7946); `next_cursor` continues the list.",
    "required": ["type", "features", "next_cursor"],
    "properties": {
        "type": {"type": "string", "enum": ["FeatureCollection"]},
        "features": {"type": "array", "items": FEATURE_SCHEMA},
        "next_cursor": {"type": ["string", "null"]},
    },
}


def wants_geojson(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers GeoJSON to JSON (by q-value, then by order)."""
    if not accept:
        return False
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(accept.split(",")):
        fields = [field.strip() for field in part.split(";")]
        media_type = fields[0].lower()
        quality = 1.0
        for parameter in fields[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media_type not in (GEOJSON, "application/json") or quality <= 0:
            continue
        candidate = (-quality, position, media_type)
        if best is None or candidate < best:
            best = candidate
    return best is not None and best[2] == GEOJSON
