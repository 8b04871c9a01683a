"""The OpenAPI document follows API-STANDARDS.md: each rule checked over every operation.

Each check is a function returning the violations it finds, so that a test can show it fails on
a router that breaks the rule, as well as pass on Townhall's own document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Path
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
from pydantic import BaseModel

from tests.platform.http.notes_api import drop_tables, mount_notes
from townhall.app import create_app
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.db import Database
from townhall.platform.http.openapi import STANDARD_ERROR_MARKER
from townhall.platform.http.routing import api_router
from townhall.settings import Settings

PROBLEM_REF = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
OAUTH_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthProblem"}}}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
KEBAB_SEGMENT = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
OPERATION_ID = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
# Standard HTTP headers keep their own spelling; only Townhall's own names must be snake_case.
HEADER_PARAMETERS = {"If-Match", "If-None-Match", "Idempotency-Key", "Authorization"}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def undeclared_errors(document: dict[str, Any]) -> list[str]:
    """Operations that can fail in ways their responses do not declare."""
    found = []
    for path, method, operation in operations(document):
        responses = operation["responses"]
        has_inputs = bool(operation.get("parameters")) or "requestBody" in operation
        # RFC 6749 answers bad input to the token endpoint with 400 invalid_request, not 422.
        follows_oauth = any(STANDARD_ERROR_MARKER in r for r in responses.values())
        if has_inputs and "422" not in responses and not follows_oauth:
            found.append(f"{method.upper()} {path}: has inputs but declares no 422")
        if "{" in path and "404" not in responses:
            found.append(f"{method.upper()} {path}: has a path id but declares no 404")
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        # Any If-Match can be stale (412); PATCH, PUT and DELETE also require it (428).
        changes = method in {"patch", "put", "delete"}
        if changes and "If-Match" not in headers:
            found.append(f"{method.upper()} {path}: changes a resource but takes no If-Match")
        precondition = {"412", "428"} if changes else {"412"}
        if "If-Match" in headers and not precondition <= set(responses):
            found.append(f"{method.upper()} {path}: takes If-Match but lacks 412 or 428")
        if operation.get("security") and not {"401", "403", "429"} <= set(responses):
            found.append(f"{method.upper()} {path}: needs a token but lacks 401, 403 or 429")
        for status, response in responses.items():
            if status[0] not in "45" or response.get("content") == PROBLEM_REF:
                continue
            if STANDARD_ERROR_MARKER in response and response.get("content") == OAUTH_ERROR_REF:
                continue  # the one exception: docs/adr/0015-oauth-token-errors.md
            found.append(f"{method.upper()} {path}: {status} is not a problem+json Problem")
    return found


def misnamed(document: dict[str, Any]) -> list[str]:
    """Paths, parameters, properties and operation ids that break the naming rules."""
    found = []
    seen_ids: set[str] = set()
    for path, method, operation in operations(document):
        if path.startswith("/api/"):
            for segment in path.split("/")[3:]:
                if not segment.startswith("{") and not KEBAB_SEGMENT.match(segment):
                    found.append(f"{path}: segment {segment!r} is not kebab-case")
        operation_id = operation.get("operationId", "")
        tag = (operation.get("tags") or [""])[0].replace("-", "_")
        if not OPERATION_ID.match(operation_id) or not operation_id.startswith(tag + "_"):
            found.append(f"{method.upper()} {path}: operationId {operation_id!r} not <tag>_<name>")
        if operation_id in seen_ids:
            found.append(f"operationId {operation_id!r} is used twice")
        seen_ids.add(operation_id)
        for parameter in operation.get("parameters", []):
            name = parameter["name"]
            if parameter["in"] == "header" and name in HEADER_PARAMETERS:
                continue
            if not SNAKE_CASE.match(name):
                found.append(f"{method.upper()} {path}: parameter {name!r} is not snake_case")
    for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
        for property_name in schema.get("properties", {}):
            if not SNAKE_CASE.match(property_name):
                found.append(f"{schema_name}.{property_name} is not snake_case")
    return found


def open_request_bodies(document: dict[str, Any]) -> list[str]:
    """Request bodies that would accept unknown properties silently."""
    schemas = document.get("components", {}).get("schemas", {})
    found = []
    for path, method, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            ref = media.get("schema", {}).get("$ref", "")
            schema = schemas.get(ref.rsplit("/", 1)[-1], media.get("schema", {}))
            if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
                found.append(f"{method.upper()} {path}: body accepts unknown properties")
    return found


@pytest.fixture(params=["townhall", "townhall+notes"])
def document(request: pytest.FixtureRequest, settings: Settings) -> Iterator[dict[str, Any]]:
    app = create_app(settings)
    database = Database(settings.database_url)
    if request.param == "townhall+notes":
        mount_notes(app, database)
    with TestClient(app) as client:
        yield client.get("/openapi.json").json()
    if request.param == "townhall+notes":
        drop_tables(database)
    database.dispose()


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_operation_declares_its_errors(document: dict[str, Any]) -> None:
    assert undeclared_errors(document) == []


def test_names_follow_the_standard(document: dict[str, Any]) -> None:
    assert misnamed(document) == []


def test_request_bodies_reject_unknown_properties(document: dict[str, Any]) -> None:
    assert open_request_bodies(document) == []


class _LooseBody(BaseModel):
    firstName: str  # noqa: N815 - the violation under test


def test_the_checks_find_a_router_that_breaks_the_rules(settings: Settings) -> None:
    router = api_router("/Things", tag="things")

    @router.post("/{thing_id}")
    def make(thing_id: Annotated[int, Path()], body: _LooseBody) -> _LooseBody:
        return body

    app: FastAPI = create_app(settings)
    app.include_router(router)
    document = app.openapi()
    assert any("declares no 404" in v for v in undeclared_errors(document))
    assert any("'Things' is not kebab-case" in v for v in misnamed(document))
    assert any("firstName" in v for v in misnamed(document))
    assert any("accepts unknown properties" in v for v in open_request_bodies(document))


def test_the_check_finds_a_protected_operation_missing_its_refusals(settings: Settings) -> None:
    router = api_router("/things", tag="things")

    @router.get("")
    def list_things(_principal: Annotated[Principal, require("consumers:read")]) -> list[str]:
        return []

    app: FastAPI = create_app(settings)
    app.include_router(router)
    document = app.openapi()
    operation = document["paths"]["/api/v1/things"]["get"]
    assert operation["security"] == [{"oauth2": ["consumers:read"]}]
    assert undeclared_errors(document) == []
    del operation["responses"]["403"]
    assert "GET /api/v1/things: needs a token but lacks 401, 403 or 429" in (
        undeclared_errors(document)
    )


def test_only_the_token_endpoint_answers_errors_in_another_format(settings: Settings) -> None:
    document = create_app(settings).openapi()
    marked = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(document)
        if any(STANDARD_ERROR_MARKER in r for r in operation["responses"].values())
    ]
    assert marked == ["POST /oauth/token"]
