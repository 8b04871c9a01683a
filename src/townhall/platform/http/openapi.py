"""The OpenAPI document: generated from the routes, then shaped to Townhall's conventions.

This module owns what FastAPI's generator does not do on its own: error responses described
only as ``application/problem+json`` with the shared ``Problem`` schema (FastAPI would add its own
``HTTPValidationError``), ``If-Match`` shown as required where its absence is a 428, and
operation ids ``<tag>_<name>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from townhall.platform.http.problems import PROBLEM_JSON, Problem, ProblemFieldError

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
# On a route's error response: another standard dictates this body (the value names it), so it
# keeps its own schema instead of the Problem one. Only the OAuth token endpoint uses it.
STANDARD_ERROR_MARKER = "x-townhall-error-standard"

DocumentShaper = Callable[[FastAPI, dict[str, Any]], None]


def operation_id(route: APIRoute) -> str:
    """``<tag>_<name>``: ``health_ready``, ``addresses_find_addresses``."""
    tag = str(route.tags[0]) if route.tags else "townhall"
    return f"{tag.replace('-', '_')}_{route.name}"


def install_openapi(
    app: FastAPI, *, description: str, shapers: Sequence[DocumentShaper] = ()
) -> None:
    """Replace ``app.openapi`` with a generator that applies Townhall's conventions once.

    ``shapers`` add what other parts of the platform know about the routes (access control
    adds its security scheme and each protected operation's 401, 403 and 429).
    """

    def build() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            description=description,
            routes=app.routes,
            tags=app.openapi_tags,
            license_info={"name": "MIT", "identifier": "MIT"},
        )
        for shape in shapers:
            shape(app, document)
        _shape_error_responses(document)
        _forbid_nul_in_text(document)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]


NO_NUL = r"^[^\x00]*$"


def _forbid_nul_in_text(document: dict[str, Any]) -> None:
    """Say on every free string what ApiRoute enforces: no NUL characters (U+0000)."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(
                node
            ):
                node["pattern"] = NO_NUL
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(document.get("components", {}).get("schemas", {}))
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict):
                # Path segments are left alone: routing never matches one holding NUL, and a
                # pattern there leaves generators no invalid value they can put in a URL.
                visit([p for p in operation.get("parameters", []) if p.get("in") != "path"])


def _shape_error_responses(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["Problem"].pop("$defs", None)
    components["ProblemFieldError"] = ProblemFieldError.model_json_schema()
    components["Problem"]["properties"]["errors"] = {
        "anyOf": [
            {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"}},
            {"type": "null"},
        ],
        "description": "Present on validation errors: one entry per invalid input.",
    }
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "header" and parameter.get("name") == "If-Match":
                    # Optional to FastAPI so that its absence is our 428, not a generic 422;
                    # required to callers where that 428 can answer (not on a POST action,
                    # which takes it when sent).
                    parameter["required"] = "428" in operation["responses"]
            for status, response in operation["responses"].items():
                if str(status).startswith(("4", "5")) and STANDARD_ERROR_MARKER not in response:
                    response["content"] = problem_content
                    if status == "422":
                        response["description"] = (
                            "Validation failed (`/problems/validation-failed`): "
                            "`errors` lists each invalid input"
                        )
