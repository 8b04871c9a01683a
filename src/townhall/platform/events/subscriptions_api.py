"""The subscriptions API: webhook subscriptions, their delivery log, replays and dead letters.

This module owns the routes under ``/api/v1/subscriptions``. It is a thin router: it parses,
checks the caller's scope (``events:subscribe``), calls
``townhall.platform.events.subscriptions`` for the calling consumer's own subscriptions only,
and shapes the answer. A signing secret is in two answers only: creating a subscription and
rotating its secret.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response

from townhall.errors import (
    Conflict,
    IdempotencyKeyInFlight,
    InvalidCursor,
    InvalidHeader,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnprocessableContent,
    ValidationFailed,
)
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.events import subscriptions
from townhall.platform.events.registry import EventRegistry
from townhall.platform.events.schemas import (
    AttemptPublic,
    DeliveryPublic,
    DeliveryStatus,
    RedriveCreate,
    RedrivePublic,
    ReplayCreate,
    ReplayPublic,
    SecretRotatedPublic,
    SubscriptionCreate,
    SubscriptionCreatedPublic,
    SubscriptionPublic,
    SubscriptionUpdate,
)
from townhall.platform.events.signing_secrets import SecretSealer
from townhall.platform.events.subscriptions import TargetPolicy
from townhall.platform.http.concurrency import IfMatchDep, answer_not_modified, with_etag
from townhall.platform.http.dependencies import DatabaseDep, SettingsDep
from townhall.platform.http.pagination import PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import api_router

Subscriber = Annotated[Principal, require("events:subscribe")]
SubscriptionId = Annotated[
    str,
    Path(min_length=1, max_length=36, examples=["0190f3a2-7c4d-7e1f-9a2b-3c4d5e6f7a8b"]),
]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, examples=[1042])]

_INVALID = (ValidationFailed, UnprocessableContent)
_CREATE_CONFLICT = (Conflict, IdempotencyKeyInFlight)
_CHANGE = (NotFound, InvalidHeader, PreconditionFailed, PreconditionRequired)
_SEALER = "webhook_secret_sealer"


def _sealer(request: Request) -> SecretSealer:
    # One per app: it keeps the derived key, so sealing reads no instance secret after the first.
    sealer = getattr(request.app.state, _SEALER, None)
    if sealer is None:
        context = request.app.state.townhall
        sealer = SecretSealer(context.database, context.settings)
        setattr(request.app.state, _SEALER, sealer)
    assert isinstance(sealer, SecretSealer)
    return sealer


def _registry(request: Request) -> EventRegistry:
    registry = request.app.state.townhall.event_types
    assert isinstance(registry, EventRegistry)
    return registry


def describe_event_filters(app: FastAPI, document: dict[str, Any]) -> None:
    """List the filters ``event_types`` accepts in the OpenAPI document (an OpenAPI shaper).

    They come from the app's registry, which the request models cannot know when imported.
    """
    registry = app.state.townhall.event_types
    assert isinstance(registry, EventRegistry)
    filters = subscriptions.published_filters(registry)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("SubscriptionCreate", "SubscriptionUpdate"):
        prop = schemas.get(name, {}).get("properties", {}).get("event_types", {})
        for option in [prop, *prop.get("anyOf", [])]:
            if "items" in option:
                option["items"]["enum"] = filters


def build_subscriptions_router() -> APIRouter:
    """The routes of webhook subscriptions, their deliveries, replays and dead letters."""
    router = api_router("/subscriptions", tag="events")
    _add_subscription_routes(router)
    _add_delivery_routes(router)
    return router


def _add_subscription_routes(router: APIRouter) -> None:
    @router.post("", status_code=201, responses=error_responses(*_CREATE_CONFLICT, *_INVALID))
    def create_subscription(
        *,
        body: SubscriptionCreate,
        principal: Subscriber,
        database: DatabaseDep,
        settings: SettingsDep,
        request: Request,
        response: Response,
    ) -> SubscriptionCreatedPublic:
        """Subscribe a URL to event types. The answer holds the signing secret: the only time
        it is shown. The subscription receives the events committed after it is made."""
        created = subscriptions.create_subscription(
            database,
            _sealer(request),
            _registry(request),
            TargetPolicy(settings),
            consumer_id=principal.consumer_id,
            description=body.description,
            target_url=body.target_url,
            event_types=body.event_types,
            status=body.status,
        )
        record = created.subscription
        response.headers["Location"] = str(
            request.url_for("get_subscription", subscription_id=record.id)
        )
        with_etag(response, record.etag)
        return SubscriptionCreatedPublic(
            **SubscriptionPublic.of(record).model_dump(), secret=created.secret
        )

    @router.get("", responses=error_responses(InvalidCursor))
    def list_subscriptions(
        *,
        principal: Subscriber,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[SubscriptionPublic]:
        """List your subscriptions, oldest first."""
        page = subscriptions.list_subscriptions(database, principal.consumer_id, params.request)
        items = [SubscriptionPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/{subscription_id}", responses=error_responses(NotFound, InvalidHeader))
    def get_subscription(
        *,
        subscription_id: SubscriptionId,
        principal: Subscriber,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> Any:
        """Read one of your subscriptions, with its ETag (never its secret)."""
        record = subscriptions.get_subscription(database, principal.consumer_id, subscription_id)
        if answer_not_modified(request, record.etag):
            return Response(status_code=304, headers={"ETag": record.etag})
        with_etag(response, record.etag)
        return SubscriptionPublic.of(record)

    @router.patch("/{subscription_id}", responses=error_responses(*_CHANGE, *_INVALID))
    def update_subscription(
        *,
        subscription_id: SubscriptionId,
        body: SubscriptionUpdate,
        precondition: IfMatchDep,
        principal: Subscriber,
        database: DatabaseDep,
        settings: SettingsDep,
        request: Request,
        response: Response,
    ) -> SubscriptionPublic:
        """Change a subscription (JSON Merge Patch); `"status": "paused"` pauses deliveries,
        `"active"` resumes them."""
        record = subscriptions.update_subscription(
            database,
            _registry(request),
            TargetPolicy(settings),
            consumer_id=principal.consumer_id,
            subscription_id=subscription_id,
            changes=body.changes(),
            precondition=precondition,
        )
        with_etag(response, record.etag)
        return SubscriptionPublic.of(record)

    @router.delete("/{subscription_id}", status_code=204, responses=error_responses(*_CHANGE))
    def delete_subscription(
        *,
        subscription_id: SubscriptionId,
        precondition: IfMatchDep,
        principal: Subscriber,
        database: DatabaseDep,
    ) -> Response:
        """Delete a subscription with its delivery log; nothing more is sent to it."""
        subscriptions.delete_subscription(
            database, principal.consumer_id, subscription_id, precondition=precondition
        )
        return Response(status_code=204)

    @router.post(
        "/{subscription_id}/secret-rotations",
        status_code=201,
        responses=error_responses(NotFound, *_CREATE_CONFLICT),
    )
    def rotate_subscription_secret(
        *,
        subscription_id: SubscriptionId,
        principal: Subscriber,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> SecretRotatedPublic:
        """Give a subscription a new signing secret, shown this once. The old secret stops
        signing at once: deliveries from now on carry only the new signature."""
        rotated = subscriptions.rotate_secret(
            database, _sealer(request), principal.consumer_id, subscription_id
        )
        record = rotated.subscription
        response.headers["Location"] = str(
            request.url_for("get_subscription", subscription_id=record.id)
        )
        with_etag(response, record.etag)
        return SecretRotatedPublic(
            subscription_id=record.id, secret=rotated.secret, rotated_at=record.updated_at
        )


def _add_delivery_routes(router: APIRouter) -> None:
    @router.get("/{subscription_id}/deliveries", responses=error_responses(NotFound, InvalidCursor))
    def list_deliveries(
        *,
        subscription_id: SubscriptionId,
        principal: Subscriber,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        status: Annotated[
            DeliveryStatus | None, Query(description="Only deliveries in this state.")
        ] = None,
    ) -> PageOut[DeliveryPublic]:
        """List a subscription's deliveries, newest first: each event's state, tries, and how
        its last try went."""
        page = subscriptions.list_deliveries(
            database, principal.consumer_id, subscription_id, params.request, status=status
        )
        items = [DeliveryPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.get(
        "/{subscription_id}/deliveries/{delivery_id}/attempts",
        responses=error_responses(NotFound, InvalidCursor),
    )
    def list_delivery_attempts(
        *,
        subscription_id: SubscriptionId,
        delivery_id: DeliveryId,
        principal: Subscriber,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[AttemptPublic]:
        """List the tries at one delivery, oldest first: status code, error and latency."""
        page = subscriptions.list_attempts(
            database, principal.consumer_id, subscription_id, delivery_id, params.request
        )
        items = [AttemptPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.post(
        "/{subscription_id}/replays",
        status_code=202,
        responses=error_responses(NotFound, *_CREATE_CONFLICT, *_INVALID),
    )
    def replay_subscription(
        *,
        subscription_id: SubscriptionId,
        body: ReplayCreate,
        principal: Subscriber,
        database: DatabaseDep,
    ) -> ReplayPublic:
        """Deliver again every event after `from_position`, or from `from_time` on, that the
        subscription selects (as long as the outbox keeps them)."""
        replayed = subscriptions.replay(
            database,
            principal.consumer_id,
            subscription_id,
            from_position=getattr(body, "from_position", None),
            from_time=getattr(body, "from_time", None),
        )
        return ReplayPublic(reset=replayed.reset, position=replayed.position)

    @router.get(
        "/{subscription_id}/dead-letters", responses=error_responses(NotFound, InvalidCursor)
    )
    def list_dead_letters(
        *,
        subscription_id: SubscriptionId,
        principal: Subscriber,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[DeliveryPublic]:
        """List the deliveries given up on, newest first."""
        page = subscriptions.list_deliveries(
            database, principal.consumer_id, subscription_id, params.request, status="dead"
        )
        items = [DeliveryPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.post(
        "/{subscription_id}/dead-letters/redrive",
        status_code=202,
        responses=error_responses(NotFound, *_CREATE_CONFLICT, *_INVALID),
    )
    def redrive_dead_letters(
        *,
        subscription_id: SubscriptionId,
        principal: Subscriber,
        database: DatabaseDep,
        body: RedriveCreate | None = None,
    ) -> RedrivePublic:
        """Send dead deliveries again, from the first try: those in `delivery_ids`, or all."""
        count = subscriptions.redrive(
            database,
            principal.consumer_id,
            subscription_id,
            None if body is None else body.delivery_ids,
        )
        return RedrivePublic(redriven=count)
