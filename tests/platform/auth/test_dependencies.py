"""``require(scope)`` and ``public()``: who gets through, how refusals look, and the caches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient

from tests.platform.auth.factories import register_consumer
from tests.tokens import TokenIssuer, bearer, forge_token, key_id, request_token
from townhall.app import create_app
from townhall.platform.auth import access as access_module
from townhall.platform.auth.access import AccessControl
from townhall.platform.auth.consumers import consumer_access, disable_consumer, update_consumer
from townhall.platform.auth.dependencies import (
    AUTHORITY_STATE,
    bearer_challenge,
    every_route,
    public,
    require,
    route_access,
)
from townhall.platform.auth.grants import revoke_scope
from townhall.platform.auth.keys import instance_signing_keys
from townhall.platform.auth.principal import Principal
from townhall.platform.db import Database
from townhall.platform.http.routing import api_router, principal_of
from townhall.settings import Settings

READ = "consumers:read"
WRITE = "consumers:write"


def _protected_router() -> APIRouter:
    router = api_router("/guarded", tag="guarded")

    @router.get("")
    def read(principal: Annotated[Principal, require(READ)], request: Request) -> dict[str, Any]:
        return {
            "consumer_id": principal.consumer_id,
            "client_id": principal.client_id,
            "scopes": sorted(principal.scopes),
            "purpose": principal.purpose,
            "token_id": principal.token_id,
            "expires_at": principal.expires_at.isoformat(),
            "idempotency_owner": principal_of(request),
        }

    @router.post("", status_code=201)
    def write(principal: Annotated[Principal, require(WRITE)]) -> dict[str, str]:
        return {"by": principal.consumer_id}

    @router.get("/both")
    def both(
        reader: Annotated[Principal, require(READ)], writer: Annotated[Principal, require(WRITE)]
    ) -> dict[str, bool]:
        return {"same": reader == writer}

    return router


def _app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    app.include_router(_protected_router())
    return app


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    """A revocation cache short enough to wait out in a test."""
    return settings.model_copy(update={"access_cache_seconds": 0.2})


@pytest.fixture
def guarded(fast_settings: Settings) -> Iterator[TestClient]:
    with TestClient(_app(fast_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def tokens(guarded: TestClient, database: Database) -> TokenIssuer:
    return TokenIssuer(client=guarded, database=database)


def _refusal(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def test_a_valid_token_gives_the_route_its_principal(
    guarded: TestClient, tokens: TokenIssuer
) -> None:
    consumer = tokens.register([READ])
    body = request_token(guarded, consumer)

    response = guarded.get("/api/v1/guarded", headers=bearer(body["access_token"]))

    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["consumer_id"] == consumer.consumer.id
    assert seen["client_id"] == consumer.consumer.client_id
    assert seen["scopes"] == [READ]
    assert seen["purpose"] == "Shows permit applications to parking staff."
    # Idempotency keys belong to the consumer, not to whichever token it holds.
    assert seen["idempotency_owner"] == consumer.consumer.id
    expires = datetime.fromisoformat(seen["expires_at"])
    assert timedelta(seconds=890) < expires - datetime.now(UTC) <= timedelta(seconds=900)


def test_no_token_is_401_with_a_bearer_challenge(guarded: TestClient) -> None:
    response = guarded.get("/api/v1/guarded")
    body = _refusal(response, 401)
    # RFC 6750 section 3.1: no error code when the request carried no credentials at all.
    assert response.headers["www-authenticate"] == 'Bearer realm="townhall", scope="consumers:read"'
    assert body["type"] == "/problems/unauthenticated"
    assert "/oauth/token" in body["detail"]


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-jwt", "Bearer a.b.c"],
)
def test_a_malformed_token_is_401_invalid_token(guarded: TestClient, authorization: str) -> None:
    response = guarded.get("/api/v1/guarded", headers={"Authorization": authorization})
    _refusal(response, 401)
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="townhall", error="invalid_token"')
    assert "error_description=" in challenge


def test_a_token_signed_by_another_key_with_the_same_kid_is_401(
    guarded: TestClient, tokens: TokenIssuer, fast_settings: Settings
) -> None:
    genuine = tokens([READ])
    forged = forge_token(fast_settings, kid=key_id(genuine))
    response = guarded.get("/api/v1/guarded", headers=bearer(forged))
    _refusal(response, 401)
    assert "signature does not verify" in response.headers["www-authenticate"]


def test_a_token_naming_an_unknown_key_is_401(guarded: TestClient, fast_settings: Settings) -> None:
    response = guarded.get(
        "/api/v1/guarded", headers=bearer(forge_token(fast_settings, kid="no-such-key"))
    )
    _refusal(response, 401)
    assert "key this instance does not hold" in response.headers["www-authenticate"]


def test_an_expired_token_is_401(
    guarded: TestClient, tokens: TokenIssuer, fast_settings: Settings, database: Database
) -> None:
    consumer = tokens.register([READ])
    key = instance_signing_keys(fast_settings, database).signing_key(900)
    expired = forge_token(
        fast_settings,
        kid=key.kid,
        key=key.private_key,
        consumer_id=consumer.consumer.id,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    response = guarded.get("/api/v1/guarded", headers=bearer(expired))
    _refusal(response, 401)
    assert 'error_description="the token has expired"' in response.headers["www-authenticate"]


def test_a_token_without_the_scope_is_403_naming_it(
    guarded: TestClient, tokens: TokenIssuer
) -> None:
    token = tokens([READ])
    response = guarded.post("/api/v1/guarded", headers=bearer(token))
    body = _refusal(response, 403)
    assert body["required_scope"] == WRITE
    assert WRITE in body["detail"]
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="consumers:write"' in challenge


def test_a_narrowed_token_does_not_carry_the_scopes_left_out(
    guarded: TestClient, tokens: TokenIssuer
) -> None:
    consumer = tokens.register([READ, WRITE])
    narrow = tokens(consumer=consumer, scope=READ)
    assert guarded.get("/api/v1/guarded", headers=bearer(narrow)).status_code == 200
    _refusal(guarded.post("/api/v1/guarded", headers=bearer(narrow)), 403)


def _until_refused(client: TestClient, token: str, status: int, limit: float = 5.0) -> float:
    """Seconds from now until the route refuses ``token`` with ``status``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if client.get("/api/v1/guarded", headers=bearer(token)).status_code == status:
            return time.monotonic() - started
        time.sleep(0.02)
    pytest.fail(f"the token was still accepted after {limit} seconds")


