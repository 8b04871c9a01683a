"""Resident pages: sign in with a code sent by email, see your own account, sign out.

Connecting the account to the council's records of the resident, and what ``/account`` shows of
them once connected, are ``views_account_connect``'s.

This module owns the routes under ``/account``. A resident page takes the account only from the
session (``require_resident``), never from the URL, a query or a form, so no identifier typed by
someone can show them another resident's records. The rules are in
``townhall.platform.auth.residents``; this module turns their answers into pages and cookies.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from townhall.domains.people.data_uses import PEOPLE, RESIDENT
from townhall.domains.people.me_api import council_record
from townhall.platform.audit.capture import DataUses, personal_data
from townhall.platform.audit.me_api import viewer_of, whose
from townhall.platform.audit.resident_view import account_subject
from townhall.platform.audit.vocabulary import ACCOUNT, ACCOUNT_DETAILS
from townhall.platform.auth.cookies import (
    CHALLENGE_COOKIE,
    clear_cookie,
    read_cookie,
    set_cookie,
)
from townhall.platform.auth.csrf import csrf_protected
from townhall.platform.auth.dependencies import public
from townhall.platform.auth.residents import (
    CODE_LIFETIME,
    pending_code,
    send_sign_in_code,
    sign_in_with_code,
)
from townhall.platform.auth.sessions import (
    SignedInResident,
    identify_viewer,
    require_resident,
    session_token,
    sign_in_context,
)
from townhall.platform.auth.sign_in_errors import CodeExpired, SignInRefused, SignInThrottled
from townhall.platform.auth.sign_in_models import SessionKind
from townhall.platform.auth.staff import email_problem, normalise_email
from townhall.platform.context import AppContext
from townhall.platform.http.routing import townhall_router
from townhall.portal.views_account_connect import CouncilRecordSummary, add_connect_routes
from townhall.portal.views_oidc import permit_provider_form
from townhall.portal.views_sign_in import (
    FieldProblem,
    FormPage,
    keep_session,
    render_form,
    throttle_sign_in,
)
from townhall.portal.views_staff import end_session

ACCOUNT_HOME = "/account"
SIGN_IN = "/account/sign-in"
ENTER_CODE = "/account/sign-in/code"


def _refused(
    templates: Jinja2Templates,
    request: Request,
    template: str,
    values: dict[str, object],
    refusal: SignInRefused,
) -> HTMLResponse:
    """The form again, saying why it was refused (429 with Retry-After when throttled)."""
    page = FormPage([FieldProblem(str(values.get("field", "email")), refusal.message)])
    throttled = isinstance(refusal, SignInThrottled)
    response = render_form(
        templates,
        request,
        template,
        {**values, "page": page},
        status_code=429 if throttled else 400,
    )
    if isinstance(refusal, SignInThrottled):
        response.headers["Retry-After"] = str(refusal.seconds)
    return response


def _unavailable(templates: Jinja2Templates, request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "account/unavailable.html", {}, status_code=503)


def build_account_router(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The resident pages."""
    router = townhall_router(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[csrf_protected()],
    )

    @router.get(SIGN_IN, name="account_sign_in", dependencies=[public()])
    def show_sign_in(request: Request) -> Response:
        """Ask for the email address to send a code to, or offer the residents' provider."""
        settings = context.settings
        email_codes = sign_in_context(request).sender is not None
        if not email_codes and not settings.resident_oidc_issuer:
            return _unavailable(templates, request)
        viewer = identify_viewer(request)
        if viewer is not None and viewer.kind == SessionKind.RESIDENT:
            return RedirectResponse(ACCOUNT_HOME, status_code=303)
        permit_provider_form(request, settings.resident_oidc_issuer)
        values = {
            "page": FormPage(),
            "email_codes": email_codes,
            "oidc_name": settings.resident_oidc_provider_name
            if settings.resident_oidc_issuer
            else None,
        }
        return render_form(templates, request, "account/sign_in.html", values)

    @router.post(SIGN_IN, name="account_sign_in_submit", dependencies=[public()])
    def submit_email(request: Request, email: Annotated[str, Form()] = "") -> Response:
        """Send a code to the address, then ask for it."""
        sign_in = sign_in_context(request)
        if sign_in.sender is None:
            return _unavailable(templates, request)
        normalised = normalise_email(email)
        values: dict[str, object] = {"email": email, "field": "email"}
        if (problem := email_problem(normalised)) is not None:
            page = FormPage([FieldProblem("email", problem)])
            return render_form(
                templates,
                request,
                "account/sign_in.html",
                {**values, "page": page},
                status_code=400,
            )
        try:
            throttle_sign_in(context, request)
            token = send_sign_in_code(
                sign_in.database,
                sign_in.keys,
                sign_in.sender,
                email=normalised,
                policy=sign_in.codes,
                now=sign_in.clock(),
            )
        except SignInRefused as refusal:
            return _refused(templates, request, "account/sign_in.html", values, refusal)
        response = RedirectResponse(ENTER_CODE, status_code=303)
        set_cookie(
            response,
            request,
            sign_in.settings,
            CHALLENGE_COOKIE,
            token,
            max_age=int(CODE_LIFETIME.total_seconds()),
        )
        return response

    _add_code_routes(router, context, templates)
    add_connect_routes(router, context, templates)

    @router.get(ACCOUNT_HOME, name="account_home")
    def account_home(
        request: Request,
        resident: Annotated[SignedInResident, require_resident()],
        uses: Annotated[DataUses, personal_data(ACCOUNT, ACCOUNT_DETAILS)],
        record_uses: Annotated[DataUses, personal_data(PEOPLE, RESIDENT)],
        connected: str = "",
    ) -> HTMLResponse:
        """The signed-in resident's own account and, once connected, their council records."""
        # Their own account's details are their personal data too: shown, so recorded (under
        # the id their resident has now, when it was merged since the account was connected).
        member = resident.member
        current = whose(viewer_of(context.database, member), member)
        shown = [uses.of(current, subject=account_subject(member))]
        record = council_record(context.database, member)
        if record is not None:
            shown.append(record_uses.of(record.resident_id, subject=account_subject(member)))
        uses.record_now(*shown)
        values = {
            "resident": resident,
            "council": CouncilRecordSummary.of(record) if record is not None else None,
            "just_connected": connected == "1",
        }
        return render_form(templates, request, "account/home.html", values)

    @router.post("/account/sign-out", name="account_sign_out")
    def sign_out(
        request: Request, _resident: Annotated[SignedInResident, require_resident()]
    ) -> Response:
        """End the session on the server and in the browser."""
        return end_session(request, f"{SIGN_IN}?signed-out=1")

    return router


