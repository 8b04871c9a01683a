"""The signed-in resident's own API: how their data is used.

This module owns the routes under ``/api/v1/me``. They answer the resident signed in to the
portal, by the session cookie the portal set, and take whose data it is only from that session,
never from the URL. Someone not signed in gets a 401 problem, not the portal's redirect to a
sign-in page: an API answers in JSON. What the resident is shown is ``resident_view``'s, the
same as the page "How your data is used", under every id the resident has had
(``townhall.data_uses.all_ids_of``: an account connected to a resident later merged into another
sees the survivor's uses and its own); reading it is itself recorded, like any use, under the id
the resident has now.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from townhall.data_uses import all_ids_of, vocabulary
from townhall.errors import DataUseNotRecorded, InvalidCursor, Unauthenticated
from townhall.platform.audit import resident_view
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.me_schemas import (
    DataUsePublic,
    DataUseSummaryPublic,
    ServiceUsesPublic,
)
from townhall.platform.audit.resident_view import ResidentViewer, account_subject
from townhall.platform.audit.vocabulary import ACCOUNT, DATA_USES
from townhall.platform.auth.cookies import SESSION_COOKIE
from townhall.platform.auth.dependencies import REALM, Access, mark_access
from townhall.platform.auth.residents import ResidentMember
from townhall.platform.auth.sessions import (
    RESIDENT_SIGN_IN_PATH,
    ResidentRequirement,
    SignedInResident,
    SignInRequired,
)
from townhall.platform.db import Database
from townhall.platform.http.dependencies import DatabaseDep, SettingsDep
from townhall.platform.http.pagination import Page, PageOut, PageParamsDep, page_response
from townhall.platform.http.problems import error_responses
from townhall.platform.http.routing import api_router

_SESSION = ResidentRequirement()


def signed_in_resident(request: Request) -> SignedInResident:
    """The resident whose portal session made the request; a 401 problem when there is none."""
    try:
        return _SESSION(request)
    except SignInRequired as exc:
        raise Unauthenticated(
            f"Sign in to your council account at {RESIDENT_SIGN_IN_PATH} first: this operation "
            "answers the signed-in resident's browser.",
            # There is no registered scheme for a session cookie; this names the cookie and
            # where to get it, in the form of the old Cookie scheme draft.
            headers={
                "WWW-Authenticate": (
                    f'Cookie realm="{REALM}", form-action="{RESIDENT_SIGN_IN_PATH}", '
                    f'cookie-name="{SESSION_COOKIE}"'
                )
            },
        ) from exc


mark_access(signed_in_resident, Access(kind="resident", errors=(Unauthenticated,)))


def viewer_of(database: Database, member: ResidentMember) -> ResidentViewer | None:
    """The view of ``member``, under every id of its resident; None until it is matched."""
    return ResidentViewer.of(member, partial(all_ids_of, database))


def whose(viewer: ResidentViewer | None, member: ResidentMember) -> str | None:
    """The resident id to record a look under: the one the resident has now, once matched."""
    return viewer.resident_id if viewer is not None else member.resident_id


Resident = Annotated[SignedInResident, Depends(signed_in_resident)]
DataUsesViewed = Annotated[DataUses, personal_data(ACCOUNT, DATA_USES)]
ServiceKey = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=32,
        description="Only the uses by this service (its `key`, as the summary lists it).",
        examples=["people"],
        # The vocabulary is declared in code, so the document can list every key it accepts.
        json_schema_extra={"enum": sorted(vocabulary().services)},
    ),
]


def build_me_router() -> APIRouter:
    """The ``/api/v1/me`` operations."""
    router = api_router("/me", tag="me")

    @router.get("/data-uses", responses=error_responses(InvalidCursor, DataUseNotRecorded))
    async def list_data_uses(
        *,
        resident: Resident,
        uses: DataUsesViewed,
        database: DatabaseDep,
        settings: SettingsDep,
        params: PageParamsDep,
        request: Request,
        response: Response,
        service: ServiceKey = None,
    ) -> PageOut[DataUsePublic]:
        """List the uses of your personal data by others, newest first: who (staff by role),
        which service, what they did, and why. Your own uses are not listed. Needs your
        signed-in portal session; reading the list is itself recorded."""
        chosen = resident_view.known_service(service) if service is not None else None
        viewer = await run_in_threadpool(viewer_of, database, resident.member)
        page: Page[resident_view.DataUseEntry] = Page([], None)
        if viewer is not None:
            page = await run_in_threadpool(
                resident_view.list_data_uses,
                database,
                viewer,
                params.request,
                now=resident_view.utc_now(),
                service=chosen,
                show_staff_names=settings.audit_show_staff_names,
            )
        await uses.record(
            uses.of(
                whose(viewer, resident.member),
                subject=account_subject(resident.member),
                details={"shown": len(page.items)},
            )
        )
        items = [DataUsePublic.of(entry) for entry in page.items]
        return page_response(page, params, request, response, items)

    @router.get("/data-uses/summary", responses=error_responses(DataUseNotRecorded))
    async def summarise_data_uses(
        *, resident: Resident, uses: DataUsesViewed, database: DatabaseDep
    ) -> DataUseSummaryPublic:
        """Count the uses of your personal data by others, by service, with the most recent
        of each. Needs your signed-in portal session; reading it is itself recorded."""
        viewer = await run_in_threadpool(viewer_of, database, resident.member)
        summary: list[resident_view.ServiceUses] = []
        if viewer is not None:
            summary = await run_in_threadpool(
                resident_view.summarise_data_uses, database, viewer, now=resident_view.utc_now()
            )
        await uses.record(
            uses.of(whose(viewer, resident.member), subject=account_subject(resident.member))
        )
        return DataUseSummaryPublic(
            matched_to_council_records=viewer is not None,
            total_uses=sum(item.uses for item in summary),
            services=[ServiceUsesPublic.of(item) for item in summary],
        )

    return router
