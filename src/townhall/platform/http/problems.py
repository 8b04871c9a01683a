"""Problem details (RFC 9457): the one error shape of every Townhall response.

This module owns turning any failure into ``application/problem+json``: Townhall's own errors,
the framework's (unknown route, wrong method, invalid input) and unexpected exceptions, which are
logged with the request id and reveal nothing to the caller. It also gives routes the OpenAPI
declaration of the errors they can answer with (``error_responses``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from townhall.errors import (
    BadRequest,
    FieldError,
    MethodNotAllowed,
    TownhallError,
    ValidationFailed,
    problem_class_for_status,
)
from townhall.platform.logging import get_logger

PROBLEM_JSON = "application/problem+json"

log = get_logger(__name__)


class ProblemFieldError(BaseModel):
    """One invalid input."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(examples=["query.limit"])
    message: str = Field(examples=["Input should be less than or equal to 200"])


class Problem(BaseModel):
    """An RFC 9457 problem, as every Townhall error is returned."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["/problems/not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["There is no property with UPRN 100023336956."])
    instance: str = Field(examples=["/api/v1/properties/100023336956"])
    request_id: str = Field(examples=["4f1c2a0e6b9d4d2f8a7e5c3b1a090807"])
    errors: list[ProblemFieldError] | None = Field(
        default=None, description="Present on validation errors: one entry per invalid input."
    )


def problem_body(error: TownhallError, request: Request) -> dict[str, Any]:
    """The JSON body for ``error`` answered to ``request``."""
    body: dict[str, Any] = {
        "type": f"/problems/{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": request.url.path,
        "request_id": request_id_of(request),
    }
    body.update(error.extensions)
    return body


def problem_response(error: TownhallError, request: Request) -> JSONResponse:
    """``error`` as an ``application/problem+json`` response, with its headers."""
    return JSONResponse(
        problem_body(error, request),
        status_code=error.status,
        headers=error.headers,
        media_type=PROBLEM_JSON,
    )


def request_id_of(request: Request) -> str:
    """The id the request-id middleware gave this request."""
    return str(request.scope.get("state", {}).get("request_id", ""))


def field_errors_from_validation(exc: RequestValidationError) -> list[FieldError]:
    """FastAPI's validation errors as ``location.name`` fields with readable messages."""
    found: list[FieldError] = []
    for item in exc.errors():
        location = [str(part) for part in item.get("loc", ())]
        if location and location[0] == "body" and len(location) == 1:
            field = "body"
        else:
            field = ".".join(location)
        message = str(item.get("msg", "Invalid value"))
        if item.get("type") == "extra_forbidden":
            message = "Unknown property: check its spelling against the API reference"
        found.append(FieldError(field=field, message=message))
    return found


def _on_townhall_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TownhallError)
    return problem_response(exc, request)


def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
    if malformed:
        # Unreadable JSON is malformed (400), not well-formed but invalid (422).
        reason = malformed[0].get("ctx", {}).get("error", "it could not be parsed")
        return problem_response(BadRequest(f"The body is not valid JSON: {reason}."), request)
    return problem_response(ValidationFailed(field_errors_from_validation(exc)), request)


def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    cls = problem_class_for_status(exc.status_code)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        error: TownhallError = MethodNotAllowed(
            f"{request.method} is not allowed here.", headers=headers
        )
    elif exc.status_code == 404:
        error = cls(f"There is nothing at {request.url.path}.", headers=headers)
    else:
        detail = exc.detail if isinstance(exc.detail, str) else None
        error = cls(detail, headers=headers)
        # The framework's own classes carry the right status even if the tree has no exact match.
        error.status = exc.status_code  # type: ignore[misc]
    return problem_response(error, request)


def unexpected_error_body(request_id: str, path: str) -> dict[str, Any]:
    """The body of a 500: nothing about what went wrong, only how to trace it."""
    error = TownhallError("An unexpected error occurred.")
    return {
        "type": f"/problems/{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": f"{error.detail} Quote request id {request_id} if you report it.",
        "instance": path,
        "request_id": request_id,
    }


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error the app can produce an ``application/problem+json`` answer."""
    app.add_exception_handler(TownhallError, _on_townhall_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    # Unexpected exceptions are answered by RequestContextMiddleware, which is outside the
    # routing but inside the request id and security headers.


def error_responses(*errors: type[TownhallError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring that a route may answer with these problems.

    Every route declares every error it can answer with (a contract test checks it); several
    errors sharing a status are described together.
    """
    by_status: dict[int, list[type[TownhallError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    return {status: _problem_response_doc(classes) for status, classes in sorted(by_status.items())}


def _problem_response_doc(classes: Sequence[type[TownhallError]]) -> dict[str, Any]:
    titles = "; ".join(f"{cls.title} (`/problems/{cls.slug}`)" for cls in classes)
    return {
        "description": titles,
        "model": Problem,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
