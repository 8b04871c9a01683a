"""Route guards: ``require(scope)``, ``public(...)``, and the access marker every route carries.

This module owns how a route says who may call it. Every route the app serves carries exactly
one kind of access marker, and a contract test walks the app to fail on any route with none:

* ``principal: Annotated[Principal, require("consumers:read")]``: a bearer token with that scope,
  still granted to a consumer that is still enabled (401, 403, 429);
* ``dependencies=[public()]`` / ``public(rate_limited=True)``: anyone, optionally limited per
  client address (``TOWNHALL_PUBLIC_RATE_LIMIT_PER_MINUTE``) against brute force;
* staff and resident sessions (the portal's sign-in) mark their own dependencies with
  ``mark_access(...)`` and ``Access(kind="staff" | "resident", ...)``.

The marker also carries the errors the guard can answer with, so the OpenAPI document declares
401, 403 and 429 on every protected operation without each router repeating them.
Verifying a token is ``townhall.platform.auth.access``'s work; this module only asks it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Protocol, TypeVar, get_args, get_origin

import fastapi.routing
from fastapi import Depends, FastAPI, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_signature
from starlette.concurrency import run_in_threadpool

from townhall.errors import Forbidden, TooManyRequests, TownhallError, Unauthenticated
from townhall.platform.auth.principal import Principal
from townhall.platform.ratelimit import RateLimiter, RateLimitPolicy, client_address, enforce

AccessKind = Literal["public", "scope", "staff", "resident"]
ACCESS_ATTRIBUTE = "__townhall_access__"
REALM = "townhall"

_Call = TypeVar("_Call", bound=Callable[..., Any])


@dataclass(frozen=True)
class Access:
    """Who may call a route: the kind of caller, what it needs, and what refusals look like.

    ``requirement`` is the scope for ``scope`` access, the role for ``staff`` access, and None
    otherwise. ``errors`` are the problems the guard can answer with (declared in OpenAPI).
    """

    kind: AccessKind
    requirement: str | None = None
    errors: tuple[type[TownhallError], ...] = ()
    rate_limited: bool = False


def mark_access(call: _Call, access: Access) -> _Call:
    """Mark ``call`` (a dependency) as the access guard ``access`` of any route depending on it."""
    setattr(call, ACCESS_ATTRIBUTE, access)
    return call


def mark_public(route: object) -> None:
    """Mark a route that takes no dependencies (a static mount, the OpenAPI document) public."""
    setattr(route, ACCESS_ATTRIBUTE, Access(kind="public"))


def access_of(call: object) -> Access | None:
    """The access marker on a dependency callable, if it has one."""
    found = getattr(call, ACCESS_ATTRIBUTE, None)
    return found if isinstance(found, Access) else None


def every_route(app: FastAPI) -> Iterator[Any]:
    """Every route ``app`` answers, as it answers it: included routers' routes one by one.

    Newer FastAPI keeps an included router whole and gives each of its routes the prefix and
    dependencies of the inclusion only when asked (``iter_route_contexts``); older ones copied
    the routes into the app. Either way, what is yielded has the route's effective ``path``,
    ``methods`` and ``dependant``.
    """
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is None:  # pragma: no cover - FastAPI before included routers were kept whole
        yield from app.routes
        return
    yield from contexts(app.routes)


def route_access(route: object) -> tuple[Access, ...]:
    """Every access marker of ``route``: on it, or among its dependencies, however nested."""
    own = access_of(route)
    found = [own] if own is not None else []
    dependant = getattr(route, "dependant", None)
    if isinstance(dependant, Dependant):
        found.extend(
            access for sub in _walk(dependant) if (access := access_of(sub.call)) is not None
        )
    # A guard hoisted by ApiRoute appears twice in the tree; it is one requirement.
    return tuple(dict.fromkeys(found))


def access_guards(endpoint: Callable[..., Any]) -> list[Any]:
    """The access guards ``endpoint`` takes as parameters, as route-level dependencies.

    ``ApiRoute`` runs these before anything else, so a caller who may not call an operation is
    refused before any other check can answer (a 428 for a missing If-Match would tell an
    anonymous caller the operation exists). FastAPI solves a dependency once per request, so
    the parameter still receives the same ``Principal``.
    """
    guards: list[Any] = []
    for parameter in get_typed_signature(endpoint).parameters.values():
        candidates: list[Any] = [parameter.default]
        if get_origin(parameter.annotation) is Annotated:
            candidates.extend(get_args(parameter.annotation)[1:])
        guards.extend(
            candidate
            for candidate in candidates
            if isinstance(candidate, params.Depends) and access_of(candidate.dependency)
        )
    return guards


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


class TokenAuthority(Protocol):
    """What ``require`` asks to turn a bearer token into a principal (``access.AccessControl``)."""

    def authenticate(self, token: str, scope: str) -> Principal:
        """The principal for ``token`` if it may use ``scope``; raises 401 or 403 otherwise."""
        ...

    def policies_for(self, principal: Principal) -> list[RateLimitPolicy]:
        """The rate limit and quota that apply to ``principal``'s consumer."""
        ...

    def authenticate_at_once(
        self, token: str, scope: str
    ) -> tuple[Principal, list[RateLimitPolicy]] | None:
        """``authenticate`` and ``policies_for`` without waiting on anything, or None if it must."""
        ...

    def forget_consumer(self, consumer_id: str) -> None:
        """Drop what this worker caches of a consumer, so a change made here applies at once."""
        ...


