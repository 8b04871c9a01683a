"""Staff pages: sign in with an email address and password, the staff home, sign out.

This module owns the routes under ``/staff``. The rules (lockout, hashing, sessions) are in
``townhall.platform.auth.staff``; this module turns their answers into pages and cookies.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from townhall.platform.auth.cookies import SESSION_COOKIE, clear_cookie
from townhall.platform.auth.csrf import csrf_protected
from townhall.platform.auth.dependencies import public
from townhall.platform.auth.session_store import revoke_session
from townhall.platform.auth.sessions import (
    SignedInStaff,
    forget_viewer,
    identify_viewer,
    require_staff,
    session_token,
    sign_in_context,
)
from townhall.platform.auth.sign_in_errors import SignInRefused, SignInThrottled
from townhall.platform.auth.sign_in_models import SessionKind
from townhall.platform.auth.staff import email_problem, normalise_email, sign_in_staff
from townhall.platform.context import AppContext
from townhall.platform.http.routing import townhall_router
from townhall.portal.views_oidc import permit_provider_form
from townhall.portal.views_sign_in import (
    FieldProblem,
    FormPage,
    keep_session,
    render_form,
    throttle_sign_in,
)

STAFF_HOME = "/staff"


def build_staff_router(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The staff pages."""
    router = townhall_router(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[csrf_protected()],
    )

    def sign_in_page(
        request: Request, page: FormPage, email: str = "", *, status_code: int = 200
    ) -> HTMLResponse:
        settings = context.settings
        permit_provider_form(request, settings.staff_oidc_issuer)
        return render_form(
            templates,
            request,
            "staff/sign_in.html",
            {
                "page": page,
                "email": email,
                "signed_out": "signed-out" in request.query_params,
                # Offered only when fully configured (the settings check all of it together).
                "oidc_name": settings.staff_oidc_provider_name
                if settings.staff_oidc_issuer
                else None,
                "local_sign_in": not settings.staff_oidc_only,
            },
            status_code=status_code,
        )

    @router.get("/staff/sign-in", name="staff_sign_in", dependencies=[public()])
    def show_sign_in(request: Request) -> Response:
        """The staff sign-in form."""
        viewer = identify_viewer(request)
        if viewer is not None and viewer.kind == SessionKind.STAFF:
            return RedirectResponse(STAFF_HOME, status_code=303)
        return sign_in_page(request, FormPage())

    @router.post("/staff/sign-in", name="staff_sign_in_submit", dependencies=[public()])
    def submit_sign_in(
        request: Request,
        email: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        """Check the email address and password; start a session or show what is wrong."""
        page = FormPage()
        if context.settings.staff_oidc_only:
            # Only the provider signs staff in: a password form posted anyway changes nothing.
            return RedirectResponse("/staff/sign-in", status_code=303)
        normalised = normalise_email(email)
        if (problem := email_problem(normalised)) is not None:
            page.errors.append(FieldProblem("email", problem))
        if not password:
            page.errors.append(FieldProblem("password", "Enter your password"))
        if page.errors:
            return sign_in_page(request, page, email, status_code=400)
        sign_in = sign_in_context(request)
        try:
            throttle_sign_in(context, request)
            signed_in = sign_in_staff(
                sign_in.database,
                sign_in.keys,
                email=normalised,
                password=password,
                lockout=sign_in.lockout,
                sessions=sign_in.sessions,
                now=sign_in.clock(),
                replacing=session_token(request),
            )
        except SignInRefused as refusal:
            page.errors.append(FieldProblem("email", refusal.message))
            status = 429 if isinstance(refusal, SignInThrottled) else 400
            form = sign_in_page(request, page, email, status_code=status)
            if isinstance(refusal, SignInThrottled):
                form.headers["Retry-After"] = str(refusal.seconds)
            return form
        response = RedirectResponse(STAFF_HOME, status_code=303)
        keep_session(response, request, signed_in.started.token)
        return response

    @router.get(STAFF_HOME, name="staff_home")
    def staff_home(
        request: Request, staff: Annotated[SignedInStaff, require_staff()]
    ) -> HTMLResponse:
        """Who is signed in, and with which role."""
        return render_form(templates, request, "staff/home.html", {"staff": staff})

    @router.post("/staff/sign-out", name="staff_sign_out")
    def sign_out(request: Request, _staff: Annotated[SignedInStaff, require_staff()]) -> Response:
        """End the session on the server and in the browser."""
        return end_session(request, "/staff/sign-in?signed-out=1")

    return router


def end_session(request: Request, then: str) -> Response:
    """Revoke the request's session, clear its cookie, and go to ``then``."""
    sign_in = sign_in_context(request)
    token = session_token(request)
    if token is not None:
        revoke_session(sign_in.database, token, now=sign_in.clock())
    forget_viewer(request)
    response = RedirectResponse(then, status_code=303)
    clear_cookie(response, request, sign_in.settings, SESSION_COOKIE)
    return response
