"""POST /api/v1/address-matches on the small demo borough."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.tokens import TokenIssuer, bearer
from townhall.demo import BoroughSize, build_borough
from townhall.domains.addresses.matching import MemoryGazetteer
from townhall.platform.db import Database

PATH = "/api/v1/address-matches"


def test_matches_addresses_in_order(
    client: TestClient, database: Database, issue_token: TokenIssuer
) -> None:
    build_borough(
        database, council_code="E09000012", size=BoroughSize.SMALL, seed=42, show_progress=False
    )
    house = next(
        a
        for group in MemoryGazetteer.load(database).by_usrn.values()
        for a in group
        if a.logical_status == 1
        and a.pao_number
        and not a.building_words
        and not a.sao_words
        and a.sao_number is None
    )
    token = issue_token(["addresses:read"])
    answer = client.post(
        PATH,
        json={"addresses": [
            {"id": "one", "text": house.single_line},
            {"text": "999 Nonesuch Boulevard", "postcode": "ZZ9 9ZZ"},
        ]},
        headers=bearer(token),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    first, second = answer.json()["results"]
    assert first["id"] == "one"
    assert first["uprn"] == str(house.uprn)
    assert first["verdict"] == "matched"
    assert first["address"] == house.single_line
    assert second["uprn"] is None
    assert second["verdict"] == "no match"


def test_refuses_more_than_1000_and_empty_text(
    client: TestClient, issue_token: TokenIssuer
) -> None:
    headers = bearer(issue_token(["addresses:read"]))
    many = client.post(PATH, json={"addresses": [{"text": "1 A St"}] * 1001}, headers=headers)
    assert many.status_code in (413, 422)
    assert many.headers["content-type"] == "application/problem+json"
    empty = client.post(PATH, json={"addresses": [{"text": "   "}]}, headers=headers)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"].startswith("body.addresses")


def test_needs_the_scope(client: TestClient) -> None:
    assert client.post(PATH, json={"addresses": [{"text": "1 A St"}]}).status_code == 401
