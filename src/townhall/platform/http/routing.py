"""The route class and router factory every Townhall API router is built with.

This module owns the conventions that apply per route rather than per app:

* request bodies are at most ``TOWNHALL_MAX_REQUEST_BODY_BYTES`` (413 beyond) and must be JSON
  (``application/json``, or ``application/merge-patch+json`` for PATCH): anything else is a 415,
  not a confusing validation error;
* access guards (``require(scope)`` and the other markers of ``townhall.platform.auth``) run
  before every other dependency, so a caller who may not call an operation learns nothing else;
* POST accepts ``Idempotency-Key`` (``townhall.platform.http.idempotency``): the header is
  documented on the operation and a retried create replays the first answer. The key is
  reserved after the access guards, so it belongs to the consumer, not to one token;
* every operation declares the errors these rules can produce, so the OpenAPI document is
  complete without each router repeating them.

Routers are made with ``api_router("/streets", tag="addresses")``, mounted under ``/api/v1``
(``townhall_router`` for pages and other paths), and join an app with ``add_operations``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from townhall.errors import (
    BadRequest,
    FieldError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidHeader,
    PayloadTooLarge,
    TownhallError,
    UnsupportedMediaType,
    ValidationFailed,
)
from townhall.platform.auth.dependencies import access_guards
from townhall.platform.http.idempotency import (
    IDEMPOTENCY_HEADER,
    REPLAYED_HEADERS,
    IdempotencyStore,
    StoredAnswer,
    check_key,
    fingerprint,
)
from townhall.platform.http.openapi import operation_id
from townhall.platform.http.problems import error_responses

API_PREFIX = "/api/v1"
JSON_MEDIA_TYPES = frozenset({"application/json"})
MERGE_PATCH_MEDIA_TYPES = frozenset({"application/json", "application/merge-patch+json"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _Replay(Exception):
    """Raised by the reservation when the key already has an answer, which ApiRoute replays."""

    def __init__(self, answer: StoredAnswer) -> None:
        super().__init__("idempotent replay")
        self.answer = answer


_RESERVATION = "townhall_idempotency_reservation"


async def _reserve_idempotency_key(
    request: Request,
    _idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            description=(
                "A unique value (a UUID) per create. Retrying with the same key returns the "
                "first answer instead of creating a second resource."
            ),
            min_length=1,
            max_length=255,
        ),
    ] = None,
) -> None:
    """Reserve the key for the caller, or replay its first answer (the header is documented here).

    A dependency, so that it runs after the access guards (``ApiRoute`` puts those first): the
    key then belongs to the consumer ``require`` found, not to one token, and a caller who may
    not make the request never reaches the store.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.method != "POST" or key is None:
        return
    store: IdempotencyStore = request.app.state.townhall.idempotency
    principal = principal_of(request)
    request_fingerprint = fingerprint(
        request.method, request.url.path, request.url.query, await request.body()
    )
    stored = await run_in_threadpool(store.reserve, principal, check_key(key), request_fingerprint)
    if stored is not None:
        raise _Replay(stored)
    request.scope.setdefault("state", {})[_RESERVATION] = (principal, key)


