"""The consumers admin API end to end: a token from /oauth/token, then every operation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.platform.auth.factories import Caller, token_caller
from townhall.app import create_app
from townhall.platform.auth import consumers
from townhall.platform.db import Database
from townhall.settings import Settings

NEW_CONSUMER = {
    "name": "Parking permits",
    "owning_team": "Parking",
    "contact_email": "parking@example.gov.uk",
    "kind": "council_service",
}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def admin(client: TestClient, database: Database) -> Caller:
    return token_caller(client, database, "consumers:read", "consumers:write")


@pytest.fixture
def reader(client: TestClient, database: Database) -> Caller:
    return token_caller(client, database, "consumers:read")


def _create(client: TestClient, admin: Caller, **fields: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/consumers", json={**NEW_CONSUMER, **fields}, headers=admin.headers
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_create_answers_201_with_the_secret_once(
    client: TestClient, database: Database, admin: Caller
) -> None:
    answer = client.post("/api/v1/consumers", json=NEW_CONSUMER, headers=admin.headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["client_secret"].startswith("thsec_")
    assert answer.headers["Location"].endswith(f"/api/v1/consumers/{body['id']}")
    assert answer.headers["ETag"]
    assert RFC3339_UTC.match(body["created_at"])
    assert consumers.verify_client_secret(
        database, body["client_id"], body["client_secret"], environment="test"
    )

    shown = client.get(answer.headers["Location"], headers=admin.headers)
    assert shown.status_code == 200
    assert "client_secret" not in shown.json()
    assert shown.json() == {k: v for k, v in body.items() if k != "client_secret"}
    assert shown.headers["ETag"] == answer.headers["ETag"]


def test_a_retried_create_with_an_idempotency_key_registers_one_consumer(
    client: TestClient, admin: Caller
) -> None:
    headers = {**admin.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/consumers", json=NEW_CONSUMER, headers=headers)
    again = client.post("/api/v1/consumers", json=NEW_CONSUMER, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    listed = client.get("/api/v1/consumers", params={"q": "parking"}, headers=admin.headers)
    assert [c["id"] for c in listed.json()["items"]] == [first.json()["id"]]


def test_create_refuses_unknown_properties(client: TestClient, admin: Caller) -> None:
    answer = client.post(
        "/api/v1/consumers", json={**NEW_CONSUMER, "scopes": ["x:y"]}, headers=admin.headers
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "body.scopes"


def test_the_list_pages_and_filters(client: TestClient, admin: Caller) -> None:
    for name in ("Waste", "Housing repairs", "Open data app"):
        _create(client, admin, name=name, kind="public" if "Open" in name else "partner")
    page = client.get("/api/v1/consumers", params={"limit": 2}, headers=admin.headers)
    assert page.status_code == 200
    first = page.json()
    assert [c["name"] for c in first["items"]] == ["Administration", "Housing repairs"]
    assert 'rel="next"' in page.headers["Link"]
    rest = client.get(
        "/api/v1/consumers",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=admin.headers,
    ).json()
    assert [c["name"] for c in rest["items"]] == ["Open data app", "Waste"]
    assert rest["next_cursor"] is None

    public = client.get("/api/v1/consumers", params={"kind": "public"}, headers=admin.headers)
    assert [c["name"] for c in public.json()["items"]] == ["Open data app"]
    enabled = client.get("/api/v1/consumers", params={"enabled": "false"}, headers=admin.headers)
    assert enabled.json()["items"] == []


def test_patch_needs_if_match_and_changes_the_etag(client: TestClient, admin: Caller) -> None:
    created = _create(client, admin)
    url = f"/api/v1/consumers/{created['id']}"
    etag = client.get(url, headers=admin.headers).headers["ETag"]
    patch = {"name": "Parking permits and suspensions", "quota_per_day": 1000}

    missing = client.patch(url, json=patch, headers=admin.headers)
    assert missing.status_code == 428
    stale = client.patch(url, json=patch, headers={**admin.headers, "If-Match": '"v0"'})
    assert stale.status_code == 412
    changed = client.patch(
        url,
        json=patch,
        headers={
            **admin.headers,
            "If-Match": etag,
            "Content-Type": "application/merge-patch+json",
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Parking permits and suspensions"
    assert changed.json()["quota_per_day"] == 1000
    assert changed.headers["ETag"] != etag
    again = client.patch(url, json={"name": "X"}, headers={**admin.headers, "If-Match": etag})
    assert again.status_code == 412


@pytest.mark.parametrize("patch", [{"name": None}, {"enabled": None}, {"client_id": "x"}])
def test_patch_refuses_what_cannot_change(
    client: TestClient, admin: Caller, patch: dict[str, Any]
) -> None:
    created = _create(client, admin)
    answer = client.patch(
        f"/api/v1/consumers/{created['id']}", json=patch, headers={**admin.headers, "If-Match": "*"}
    )
    assert answer.status_code == 422


@pytest.fixture
def uncached_client(settings: Settings) -> Iterator[TestClient]:
    """A client of an app that reads a consumer's access on every request."""
    app = create_app(settings.model_copy(update={"access_cache_seconds": 0}))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_disabling_a_consumer_stops_its_token(
    uncached_client: TestClient, database: Database
) -> None:
    client = uncached_client
    admin = token_caller(client, database, "consumers:read", "consumers:write")
    reader = token_caller(client, database, "consumers:read")
    assert client.get("/api/v1/consumers", headers=reader.headers).status_code == 200
    answer = client.patch(
        f"/api/v1/consumers/{reader.consumer_id}",
        json={"enabled": False},
        headers={**admin.headers, "If-Match": "*"},
    )
    assert answer.status_code == 200
    assert answer.json()["enabled"] is False
    assert client.get("/api/v1/consumers", headers=reader.headers).status_code == 401