def test_a_disabled_consumers_token_is_refused_within_the_cache_time(
    guarded: TestClient, tokens: TokenIssuer, database: Database
) -> None:
    consumer = tokens.register([READ])
    token = tokens(consumer=consumer)
    assert guarded.get("/api/v1/guarded", headers=bearer(token)).status_code == 200

    disable_consumer(database, consumer.consumer.id, actor="cli:test")

    assert _until_refused(guarded, token, 401) < 0.2 + 0.5
    response = guarded.get("/api/v1/guarded", headers=bearer(token))
    assert "consumer is disabled" in response.headers["www-authenticate"]


def test_a_revoked_grant_is_refused_within_the_cache_time(
    guarded: TestClient, tokens: TokenIssuer, database: Database
) -> None:
    consumer = tokens.register([READ])
    token = tokens(consumer=consumer)
    assert guarded.get("/api/v1/guarded", headers=bearer(token)).status_code == 200

    revoke_scope(database, consumer.consumer.id, READ, environment="test", actor="cli:test")

    assert _until_refused(guarded, token, 403) < 0.2 + 0.5
    body = guarded.get("/api/v1/guarded", headers=bearer(token)).json()
    assert "revoked or has expired" in body["detail"]


def test_each_consumer_is_limited_to_its_own_rate(
    guarded: TestClient, tokens: TokenIssuer, database: Database
) -> None:
    consumer = tokens.register([READ])
    update_consumer(database, consumer.consumer.id, {"rate_limit_per_minute": 2}, actor="cli:t")
    time.sleep(0.25)  # past the access cache, so the new limit is read
    token = tokens(consumer=consumer)
    other = tokens([READ], consumer=tokens.register([READ], name="Housing repairs"))

    answers = [guarded.get("/api/v1/guarded", headers=bearer(token)) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["ratelimit-policy"].startswith('"per-minute";q=2;w=60')
    assert '"per-day";q=500000;w=86400' in answers[0].headers["ratelimit-policy"]
    assert int(answers[2].headers["retry-after"]) >= 1
    # Another consumer has its own count.
    assert guarded.get("/api/v1/guarded", headers=bearer(other)).status_code == 200


def test_the_access_cache_saves_database_reads(
    fast_settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer = register_consumer(database, scopes=[READ])
    keys = instance_signing_keys(fast_settings, database)
    clock = [0.0]
    control = AccessControl(
        fast_settings.model_copy(update={"access_cache_seconds": 5}),
        database,
        keys,
        monotonic=lambda: clock[0],
    )
    reads: list[str] = []
    real = consumer_access

    def counted(db: Database, consumer_id: str, *, environment: str) -> Any:
        reads.append(consumer_id)
        return real(db, consumer_id, environment=environment)

    monkeypatch.setattr(access_module, "consumer_access", counted)
    with TestClient(create_app(fast_settings)) as client:
        token = request_token(client, consumer)["access_token"]

    for _ in range(50):
        control.authenticate(token, READ)
    assert len(reads) == 1
    clock[0] += 5
    control.authenticate(token, READ)
    assert len(reads) == 2
    control.forget_consumer(consumer.consumer.id)
    control.authenticate(token, READ)
    assert len(reads) == 3


def test_made_up_key_ids_do_not_make_every_request_read_the_keys(
    fast_settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = instance_signing_keys(fast_settings, database)
    keys.signing_key(900)
    clock = [100.0]
    control = AccessControl(fast_settings, database, keys, monotonic=lambda: clock[0])
    reads = [0]
    real = keys.verification_keys

    def counted() -> Any:
        reads[0] += 1
        return real()

    monkeypatch.setattr(keys, "verification_keys", counted)
    for attempt in range(20):
        with pytest.raises(Exception, match="not valid"):
            control.authenticate(forge_token(fast_settings, kid=f"made-up-{attempt}"), READ)
    assert reads[0] == 1
    clock[0] += 1.0
    with pytest.raises(Exception, match="not valid"):
        control.authenticate(forge_token(fast_settings, kid="made-up-again"), READ)
    assert reads[0] == 2


def test_a_key_made_by_another_worker_is_found_on_first_sight(
    guarded: TestClient, tokens: TokenIssuer, fast_settings: Settings, database: Database
) -> None:
    consumer = tokens.register([READ])
    before = tokens(consumer=consumer)
    assert guarded.get("/api/v1/guarded", headers=bearer(before)).status_code == 200
    time.sleep(1.05)  # past the throttle on reading keys for an unknown kid

    # Another worker (or the CLI) rotates: this worker's signer and verifier learn of it.
    instance_signing_keys(fast_settings, database).rotate(900, actor="cli:test")
    after = tokens(consumer=consumer)

    assert key_id(after) != key_id(before)
    assert guarded.get("/api/v1/guarded", headers=bearer(after)).status_code == 200
    # The old key is retiring, not retired: its tokens still work.
    assert guarded.get("/api/v1/guarded", headers=bearer(before)).status_code == 200


def test_an_app_without_an_authority_accepts_no_token(
    guarded: TestClient, tokens: TokenIssuer
) -> None:
    token = tokens([READ])
    delattr(guarded.app.state, AUTHORITY_STATE)  # type: ignore[attr-defined]
    response = guarded.get("/api/v1/guarded", headers=bearer(token))
    _refusal(response, 401)


def test_public_routes_answer_anyone_and_the_limited_ones_count_per_address(
    settings: Settings,
) -> None:
    router = APIRouter()

    @router.get("/open", dependencies=[public()])
    def open_route() -> dict[str, bool]:
        return {"ok": True}

    @router.get("/limited", dependencies=[public(rate_limited=True)])
    def limited_route() -> dict[str, bool]:
        return {"ok": True}

    app = create_app(settings.model_copy(update={"public_rate_limit_per_minute": 2}))
    app.include_router(router)
    with TestClient(app) as client:
        assert all(client.get("/open").status_code == 200 for _ in range(5))
        limited = [client.get("/limited").status_code for _ in range(3)]
    assert limited == [200, 200, 429]


def test_markers_say_what_access_a_route_needs() -> None:
    app = FastAPI()
    app.include_router(_protected_router())
    found = {
        (route.path, tuple(sorted(route.methods))): [
            (a.kind, a.requirement) for a in route_access(route)
        ]
        for route in every_route(app)
        if route.methods
    }
    assert found[("/api/v1/guarded", ("GET",))] == [("scope", READ)]
    assert found[("/api/v1/guarded", ("POST",))] == [("scope", WRITE)]


def test_the_challenge_never_breaks_its_quoting() -> None:
    assert bearer_challenge("invalid_token", 'a "quoted" reason') == (
        'Bearer realm="townhall", error="invalid_token", error_description="a \'quoted\' reason"'
    )


def test_a_request_counts_once_against_the_limit_however_many_scopes_it_needs(
    guarded: TestClient, tokens: TokenIssuer
) -> None:
    token = tokens([READ, WRITE])
    first = guarded.get("/api/v1/guarded/both", headers=bearer(token))
    second = guarded.get("/api/v1/guarded", headers=bearer(token))
    assert first.json() == {"same": True}
    used = [int(r.headers["ratelimit"].split(";r=")[1].split(";")[0]) for r in (first, second)]
    assert used == [1199, 1198]


def test_require_gives_one_guard_per_scope() -> None:
    assert require(READ).dependency is require(READ).dependency
    assert require(READ).dependency is not require(WRITE).dependency


def test_an_idempotency_key_belongs_to_the_consumer_not_the_token(
    guarded: TestClient, tokens: TokenIssuer
) -> None:
    consumer = tokens.register([READ, WRITE])
    first, second = tokens(consumer=consumer), tokens(consumer=consumer)
    assert first != second
    key = {"Idempotency-Key": "3f1c9e2a-create-once"}

    created = guarded.post("/api/v1/guarded", headers={**bearer(first), **key})
    retried = guarded.post("/api/v1/guarded", headers={**bearer(second), **key})

    assert created.status_code == 201
    assert retried.headers.get("idempotent-replayed") == "true"
    assert retried.json() == created.json()
    # Another consumer with the same key is another request.
    stranger = tokens([WRITE])
    other = guarded.post("/api/v1/guarded", headers={**bearer(stranger), **key})
    assert other.status_code == 201
    assert "idempotent-replayed" not in other.headers


def test_a_refused_caller_never_reaches_the_idempotency_store(
    guarded: TestClient, tokens: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = guarded.app.state.townhall.idempotency  # type: ignore[attr-defined]
    reserved: list[str] = []
    real = store.reserve

    def counted(principal: str, key: str, request_fingerprint: str) -> Any:
        reserved.append(principal)
        return real(principal, key, request_fingerprint)

    monkeypatch.setattr(store, "reserve", counted)
    key = {"Idempotency-Key": "9b2e-anonymous"}
    _refusal(guarded.post("/api/v1/guarded", headers=key), 401)
    _refusal(guarded.post("/api/v1/guarded", headers={**bearer(tokens([READ])), **key}), 403)
    assert reserved == []
    # A malformed key is still a 400, whoever sends it.
    assert (
        guarded.post("/api/v1/guarded", headers={"Idempotency-Key": "has spaces"}).status_code
        == 400
    )
