"""The data protection officer's API: search the audit trail, hold accesses back, export.

This module owns the routes under ``/api/v1/audit``. It is a thin router: it parses, checks the
caller's scope (``audit:read`` to search and look at holds, ``audit:write`` to make and lift
holds, ``audit:export`` for subject access exports), calls ``search``, ``holds`` and
``subject_access``, and shapes the answer.

Looking at the trail is itself a use of the residents' data: every answer that shows records or
holds about residents records one use per resident shown (``viewed``, the record of who used
their data) before it is sent, an export records ``exported`` (everything held), and making or
lifting a hold is recorded with the hold, in its unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from townhall.data_uses import all_ids_of, held_data_sources, vocabulary
from townhall.errors import (
    Conflict,
    FieldError,
    IdempotencyKeyInFlight,
    InvalidCursor,
    NotFound,
    UnprocessableContent,
    ValidationFailed,
)
from townhall.platform.audit import holds, subject_access
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.resident_view import known_service, utc_now
from townhall.platform.audit.schemas import (
    IDENTIFIER_PATTERN,
    AuditRecordFoundPublic,
    HoldCreate,
    HoldPublic,
    SubjectAccessPublic,
)
from townhall.platform.audit.search import RecordFilters, resident_ids, search_records
from townhall.platform.audit.vocabulary import DATA_PROTECTION, DATA_USES, EVERYTHING_HELD, Action
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.http.dependencies import DatabaseDep
from townhall.platform.http.pagination import PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.query_times import QueryTime
from townhall.platform.http.routing import api_router

Reader = Annotated[Principal, require("audit:read")]
Writer = Annotated[Principal, require("audit:write")]
Exporter = Annotated[Principal, require("audit:export")]
TrailUses = Annotated[DataUses, personal_data(DATA_PROTECTION, DATA_USES)]
ExportUses = Annotated[DataUses, personal_data(DATA_PROTECTION, EVERYTHING_HELD)]
HoldId = Annotated[str, Path(min_length=1, max_length=32, examples=["hld_8a1b2c3d4e5f6071"])]
ResidentId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, examples=["res-0042"])
]


def _identifier(description: str) -> object:
    return Query(min_length=1, max_length=64, pattern=IDENTIFIER_PATTERN, description=description)


ResidentFilter = Annotated[str | None, _identifier("Only records about this resident.")]
ConsumerFilter = Annotated[str | None, _identifier("Only records of this consumer's calls.")]
# The services are every domain's, known once the app is built from townhall.data_uses.
ServiceFilter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=32,
        description="Only records of this service (its key).",
        json_schema_extra={"enum": sorted(vocabulary().services)},
    ),
]
ActorFilter = Annotated[
    str | None, _identifier("Only records of what this staff (or resident) account did.")
]

_INVALID = (ValidationFailed, UnprocessableContent)


def check_filters(filters: RecordFilters) -> RecordFilters:
    """``filters`` if they can match something; ValidationFailed naming the field otherwise."""
    if filters.service is not None:
        known_service(filters.service)
    if (
        filters.occurred_from is not None
        and filters.occurred_to is not None
        and filters.occurred_from > filters.occurred_to
    ):
        raise ValidationFailed(
            [FieldError("query.occurred_to", "occurred_to must not be before occurred_from.")]
        )
    return filters


def build_audit_router() -> APIRouter:
    """The ``/api/v1/audit`` operations."""
    router = api_router("/audit", tag="audit")
    _add_record_routes(router)
    _add_hold_routes(router)
    return router


def _add_record_routes(router: APIRouter) -> None:
    @router.get("/records", responses=error_responses(InvalidCursor, *_INVALID))
    def list_audit_records(
        *,
        principal: Reader,
        uses: TrailUses,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        resident_id: ResidentFilter = None,
        consumer_id: ConsumerFilter = None,
        actor_id: ActorFilter = None,
        action: Annotated[Action | None, Query(description="Only records of this action.")] = None,
        service: ServiceFilter = None,
        occurred_from: Annotated[
            QueryTime | None, Query(description="Only records made at or after this time.")
        ] = None,
        occurred_to: Annotated[
            QueryTime | None, Query(description="Only records made at or before this time.")
        ] = None,
    ) -> PageOut[AuditRecordFoundPublic]:
        """Search the audit trail, newest first: every field of each record, and whether a
        hold hides it from its resident. Each resident shown is told of the search."""
        filters = check_filters(
            RecordFilters(
                resident_id=resident_id,
                consumer_id=consumer_id,
                actor_id=actor_id,
                action=action.value if action is not None else None,
                service=service,
                occurred_from=_aware(occurred_from, "occurred_from"),
                occurred_to=_aware(occurred_to, "occurred_to"),
            )
        )
        page = search_records(database, filters, params.request, now=utc_now())
        uses.record_now(*(uses.of(resident) for resident in resident_ids(page.items)))
        items = [AuditRecordFoundPublic.found(record) for record in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/subject-access/{resident_id}", responses=error_responses(NotFound, *_INVALID))
    def export_subject_access(
        *, resident_id: ResidentId, principal: Exporter, uses: ExportUses, database: DatabaseDep
    ) -> SubjectAccessPublic:
        """Everything the council holds about a resident, and every use of it, for a subject
        access request. A resident merged into another is that one: the export covers the id
        the resident has now and every id merged into it, and lists them in `resident_ids`.
        Uses an active hold hides are left out and counted, by hold. A resident the council
        holds nothing about, with no use recorded, is a 404."""
        export = subject_access.export_held_data(
            database, all_ids_of(database, resident_id), held_data_sources(), now=utc_now()
        )
        if export.holds_nothing:
            raise NotFound(f"Nothing is held about resident {resident_id}, and no use is recorded.")
        uses.record_now(uses.of(export.resident_id, action=Action.EXPORTED))
        return SubjectAccessPublic.of(export)


def _add_hold_routes(router: APIRouter) -> None:
    @router.post(
        "/holds",
        status_code=201,
        responses=error_responses(Conflict, IdempotencyKeyInFlight, *_INVALID),
    )
    def create_audit_hold(
        *,
        body: HoldCreate,
        principal: Writer,
        uses: TrailUses,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> HoldPublic:
        """Hide accesses from a resident until a date, for an investigation. Making the hold
        is itself recorded; so is lifting it."""
        now = utc_now()
        hold = holds.make_hold(database, body.new_hold(), uses.actor, now=now)
        response.headers["Location"] = str(request.url_for("get_audit_hold", hold_id=hold.id))
        return HoldPublic.of(hold, now)

    @router.get("/holds", responses=error_responses(InvalidCursor, *_INVALID))
    def list_audit_holds(
        *,
        principal: Reader,
        uses: TrailUses,
        database: DatabaseDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        resident_id: ResidentFilter = None,
    ) -> PageOut[HoldPublic]:
        """List holds, newest first, lifted and ended ones too."""
        page = holds.list_holds(database, params.request, resident_id=resident_id)
        shown = dict.fromkeys(hold.resident_id for hold in page.items)
        uses.record_now(*(uses.of(resident) for resident in shown))
        now = utc_now()
        items = [HoldPublic.of(hold, now) for hold in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/holds/{hold_id}", responses=error_responses(NotFound))
    def get_audit_hold(
        *, hold_id: HoldId, principal: Reader, uses: TrailUses, database: DatabaseDep
    ) -> HoldPublic:
        """Read one hold."""
        hold = holds.get_hold(database, hold_id)
        uses.record_now(uses.of(hold.resident_id))
        return HoldPublic.of(hold, utc_now())

    @router.post(
        "/holds/{hold_id}/lift",
        responses=error_responses(NotFound, Conflict, IdempotencyKeyInFlight),
    )
    def lift_audit_hold(
        *, hold_id: HoldId, principal: Writer, uses: TrailUses, database: DatabaseDep
    ) -> HoldPublic:
        """Lift a hold before its date: the resident sees the accesses it hid again. A hold
        that has ended or was lifted already is a 409."""
        now = utc_now()
        return HoldPublic.of(holds.lift_hold(database, hold_id, uses.actor, now=now), now)


def _aware(moment: datetime | None, name: str) -> datetime | None:
    """A time filter, which must say its offset (``Z`` for UTC)."""
    if moment is not None and moment.tzinfo is None:
        raise ValidationFailed(
            [FieldError(f"query.{name}", f"{name} must give its offset, such as Z for UTC.")]
        )
    return moment
