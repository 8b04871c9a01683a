"""The portal's page routes, found by walking the app, for tests that must cover every one."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute


def _walk(routes: list[BaseRoute]) -> Iterator[BaseRoute]:
    for route in routes:
        # FastAPI keeps an included router whole; its routes are on the router it wraps.
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes)
        else:
            yield route


def page_routes(app: FastAPI) -> list[APIRoute]:
    """Every route that serves pages to people (left out of the OpenAPI document)."""
    return [
        route
        for route in _walk(app.routes)
        if isinstance(route, APIRoute) and not route.include_in_schema
    ]


def form_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every page route that changes something: what a form posts to."""
    return sorted(
        (method, route.path)
        for route in page_routes(app)
        for method in route.methods
        if method not in {"GET", "HEAD", "OPTIONS"}
    )
