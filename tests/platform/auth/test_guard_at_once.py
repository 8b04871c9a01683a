"""``require`` answers from warm caches with no threadpool hop and keeps what waits off the loop."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import anyio.to_thread
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.platform.auth.factories import register_consumer
from tests.tokens import bearer, request_token
from townhall.app import create_app
from townhall.errors import Unauthenticated
from townhall.platform.auth.access import AccessControl
from townhall.platform.auth.consumers import RegisteredConsumer, disable_consumer
from townhall.platform.auth.dependencies import AUTHORITY_STATE, require
from townhall.platform.auth.principal import Principal
from townhall.platform.db import Database
from townhall.platform.http.routing import api_router
from townhall.platform.ratelimit import InProcessStore
from townhall.settings import Settings

READ = "consumers:read"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class NetworkedStore(InProcessStore):
    """Counts like the in-process store but says it waits, as the Redis store does."""

    blocking = True


@pytest.fixture
def threadpool_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the callables handed to the threadpool while the test runs."""
    calls: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        called = func.func if isinstance(func, functools.partial) else func
        calls.append(getattr(called, "__name__", repr(called)))
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return calls


def guarded_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    router = api_router("/at-once", tag="checks")

    @router.get("")
    async def read(principal: Annotated[Principal, require(READ)]) -> dict[str, str]:
        return {"consumer_id": principal.consumer_id}

    app.include_router(router)
    return app


@pytest.fixture
def consumer(database: Database) -> RegisteredConsumer:
    return register_consumer(database, scopes=[READ])


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(guarded_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_known_token_is_answered_without_a_threadpool_hop(
    client: TestClient, consumer: RegisteredConsumer, threadpool_calls: list[str]
) -> None:
    token = request_token(client, consumer)["access_token"]
    threadpool_calls.clear()
    first = client.get("/api/v1/at-once", headers=bearer(token))
    assert first.status_code == 200
    assert threadpool_calls == ["check"]  # the token is new here: verified off the loop
    threadpool_calls.clear()
    for _ in range(3):
        again = client.get("/api/v1/at-once", headers=bearer(token))
        assert again.status_code == 200
        assert again.headers["ratelimit"].startswith('"per-minute"')
    assert threadpool_calls == []
    counted = again.headers["ratelimit"]
    assert counted.split(";")[1] != first.headers["ratelimit"].split(";")[1]  # still counted


def test_a_store_that_waits_is_never_asked_from_the_event_loop(
    settings: Settings, consumer: RegisteredConsumer, threadpool_calls: list[str]
) -> None:
    app = guarded_app(settings)
    app.state.townhall.rate_limiter.store = NetworkedStore()
    with TestClient(app, raise_server_exceptions=False) as client:
        token = request_token(client, consumer)["access_token"]
        threadpool_calls.clear()
        for _ in range(3):
            assert client.get("/api/v1/at-once", headers=bearer(token)).status_code == 200
    assert threadpool_calls == ["check", "check", "check"]


def test_at_once_needs_every_cache_warm_and_refuses_as_authenticate_does(
    settings: Settings, database: Database, client: TestClient, consumer: RegisteredConsumer
) -> None:
    token = request_token(client, consumer)["access_token"]
    authority = getattr(client.app.state, AUTHORITY_STATE)  # type: ignore[attr-defined]
    clock = Clock()
    control = AccessControl(
        settings.model_copy(update={"access_cache_seconds": 5}),
        database,
        authority.keys,
        monotonic=clock,
    )
    assert control.authenticate_at_once(token, READ) is None  # never seen: must verify
    principal = control.authenticate(token, READ)
    at_once = control.authenticate_at_once(token, READ)
    assert at_once is not None
    assert at_once[0] == principal
    assert [policy.name for policy in at_once[1]] == ["per-minute", "per-day"]
    clock.now += 5  # the consumer's access is due to be read again
    assert control.authenticate_at_once(token, READ) is None
    disable_consumer(database, consumer.consumer.id, actor="cli:test")
    with pytest.raises(Unauthenticated, match="disabled"):
        control.authenticate(token, READ)
    with pytest.raises(Unauthenticated, match="disabled"):
        control.authenticate_at_once(token, READ)  # known disabled: refused without a read
