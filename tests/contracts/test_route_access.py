"""Every route says who may call it, and every scope-protected route refuses everyone else.

GOV.UK Notify's ``test_route_authentication.py``, for Townhall. The walk covers the app exactly as
``create_app`` builds it, every router mounted (the admin API, the portal, sign-in pages), and
classifies each route by its access marker: a scope (``require``), a staff or resident session
(``require_staff``, ``require_resident``), or ``public()``. A route with no marker fails the test:
nothing is public by accident. Each scope-protected route is then called for real and must
refuse: no token (401 with a ``WWW-Authenticate`` challenge), a token signed by another key that
claims the instance's key id (401), an expired token (401), the still-unexpired token of a
consumer disabled since (401, within the access cache's time), and a valid token without the
route's scope (403). Session routes must not answer an anonymous caller.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from tests.oidc_provider import resident_client_key
from tests.tokens import TokenIssuer, bearer, forge_token, key_id
from townhall.app import create_app
from townhall.platform.auth.consumers import disable_consumer
from townhall.platform.auth.dependencies import (
    Access,
    every_route,
    mark_access,
    require,
    route_access,
)
from townhall.platform.auth.keys import instance_signing_keys
from townhall.platform.auth.principal import Principal
from townhall.platform.auth.scopes import scope_names
from townhall.platform.db import Database
from townhall.platform.http.routing import api_router
from townhall.settings import Settings

ACCESS_CACHE_SECONDS = 0.05
PATH_PARAMETER = re.compile(r"\{[^}]+\}")
SESSION_REFUSALS = {302, 303, 307, 401, 403}


@dataclass(frozen=True)
class Operation:
    """One method of one route, and who may call it."""

    method: str
    path: str
    kinds: frozenset[str]
    scopes: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def url(self) -> str:
        # Any value will do: access is checked before the resource is looked up.
        return PATH_PARAMETER.sub("1", self.path)


def classify(app: FastAPI) -> tuple[list[Operation], list[str]]:
    """Every operation of ``app`` with its access, and the routes that carry no marker."""
    operations: list[Operation] = []
    unmarked: list[str] = []
    for route in every_route(app):
        accesses = route_access(route)
        methods = sorted(getattr(route, "methods", None) or {"*"})
        path = str(getattr(route, "path", "?"))
        if not accesses:
            unmarked.extend(f"{method} {path}" for method in methods)
            continue
        kinds = frozenset(access.kind for access in accesses)
        scopes = frozenset(a.requirement for a in accesses if a.kind == "scope" and a.requirement)
        operations.extend(Operation(method, path, kinds, scopes) for method in methods)
    return operations, unmarked


def mixed_markers(operations: list[Operation]) -> list[str]:
    """Operations marked both public and protected: which one was meant cannot be told."""
    return [op.label for op in operations if "public" in op.kinds and len(op.kinds) > 1]


@pytest.fixture
def walk_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"access_cache_seconds": ACCESS_CACHE_SECONDS})


@pytest.fixture
def walked_app(walk_settings: Settings) -> FastAPI:
    return create_app(walk_settings)


@pytest.fixture
def walk_client(walked_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(walked_app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def walk_tokens(walk_client: TestClient, database: Database) -> TokenIssuer:
    return TokenIssuer(client=walk_client, database=database)


def test_every_route_is_marked_with_who_may_call_it(walked_app: FastAPI) -> None:
    operations, unmarked = classify(walked_app)
    assert unmarked == []
    assert mixed_markers(operations) == []
    kinds = {kind for op in operations for kind in op.kinds}
    # The walk reaches every kind of route the app has, so it is not passing over empty ground.
    assert {"public", "scope", "staff", "resident"} <= kinds
    public = {op.label for op in operations if op.kinds == {"public"}}
    assert {
        "GET /health/live",
        "GET /health/ready",
        "GET /metrics",
        "GET /openapi.json",
        "POST /oauth/token",
        "GET /.well-known/jwks.json",
        "GET /",
        "* /static",
    } <= public


def test_every_route_is_marked_when_sign_in_goes_through_providers(settings: Settings) -> None:
    # The OpenID Connect routes exist only when a provider is configured.
    key = resident_client_key()
    configured = Settings.model_validate(
        {
            **settings.model_dump(),
            "staff_oidc_issuer": "https://staff-idp.example",
            "staff_oidc_client_id": "townhall",
            "staff_oidc_client_secret": "not-a-real-secret",
            "staff_oidc_roles_from_groups": {"admins": "administrator"},
            "resident_oidc_issuer": "https://oidc.example",
            "resident_oidc_client_id": "townhall-residents",
            "resident_oidc_private_key": key.private_pem,
        }
    )
    without = {op.label for op in classify(create_app(settings))[0]}
    operations, unmarked = classify(create_app(configured))
    assert {op.label for op in operations} - without  # the providers' routes are walked too
    assert unmarked == []
    assert mixed_markers(operations) == []


def test_the_walk_finds_a_route_that_forgot_its_guard(settings: Settings) -> None:
    router = api_router("/forgotten", tag="forgotten")

    @router.get("")
    def list_forgotten() -> list[str]:
        return []

    @router.get("/guarded")
    def guarded(_principal: Annotated[Principal, require("consumers:read")]) -> list[str]:
        return []

    app = create_app(settings)
    app.include_router(router)
    operations, unmarked = classify(app)
    assert unmarked == ["GET /api/v1/forgotten"]
    assert (
        Operation(
            "GET", "/api/v1/forgotten/guarded", frozenset({"scope"}), frozenset({"consumers:read"})
        )
        in operations
    )


def _protected(app: FastAPI) -> list[Operation]:
    operations, _ = classify(app)
    found = [op for op in operations if "scope" in op.kinds]
    assert found, "the app has no scope-protected routes to check"
    return found


def _call(client: TestClient, operation: Operation, token: str | None = None) -> Any:
    headers = bearer(token) if token is not None else {}
    return client.request(operation.method, operation.url(), headers=headers)


def test_a_protected_route_refuses_a_missing_forged_or_expired_token(
    walked_app: FastAPI,
    walk_client: TestClient,
    walk_tokens: TokenIssuer,
    walk_settings: Settings,
    database: Database,
) -> None:
    assert bad_token_failures(walked_app, walk_client, walk_tokens, walk_settings, database) == []


def bad_token_failures(
    app: FastAPI,
    client: TestClient,
    tokens: TokenIssuer,
    settings: Settings,
    database: Database,
) -> list[str]:
    """Scope-protected operations that do not answer a missing, forged or expired token 401."""
    kid = key_id(tokens(sorted(scope_names())))
    signing = instance_signing_keys(settings, database).signing_key(900)
    failures = []
    for operation in _protected(app):
        forged = forge_token(settings, kid=kid, scopes=operation.scopes)
        expired = forge_token(
            settings,
            kid=signing.kid,
            key=signing.private_key,
            scopes=operation.scopes,
            now=datetime.now(UTC) - timedelta(hours=2),
        )
        answers = {
            "no token": _call(client, operation),
            "forged signature": _call(client, operation, forged),
            "expired token": _call(client, operation, expired),
        }
        for case, answer in answers.items():
            challenge = answer.headers.get("www-authenticate", "")
            if answer.status_code != 401 or not challenge.startswith('Bearer realm="townhall"'):
                failures.append(f"{operation.label} with {case}: {answer.status_code}")
    return failures


def test_a_protected_route_refuses_a_token_without_its_scope(
    walked_app: FastAPI, walk_client: TestClient, walk_tokens: TokenIssuer
) -> None:
    failures = []
    for operation in _protected(walked_app):
        others = sorted(scope_names() - operation.scopes)
        assert others, f"{operation.label}: no other scope to hold"
        token = walk_tokens(others)
        answer = _call(walk_client, operation, token)
        if answer.status_code != 403 or "insufficient_scope" not in answer.headers.get(
            "www-authenticate", ""
        ):
            failures.append(f"{operation.label}: {answer.status_code}")
    assert failures == []


def test_a_protected_route_refuses_a_disabled_consumer_within_the_cache_time(
    walked_app: FastAPI,
    walk_client: TestClient,
    walk_tokens: TokenIssuer,
    database: Database,
) -> None:
    failures = []
    for operation in _protected(walked_app):
        consumer = walk_tokens.register(sorted(operation.scopes))
        token = walk_tokens(consumer=consumer)
        before = _call(walk_client, operation, token)
        if before.status_code in {401, 403}:
            failures.append(f"{operation.label}: refused a valid token ({before.status_code})")
            continue
        disable_consumer(database, consumer.consumer.id, actor="cli:test")
        time.sleep(ACCESS_CACHE_SECONDS)
        after = _call(walk_client, operation, token)
        if after.status_code != 401:
            failures.append(f"{operation.label}: {after.status_code} after disabling")
    assert failures == []


def test_session_routes_do_not_answer_anonymous_callers(
    walked_app: FastAPI, walk_client: TestClient
) -> None:
    operations, _ = classify(walked_app)
    sessions = [op for op in operations if op.kinds & {"staff", "resident"}]
    assert sessions
    failures = [
        f"{op.label}: {status}"
        for op in sessions
        if (status := _call(walk_client, op).status_code) not in SESSION_REFUSALS
    ]
    assert failures == []


def test_the_walk_catches_a_guard_that_lets_everyone_in(
    settings: Settings, database: Database
) -> None:
    # A guard marked as a scope but checking nothing must fail the refusal checks.
    def lets_everyone_in() -> None:
        """Claims to need a scope; checks nothing."""

    mark_access(lets_everyone_in, Access(kind="scope", requirement="consumers:read"))
    router = api_router("/leaky", tag="leaky")

    @router.get("", dependencies=[Depends(lets_everyone_in)])
    def leaky() -> list[str]:
        return []

    app = create_app(settings)
    app.include_router(router)
    with TestClient(app) as client:
        tokens = TokenIssuer(client=client, database=database)
        failures = bad_token_failures(app, client, tokens, settings, database)
    assert failures == [
        "GET /api/v1/leaky with no token: 200",
        "GET /api/v1/leaky with forged signature: 200",
        "GET /api/v1/leaky with expired token: 200",
    ]
