"""Typed dependency aliases every router uses: ``DatabaseDep``, ``SettingsDep``, ``MetricsDep``.

This module owns how a route reaches the app's shared parts, so routers never import a global.
A router passes ``DatabaseDep`` on to a service; it never opens a unit of work itself.

The getters are ``async`` although they only read attributes: FastAPI runs a plain ``def``
dependency in the threadpool, and a hop there and back costs more than the whole lookup, on
every request (bench/gateway.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from townhall.platform.context import AppContext
from townhall.platform.db import Database
from townhall.platform.metrics import Metrics
from townhall.settings import Settings


def app_context(request: Request) -> AppContext:
    """The shared parts of the app answering ``request``."""
    context = request.app.state.townhall
    assert isinstance(context, AppContext)
    return context


async def get_database(request: Request) -> Database:
    """The app's database handle."""
    return app_context(request).database


async def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return app_context(request).settings


async def get_metrics(request: Request) -> Metrics:
    """The app's metrics."""
    return app_context(request).metrics


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