def _add_code_routes(router: APIRouter, context: AppContext, templates: Jinja2Templates) -> None:
    """The second step of signing in: typing the code that was sent."""

    @router.get(ENTER_CODE, name="account_enter_code", dependencies=[public()])
    def show_code_form(request: Request) -> Response:
        """Ask for the code that was just sent."""
        sign_in = sign_in_context(request)
        token = read_cookie(request, sign_in.settings, CHALLENGE_COOKIE)
        pending = pending_code(sign_in.database, token, now=sign_in.clock()) if token else None
        if pending is None:
            return RedirectResponse(SIGN_IN, status_code=303)
        return render_form(
            templates, request, "account/code.html", {"page": FormPage(), "pending": pending}
        )

    @router.post(ENTER_CODE, name="account_enter_code_submit", dependencies=[public()])
    def submit_code(request: Request, code: Annotated[str, Form()] = "") -> Response:
        """Check the code; start a session or say what is wrong."""
        sign_in = sign_in_context(request)
        token = read_cookie(request, sign_in.settings, CHALLENGE_COOKIE)
        now = sign_in.clock()
        pending = pending_code(sign_in.database, token, now=now) if token else None
        values: dict[str, object] = {"pending": pending, "field": "code", "expired": False}
        if token is None or pending is None:
            return _refused(
                templates, request, "account/code.html", {**values, "expired": True}, CodeExpired()
            )
        digits = "".join(code.split())
        if len(digits) != 6 or not digits.isdigit():
            page = FormPage([FieldProblem("code", "Enter the 6-digit code from the email")])
            return render_form(
                templates,
                request,
                "account/code.html",
                {**values, "page": page},
                status_code=400,
            )
        try:
            throttle_sign_in(context, request)
            signed_in = sign_in_with_code(
                sign_in.database,
                sign_in.keys,
                token=token,
                code=digits,
                policy=sign_in.codes,
                sessions=sign_in.sessions,
                now=now,
                replacing=session_token(request),
            )
        except CodeExpired as refusal:
            return _refused(
                templates, request, "account/code.html", {**values, "expired": True}, refusal
            )
        except SignInRefused as refusal:
            return _refused(templates, request, "account/code.html", values, refusal)
        response = RedirectResponse(ACCOUNT_HOME, status_code=303)
        clear_cookie(response, request, sign_in.settings, CHALLENGE_COOKIE)
        keep_session(response, request, signed_in.started.token)
        return response
