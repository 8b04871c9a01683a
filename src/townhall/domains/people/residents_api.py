"""The residents API: search, one resident and its links, merge, unlink, decisions and undo,
the review queue, and the survivorship rules.

This module adds these routes to the ``/api/v1/people`` router (``api.build_people_router``).
Reads need ``people:read`` and record one use per resident shown before answering; writes need
``people:write`` and record their uses (with the resident ids they touched) in the unit of work
of the change, through ``residents.apply``. A resident has an ETag; merge and unlink change the
resident named in the path and take its ETag in ``If-Match`` (412 when it is stale). It is
optional, as on every POST (API-STANDARDS.md requires it of PATCH, PUT and DELETE): a POST is a
create, of a decision here, and a retry is kept from repeating by its ``Idempotency-Key``.
Changing the survivorship rules is a PUT, so it needs the rules' ETag in ``If-Match`` (428
without it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from townhall.domains.people import decisions, golden, residents, review
from townhall.domains.people.data_uses import LINKS, PEOPLE, RESIDENT, REVIEW_ITEM
from townhall.domains.people.resident_schemas import (
    DecisionPublic,
    LinkedRecordPublic,
    MergeRequest,
    ReasonRequest,
    ResidentPublic,
    ResidentSummaryPublic,
    ReviewItemPublic,
    SurvivorshipRulePublic,
    SurvivorshipRulesPublic,
    SurvivorshipRulesUpdate,
    UnlinkRequest,
)
from townhall.errors import (
    Conflict,
    DataUseNotRecorded,
    InvalidCursor,
    InvalidHeader,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
)
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.vocabulary import Action
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.db import order_commits
from townhall.platform.http.concurrency import (
    IfMatchDep,
    OptionalIfMatchDep,
    answer_with_etag,
    etag_of,
    with_etag,
)
from townhall.platform.http.dependencies import DatabaseDep
from townhall.platform.http.pagination import PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses

Reader = Annotated[Principal, require("people:read")]
Writer = Annotated[Principal, require("people:write")]
ResidentUses = Annotated[DataUses, personal_data(PEOPLE, RESIDENT)]
LinkUses = Annotated[DataUses, personal_data(PEOPLE, LINKS)]
ReviewUses = Annotated[DataUses, personal_data(PEOPLE, REVIEW_ITEM)]
ResidentId = Annotated[str, Path(min_length=2, max_length=16, examples=["R7K3MQ9XA2"])]
DecisionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_WRITE_ERRORS = (NotFound, Conflict, ValidationFailed)
# Merge and unlink change the resident in the path, so they also answer for its ETag.
_RESIDENT_WRITE_ERRORS = (*_WRITE_ERRORS, InvalidHeader, PreconditionFailed)


def subject_of(resident_id: str) -> str:
    """The audit trail's key of a resident."""
    return f"people-resident:{resident_id}"


def add_resident_routes(router: APIRouter) -> None:
    """Add the residents, decisions, review and rules routes to the people router."""
    _add_resident_reads(router)
    _add_resident_writes(router)
    _add_decision_routes(router)
    _add_review_routes(router)
    _add_rules_routes(router)


def _add_resident_reads(router: APIRouter) -> None:
    @router.get("/residents", responses=error_responses(ValidationFailed, InvalidCursor))
    async def search_residents(
        *,
        principal: Reader,
        database: DatabaseDep,
        uses: ResidentUses,
        params: PageParamsDep,
        request: Request,
        response: Response,
        q: Annotated[
            str | None,
            Query(max_length=200, description="Names, in any order, case or accents."),
        ] = None,
        date_of_birth: Annotated[date | None, Query()] = None,
        postcode: Annotated[str | None, Query(max_length=8)] = None,
        uprn: Annotated[int | None, Query(ge=1, le=999_999_999_999)] = None,
    ) -> PageOut[ResidentSummaryPublic]:
        """Search residents by name, date of birth, postcode or UPRN (at least one). Each
        resident in the page is recorded as searched in the audit trail."""
        page = await run_in_threadpool(
            residents.search_residents,
            database,
            params.request,
            q=q,
            date_of_birth=date_of_birth,
            postcode=postcode,
            uprn=uprn,
        )
        await uses.record(
            *(
                uses.of(found.id, action=Action.SEARCHED, subject=subject_of(found.id))
                for found in page.items
            )
        )
        items = [ResidentSummaryPublic.of(found) for found in page.items]
        return page_response(page, params, request, response, items)

    @router.get(
        "/residents/{resident_id}",
        response_model=ResidentPublic,
        responses={
            304: {"description": "Unchanged since the ETag sent in If-None-Match."},
            308: {"description": "The resident was merged: Location names the survivor."},
            **error_responses(NotFound, InvalidHeader, DataUseNotRecorded),
        },
    )
    async def get_resident(
        *,
        resident_id: ResidentId,
        principal: Reader,
        database: DatabaseDep,
        uses: ResidentUses,
        request: Request,
        response: Response,
    ) -> Any:
        """One resident: golden record (each field with its source and rule), contact details,
        addresses and source records, with an ETag. A merged resident's id answers 308 with
        the survivor's address."""
        view = await run_in_threadpool(residents.get_resident, database, resident_id)
        if view.status == "merged":
            survivor = await run_in_threadpool(residents.survivor_of, database, resident_id)
            location = str(request.url_for("get_resident", resident_id=survivor))
            return RedirectResponse(location, status_code=308)
        await uses.record(uses.of(view.id, subject=subject_of(view.id)))
        etag = residents.resident_etag(view.id, view.version)
        return answer_with_etag(request, response, etag, ResidentPublic.of(view))

    @router.get(
        "/residents/{resident_id}/links",
        responses=error_responses(NotFound, DataUseNotRecorded),
    )
    async def list_resident_links(
        *, resident_id: ResidentId, principal: Reader, database: DatabaseDep, uses: LinkUses
    ) -> list[LinkedRecordPublic]:
        """The source records linked to a resident, and how each came to be linked."""
        records = await run_in_threadpool(residents.list_links, database, resident_id)
        await uses.record(uses.of(resident_id, subject=subject_of(resident_id)))
        return [LinkedRecordPublic.of(record) for record in records]


