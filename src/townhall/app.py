"""The application factory: ``create_app(settings)`` builds one Townhall ASGI app.

Nothing happens at import time. Everything an app needs (database, metrics, templates, routers)
is built here from the settings it is given, so tests can run many apps side by side and an ASGI
server can build one per worker with ``townhall.app:create_app_from_environment``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import cache

from fastapi import APIRouter, FastAPI

from townhall import __version__
from townhall.domains.addresses.api import build_addresses_router
from townhall.domains.addresses.matching_api import build_address_matches_router
from townhall.domains.people.api import build_people_router
from townhall.domains.people.me_api import build_people_me_router
from townhall.domains.people.sources_api import build_sources_router
from townhall.event_types import event_readers, event_registry
from townhall.platform.audit.api import build_audit_router
from townhall.platform.audit.checkpoints import keep_signing
from townhall.platform.audit.me_api import build_me_router
from townhall.platform.audit.recorder import UseRecorder
from townhall.platform.auth.admin_api import build_consumers_router
from townhall.platform.auth.install import describe_access, install_access_control
from townhall.platform.context import AppContext
from townhall.platform.db import Database
from townhall.platform.events.asyncapi import build_asyncapi_router
from townhall.platform.events.dispatcher import Dispatcher
from townhall.platform.events.feed_api import build_feed_router, describe_feed_filters
from townhall.platform.events.subscriptions_api import (
    build_subscriptions_router,
    describe_event_filters,
)
from townhall.platform.health import build_health_router
from townhall.platform.http.idempotency import IdempotencyStore
from townhall.platform.http.middleware import RequestContextMiddleware, SecurityHeadersMiddleware
from townhall.platform.http.openapi import install_openapi, operation_id
from townhall.platform.http.pagination import CursorCodec
from townhall.platform.http.problems import install_problem_handlers
from townhall.platform.http.routing import add_operations
from townhall.platform.logging import configure_logging
from townhall.platform.metrics import Metrics
from townhall.platform.ratelimit import InProcessStore, RateLimiter, RateLimitStore
from townhall.platform.retention import keep_purging
from townhall.platform.secrets import instance_secret
from townhall.portal.views import build_portal
from townhall.settings import Environment, Settings

__all__ = ["AppContext", "api_routers", "create_app", "create_app_from_environment"]

API_DESCRIPTION = """\
Townhall serves a council's core records through one set of conventions.

* Errors are always `application/problem+json` (RFC 9457) with a `request_id`.
* Lists are `{"items": [...], "next_cursor": ...}` with a `Link: rel="next"` header; pass
  `cursor` back to get the next page, and `limit` (1 to 200, default 50) to size it.
* Mutable resources carry an `ETag`; changes need `If-Match`.
* Creates accept an `Idempotency-Key` header so a retried request creates one thing.
* Operations need a bearer token carrying their scope: exchange a client id and secret for one
  at `/oauth/token` (OAuth 2.0 client credentials). Tokens last minutes; the keys that sign them
  are at `/.well-known/jwks.json`.