class ApiRoute(APIRoute):
    """An API operation with Townhall's per-route conventions applied."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in (kwargs.get("methods") or ["GET"])}
        # Access guards first: no other check may answer a caller who may not call this.
        kwargs["dependencies"] = [*access_guards(endpoint), *(kwargs.get("dependencies") or [])]
        errors: list[type[TownhallError]] = [ValidationFailed]
        if methods & _BODY_METHODS:
            errors += [BadRequest, PayloadTooLarge, UnsupportedMediaType]
        if "POST" in methods:
            kwargs["dependencies"] = [
                *(kwargs.get("dependencies") or []),
                Depends(_reserve_idempotency_key),
            ]
            errors += [InvalidHeader, IdempotencyKeyInFlight, IdempotencyKeyReused]
        declared = error_responses(*errors)
        kwargs["responses"] = {**declared, **(kwargs.get("responses") or {})}
        # Set before APIRoute.__init__, which builds the handler that reads it.
        self.accepted_media_types = (
            MERGE_PATCH_MEDIA_TYPES if "PATCH" in methods else JSON_MEDIA_TYPES
        )
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        accepts_body = self.body_field is not None
        accepted = self.accepted_media_types

        async def route_handler(request: Request) -> Response:
            _refuse_nul_in_query(request)
            if accepts_body:
                await _check_body_size(request)
                if await request.body():
                    _check_media_type(request, accepted)
                    _refuse_nul_in_body(await request.body())
            key = request.headers.get(IDEMPOTENCY_HEADER)
            if request.method == "POST" and key is not None:
                check_key(key)  # a malformed key is a 400 before anything else
                return await _idempotent(request, handler)
            return await handler(request)

        return route_handler


# U+0000 can be stored by neither database (PostgreSQL refuses it) and means nothing in council
# data, so no text input may hold it; the OpenAPI document says so on every string.
_NUL_IN_QUERY = re.compile(rb"%00|\x00")
# In JSON, NUL can only arrive escaped; an escaped backslash before "u0000" is not one.
_NUL_IN_JSON = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NUL_MESSAGE = "Text may not contain the NUL character (U+0000)."


def _refuse_nul_in_query(request: Request) -> None:
    if _NUL_IN_QUERY.search(request.scope.get("query_string", b"")) or "\x00" in request.url.path:
        raise ValidationFailed([FieldError(field="query", message=_NUL_MESSAGE)])


def _refuse_nul_in_body(body: bytes) -> None:
    if b"\x00" in body or _NUL_IN_JSON.search(body):
        raise ValidationFailed([FieldError(field="body", message=_NUL_MESSAGE)])


async def _check_body_size(request: Request) -> None:
    limit = request.app.state.townhall.settings.max_request_body_bytes
    declared = request.headers.get("content-length", "")
    # Refuse on the declared length before reading; a chunked body is measured once read.
    if (declared.isdigit() and int(declared) > limit) or len(await request.body()) > limit:
        raise PayloadTooLarge(f"The body is larger than this API accepts ({limit} bytes).")


def _check_media_type(request: Request, accepted: frozenset[str]) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in accepted:
        raise UnsupportedMediaType(
            f"Send the body as {' or '.join(sorted(accepted))}, not {media_type or 'nothing'}."
        )


def principal_of(request: Request) -> str:
    """Whom an idempotency key belongs to: the caller's consumer once access control knows it.

    Until then, the hash of the Authorization header keeps two callers' keys apart.
    """
    principal = request.scope.get("state", {}).get("principal")
    if principal:
        return str(principal)
    authorization = request.headers.get("authorization", "")
    return "anon:" + hashlib.sha256(authorization.encode()).hexdigest()[:32]


async def _idempotent(
    request: Request,
    handler: Callable[[Request], Coroutine[Any, Any, Response]],
) -> Response:
    store: IdempotencyStore = request.app.state.townhall.idempotency
    try:
        response = await handler(request)
    except _Replay as replay:
        return _replay(replay.answer)
    except BaseException:
        reserved = request.scope.get("state", {}).get(_RESERVATION)
        if reserved is not None:
            await run_in_threadpool(store.release, *reserved)
        raise
    reserved = request.scope.get("state", {}).get(_RESERVATION)
    if reserved is None:  # pragma: no cover - the reservation runs before every endpoint
        return response
    principal, key = reserved
    if response.status_code >= 500 or not hasattr(response, "body"):
        await run_in_threadpool(store.release, principal, key)
        return response
    answer = StoredAnswer(
        status=response.status_code,
        headers={
            name: response.headers[name] for name in REPLAYED_HEADERS if name in response.headers
        },
        body=bytes(response.body),
    )
    await run_in_threadpool(store.complete, principal, key, answer)
    return response


def _replay(answer: StoredAnswer) -> Response:
    response = Response(content=answer.body, status_code=answer.status)
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def api_router(prefix: str, *, tag: str) -> APIRouter:
    """A router for one resource family, under ``/api/v1``, with ``ApiRoute`` conventions."""
    return townhall_router(prefix=API_PREFIX + prefix, tags=[tag], route_class=ApiRoute)


def townhall_router(**options: Any) -> APIRouter:
    """An ``APIRouter`` whose operations are named ``<tag>_<name>`` (``operation_id``) as built.

    The name is fixed when an operation is built, and ``add_operations`` adds operations as
    built: a router made any other way would name its operations FastAPI's way.
    """
    return APIRouter(generate_unique_id_function=operation_id, **options)


def joined(*routers: APIRouter) -> APIRouter:
    """One router holding the operations of ``routers``, each as it was built."""
    return APIRouter(routes=[route for part in routers for route in part.routes])


def add_operations(app: FastAPI, *routers: APIRouter) -> None:
    """Add the operations of ``routers`` to ``app`` as they were built (ADR 38).

    FastAPI's ``include_router`` keeps a router whole and, on the app's first request, builds
    each of its operations again for that app (about 8 ms an operation, 0.5 s for Townhall's).
    A router made by ``townhall_router`` or ``api_router`` already holds everything its
    operations need (path prefix, tags, dependencies, names), so they join the app as they are,
    and one router can serve every app in a process.
    """
    for part in routers:
        for route in part.routes:
            if getattr(route, "original_router", None) is not None:
                msg = f"{route!r} is an included router: join its operations with joined()"
                raise TypeError(msg)
            if (
                isinstance(route, APIRoute)
                and route.include_in_schema
                and route.generate_unique_id_function is not operation_id
            ):
                msg = f"{route.path} was not made by townhall_router(): its operation id differs"
                raise TypeError(msg)
        app.router.routes.extend(part.routes)
