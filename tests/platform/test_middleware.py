"""Request ids, security headers, JSON access logs without personal data, and metrics."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from townhall.app import create_app
from townhall.settings import Settings


def test_a_request_id_is_generated_and_returned(client: TestClient) -> None:
    response = client.get("/health/live")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    assert int(request_id, 16) >= 0


def test_a_plain_incoming_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/nope", headers={"X-Request-ID": "gateway-7f3a.1"})
    assert response.headers["x-request-id"] == "gateway-7f3a.1"
    assert response.json()["request_id"] == "gateway-7f3a.1"


@pytest.mark.parametrize("unsafe", [b"a b", b"x" * 129, b"id\xc3\xa9", b"<script>", b"a\x0bb"])
def test_an_unsafe_incoming_request_id_is_replaced(client: TestClient, unsafe: bytes) -> None:
    response = client.get("/health/live", headers={b"X-Request-ID": unsafe})
    assert response.headers["x-request-id"].encode() != unsafe
    assert len(response.headers["x-request-id"]) == 32


def test_every_response_carries_security_headers(client: TestClient) -> None:
    for response in (client.get("/health/live"), client.get("/nope")):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers


def test_hsts_when_enabled(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"hsts_enabled": True}))
    with TestClient(app) as client:
        assert "max-age=" in client.get("/health/live").headers["strict-transport-security"]


def test_access_log_is_json_with_the_request_id_and_no_personal_data(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        client.get(
            "/nope/Jane-Smith",
            params={"name": "Jane Smith", "date_of_birth": "1980-02-29"},
            headers={"X-Request-ID": "trace-123"},
        )
    output = capsys.readouterr().err
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert access, output
    assert access[-1]["request_id"] == "trace-123"
    assert access[-1]["status"] == 404
    assert access[-1]["route"] == "<unmatched>"
    assert "Jane" not in output
    assert "1980" not in output


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/health/live")
    client.get("/nope/123")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert (
        'townhall_http_requests_total{method="GET",route="/health/live",status="200"} 1.0' in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert "/nope/123" not in text


def test_auto_log_format_is_json_off_a_terminal(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"log_format": "auto"}))
    with TestClient(app) as client:
        client.get("/health/live")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines
    assert all(json.loads(line)["event"] for line in lines)