"""


@cache
def api_routers() -> tuple[APIRouter, ...]:
    """The API's operations, built once per process and included in every app.

    They hold no app's state: each operation finds its app's context on the request
    (``request.app.state``). Building them is most of the cost of an app (about 0.35 s of 0.4 s
    for some 120 operations, FastAPI analysing each signature and response model), which every
    app in a test run, and every reload of a worker, would otherwise pay again. FastAPI includes
    a router without changing it, so one router can serve many apps.
    """
    return (
        build_consumers_router(),
        build_subscriptions_router(),
        build_feed_router(),
        build_asyncapi_router(),
        build_addresses_router(),
        build_address_matches_router(),
        build_people_router(),
        build_sources_router(),
        build_audit_router(),
        build_me_router(),
        build_people_me_router(),
    )


def create_app(settings: Settings) -> FastAPI:
    """Build a Townhall app for ``settings``."""
    if settings.environment == Environment.PRODUCTION and settings.secret_key is None:
        msg = "TOWNHALL_SECRET_KEY must be set in production"
        raise RuntimeError(msg)
    configure_logging(settings)
    database = Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        echo=settings.database_echo,
    )
    metrics = Metrics()
    rate_limit_store = _rate_limit_store(settings)
    secret = settings.secret_key
    context = AppContext(
        settings=settings,
        database=database,
        metrics=metrics,
        # Read lazily: the instance key lives in the database, which may not be migrated yet.
        cursors=CursorCodec(
            secret.get_secret_value().encode()
            if secret is not None
            else lambda: instance_secret(database, "cursor-signing")
        ),
        idempotency=IdempotencyStore(database, timedelta(hours=settings.idempotency_key_ttl_hours)),
        rate_limiter=RateLimiter(rate_limit_store),
        event_types=event_registry(),
        audit=UseRecorder(database),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        retention = asyncio.create_task(
            keep_purging(
                database,
                interval=60.0 * settings.retention_interval_minutes,
                events_kept_for=timedelta(days=settings.events_retention_days),
                audit_kept_for=timedelta(days=settings.audit_retention_days),
            )
        )
        checkpoints = asyncio.create_task(
            keep_signing(database, settings, interval=60.0 * settings.audit_checkpoint_minutes)
        )
        stop_dispatching = asyncio.Event()
        dispatching = (
            asyncio.create_task(
                Dispatcher(
                    settings, database, event_readers(settings), metrics=metrics.registry
                ).run(stop_dispatching)
            )
            if settings.events_dispatcher
            else None
        )
        yield
        for periodic in (retention, checkpoints):
            periodic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await periodic
        if dispatching is not None:
            # It finishes the webhooks in flight (each within the timeout) and releases leases.
            stop_dispatching.set()
            await asyncio.wait({dispatching}, timeout=settings.events_webhook_timeout_seconds + 5)
            dispatching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatching
        # Reads recorded before this point are committed; later ones are refused, never lost.
        context.audit.close()
        database.dispose()
        # A store that holds connections (Redis) lets them go with the app.
        close = getattr(rate_limit_store, "close", None)
        if close is not None:
            close()

    app = FastAPI(
        title=f"Townhall API: {settings.council_name}",
        version=__version__,
        # The portal serves the API reference at /api/docs, with Swagger UI from the instance.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "health", "description": "Whether the instance is up and can serve."},
            {
                "name": "consumers",
                "description": (
                    "The machines that call the APIs: their client secrets, their grants of "
                    "scopes, and the log of changes to them."
                ),
            },
            {
                "name": "events",
                "description": (
                    "Events as records change: webhook subscriptions (signed, retried, "
                    "replayable), their delivery log and dead letters, and the change feed."
                ),
            },
        ],
    )
    app.state.townhall = context
    install_problem_handlers(app)
    install_openapi(
        app,
        description=API_DESCRIPTION,
        shapers=[describe_access, describe_event_filters, describe_feed_filters],
    )

    add_operations(app, build_health_router(database, metrics))
    # The token endpoint, the key set, and the verifier every require(scope) asks.
    install_access_control(app, context)
    add_operations(app, *api_routers())
    build_portal(app, context)

    # Added innermost first. The request context answers unexpected exceptions itself, so the
    # security headers must wrap it to reach those answers too.
    app.add_middleware(RequestContextMiddleware, header=settings.request_id_header, metrics=metrics)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.hsts_enabled)
    return app


def _rate_limit_store(settings: Settings) -> RateLimitStore:
    """Counts in Redis when ``TOWNHALL_REDIS_URL`` is set, in this process otherwise."""
    if settings.redis_url is None:
        return InProcessStore()
    try:
        # Imported only here: the embedded default must run without the redis extra.
        from townhall.platform.ratelimit_redis import RedisStore  # noqa: PLC0415
    except ImportError as exc:
        msg = "TOWNHALL_REDIS_URL needs the redis extra: pip install 'townhall[redis]'"
        raise RuntimeError(msg) from exc
    return RedisStore.from_url(settings.redis_url.get_secret_value())


def create_app_from_environment() -> FastAPI:
    """Build an app from ``TOWNHALL_*`` variables (the entry point for ASGI servers' workers)."""
    return create_app(Settings())