AUTHORITY_STATE = "townhall_token_authority"


def token_authority(request: Request) -> TokenAuthority | None:
    """The app's token authority (installed by ``create_app``)."""
    authority: TokenAuthority | None = getattr(request.app.state, AUTHORITY_STATE, None)
    return authority


def forget_consumer_access(request: Request, consumer_id: str) -> None:
    """After a change to a consumer's access, let this worker see it on the next call.

    Other workers see it when their cache entry expires (``TOWNHALL_ACCESS_CACHE_SECONDS``).
    """
    authority = token_authority(request)
    if authority is not None:
        authority.forget_consumer(consumer_id)


def bearer_challenge(
    error: str | None = None, description: str | None = None, scope: str | None = None
) -> str:
    """An RFC 6750 ``WWW-Authenticate`` value; no error code when no token was sent (3.1)."""
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def invalid_token(description: str) -> Unauthenticated:
    """A 401 for a token that is missing its mark: malformed, forged, expired or revoked."""
    return Unauthenticated(
        f"The access token is not valid: {description}.",
        headers={"WWW-Authenticate": bearer_challenge("invalid_token", description)},
    )


def insufficient_scope(scope: str, description: str) -> Forbidden:
    """A 403 naming the scope the operation needs."""
    return Forbidden(
        description,
        headers={
            "WWW-Authenticate": bearer_challenge("insufficient_scope", description, scope=scope)
        },
        extensions={"required_scope": scope},
    )


def bearer_token(request: Request) -> str | None:
    """The token in ``Authorization: Bearer <token>``, or None when there is none."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def require(scope: str) -> Any:
    """A dependency giving the verified ``Principal`` when the caller's token grants ``scope``.

    Use as ``principal: Annotated[Principal, require("consumers:read")]``.
    """
    return Depends(scope_guard(scope))


COUNTED_STATE = "townhall_rate_counted"
# Where the scope guard leaves the verified Principal (who the audit trail records).
PRINCIPAL_STATE = "townhall_principal"


@cache
def scope_guard(scope: str) -> Callable[[Request, Response], Coroutine[Any, Any, Principal]]:
    """The one guard for ``scope``.

    One function per scope, however often ``require(scope)`` is written or its annotation is
    evaluated again (FastAPI evaluates string annotations more than once), so that FastAPI's
    per-request dependency cache runs it once even where ``ApiRoute`` also hoists it.
    """

    async def guard(request: Request, response: Response) -> Principal:
        token = bearer_token(request)
        if token is None:
            raise Unauthenticated(
                "This operation needs a bearer token: get one from /oauth/token.",
                headers={"WWW-Authenticate": bearer_challenge(scope=scope)},
            )
        authority = token_authority(request)
        if authority is None:
            # Fail closed: an app without an authority accepts no token at all.
            raise invalid_token("this instance does not verify tokens")
        limiter: RateLimiter = request.app.state.townhall.rate_limiter
        state = request.scope.setdefault("state", {})

        def admit(principal: Principal, policies: Callable[[], list[RateLimitPolicy]]) -> None:
            # Idempotency keys and logs belong to the consumer from here on.
            state["principal"] = principal.consumer_id
            # The audit trail records who used personal data (townhall.platform.audit.capture).
            state[PRINCIPAL_STATE] = principal
            # An operation needing two scopes is still one request against the consumer's limit.
            if not state.get(COUNTED_STATE):
                state[COUNTED_STATE] = True
                key = f"consumer:{principal.consumer_id}"
                enforce(limiter, response, key=key, policies=policies())

        def check() -> Principal:
            principal = authority.authenticate(token, scope)
            admit(principal, lambda: authority.policies_for(principal))
            return principal

        # With warm caches and limits counted in this process nothing waits, so the check runs
        # here: a threadpool hop would cost more than the check (bench/gateway.py).
        at_once = None if limiter.store.blocking else authority.authenticate_at_once(token, scope)
        if at_once is None:
            # Verification may read keys or grants from the database, and a shared store counts
            # over the network: keep both off the event loop.
            return await run_in_threadpool(check)
        principal, policies = at_once
        admit(principal, lambda: policies)
        return principal

    guard.__name__ = f"require_{scope.replace(':', '_').replace('-', '_')}"
    return mark_access(
        guard,
        Access(
            kind="scope", requirement=scope, errors=(Unauthenticated, Forbidden, TooManyRequests)
        ),
    )


def public(*, rate_limited: bool = False) -> Any:
    """Mark a route as answering anyone; ``rate_limited`` limits each client address.

    Use as ``dependencies=[public()]``. Health and metrics are public without a limit (load
    balancers poll them); the token endpoint is limited, against guessing secrets.
    """
    if rate_limited:

        def limit_address(request: Request, response: Response) -> None:
            settings = request.app.state.townhall.settings
            enforce(
                request.app.state.townhall.rate_limiter,
                response,
                key=f"address:{client_address(request)}",
                policies=[RateLimitPolicy("public", settings.public_rate_limit_per_minute, 60)],
            )

        mark_access(
            limit_address, Access(kind="public", errors=(TooManyRequests,), rate_limited=True)
        )
        return Depends(limit_address)

    def anyone() -> None:
        """Nothing to check: the marker is the point."""

    mark_access(anyone, Access(kind="public"))
    return Depends(anyone)