def _decision_answer(
    decision: decisions.Decision, request: Request, response: Response
) -> DecisionPublic:
    response.headers["Location"] = str(request.url_for("get_decision", decision_id=decision.id))
    return DecisionPublic.of(decision)


def _add_resident_writes(router: APIRouter) -> None:
    @router.post(
        "/residents/{resident_id}/merge",
        status_code=201,
        responses=error_responses(*_RESIDENT_WRITE_ERRORS),
    )
    def merge_residents(
        *,
        resident_id: ResidentId,
        body: MergeRequest,
        precondition: OptionalIfMatchDep,
        principal: Writer,
        database: DatabaseDep,
        uses: LinkUses,
        request: Request,
        response: Response,
    ) -> DecisionPublic:
        """Merge another resident into this one: its records move here, its id leads here. The
        answer is the decision (undo it with POST /decisions/{id}/undo). Send this resident's
        ETag in `If-Match` to merge only into the resident you read (412 if it has changed)."""
        decision = residents.merge(
            database,
            resident_id,
            body.other_resident_id,
            actor=uses.actor,
            reason=body.reason,
            precondition=precondition,
        )
        return _decision_answer(decision, request, response)

    @router.post(
        "/residents/{resident_id}/unlink",
        status_code=201,
        responses=error_responses(*_RESIDENT_WRITE_ERRORS),
    )
    def unlink_record(
        *,
        resident_id: ResidentId,
        body: UnlinkRequest,
        precondition: OptionalIfMatchDep,
        principal: Writer,
        database: DatabaseDep,
        uses: LinkUses,
        request: Request,
        response: Response,
    ) -> DecisionPublic:
        """Take a source record out of this resident, into a new resident of its own (or the
        one named). It is kept apart from this resident's records by every later run. Send
        this resident's ETag in `If-Match` to unlink only from the resident you read (412 if
        it has changed)."""
        if residents.resident_of_record(database, body.source_record_id) != resident_id:
            raise NotFound(
                f"The source record {body.source_record_id} is not linked to {resident_id}."
            )
        decision = residents.unlink(
            database,
            body.source_record_id,
            actor=uses.actor,
            reason=body.reason,
            into=body.into_resident_id,
            precondition=precondition,
        )
        return _decision_answer(decision, request, response)


def _add_decision_routes(router: APIRouter) -> None:
    @router.get("/decisions/{decision_id}", responses=error_responses(NotFound, DataUseNotRecorded))
    async def get_decision(
        *, decision_id: DecisionId, principal: Reader, database: DatabaseDep, uses: LinkUses
    ) -> DecisionPublic:
        """A link decision: each link and resident before and after, by whom, why."""
        decision = await run_in_threadpool(decisions.get_decision, database, decision_id)
        await uses.record(
            *(
                uses.of(found, subject=f"people-decision:{decision.id}")
                for found in decision.resident_ids
            )
        )
        return DecisionPublic.of(decision)

    @router.post(
        "/decisions/{decision_id}/undo",
        status_code=201,
        responses=error_responses(*_WRITE_ERRORS),
    )
    def undo_decision(
        *,
        decision_id: DecisionId,
        body: ReasonRequest,
        principal: Writer,
        database: DatabaseDep,
        uses: LinkUses,
        request: Request,
        response: Response,
    ) -> DecisionPublic:
        """Undo a decision (itself a decision; undoing an undo redoes). 409 when anything it
        changed has changed since: the detail names what, and undoing newer ones first helps."""
        decision = decisions.undo(database, decision_id, actor=uses.actor, reason=body.reason)
        return _decision_answer(decision, request, response)


