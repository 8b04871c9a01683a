"""Every error is application/problem+json with a request id, whatever produced it."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _assert_problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH"])
def test_unknown_route_is_a_404_problem(client: TestClient, method: str) -> None:
    body = _assert_problem(client.request(method, "/nope"), 404, "not-found")
    assert body["instance"] == "/nope"


def test_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = client.delete("/health/live")
    _assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["allow"]


def test_invalid_query_parameter_lists_each_field(notes: TestClient) -> None:
    response = notes.get("/api/v1/notes", params={"limit": "0"})
    body = _assert_problem(response, 422, "validation-failed")
    assert body["errors"] == [
        {"field": "query.limit", "message": "Input should be greater than or equal to 1"}
    ]


def test_several_invalid_fields_are_all_listed(notes: TestClient) -> None:
    response = notes.post("/api/v1/notes", json={"topic": "", "colour": "red"})
    body = _assert_problem(response, 422, "validation-failed")
    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert set(fields) == {"body.topic", "body.text", "body.colour"}
    assert "Unknown property" in fields["body.colour"]


def test_malformed_json_is_a_400(notes: TestClient) -> None:
    response = notes.post(
        "/api/v1/notes", content=b'{"topic": "x",', headers={"content-type": "application/json"}
    )
    body = _assert_problem(response, 400, "bad-request")
    assert "not valid JSON" in body["detail"]


def test_a_body_that_is_not_json_is_a_415(notes: TestClient) -> None:
    response = notes.post(
        "/api/v1/notes", content=b"topic=x&text=y", headers={"content-type": "text/plain"}
    )
    _assert_problem(response, 415, "unsupported-media-type")


def test_unexpected_exception_reveals_nothing_and_logs_the_request_id(
    notes: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = notes.get("/api/v1/notes-failing")
    body = _assert_problem(response, 500, "internal-error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert body["detail"].startswith("An unexpected error occurred.")
    assert response.headers["x-content-type-options"] == "nosniff"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    event = errors[0].msg
    assert isinstance(event, dict)
    assert event["request_id"] == body["request_id"]
    assert event["route"] == "/api/v1/notes-failing"


def test_a_body_over_the_limit_is_a_413(notes: TestClient) -> None:
    response = notes.post("/api/v1/notes", json={"topic": "x", "text": "y" * 1_100_000})
    _assert_problem(response, 413, "payload-too-large")
