"""GeoJSON: which requests want it, and the Features made from addresses and streets."""

from __future__ import annotations

import pytest

from tests.domains.addresses import search_gazetteer as g
from townhall.domains.addresses import geojson, queries
from townhall.domains.addresses.schemas import AddressFilters
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        (None, False),
        ("", False),
        ("application/json", False),
        ("*/*", False),
        ("application/geo+json", True),
        ("application/geo+json;q=0.9, application/json", False),
        ("application/json;q=0.2, application/geo+json", True),
        ("application/json, application/geo+json", False),
        ("application/geo+json, application/json", True),
        ("application/geo+json;q=0", False),
        ("application/geo+json;q=abc", False),
    ],
)
def test_wants_geojson(accept: str | None, wanted: bool) -> None:
    assert geojson.wants_geojson(accept) is wanted


def test_features(database: Database) -> None:
    g.load(database)
    page = queries.find_addresses(database, AddressFilters(uprn=g.NO_12), PageRequest())
    [address] = page.items
    feature = geojson.address_feature(address)
    assert feature["id"] == address.lpi_key
    assert feature["geometry"] == {
        "type": "Point",
        "coordinates": [address.coordinates.longitude, address.coordinates.latitude],
    }
    assert "coordinates" not in feature["properties"]
    assert feature["properties"]["northing"] == address.coordinates.northing
    collection = geojson.feature_collection([feature], None)
    assert collection == {"type": "FeatureCollection", "features": [feature], "next_cursor": None}

    street = queries.get_street(database, g.MARE_STREET)
    line = geojson.street_feature(street)
    assert line["geometry"]["coordinates"][0] == [street.start.longitude, street.start.latitude]
    assert line["properties"]["usrn"] == str(g.MARE_STREET)

    item = queries.get_property(database, g.HILLTOP_HOUSE)
    assert geojson.property_feature(item)["properties"]["children"][0]["uprn"] == str(g.FLAT[1])
