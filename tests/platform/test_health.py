"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from townhall.app import create_app
from townhall.settings import Settings


def test_live_answers_ok(client: TestClient) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_the_database(client: TestClient, settings: Settings) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["dialect"] == ("sqlite" if settings.is_sqlite else "postgresql")
    assert body["database"]["schema_revision"] == body["database"]["schema_head"]


def test_ready_is_503_problem_on_an_unmigrated_database(empty_database_url: str) -> None:
    app = create_app(Settings(environment="test", database_url=empty_database_url))
    with TestClient(app) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "townhall db upgrade" in response.json()["detail"]
