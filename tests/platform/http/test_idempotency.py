"""Idempotency-Key: a retried create creates one thing and replays the first answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.requests import Request

from townhall.platform.db import Database
from townhall.platform.http.idempotency import IdempotencyRecord, fingerprint
from townhall.platform.http.routing import principal_of


def _count(client: TestClient) -> int:
    return len(client.get("/api/v1/notes", params={"limit": "200"}).json()["items"])


def test_a_retry_with_the_same_key_creates_once_and_replays(notes: TestClient) -> None:
    headers = {"Idempotency-Key": "4a6f0a4e-4c1b-4a43-9f0e-9f0c3a4d2b11"}
    body = {"topic": "bins", "text": "missed collection"}
    first = notes.post("/api/v1/notes", json=body, headers=headers)
    second = notes.post("/api/v1/notes", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["etag"] == first.headers["etag"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(notes) == 1


def test_without_a_key_each_post_creates(notes: TestClient) -> None:
    body = {"topic": "bins", "text": "x"}
    notes.post("/api/v1/notes", json=body)
    notes.post("/api/v1/notes", json=body)
    assert _count(notes) == 2


def test_the_same_key_for_a_different_request_is_a_422(notes: TestClient) -> None:
    headers = {"Idempotency-Key": "key-1"}
    notes.post("/api/v1/notes", json={"topic": "bins", "text": "a"}, headers=headers)
    response = notes.post("/api/v1/notes", json={"topic": "bins", "text": "b"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["type"] == "/problems/idempotency-key-reused"
    assert _count(notes) == 1


def test_keys_of_different_callers_do_not_collide(notes: TestClient) -> None:
    body = {"topic": "bins", "text": "a"}
    notes.post("/api/v1/notes", json=body, headers={"Idempotency-Key": "k", "Authorization": "A"})
    notes.post("/api/v1/notes", json=body, headers={"Idempotency-Key": "k", "Authorization": "B"})
    assert _count(notes) == 2


def test_a_retry_while_the_first_is_in_flight_is_a_409(
    notes: TestClient, notes_app: FastAPI
) -> None:
    body = b'{"topic":"bins","text":"a"}'
    store = notes_app.state.townhall.idempotency
    principal = principal_of(Request({"type": "http", "headers": [], "state": {}}))
    assert store.reserve(principal, "busy", fingerprint("POST", "/api/v1/notes", "", body)) is None
    response = notes.post(
        "/api/v1/notes",
        content=body,
        headers={"Idempotency-Key": "busy", "Content-Type": "application/json"},
    )
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/idempotency-key-in-flight"
    assert response.headers["retry-after"] == "1"
    assert _count(notes) == 0


def test_an_expired_key_may_be_used_again(notes: TestClient, database: Database) -> None:
    headers = {"Idempotency-Key": "old"}
    body = {"topic": "bins", "text": "a"}
    notes.post("/api/v1/notes", json=body, headers=headers)
    with database.write() as session:
        session.execute(
            update(IdempotencyRecord).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    again = notes.post("/api/v1/notes", json=body, headers=headers)
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert _count(notes) == 2


def test_an_invalid_key_is_a_400(notes: TestClient) -> None:
    response = notes.post(
        "/api/v1/notes", json={"topic": "b", "text": "a"}, headers={"Idempotency-Key": "a b"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-header"
    assert _count(notes) == 0


def test_a_refused_request_does_not_use_up_its_key(notes: TestClient) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    invalid = notes.post("/api/v1/notes", json={"topic": ""}, headers=headers)
    assert invalid.status_code == 422
    # The caller fixes the body and retries with the same key: it is created, once.
    fixed = notes.post("/api/v1/notes", json={"topic": "b", "text": "a"}, headers=headers)
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers
    assert _count(notes) == 1
