"""The platform's request dependencies cost no threadpool hop: FastAPI runs a plain def there."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import anyio.to_thread
import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient

from townhall.app import create_app
from townhall.platform.auth.dependencies import public
from townhall.platform.http.concurrency import IfMatchDep
from townhall.platform.http.dependencies import DatabaseDep, MetricsDep, SettingsDep
from townhall.platform.http.routing import api_router
from townhall.settings import Settings


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


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app: FastAPI = create_app(settings)
    router = api_router("/dependency-checks", tag="checks")

    @router.post("/{check_id}", dependencies=[public()])
    async def check(
        *,
        check_id: str,
        database: DatabaseDep,
        app_settings: SettingsDep,
        metrics: MetricsDep,
        precondition: IfMatchDep,
        response: Response,
    ) -> dict[str, str]:
        return {"id": check_id, "environment": app_settings.environment}

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_async_route_on_the_platform_dependencies_never_enters_the_threadpool(
    client: TestClient, threadpool_calls: list[str]
) -> None:
    answer = client.post("/api/v1/dependency-checks/c1", headers={"If-Match": '"v1"'}, json={})
    assert answer.status_code == 200, answer.text
    # Only public()'s marker may be a plain def; every dependency this module owns is async.
    assert [name for name in threadpool_calls if name != "anyone"] == []