def test_revoking_a_grant_takes_the_scope_from_live_tokens(
    uncached_client: TestClient, database: Database
) -> None:
    client = uncached_client
    admin = token_caller(client, database, "consumers:read", "consumers:write")
    reader = token_caller(client, database, "consumers:read")
    grants_url = f"/api/v1/consumers/{reader.consumer_id}/grants"
    [grant] = client.get(grants_url, headers=admin.headers).json()["items"]
    revoked = client.delete(
        f"{grants_url}/{grant['id']}", headers={**admin.headers, "If-Match": "*"}
    )
    assert revoked.status_code == 204
    refused = client.get("/api/v1/consumers", headers=reader.headers)
    assert refused.status_code == 403


def test_the_worker_that_makes_a_change_applies_it_at_once_despite_its_cache(
    client: TestClient, database: Database
) -> None:
    # The default cache keeps a consumer's access for seconds; the changing worker forgets it.
    admin = token_caller(client, database, "consumers:read", "consumers:write")
    reader = token_caller(client, database, "consumers:read")
    other = token_caller(client, database, "consumers:read")
    for caller in (reader, other):
        assert client.get("/api/v1/consumers", headers=caller.headers).status_code == 200
    disabled = client.patch(
        f"/api/v1/consumers/{reader.consumer_id}",
        json={"enabled": False},
        headers={**admin.headers, "If-Match": "*"},
    )
    assert disabled.status_code == 200
    assert client.get("/api/v1/consumers", headers=reader.headers).status_code == 401
    grants_url = f"/api/v1/consumers/{other.consumer_id}/grants"
    [grant] = client.get(grants_url, headers=admin.headers).json()["items"]
    revoked = client.delete(
        f"{grants_url}/{grant['id']}", headers={**admin.headers, "If-Match": "*"}
    )
    assert revoked.status_code == 204
    assert client.get("/api/v1/consumers", headers=other.headers).status_code == 403


