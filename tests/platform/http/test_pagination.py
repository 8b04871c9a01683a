"""Cursor pagination: opaque, signed, stable under inserts; a cursor we did not issue is a 400."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from townhall.errors import InvalidCursor
from townhall.platform.http.pagination import CursorCodec


def _create(client: TestClient, count: int, topic: str = "bins") -> list[str]:
    ids = []
    for n in range(count):
        response = client.post("/api/v1/notes", json={"topic": topic, "text": f"note {n}"})
        assert response.status_code == 201
        ids.append(response.json()["id"])
    return ids


def _walk(client: TestClient, **params: str) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = client.get("/api/v1/notes", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            assert 'rel="next"' not in response.headers["link"]
            return pages
        assert f"cursor={cursor}" in response.headers["link"]


def test_pages_cover_every_item_once_in_order(notes: TestClient) -> None:
    ids = _create(notes, 12)
    pages = _walk(notes, limit="5")
    assert [len(page) for page in pages] == [5, 5, 2]
    assert [item for page in pages for item in page] == ids


def test_default_and_maximum_limit(notes: TestClient) -> None:
    _create(notes, 3)
    assert len(notes.get("/api/v1/notes").json()["items"]) == 3
    response = notes.get("/api/v1/notes", params={"limit": "201"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"


def test_empty_list_is_an_empty_page(notes: TestClient) -> None:
    body = notes.get("/api/v1/notes").json()
    assert body == {"items": [], "next_cursor": None}


def test_stable_when_items_are_inserted_between_pages(notes: TestClient) -> None:
    ids = _create(notes, 6)
    first = notes.get("/api/v1/notes", params={"limit": "3"}).json()
    # New items land after the boundary; none of the first page's neighbours shift.
    added = _create(notes, 2)
    second = notes.get("/api/v1/notes", params={"limit": "3", "cursor": first["next_cursor"]})
    rest = [item["id"] for item in second.json()["items"]]
    assert rest == ids[3:6]
    third = notes.get(
        "/api/v1/notes", params={"limit": "3", "cursor": second.json()["next_cursor"]}
    ).json()
    assert [item["id"] for item in third["items"]] == added


def test_filters_apply_on_every_page(notes: TestClient) -> None:
    bins = _create(notes, 3, topic="bins")
    _create(notes, 3, topic="parking")
    pages = _walk(notes, limit="2", topic="bins")
    assert [item for page in pages for item in page] == bins


def test_a_cursor_used_with_other_filters_is_a_400(notes: TestClient) -> None:
    _create(notes, 4)
    cursor = notes.get("/api/v1/notes", params={"limit": "2"}).json()["next_cursor"]
    response = notes.get("/api/v1/notes", params={"limit": "2", "topic": "bins", "cursor": cursor})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-cursor"


def test_a_forged_cursor_is_a_400(notes: TestClient) -> None:
    _create(notes, 4)
    cursor = notes.get("/api/v1/notes", params={"limit": "2"}).json()["next_cursor"]
    _payload, signature = cursor.split(".")
    # Rewrite the position to jump ahead, keeping the old signature.
    forged_payload = base64.urlsafe_b64encode(json.dumps({"v": 1, "p": [1]}).encode())
    forged = forged_payload.decode().rstrip("=") + "." + signature
    response = notes.get("/api/v1/notes", params={"limit": "2", "cursor": forged})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-cursor"
    assert response.headers["content-type"] == "application/problem+json"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Surrogates cannot be sent at all (a URL is UTF-8), so they are not a cursor a client could send.
@given(
    cursor=st.text(
        st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=200
    )
)
def test_any_made_up_cursor_is_a_400_never_a_500(notes: TestClient, cursor: str) -> None:
    response = notes.get("/api/v1/notes", params={"cursor": cursor})
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "/problems/invalid-cursor"


def test_cursors_from_another_instance_key_are_refused() -> None:
    mine = CursorCodec(b"one key")
    theirs = CursorCodec(b"another key")
    token = theirs.encode([10], scope="/api/v1/notes?[]")
    assert mine.decode(mine.encode([10], scope="s"), scope="s") == (10,)
    with pytest.raises(InvalidCursor):
        mine.decode(token, scope="/api/v1/notes?[]")


def test_a_cursor_holding_a_nul_character_fails_validation(notes: TestClient) -> None:
    response = notes.get("/api/v1/notes", params={"cursor": "abc\x00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query"
