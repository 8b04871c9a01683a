"""The sources API: each source system with its records and latest sync, and its syncs by page."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.platform.auth.factories import register_consumer
from tests.tokens import TokenIssuer, bearer
from townhall.domains.people import sources
from townhall.domains.people.sync import sync_source
from townhall.platform.db import Database

MAPPING = {"record_id": "id", "fields": {"last_name": "surname"}, "timezone": "UTC"}


@pytest.fixture
def housing(database: Database, tmp_path: Path) -> Path:
    """A housing extract, registered and synced three times (one row refused)."""
    path = tmp_path / "housing.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["id", "surname"], ["H1", "Patel"], ["H2", ""]])
    sources.register_source(
        database, name="housing", label="Housing", connector="csv",
        config={"path": str(path), "mapping": MAPPING}, trust=3,
    )  # fmt: skip
    sources.register_source(
        database, name="benefits", label="Benefits", connector="sql", trust=1,
        config={"url": "postgresql://reader@db.example/dwp", "password_env": "DWP_PASSWORD",
                "table": "claimants", "key_column": "id", "changed_column": "updated_at",
                "mapping": MAPPING},
    )  # fmt: skip
    for _ in range(3):
        sync_source(database, "housing", match_addresses=False)
    return path


def headers(issue_token: TokenIssuer, scope: str = "people:read") -> dict[str, str]:
    consumer = register_consumer(
        issue_token.database, scopes=[scope], purpose="Watches the council's source systems."
    )
    return bearer(issue_token(consumer=consumer))


def test_sources_are_listed_most_trusted_first_with_their_records_and_last_sync(
    client: TestClient, issue_token: TokenIssuer, housing: Path
) -> None:
    response = client.get("/api/v1/people/sources", headers=headers(issue_token))

    assert response.status_code == 200, response.text
    benefits, housing_source = response.json()["items"]
    assert benefits["name"] == "benefits"
    assert benefits["last_sync"] is None
    # Where a database is, and its password's variable's value, never travel.
    assert benefits["settings"] == {
        "database": "postgresql", "table": "claimants", "schema": None, "key_column": "id",
        "changed_column": "updated_at", "password_from": "DWP_PASSWORD",
    }  # fmt: skip
    assert "db.example" not in response.text
    assert (housing_source["records"], housing_source["trust"]) == (1, 3)
    last = housing_source["last_sync"]
    assert (last["status"], last["rows_read"], last["added"], last["refused"]) == (
        "finished", 0, 0, 0,
    )  # fmt: skip


def test_a_source_is_read_with_an_etag_and_its_syncs_newest_first_by_page(
    client: TestClient, issue_token: TokenIssuer, housing: Path
) -> None:
    auth = headers(issue_token)
    one = client.get("/api/v1/people/sources/housing", headers=auth)
    assert one.status_code == 200, one.text
    assert one.json()["position"] == "file:housing.csv:2"
    again = client.get(
        "/api/v1/people/sources/housing", headers={**auth, "If-None-Match": one.headers["ETag"]}
    )
    assert again.status_code == 304

    first = client.get("/api/v1/people/sources/housing/syncs?limit=2", headers=auth)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [sync["added"] for sync in page["items"]] == [0, 0]
    assert 'rel="next"' in first.headers["Link"]
    rest = client.get(
        f"/api/v1/people/sources/housing/syncs?limit=2&cursor={page['next_cursor']}", headers=auth
    )
    [oldest] = rest.json()["items"]
    assert (oldest["added"], oldest["refused"]) == (1, 1)
    assert oldest["problems"] == [
        {"position": "housing.csv:2", "column": "surname", "reason": "the surname is blank"}
    ]
    assert rest.json()["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("/api/v1/people/sources/parking", 404, "not-found"),
        ("/api/v1/people/sources/parking/syncs", 404, "not-found"),
        ("/api/v1/people/sources/Bad%20Name", 422, "validation-failed"),
        ("/api/v1/people/sources/housing/syncs?cursor=made-up", 400, "invalid-cursor"),
    ],
)
def test_unknown_sources_and_bad_input_are_problems(
    *,
    client: TestClient,
    issue_token: TokenIssuer,
    housing: Path,
    path: str,
    status: int,
    slug: str,
) -> None:
    response = client.get(path, headers=headers(issue_token))

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(slug)


def test_the_sources_need_people_read(client: TestClient, issue_token: TokenIssuer) -> None:
    assert client.get("/api/v1/people/sources").status_code == 401
    response = client.get("/api/v1/people/sources", headers=headers(issue_token, "addresses:read"))
    assert response.status_code == 403