def test_rotating_a_secret_answers_201_with_the_new_secret_once(
    client: TestClient, database: Database, admin: Caller
) -> None:
    created = _create(client, admin)
    url = f"/api/v1/consumers/{created['id']}/secrets"
    answer = client.post(url, json={"overlap_hours": 1}, headers=admin.headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["client_secret"].startswith("thsec_")
    assert body["client_id"] == created["client_id"]
    assert RFC3339_UTC.match(body["previous_secrets_expire_at"])
    for secret in (created["client_secret"], body["client_secret"]):
        assert consumers.verify_client_secret(
            database, created["client_id"], secret, environment="test"
        )

    record = client.get(answer.headers["Location"], headers=admin.headers)
    assert record.status_code == 200
    assert record.json() == {"id": body["id"], "created_at": body["created_at"], "expires_at": None}
    listed = client.get(url, headers=admin.headers).json()["items"]
    assert [s["expires_at"] is None for s in listed] == [False, True]
    assert "thsec_" not in str(listed)

    without_body = client.post(url, headers=admin.headers)
    assert without_body.status_code == 201, without_body.text


def test_grants_are_made_listed_and_revoked_with_if_match(
    client: TestClient, database: Database, admin: Caller
) -> None:
    created = _create(client, admin)
    url = f"/api/v1/consumers/{created['id']}/grants"
    made = client.post(
        url, json={"scope": "consumers:read", "purpose": "Audit"}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    grant = made.json()
    assert (grant["environment"], grant["approved_by"]) == ("test", f"consumer:{admin.consumer_id}")
    assert made.headers["Location"].endswith(f"{url}/{grant['id']}")
    twice = client.post(
        url, json={"scope": "consumers:read", "purpose": "Audit"}, headers=admin.headers
    )
    assert twice.status_code == 409
    unknown = client.post(url, json={"scope": "bins:empty", "purpose": "x"}, headers=admin.headers)
    assert unknown.status_code == 422
    assert "not a scope this instance knows" in unknown.json()["detail"]

    listed = client.get(url, headers=admin.headers).json()["items"]
    assert [g["id"] for g in listed] == [grant["id"]]

    grant_url = made.headers["Location"]
    assert client.delete(grant_url, headers=admin.headers).status_code == 428
    etag = client.get(grant_url, headers=admin.headers).headers["ETag"]
    revoked = client.delete(grant_url, headers={**admin.headers, "If-Match": etag})
    assert revoked.status_code == 204
    assert client.delete(grant_url, headers={**admin.headers, "If-Match": etag}).status_code == 412
    after = client.get(grant_url, headers=admin.headers).json()
    assert after["revoked_by"] == f"consumer:{admin.consumer_id}"
    access = consumers.consumer_access(database, created["id"], environment="test")
    assert access is not None
    assert access.grants == ()


def test_a_grant_for_another_environment_is_not_in_force_here(
    client: TestClient, database: Database, admin: Caller
) -> None:
    created = _create(client, admin)
    answer = client.post(
        f"/api/v1/consumers/{created['id']}/grants",
        json={
            "scope": "consumers:read",
            "purpose": "Production audit",
            "environment": "production",
            "expires_at": "2099-01-01T00:00:00Z",
        },
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["expires_at"] == "2099-01-01T00:00:00Z"
    access = consumers.consumer_access(database, created["id"], environment="test")
    assert access is not None
    assert access.grants == ()


def test_the_change_log_names_the_calling_consumer_and_holds_no_secret(
    client: TestClient, admin: Caller
) -> None:
    created = _create(client, admin)
    rotated = client.post(f"/api/v1/consumers/{created['id']}/secrets", headers=admin.headers)
    answer = client.get(
        "/api/v1/consumer-changes",
        params={"target_id": created["id"]},
        headers=admin.headers,
    )
    assert answer.status_code == 200
    changes = answer.json()["items"]
    assert [(c["action"], c["actor"]) for c in changes] == [
        ("consumer.created", f"consumer:{admin.consumer_id}"),
        ("secret.rotated", f"consumer:{admin.consumer_id}"),
    ]
    assert all(RFC3339_UTC.match(c["occurred_at"]) for c in changes)
    assert created["client_secret"] not in answer.text
    assert rotated.json()["client_secret"] not in answer.text
    assert "parking@example.gov.uk" not in answer.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/consumers/con_nobody"),
        ("GET", "/api/v1/consumers/con_nobody/grants"),
        ("GET", "/api/v1/consumers/con_nobody/secrets"),
        ("GET", "/api/v1/consumers/con_nobody/secrets/sec_nothing"),
        ("GET", "/api/v1/consumers/con_nobody/grants/grt_nothing"),
        ("POST", "/api/v1/consumers/con_nobody/secrets"),
        ("DELETE", "/api/v1/consumers/con_nobody/grants/grt_nothing"),
    ],
)
def test_unknown_ids_are_404(client: TestClient, admin: Caller, method: str, path: str) -> None:
    answer = client.request(method, path, headers={**admin.headers, "If-Match": "*"})
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/problem+json"


def test_reading_needs_consumers_read_and_changing_consumers_write(
    client: TestClient, reader: Caller
) -> None:
    assert client.get("/api/v1/consumers").status_code == 401
    assert client.get("/api/v1/consumer-changes", headers=reader.headers).status_code == 200
    refused = client.post("/api/v1/consumers", json=NEW_CONSUMER, headers=reader.headers)
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "consumers:write"
