"""ETag on reads; If-Match on changes: 428 without it, 412 when stale; 304 on If-None-Match."""

from __future__ import annotations

from fastapi.testclient import TestClient


def _note(client: TestClient) -> tuple[str, str]:
    response = client.post("/api/v1/notes", json={"topic": "bins", "text": "first"})
    return response.json()["id"], response.headers["etag"]


def test_reads_carry_a_strong_etag(notes: TestClient) -> None:
    note_id, created_etag = _note(notes)
    response = notes.get(f"/api/v1/notes/{note_id}")
    assert response.headers["etag"] == created_etag
    assert created_etag.startswith('"')
    assert created_etag.endswith('"')


def test_change_without_if_match_is_a_428(notes: TestClient) -> None:
    note_id, _ = _note(notes)
    response = notes.patch(f"/api/v1/notes/{note_id}", json={"text": "second"})
    assert response.status_code == 428
    assert response.json()["type"] == "/problems/precondition-required"
    assert notes.get(f"/api/v1/notes/{note_id}").json()["text"] == "first"


def test_change_with_the_current_etag_applies_and_returns_a_new_one(notes: TestClient) -> None:
    note_id, etag = _note(notes)
    response = notes.patch(
        f"/api/v1/notes/{note_id}",
        json={"text": "second"},
        headers={"If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "second"
    assert response.headers["etag"] != etag


def test_change_with_a_stale_etag_is_a_412_and_changes_nothing(notes: TestClient) -> None:
    note_id, etag = _note(notes)
    notes.patch(f"/api/v1/notes/{note_id}", json={"text": "theirs"}, headers={"If-Match": etag})
    response = notes.patch(
        f"/api/v1/notes/{note_id}", json={"text": "mine"}, headers={"If-Match": etag}
    )
    assert response.status_code == 412
    assert response.json()["type"] == "/problems/precondition-failed"
    current = notes.get(f"/api/v1/notes/{note_id}")
    assert current.json()["text"] == "theirs"
    assert response.headers["etag"] == current.headers["etag"]


def test_if_match_star_and_lists(notes: TestClient) -> None:
    note_id, etag = _note(notes)
    listed = notes.patch(
        f"/api/v1/notes/{note_id}", json={"text": "b"}, headers={"If-Match": f'"nope", {etag}'}
    )
    assert listed.status_code == 200
    star = notes.patch(f"/api/v1/notes/{note_id}", json={"text": "c"}, headers={"If-Match": "*"})
    assert star.status_code == 200


def test_weak_etags_never_match_if_match(notes: TestClient) -> None:
    note_id, etag = _note(notes)
    response = notes.patch(
        f"/api/v1/notes/{note_id}", json={"text": "b"}, headers={"If-Match": f"W/{etag}"}
    )
    assert response.status_code == 412


def test_unquoted_if_match_fails_validation_of_that_header(notes: TestClient) -> None:
    note_id, _ = _note(notes)
    response = notes.patch(
        f"/api/v1/notes/{note_id}", json={"text": "b"}, headers={"If-Match": "abc"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.If-Match"


def test_unquoted_if_none_match_is_a_400(notes: TestClient) -> None:
    note_id, _ = _note(notes)
    response = notes.get(f"/api/v1/notes/{note_id}", headers={"If-None-Match": "abc"})
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/invalid-header"


def test_if_none_match_gives_304(notes: TestClient) -> None:
    note_id, etag = _note(notes)
    response = notes.get(f"/api/v1/notes/{note_id}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.content == b""
