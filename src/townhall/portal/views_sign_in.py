"""Portal sign-in: installs the staff and resident pages and answers what their guards raise.

This module owns what every sign-in page shares: the per-address throttle on sign-in attempts,
the page context (form token, error summary), and the answers to ``SignInRequired`` (a redirect
to the right sign-in page), ``PageForbidden`` and ``CsrfRejected`` (403 pages a person can read).
The pages themselves are in ``views_staff`` and ``views_account``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from townhall.platform.auth.cookies import SESSION_COOKIE, set_cookie
from townhall.platform.auth.csrf import CSRF_FIELD, CsrfRejected, form_token
from townhall.platform.auth.sessions import (
    SIGN_IN_STATE,
    PageForbidden,
    SignInContext,
    SignInRequired,
    sign_in_context,
)
from townhall.platform.auth.sign_in_errors import SignInThrottled
from townhall.platform.context import AppContext
from townhall.platform.http.routing import add_operations
from townhall.platform.logging import get_logger
from townhall.platform.ratelimit import RateLimitPolicy, client_address

log = get_logger("townhall.sign_in")


@dataclass(frozen=True)
class FieldProblem:
    """One field's error, as the error summary and the field both show it."""

    field_id: str
    message: str


@dataclass
class FormPage:
    """What a sign-in form page shows besides its fields."""

    errors: list[FieldProblem] = field(default_factory=list)

    def message_for(self, field_id: str) -> dict[str, str] | None:
        """The ``errorMessage`` parameter of a GOV.UK input, or None."""
        for problem in self.errors:
            if problem.field_id == field_id:
                return {"text": problem.message}
        return None

    @property
    def summary(self) -> list[dict[str, str]]:
        """The ``errorList`` of the GOV.UK error summary."""
        return [{"text": p.message, "href": f"#{p.field_id}"} for p in self.errors]


def render_form(
    templates: Jinja2Templates,
    request: Request,
    template: str,
    values: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with forms, its form token, and the double-submit cookie if it is new."""
    token = form_token(request)
    response = templates.TemplateResponse(
        request,
        template,
        {**values, "csrf_field": CSRF_FIELD, "csrf_token": token.token},
        status_code=status_code,
        headers=headers,
    )
    token.apply(request, response)
    return response


def keep_session(response: Response, request: Request, token: str) -> None:
    """Give the browser the cookie of the session it just started."""
    sign_in = sign_in_context(request)
    set_cookie(
        response,
        request,
        sign_in.settings,
        SESSION_COOKIE,
        token,
        max_age=int(sign_in.sessions.absolute.total_seconds()),
    )


def throttle_sign_in(context: AppContext, request: Request) -> None:
    """Count a sign-in attempt from the client's address; SignInThrottled past the limit."""
    policy = RateLimitPolicy("sign-in", context.settings.sign_in_rate_limit_per_minute, 60)
    decisions = context.rate_limiter.check(f"sign-in:{client_address(request)}", [policy])
    refused = [decision for decision in decisions if not decision.allowed]
    if refused:
        log.info("sign_in_throttled")
        raise SignInThrottled(max(1, math.ceil(refused[0].retry_after)))


def install_sign_in(app: FastAPI, context: AppContext, templates: Jinja2Templates) -> None:
    """Add the staff and resident sign-in pages to ``app``, and the answers to their guards."""
    # Imported here: both import this module for its helpers.
    from townhall.portal.views_account import build_account_router  # noqa: PLC0415
    from townhall.portal.views_oidc import build_oidc_router  # noqa: PLC0415
    from townhall.portal.views_staff import build_staff_router  # noqa: PLC0415

    setattr(app.state, SIGN_IN_STATE, SignInContext.build(context.settings, context.database))

    def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(exc.sign_in_path, status_code=303)

    def page_forbidden(request: Request, _exc: Exception) -> Response:
        return templates.TemplateResponse(request, "errors/forbidden.html", {}, status_code=403)

    def csrf_rejected(request: Request, _exc: Exception) -> Response:
        log.info("csrf_rejected", method=request.method)
        return templates.TemplateResponse(request, "errors/csrf.html", {}, status_code=403)

    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(PageForbidden, page_forbidden)
    app.add_exception_handler(CsrfRejected, csrf_rejected)
    add_operations(
        app,
        build_staff_router(context, templates),
        build_account_router(context, templates),
        build_oidc_router(context, templates),
    )
