"""The people API: source person records, read one at a time, each read recorded.

This module owns the routes under ``/api/v1/people``. Every route here shows personal data, so
each declares it (``personal_data(PEOPLE, SOURCE_RECORD)``) and records the use after reading
and before answering: no record, no data (a 503 when the audit trail cannot commit).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from townhall.domains.people import residents, service
from townhall.domains.people.data_uses import PEOPLE, SOURCE_RECORD
from townhall.domains.people.residents_api import add_resident_routes
from townhall.domains.people.schemas import SourceRecordPublic
from townhall.errors import DataUseNotRecorded, InvalidHeader, NotFound
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.auth.dependencies import require
from townhall.platform.auth.principal import Principal
from townhall.platform.http.concurrency import answer_not_modified, etag_of, with_etag
from townhall.platform.http.dependencies import DatabaseDep
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import api_router

Reader = Annotated[Principal, require("people:read")]
SourceRecordUses = Annotated[DataUses, personal_data(PEOPLE, SOURCE_RECORD)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, examples=[1042])]


def subject_of(record_id: int) -> str:
    """The audit trail's key of a source record (an id, never the person's details)."""
    return f"people-source-record:{record_id}"


def build_people_router() -> APIRouter:
    """The ``/api/v1/people`` operations."""
    router = api_router("/people", tag="people")

    @router.get(
        "/source-records/{record_id}",
        responses=error_responses(NotFound, InvalidHeader, DataUseNotRecorded),
    )
    async def get_source_record(
        *,
        record_id: RecordId,
        principal: Reader,
        database: DatabaseDep,
        uses: SourceRecordUses,
        request: Request,
        response: Response,
    ) -> Any:
        """Read one person record as its source system holds it, with its ETag. Every read is
        recorded in the audit trail (the resident can see it) before the answer is sent."""
        # Async with the read in the threadpool: the wait for the audit commit then holds no
        # worker thread, so a slow group commit cannot starve other requests of threads.
        record = await run_in_threadpool(service.get_source_record, database, record_id)
        # The use is about the resident the record is linked to (None before it is linked).
        resident_id = await run_in_threadpool(residents.resident_of_record, database, record_id)
        await uses.record(uses.of(resident_id, subject=subject_of(record_id)))
        public = SourceRecordPublic.of(record)
        etag = etag_of(public)
        if answer_not_modified(request, etag):
            return Response(status_code=304, headers={"ETag": etag})
        with_etag(response, etag)
        return public

    add_resident_routes(router)
    return router
