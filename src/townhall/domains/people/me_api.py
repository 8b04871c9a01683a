"""``/api/v1/me``: the signed-in resident's own account and council records, and connecting them.

This module owns ``GET /api/v1/me`` and ``POST /api/v1/me/resident-connection``. Like the rest of
``/api/v1/me`` (``platform.audit.me_api``) they answer the resident signed in to the portal, by
its session cookie, and take whose records they are only from that session. Until the account is
connected to the council's records of the resident (``connection``) ``/me`` shows the account
alone; after, it shows the joined-up record too, and reading it is recorded as the resident's
own look (which "How your data is used" does not list among others' uses). ``/me`` has an ETag
of its representation, so a client can ask again with ``If-None-Match`` and get a 304.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from townhall.domains.people import residents
from townhall.domains.people.connection import Proof, connect_account
from townhall.domains.people.data_uses import LINKS, PEOPLE, RESIDENT
from townhall.domains.people.me_schemas import ConnectionRequest, MePublic, MyRecordPublic
from townhall.errors import (
    DataUseNotRecorded,
    InvalidHeader,
    NotFound,
    TooManyRequests,
    UnprocessableContent,
    ValidationFailed,
)
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.me_api import Resident
from townhall.platform.audit.resident_view import account_subject
from townhall.platform.audit.uses import DataUse
from townhall.platform.audit.vocabulary import Action
from townhall.platform.auth.residents import ResidentMember
from townhall.platform.db import Database
from townhall.platform.http.concurrency import answer_with_etag, etag_of
from townhall.platform.http.dependencies import DatabaseDep, app_context
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import api_router

OwnRecordViewed = Annotated[DataUses, personal_data(PEOPLE, RESIDENT)]
OwnLinksChanged = Annotated[DataUses, personal_data(PEOPLE, LINKS)]


def council_record(database: Database, member: ResidentMember) -> MyRecordPublic | None:
    """The resident's joined-up record, following merges; None before the account is connected."""
    if member.resident_id is None:
        return None
    try:
        resident = residents.get_resident(
            database, residents.survivor_of(database, member.resident_id)
        )
    except (NotFound, ValidationFailed):
        # An id that leads to no resident (set by hand, or since removed): not connected.
        return None
    return MyRecordPublic.of(resident)


def connection_use(uses: DataUses, member: ResidentMember) -> DataUse:
    """The record of connecting ``member``'s account: a change to its resident's links (here
    and on the portal's ``/account/connect``)."""
    return uses.of(
        member.resident_id,
        action=Action.CHANGED,
        subject=account_subject(member),
        details={"connected": True},
    )


def build_people_me_router() -> APIRouter:
    """The ``/api/v1/me`` operations about the resident's council records."""
    router = api_router("/me", tag="me")

    @router.get(
        "",
        response_model=MePublic,
        responses={
            304: {"description": "Unchanged since the ETag sent in If-None-Match."},
            **error_responses(InvalidHeader, DataUseNotRecorded),
        },
    )
    async def read_me(
        *,
        resident: Resident,
        uses: OwnRecordViewed,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> Any:
        """Your account and, once it is connected, the council's records of you: each detail
        with the system it came from, your contact details and addresses with the systems that
        hold them, and every council record joined to you, with an ETag (send it in
        If-None-Match to get a 304 while nothing has changed). Needs your signed-in portal
        session; reading it is recorded as your own look."""
        member = resident.member
        record = await run_in_threadpool(council_record, database, member)
        await uses.record(
            uses.of(
                record.resident_id if record is not None else member.resident_id,
                subject=account_subject(member),
            )
        )
        public = MePublic.of_account(member, record)
        return answer_with_etag(request, response, etag_of(public), public)

    @router.post(
        "/resident-connection",
        status_code=201,
        responses=error_responses(UnprocessableContent, TooManyRequests, DataUseNotRecorded),
    )
    async def connect_resident(
        *,
        body: ConnectionRequest,
        resident: Resident,
        uses: OwnLinksChanged,
        database: DatabaseDep,
        request: Request,
        response: Response,
    ) -> MePublic:
        """Connect your account to the council's records of you, by three things the council
        sent you: a reference one of its systems gave you (such as a council tax account
        number or tenancy reference), your date of birth and your postcode. When all three
        belong to one record, your account is connected and the answer is `/me`. A refusal
        never says which of the three did not match; attempts are limited (429 with
        `Retry-After`)."""
        proof = Proof(body.reference, body.date_of_birth, body.postcode)
        limiter = app_context(request).rate_limiter
        member = await run_in_threadpool(connect_account, database, limiter, resident.member, proof)
        record = await run_in_threadpool(council_record, database, member)
        await uses.record(connection_use(uses, member))
        response.headers["Location"] = str(request.url_for("read_me"))
        return MePublic.of_account(member, record)

    return router
