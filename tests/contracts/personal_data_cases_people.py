"""The people domain's personal-data routes, as the contract test calls them."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.contracts.personal_data_world import Case, World

PEOPLE = "/api/v1/people"


def read_source_record(world: World) -> httpx.Response:
    return world.client.get(
        f"{PEOPLE}/source-records/{world.source_record_id}",
        headers=world.token_headers("people:read"),
    )


def search_residents(world: World) -> httpx.Response:
    return world.client.get(
        f"{PEOPLE}/residents", params={"q": "grace"}, headers=world.token_headers("people:read")
    )


def read_resident(world: World) -> httpx.Response:
    return world.client.get(
        f"{PEOPLE}/residents/{world.resident_id}", headers=world.token_headers("people:read")
    )


def read_links(world: World) -> httpx.Response:
    return world.client.get(
        f"{PEOPLE}/residents/{world.resident_id}/links",
        headers=world.token_headers("people:read"),
    )


def merge(world: World) -> httpx.Response:
    return world.client.post(
        f"{PEOPLE}/residents/{world.resident_id}/merge",
        json={"other_resident_id": world.other_resident_id, "reason": "Same NI number"},
        headers=world.token_headers("people:write"),
    )


def unlink(world: World) -> httpx.Response:
    merged = merge(world)
    assert merged.status_code == 201, merged.text
    return world.client.post(
        f"{PEOPLE}/residents/{world.resident_id}/unlink",
        json={"source_record_id": world.other_record_id, "reason": "Different person"},
        headers=world.token_headers("people:write"),
    )


def read_decision(world: World) -> httpx.Response:
    return world.client.get(
        f"{PEOPLE}/decisions/{world.decision_id}", headers=world.token_headers("people:read")
    )


def undo_decision(world: World) -> httpx.Response:
    return world.client.post(
        f"{PEOPLE}/decisions/{world.decision_id}/undo",
        json={"reason": "Linked with the wrong model"},
        headers=world.token_headers("people:write"),
    )


def list_review_items(world: World) -> httpx.Response:
    return world.client.get(f"{PEOPLE}/review-items", headers=world.token_headers("people:read"))


def read_review_item(world: World) -> httpx.Response:
    return world.client.get(
        f"{PEOPLE}/review-items/{world.review_item_id}",
        headers=world.token_headers("people:read"),
    )


def decide_review_item(verdict: str) -> Callable[[World], httpx.Response]:
    def call(world: World) -> httpx.Response:
        return world.client.post(
            f"{PEOPLE}/review-items/{world.review_item_id}/{verdict}",
            json={"reason": "Checked the tenancy file"},
            headers=world.token_headers("people:write"),
        )

    return call


CASES = [
    Case("GET", "/api/v1/people/source-records/{record_id}", read_source_record),
    Case("GET", "/api/v1/people/residents", search_residents),
    Case("GET", "/api/v1/people/residents/{resident_id}", read_resident),
    Case("GET", "/api/v1/people/residents/{resident_id}/links", read_links),
    Case("POST", "/api/v1/people/residents/{resident_id}/merge", merge),
    Case("POST", "/api/v1/people/residents/{resident_id}/unlink", unlink),
    Case("GET", "/api/v1/people/decisions/{decision_id}", read_decision),
    Case("POST", "/api/v1/people/decisions/{decision_id}/undo", undo_decision),
    Case("GET", "/api/v1/people/review-items", list_review_items),
    Case("GET", "/api/v1/people/review-items/{item_id}", read_review_item),
    Case("POST", "/api/v1/people/review-items/{item_id}/accept", decide_review_item("accept")),
    Case("POST", "/api/v1/people/review-items/{item_id}/reject", decide_review_item("reject")),
]
