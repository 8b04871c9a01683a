"""``GET /api/v1/events``: the change feed, a page of CloudEvents after a position.

This module owns the route. A consumer remembers ``next_after`` (or follows the ``Link`` header)
and asks again; with ``wait`` the request is held open until an event arrives or the seconds
pass (a long poll), woken by the in-process commit signal and, for commits made by other
processes, by a re-read every ``TOWNHALL_EVENTS_POLL_SECONDS``. Scope ``events:read``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.events import envelope
from townhall.platform.events.feed import checked_filters, read_feed
from townhall.platform.events.registry import EventRegistry
from townhall.platform.events.subscriptions import published_filters
from townhall.platform.events.wakeup import signal_for
from townhall.platform.http.dependencies import DatabaseDep, SettingsDep, app_context
from townhall.platform.http.routing import api_router

TAG = "events"
MAX_WAIT_SECONDS = 30


class FeedPage(BaseModel):
    """One page of the change feed."""

    model_config = ConfigDict(extra="forbid")

    items: list[dict[str, Any]] = Field(
        description=(
            "CloudEvents 1.0 envelopes (structured JSON, as webhooks carry them), in position "
            "order; each one's `sequence` is its position."
        )
    )
    next_after: int = Field(
        ge=0,
        description="Pass as `after` to read on: the last item's position, or `after` if none.",
    )


def describe_feed_filters(app: FastAPI, document: dict[str, Any]) -> None:
    """List the filters ``type`` accepts in the OpenAPI document (an OpenAPI shaper)."""
    registry = app.state.townhall.event_types
    assert isinstance(registry, EventRegistry)
    filters = published_filters(registry)
    operation = document.get("paths", {}).get("/api/v1/events", {}).get("get", {})
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "type":
            schema = parameter.get("schema", {})
            for option in [schema, *schema.get("anyOf", [])]:
                if "items" in option:
                    option["items"]["enum"] = filters


def build_feed_router() -> APIRouter:
    """The change feed's route."""
    router = api_router("/events", tag=TAG)

    @router.get("", response_model=FeedPage)
    async def read_events(
        *,
        principal: Annotated[Principal, require("events:read")],
        database: DatabaseDep,
        settings: SettingsDep,
        request: Request,
        response: Response,
        after: Annotated[
            int,
            Query(
                ge=0,
                le=2**63 - 1,
                description="Read the events after this position (0 for the oldest kept).",
                examples=[0],
            ),
        ] = 0,
        types: Annotated[
            list[str] | None,
            Query(
                alias="type",
                max_length=50,
                description=(
                    "Only these event types: a whole type, or its start followed by `*` "
                    "(`uk.gov.townhall.address.*`). Repeat for several."
                ),
                examples=[["uk.gov.townhall.address.*"]],
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many events.")] = 100,
        wait: Annotated[
            int,
            Query(
                ge=0,
                le=MAX_WAIT_SECONDS,
                description="When nothing is there yet, wait up to this many seconds for it.",
            ),
        ] = 0,
    ) -> FeedPage:
        """Read the events committed after a position: the change feed."""
        del principal
        filters = checked_filters(app_context(request).event_types, types or [])
        signal = signal_for(str(database.engine.url))
        deadline = time.monotonic() + wait
        while True:
            seen = signal.generation  # before reading, so a commit during the read wakes us
            events = await run_in_threadpool(
                read_feed, database, after=after, filters=filters, limit=limit
            )
            remaining = deadline - time.monotonic()
            if events or remaining <= 0:
                break
            await signal.wait(seen, min(remaining, settings.events_poll_seconds))
        next_after = events[-1].position if events else after
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "after"]
        query.append(("after", str(next_after)))
        response.headers["Link"] = f'<{request.url.replace(query=urlencode(query))}>; rel="next"'
        code = settings.council_code
        return FeedPage(
            items=[envelope.to_dict(event, council_code=code) for event in events],
            next_after=next_after,
        )

    return router