def _add_review_routes(router: APIRouter) -> None:
    @router.get(
        "/review-items",
        responses=error_responses(ValidationFailed, InvalidCursor, DataUseNotRecorded),
    )
    async def list_review_items(
        *,
        principal: Reader,
        database: DatabaseDep,
        uses: ReviewUses,
        params: PageParamsDep,
        request: Request,
        response: Response,
        status: Annotated[
            Literal["pending", "accepted", "rejected", "superseded"],
            Query(description="Which items: those waiting, or those settled one way or another."),
        ] = "pending",
    ) -> PageOut[ReviewItemPublic]:
        """Review items, most probable match first."""
        page = await run_in_threadpool(
            review.list_review_items, database, params.request, status=status
        )
        await uses.record(
            *(
                uses.of(item.resident_id, subject=f"people-review-item:{item.id}")
                for item in page.items
            )
        )
        items = [ReviewItemPublic.of(item) for item in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/review-items/{item_id}", responses=error_responses(NotFound, DataUseNotRecorded))
    async def get_review_item(
        *, item_id: ItemId, principal: Reader, database: DatabaseDep, uses: ReviewUses
    ) -> ReviewItemPublic:
        """One review item with its evidence, field by field."""
        item = await run_in_threadpool(review.get_review_item, database, item_id)
        await uses.record(uses.of(item.resident_id, subject=f"people-review-item:{item.id}"))
        return ReviewItemPublic.of(item)

    @router.post(
        "/review-items/{item_id}/accept",
        status_code=201,
        responses=error_responses(*_WRITE_ERRORS),
    )
    def accept_review_item(
        *,
        item_id: ItemId,
        body: ReasonRequest,
        principal: Writer,
        database: DatabaseDep,
        uses: ReviewUses,
        request: Request,
        response: Response,
    ) -> DecisionPublic:
        """Accept: link the item's record into its resident. Undoable."""
        decision = review.accept(database, item_id, actor=uses.actor, reason=body.reason)
        return _decision_answer(decision, request, response)

    @router.post(
        "/review-items/{item_id}/reject",
        status_code=201,
        responses=error_responses(*_WRITE_ERRORS),
    )
    def reject_review_item(
        *,
        item_id: ItemId,
        body: ReasonRequest,
        principal: Writer,
        database: DatabaseDep,
        uses: ReviewUses,
        request: Request,
        response: Response,
    ) -> DecisionPublic:
        """Reject: keep the item's record apart from the resident's records. Undoable."""
        decision = review.reject(database, item_id, actor=uses.actor, reason=body.reason)
        return _decision_answer(decision, request, response)


def _add_rules_routes(router: APIRouter) -> None:
    @router.get("/survivorship-rules")
    def list_survivorship_rules(
        *, principal: Reader, database: DatabaseDep, request: Request, response: Response
    ) -> Any:
        """How each golden record field is chosen among a resident's source records, with an
        ETag: send it in `If-Match` to change them."""
        public = _rules_public(golden.list_rules(database))
        return answer_with_etag(request, response, etag_of(public), public)

    @router.put(
        "/survivorship-rules",
        responses=error_responses(
            ValidationFailed, InvalidHeader, PreconditionFailed, PreconditionRequired
        ),
    )
    def set_survivorship_rules(
        *,
        body: SurvivorshipRulesUpdate,
        principal: Writer,
        precondition: IfMatchDep,
        database: DatabaseDep,
        response: Response,
    ) -> SurvivorshipRulesPublic:
        """Change the rules of the fields given (the others keep theirs), then recompute every
        resident's golden record. Send the ETag of the rules as you read them in `If-Match`
        (412 if someone has changed them since). The answer says how many residents changed."""
        changes = [
            golden.Rule(change.field, change.rule, tuple(change.sources)) for change in body.rules
        ]
        with database.write() as session:
            # Two changes of the rules take turns, so the second is checked against the first.
            order_commits(session)
            precondition.check(etag_of(_rules_public(golden.rules(session).values())))
            golden.set_rules(session, changes, updated_by=f"consumer:{principal.consumer_id}")
        recomputed = golden.recompute_all(database)
        public = _rules_public(golden.list_rules(database))
        with_etag(response, etag_of(public))
        return public.model_copy(update={"residents_recomputed": recomputed})


def _rules_public(rules: Iterable[golden.Rule]) -> SurvivorshipRulesPublic:
    return SurvivorshipRulesPublic(rules=[SurvivorshipRulePublic.of(rule) for rule in rules])
