"""Operational endpoints: liveness, readiness (the database and its schema) and metrics.

This module owns what a load balancer or an operator polls. These routes are public by design:
they reveal no data, only whether the instance can serve.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from townhall.errors import ServiceUnavailable
from townhall.platform.auth.dependencies import public
from townhall.platform.db import Database
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import townhall_router
from townhall.platform.metrics import METRICS_CONTENT_TYPE, Metrics
from townhall.platform.migrations import current_revision, head_revision


class Liveness(BaseModel):
    """The process is up."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"] = "ok"


class DatabaseCheck(BaseModel):
    """What the readiness check found in the database."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"]
    dialect: str = Field(examples=["sqlite"])
    latency_ms: float = Field(examples=[0.4])
    schema_revision: str | None = Field(examples=["0001"])
    schema_head: str = Field(examples=["0001"])


class Readiness(BaseModel):
    """The instance can serve requests."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["ok"] = "ok"
    database: DatabaseCheck


def build_health_router(database: Database, metrics: Metrics) -> APIRouter:
    """Routes ``/health/live``, ``/health/ready`` and ``/metrics``."""
    # Public and never rate limited: load balancers and Prometheus poll these all day.
    router = townhall_router(tags=["health"], dependencies=[public()])

    @router.get("/health/live", summary="Is the process up?")
    def live() -> Liveness:
        """Always answers 200 while the process can answer at all."""
        return Liveness()

    @router.get(
        "/health/ready",
        summary="Can the instance serve?",
        responses=error_responses(ServiceUnavailable),
    )
    def ready() -> Readiness:
        """Checks that the database answers and its schema is at the code's migration head."""
        try:
            latency = database.ping()
        except ServiceUnavailable:
            metrics.database_up.set(0)
            raise
        revision = current_revision(database)
        head = head_revision()
        if revision != head:
            metrics.database_up.set(0)
            raise ServiceUnavailable(
                f"The database schema is at {revision or 'nothing'}, the code needs {head}: "
                "run `townhall db upgrade`.",
            )
        metrics.database_up.set(1)
        return Readiness(
            database=DatabaseCheck(
                status="ok",
                dialect=database.dialect,
                latency_ms=round(latency * 1000, 3),
                schema_revision=revision,
                schema_head=head,
            )
        )

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {METRICS_CONTENT_TYPE: {"schema": {"type": "string"}}}}},
    )
    def prometheus_metrics(_request: Request) -> Response:
        """Request counts and durations by route template, in Prometheus text format."""
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    return router
