"""The consumers admin API: register consumers, rotate their secrets, grant and revoke scopes.

This module owns the routes under ``/api/v1/consumers`` and ``/api/v1/consumer-changes``. It is
a thin router: it parses, checks the caller's scope (``consumers:read`` to look,
``consumers:write`` to change), calls ``townhall.platform.auth.consumers`` and ``grants``, and
shapes the answer. Changes are recorded in the change log as made by the calling consumer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

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
from townhall.platform.auth import client_secrets, consumers, grants
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.dependencies import forget_consumer_access, require
from townhall.platform.auth.grants import NewGrant
from townhall.platform.auth.models import ConsumerKind, EnvironmentName
from townhall.platform.auth.principal import Principal
from townhall.platform.auth.schemas import (
    ChangePublic,
    ConsumerCreate,
    ConsumerCreatedPublic,
    ConsumerPublic,
    ConsumerUpdate,
    GrantCreate,
    GrantPublic,
    SecretCreate,
    SecretCreatedPublic,
    SecretPublic,
)
from townhall.platform.http.concurrency import IfMatchDep, answer_not_modified, with_etag
from townhall.platform.http.dependencies import DatabaseDep, SettingsDep
from townhall.platform.http.pagination import PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import api_router, joined

Reader = Annotated[Principal, require("consumers:read")]
Writer = Annotated[Principal, require("consumers:write")]
ConsumerId = Annotated[str, Path(min_length=1, max_length=64, examples=["con_3f9a0c1d2b4e5f60"])]
GrantId = Annotated[str, Path(min_length=1, max_length=64, examples=["grt_8a1b2c3d4e5f6071"])]
SecretId = Annotated[str, Path(min_length=1, max_length=64, examples=["sec_5d1e7a9b3c2f4e60"])]

# A service refuses input the schema cannot judge (an unknown scope) with a 422 of its own.
_INVALID = (ValidationFailed, UnprocessableContent)
_CREATE_CONFLICT = (Conflict, IdempotencyKeyInFlight)
_CHANGE = (NotFound, InvalidHeader, PreconditionFailed, PreconditionRequired)


def actor_of(principal: Principal) -> str:
    """How the change log names a consumer acting through this API."""
    return f"consumer:{principal.consumer_id}"


def build_consumers_router() -> APIRouter:
    """The routes of consumers, their secrets and grants, and the log of changes to them."""
    router = api_router("/consumers", tag="consumers")
    _add_consumer_routes(router)
    _add_secret_routes(router)
    _add_grant_routes(router)
    log = api_router("/consumer-changes", tag="consumers")
    _add_change_routes(log)
    return joined(router, log)


def _add_consumer_routes(router: APIRouter) -> None:
    @router.post("", status_code=201, responses=error_responses(*_INVALID))
    def create_consumer(
        *,
        body: ConsumerCreate,
        principal: Writer,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> ConsumerCreatedPublic:
        """Register a consumer. The answer holds its client secret: the only time it is shown."""
        registered = consumers.create_consumer(
            database,
            name=body.name,
            owning_team=body.owning_team,
            contact_email=body.contact_email,
            kind=body.kind,
            rate_limit_per_minute=body.rate_limit_per_minute,
            quota_per_day=body.quota_per_day,
            actor=actor_of(principal),
        )
        record = registered.consumer
        response.headers["Location"] = str(request.url_for("get_consumer", consumer_id=record.id))
        with_etag(response, record.etag)
        return ConsumerCreatedPublic(
            **ConsumerPublic.of(record).model_dump(), client_secret=registered.client_secret
        )

    @router.get("", responses=error_responses(InvalidCursor))
    def list_consumers(
        *,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        kind: ConsumerKind | None = None,
        enabled: bool | None = None,
        q: Annotated[
            str | None, Query(max_length=200, description="Words in the consumer's name.")
        ] = None,
    ) -> PageOut[ConsumerPublic]:
        """List consumers by name."""
        page = consumers.list_consumers(database, params.request, kind=kind, enabled=enabled, q=q)
        items = [ConsumerPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/{consumer_id}", responses=error_responses(NotFound, InvalidHeader))
    def get_consumer(
        *,
        consumer_id: ConsumerId,
        principal: Reader,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> Any:
        """Read one consumer, with its ETag."""
        record = consumers.get_consumer(database, consumer_id)
        if answer_not_modified(request, record.etag):
            return Response(status_code=304, headers={"ETag": record.etag})
        with_etag(response, record.etag)
        return ConsumerPublic.of(record)

    @router.patch("/{consumer_id}", responses=error_responses(*_CHANGE, *_INVALID))
    def update_consumer(
        *,
        consumer_id: ConsumerId,
        body: ConsumerUpdate,
        precondition: IfMatchDep,
        principal: Writer,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> ConsumerPublic:
        """Change a consumer (JSON Merge Patch); `"enabled": false` stops its tokens within
        seconds (at once on the worker that answers)."""
        record = consumers.update_consumer(
            database,
            consumer_id,
            body.changes(),
            actor=actor_of(principal),
            precondition=precondition,
        )
        forget_consumer_access(request, consumer_id)
        with_etag(response, record.etag)
        return ConsumerPublic.of(record)


def _add_secret_routes(router: APIRouter) -> None:
    @router.get("/{consumer_id}/secrets", responses=error_responses(NotFound, InvalidCursor))
    def list_secrets(
        *,
        consumer_id: ConsumerId,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
    ) -> PageOut[SecretPublic]:
        """List the records of a consumer's secrets (never the secrets), oldest first."""
        page = client_secrets.list_secrets(database, consumer_id, params.request)
        items = [SecretPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.post(
        "/{consumer_id}/secrets", status_code=201, responses=error_responses(NotFound, *_INVALID)
    )
    def rotate_secret(
        *,
        consumer_id: ConsumerId,
        principal: Writer,
        database: DatabaseDep,
        request: Request,
        response: Response,
        body: SecretCreate | None = None,
    ) -> SecretCreatedPublic:
        """Give a consumer a new secret, shown this once; its old ones stop after the overlap."""
        issued = client_secrets.rotate_secret(
            database,
            consumer_id,
            actor=actor_of(principal),
            overlap=timedelta(hours=(body or SecretCreate()).overlap_hours),
        )
        response.headers["Location"] = str(
            request.url_for("get_secret", consumer_id=consumer_id, secret_id=issued.record.id)
        )
        return SecretCreatedPublic(
            **SecretPublic.of(issued.record).model_dump(),
            consumer_id=issued.consumer_id,
            client_id=issued.client_id,
            client_secret=issued.client_secret,
            previous_secrets_expire_at=issued.previous_expire_at,
        )

    @router.get("/{consumer_id}/secrets/{secret_id}", responses=error_responses(NotFound))
    def get_secret(
        *,
        consumer_id: ConsumerId,
        secret_id: SecretId,
        principal: Reader,
        database: DatabaseDep,
    ) -> SecretPublic:
        """Read the record of one secret: when it was made and when it stops working."""
        return SecretPublic.of(client_secrets.get_secret(database, consumer_id, secret_id))


def _add_grant_routes(router: APIRouter) -> None:
    @router.get("/{consumer_id}/grants", responses=error_responses(NotFound, InvalidCursor))
    def list_grants(
        *,
        consumer_id: ConsumerId,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        environment: EnvironmentName | None = None,
    ) -> PageOut[GrantPublic]:
        """List a consumer's grants, revoked and expired ones included."""
        page = grants.list_grants(database, consumer_id, params.request, environment=environment)
        items = [GrantPublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.post(
        "/{consumer_id}/grants",
        status_code=201,
        responses=error_responses(NotFound, *_CREATE_CONFLICT, *_INVALID),
    )
    def create_grant(
        *,
        consumer_id: ConsumerId,
        body: GrantCreate,
        principal: Writer,
        database: DatabaseDep,
        settings: SettingsDep,
        request: Request,
        response: Response,
    ) -> GrantPublic:
        """Grant a consumer a scope for a stated purpose (in this environment unless told)."""
        record = grants.grant_scope(
            database,
            consumer_id,
            NewGrant(
                scope=body.scope,
                purpose=body.purpose,
                environment=body.environment or settings.environment.value,
                expires_at=body.expires_at,
            ),
            approved_by=actor_of(principal),
        )
        response.headers["Location"] = str(
            request.url_for("get_grant", consumer_id=consumer_id, grant_id=record.id)
        )
        with_etag(response, record.etag)
        return GrantPublic.of(record)

    @router.get(
        "/{consumer_id}/grants/{grant_id}", responses=error_responses(NotFound, InvalidHeader)
    )
    def get_grant(
        *,
        consumer_id: ConsumerId,
        grant_id: GrantId,
        principal: Reader,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> Any:
        """Read one grant, with its ETag."""
        record = grants.get_grant(database, consumer_id, grant_id)
        if answer_not_modified(request, record.etag):
            return Response(status_code=304, headers={"ETag": record.etag})
        with_etag(response, record.etag)
        return GrantPublic.of(record)

    @router.delete(
        "/{consumer_id}/grants/{grant_id}",
        status_code=204,
        responses=error_responses(*_CHANGE, Conflict),
    )
    def revoke_grant(
        *,
        consumer_id: ConsumerId,
        grant_id: GrantId,
        precondition: IfMatchDep,
        principal: Writer,
        database: DatabaseDep,
        request: Request,
    ) -> Response:
        """Revoke a grant. It is kept, marked revoked; tokens lose the scope within seconds."""
        grants.revoke_grant(
            database,
            consumer_id,
            grant_id,
            actor=actor_of(principal),
            precondition=precondition,
        )
        forget_consumer_access(request, consumer_id)
        return Response(status_code=204)


def _add_change_routes(log: APIRouter) -> None:
    @log.get("", responses=error_responses(InvalidCursor))
    def list_consumer_changes(
        *,
        principal: Reader,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        target_type: Annotated[str | None, Query(max_length=32)] = None,
        target_id: Annotated[str | None, Query(max_length=64)] = None,
        action: Annotated[str | None, Query(max_length=64)] = None,
    ) -> PageOut[ChangePublic]:
        """List the changes made to consumers, secrets and grants, oldest first."""
        page = list_changes(
            database, params.request, target_type=target_type, target_id=target_id, action=action
        )
        items = [ChangePublic.of(record) for record in page.items]
        return page_response(page, params, request, response, items)
