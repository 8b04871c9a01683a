"""Operations join an app as they were built (ADR 38), and only when that keeps their ids."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI

from townhall.app import api_routers, create_app
from townhall.platform.auth.dependencies import public
from townhall.platform.http.routing import add_operations, api_router, joined, townhall_router
from townhall.settings import Settings


def _ping_router(router: APIRouter) -> APIRouter:
    @router.get("/ping", dependencies=[public()])
    def ping() -> dict[str, str]:
        return {"ping": "pong"}

    return router


def test_operations_keep_their_tag_and_name_as_their_id() -> None:
    app = FastAPI()
    add_operations(app, joined(_ping_router(api_router("/checks", tag="health-checks"))))
    operation = app.openapi()["paths"]["/api/v1/checks/ping"]["get"]
    assert operation["operationId"] == "health_checks_ping"


def test_a_router_made_another_way_is_refused() -> None:
    with pytest.raises(TypeError, match="townhall_router"):
        add_operations(FastAPI(), _ping_router(APIRouter(tags=["checks"])))


def test_a_router_holding_an_included_router_is_refused() -> None:
    outer = townhall_router()
    outer.include_router(_ping_router(townhall_router(tags=["checks"])))
    with pytest.raises(TypeError, match="joined"):
        add_operations(FastAPI(), outer)


def test_apps_in_one_process_share_the_api_operations_but_not_their_pages(
    settings: Settings,
) -> None:
    first, second = create_app(settings), create_app(settings)
    shared = {id(route) for router in api_routers() for route in router.routes}
    ids_first = {id(route) for route in first.router.routes}
    ids_second = {id(route) for route in second.router.routes}
    assert shared <= ids_first
    assert shared <= ids_second
    # The portal's pages hold their app's context, so each app builds its own.
    assert len(ids_first & ids_second) == len(shared)
