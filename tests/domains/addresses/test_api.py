"""The addresses API over HTTP: filters, pages, GeoJSON, access and bad input."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.domains.addresses import search_gazetteer as g
from tests.tokens import TokenIssuer, bearer
from townhall.platform.db import Database

GEOJSON = {"Accept": "application/geo+json"}


@pytest.fixture
def headers(database: Database, issue_token: TokenIssuer) -> dict[str, str]:
    g.load(database)
    return bearer(issue_token(["addresses:read"]))


def test_search_by_free_text(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/api/v1/addresses", params={"q": "12 mare stret"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["uprn"] for item in body["items"]] == [str(g.NO_12), str(g.NO_12A)]
    assert body["next_cursor"] is None
    first = body["items"][0]
    assert first["single_line"] == "12 MARE STREET, HACKNEY, LONDON, E8 1AA"
    assert first["usrn"] == str(g.MARE_STREET)
    assert first["pao"] == {
        "start_number": 12, "start_suffix": None, "end_number": None, "end_suffix": None,
        "text": None,
    }  # fmt: skip
    assert first["logical_status"] == {"code": 1, "meaning": "Approved"}
    assert first["classification"] == {"code": "RD04", "description": "Terraced"}
    assert set(first["coordinates"]) == {"latitude", "longitude", "easting", "northing"}
    assert first["modified_at"].endswith(("Z", "+00:00"))


def test_every_filter_is_a_query_parameter(client: TestClient, headers: dict[str, str]) -> None:
    cases: list[tuple[dict[str, str | list[str]], set[str]]] = [
        ({"postcode": "e81aa"}, {str(g.NO_12), str(g.NO_12A), str(g.NO_9_HISTORIC)}),
        ({"uprn": str(g.NO_21)}, {str(g.NO_21)}),
        ({"usrn": str(g.MARTELLO_STREET)}, {str(g.MARTELLO_3)}),
        ({"street": "MARTELLO street"}, {str(g.MARTELLO_3)}),
        ({"building_number": "17"}, {str(g.NO_16_18)}),
        ({"status": ["3", "8"]}, {str(g.FLAT[3]), str(g.NO_9_HISTORIC)}),
        ({"classification": "ZW"}, {str(g.CHURCH)}),
        ({"parent_uprn": str(g.HILLTOP_HOUSE)}, {str(u) for u in g.FLAT.values()}),
        ({"bbox": "-0.0470,51.54,-0.0450,51.55"}, {str(g.MARTELLO_3)}),
        ({"near": "51.5450,-0.0454", "radius_m": "5"}, {str(g.MARTELLO_3)}),
        ({"modified_since": "2999-01-01T00:00:00Z"}, set()),
    ]
    for params, expected in cases:
        response = client.get("/api/v1/addresses", params=params, headers=headers)
        assert response.status_code == 200, (params, response.text)
        assert {item["uprn"] for item in response.json()["items"]} == expected, params


def test_pages_follow_the_link(client: TestClient, headers: dict[str, str]) -> None:
    seen: list[str] = []
    url: str | None = "/api/v1/addresses?street=Mare%20Street&limit=3"
    while url is not None:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        seen.extend(item["lpi_key"] for item in response.json()["items"])
        cursor = response.json()["next_cursor"]
        url = f"/api/v1/addresses?street=Mare%20Street&limit=3&cursor={cursor}" if cursor else None
        if cursor:
            assert 'rel="next"' in response.headers["link"]
    assert seen == [g.lpi_key(n) for n in (10, 1, 3, 4, 2, 5, 6, 7, 8, 9)]


def test_a_cursor_from_other_filters_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    first = client.get("/api/v1/addresses", params={"limit": 1}, headers=headers).json()
    response = client.get(
        "/api/v1/addresses",
        params={"limit": 1, "postcode": "E8", "cursor": first["next_cursor"]},
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-cursor"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"postcode": "not a postcode"}, "query.postcode"),
        ({"postcode": "E8 1AAB"}, "query.postcode"),
        ({"bbox": "-200,51,0,52"}, "query.bbox"),
        ({"bbox": "0,51,1"}, "query.bbox"),
        ({"near": "95,0"}, "query.near"),
        ({"near": "51.5,-0.05", "radius_m": "50000"}, "query.radius_m"),
        ({"uprn": "12ab"}, "query.uprn"),
        ({"status": "2"}, "query.status.0"),
        ({"classification": "R-1"}, "query.classification"),
        ({"limit": "0"}, "query.limit"),
        # Beyond BS 7666's four digits, and beyond PostgreSQL's smallint: once a 500 there.
        ({"building_number": "87944"}, "query.building_number"),
        ({"building_number": "10000"}, "query.building_number"),
    ],
)
def test_bad_input_is_a_422_naming_the_parameter(
    client: TestClient, headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = client.get("/api/v1/addresses", params=params, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]


def test_a_property(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get(f"/api/v1/properties/{g.HILLTOP_HOUSE}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["uprn"] == str(g.HILLTOP_HOUSE)
    assert body["classification"] == {"code": "PP", "description": "Property Shell"}
    assert [a["lpi_key"] for a in body["addresses"]] == [g.lpi_key(5)]
    assert [child["uprn"] for child in body["children"]] == [str(u) for u in g.FLAT.values()]
    assert body["parent"] is None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/properties/999999", 404),
        ("/api/v1/properties/abc", 422),
        ("/api/v1/properties/1234567890123", 422),
        ("/api/v1/properties/999999/cross-references", 404),
        ("/api/v1/properties/999999/history", 404),
        ("/api/v1/streets/999999", 404),
        ("/api/v1/streets/x1/properties", 422),
        ("/api/v1/streets/999999/properties", 404),
    ],
)
def test_unknown_and_malformed_identifiers(
    client: TestClient, headers: dict[str, str], path: str, status: int
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"


def test_a_street_and_its_addresses(client: TestClient, headers: dict[str, str]) -> None:
    street = client.get(f"/api/v1/streets/{g.MARE_STREET}", headers=headers)
    assert street.status_code == 200, street.text
    assert street.json()["descriptor"] == "Mare Street"
    assert street.json()["address_count"] == 10
    listed = client.get(
        f"/api/v1/streets/{g.MARE_STREET}/properties", params={"limit": 2}, headers=headers
    )
    assert [item["lpi_key"] for item in listed.json()["items"]] == [g.lpi_key(10), g.lpi_key(1)]
    assert listed.json()["next_cursor"] is not None


def test_cross_references_and_history_lists(client: TestClient, headers: dict[str, str]) -> None:
    for suffix in ("cross-references", "history"):
        response = client.get(f"/api/v1/properties/{g.NO_12}/{suffix}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == {"items": [], "next_cursor": None}


def test_geojson_on_request(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get(
        "/api/v1/addresses", params={"postcode": "E8 1AA", "limit": 2}, headers=headers | GEOJSON
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) == 2
    assert body["next_cursor"] is not None
    assert 'rel="next"' in response.headers["link"]
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "Point"
    longitude, latitude = feature["geometry"]["coordinates"]
    assert -1 < longitude < 0
    assert 51 < latitude < 52
    assert feature["properties"]["uprn"] == str(g.NO_9_HISTORIC)
    assert feature["properties"]["easting"] == 534055.0

    one = client.get(f"/api/v1/properties/{g.NO_12}", headers=headers | GEOJSON)
    assert one.headers["content-type"] == "application/geo+json"
    assert one.json()["type"] == "Feature"
    street = client.get(f"/api/v1/streets/{g.MARE_STREET}", headers=headers | GEOJSON)
    assert street.json()["geometry"]["type"] == "LineString"


def test_json_unless_geojson_is_preferred(client: TestClient, headers: dict[str, str]) -> None:
    accept = {"Accept": "application/json, application/geo+json;q=0.5"}
    response = client.get(f"/api/v1/properties/{g.NO_12}", headers=headers | accept)
    assert response.headers["content-type"] == "application/json"


def test_the_openapi_document_offers_geojson(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/api/v1/addresses"]["get"]
    assert operation["operationId"] == "addresses_find_addresses"
    assert set(operation["responses"]["200"]["content"]) == {
        "application/json",
        "application/geo+json",
    }


def test_reading_needs_the_scope(
    client: TestClient, database: Database, issue_token: TokenIssuer
) -> None:
    g.load(database)
    assert client.get("/api/v1/addresses").status_code == 401
    other = bearer(issue_token(["consumers:read"]))
    assert client.get(f"/api/v1/properties/{g.NO_12}", headers=other).status_code == 403
