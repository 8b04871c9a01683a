"""Every error Townhall can raise on purpose, and how each becomes an RFC 9457 problem.

Services raise these; they know nothing of HTTP beyond the status each one maps to. The HTTP
layer (``townhall.platform.http.problems``) turns any of them into ``application/problem+json``.

    TownhallError                       500 internal-error (never raised on purpose)
    ├── BadRequest                      400 bad-request
    │   ├── InvalidCursor               400 invalid-cursor
    │   └── InvalidHeader               400 invalid-header
    ├── Unauthenticated                 401 unauthenticated
    ├── Forbidden                       403 forbidden
    ├── NotFound                        404 not-found
    ├── MethodNotAllowed                405 method-not-allowed
    ├── NotAcceptable                   406 not-acceptable
    ├── Conflict                        409 conflict
    │   └── IdempotencyKeyInFlight      409 idempotency-key-in-flight
    ├── PreconditionFailed              412 precondition-failed
    ├── PayloadTooLarge                 413 payload-too-large
    ├── UnsupportedMediaType            415 unsupported-media-type
    ├── UnprocessableContent            422 unprocessable-content
    │   ├── ValidationFailed            422 validation-failed (with a per-field ``errors`` list)
    │   └── IdempotencyKeyReused        422 idempotency-key-reused
    ├── PreconditionRequired            428 precondition-required
    ├── TooManyRequests                 429 too-many-requests (with ``Retry-After``)
    └── ServiceUnavailable              503 service-unavailable
        └── DataUseNotRecorded          503 data-use-not-recorded

A problem's ``type`` is ``/problems/<slug>`` on the instance itself, where a page explains it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One invalid input: where it is (``body.name``, ``query.limit``) and what is wrong."""

    field: str
    message: str


class TownhallError(Exception):
    """Base of every error the platform raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal error"
    explanation: ClassVar[str] = (
        "Something went wrong on our side. Nothing about it is revealed to the caller; "
        "quote the request id to the council and it can be found in the logs."
    )

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers: dict[str, str] = dict(headers or {})
        self.extensions: dict[str, Any] = dict(extensions or {})

    @classmethod
    def catalogue(cls) -> list[type[TownhallError]]:
        """This class and every subclass, depth first: the documented problem types."""
        found: list[type[TownhallError]] = [cls]
        for sub in cls.__subclasses__():
            found.extend(sub.catalogue())
        return found


class BadRequest(TownhallError):
    status = 400
    slug = "bad-request"
    title = "Bad request"
    explanation = "The request could not be read: fix it before sending it again."


class InvalidCursor(BadRequest):
    slug = "invalid-cursor"
    title = "Invalid cursor"
    explanation = (
        "The `cursor` was not one this API gave out, or it was changed, or it belongs to a list "
        "with different filters. Start again from the first page."
    )


class InvalidHeader(BadRequest):
    slug = "invalid-header"
    title = "Invalid header"
    explanation = "A request header had a value this API does not accept."


class Unauthenticated(TownhallError):
    status = 401
    slug = "unauthenticated"
    title = "Unauthenticated"
    explanation = "A valid bearer token is needed. Get one from `/oauth/token`."


class Forbidden(TownhallError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"
    explanation = "The token is valid but its grants do not cover this operation."


class NotFound(TownhallError):
    status = 404
    slug = "not-found"
    title = "Not found"
    explanation = "There is nothing at this address, or nothing the caller may know exists."


class MethodNotAllowed(TownhallError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"
    explanation = (
        "The resource exists but does not accept this HTTP method; see the `Allow` header."
    )


class NotAcceptable(TownhallError):
    status = 406
    slug = "not-acceptable"
    title = "Not acceptable"
    explanation = "None of the media types in `Accept` can be produced for this resource."


class Conflict(TownhallError):
    status = 409
    slug = "conflict"
    title = "Conflict"
    explanation = "The request conflicts with the current state of the resource."


class IdempotencyKeyInFlight(Conflict):
    slug = "idempotency-key-in-flight"
    title = "Idempotency key in use"
    explanation = (
        "A request with the same `Idempotency-Key` is still being processed. "
        "Wait for it to finish, then retry to receive its answer."
    )


class PreconditionFailed(TownhallError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"
    explanation = (
        "The `If-Match` ETag no longer matches: someone changed the resource since you read it. "
        "Read it again, re-apply your change and send it with the new ETag."
    )


class PayloadTooLarge(TownhallError):
    status = 413
    slug = "payload-too-large"
    title = "Payload too large"
    explanation = "The request body is larger than this operation accepts."


class UnsupportedMediaType(TownhallError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"
    explanation = "The request body's `Content-Type` is not one this operation accepts."


class UnprocessableContent(TownhallError):
    status = 422
    slug = "unprocessable-content"
    title = "Unprocessable content"
    explanation = "The request was well formed but its content breaks a rule."


class ValidationFailed(UnprocessableContent):
    slug = "validation-failed"
    title = "Validation failed"
    explanation = (
        "One or more inputs are invalid. `errors` lists each, with the field it concerns "
        "(`body.`, `query.`, `path.` or `header.` followed by its name) and what is wrong."
    )

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        count = len(errors)
        super().__init__(
            detail or f"{count} input{'s are' if count != 1 else ' is'} invalid.",
            extensions={"errors": [{"field": e.field, "message": e.message} for e in errors]},
        )
        self.errors = list(errors)


class IdempotencyKeyReused(UnprocessableContent):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused"
    explanation = (
        "This `Idempotency-Key` was already used for a different request. "
        "Use a new key for a new request."
    )


class PreconditionRequired(TownhallError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"
    explanation = (
        "Changes need an `If-Match` header carrying the ETag you last read, "
        "so that no one's change is silently overwritten."
    )


class TooManyRequests(TownhallError):
    status = 429
    slug = "too-many-requests"
    title = "Too many requests"
    explanation = "The rate limit was reached. Wait for the number of seconds in `Retry-After`."


class ServiceUnavailable(TownhallError):
    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"
    explanation = "A service Townhall depends on is down. Try again shortly."


class DataUseNotRecorded(ServiceUnavailable):
    slug = "data-use-not-recorded"
    title = "Data use not recorded"
    explanation = (
        "Every use of a resident's personal data is recorded before the data is shown. The record "
        "could not be written just now, so the data was not shown. Try again in a moment."
    )

    def __init__(self) -> None:
        super().__init__(
            "The use of this personal data could not be recorded, so it is not shown. "
            "Try again in a moment.",
            headers={"Retry-After": "1"},
        )


def problem_class_for_status(status: int) -> type[TownhallError]:
    """The most general error class for an HTTP status (used for errors raised by the framework)."""
    for cls in TownhallError.catalogue():
        if cls.status == status and cls.__base__ in (TownhallError, Exception):
            return cls
    if 400 <= status < 500:
        return BadRequest
    return TownhallError
