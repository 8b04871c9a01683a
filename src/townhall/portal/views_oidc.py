"""Signing in through OpenID Connect: staff at the council's provider, residents at One Login.

This module owns four routes. ``POST /staff/sign-in/oidc`` and ``POST /account/sign-in/one-login``
are button forms (CSRF-protected like every portal form) that send the browser to the provider,
keeping state, nonce and PKCE verifier in a short-lived HttpOnly cookie signed with the instance
key. The provider sends the browser back to ``/staff/sign-in/oidc/callback`` or
``/account/sign-in/one-login/callback``, which check that cookie against the answer, exchange the
code, verify the ID token and start a session with the same ``start_session`` as every sign-in.
Whatever fails is a page saying so, with no session and the cookie cleared.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from townhall.platform.auth.cookies import clear_cookie, read_cookie, set_cookie
from townhall.platform.auth.csrf import csrf_protected
from townhall.platform.auth.dependencies import public
from townhall.platform.auth.oidc import (
    OidcClient,
    OidcFailed,
    PendingLogin,
    VerifiedLogin,
    begin_login,
    complete_login,
    load_private_key,
)
from townhall.platform.auth.oidc_accounts import (
    OidcRefused,
    OidcSignIn,
    sign_in_resident_with_oidc,
    sign_in_staff_with_oidc,
)
from townhall.platform.auth.sessions import forget_viewer, session_token, sign_in_context
from townhall.platform.auth.sign_in_errors import SignInThrottled
from townhall.platform.context import AppContext
from townhall.platform.http.middleware import CSP_FORM_ACTION_STATE
from townhall.platform.http.routing import townhall_router
from townhall.platform.logging import get_logger
from townhall.portal.views_sign_in import keep_session, throttle_sign_in
from townhall.settings import Settings

PENDING_COOKIE = "townhall-oidc"
# Long enough to sign in at the provider (a code by text message, say), short enough to go stale.
PENDING_SECONDS = 600
_PENDING_PURPOSE = "oidc-pending"

log = get_logger("townhall.sign_in")

Audience = Literal["staff", "resident"]


@dataclass(frozen=True)
class OidcRoutes:
    """Where one audience's provider flow lives, and where it lands."""

    audience: Audience
    start_path: str
    callback_path: str
    callback_name: str
    home: str
    sign_in_page: str


STAFF = OidcRoutes(
    "staff",
    "/staff/sign-in/oidc",
    "/staff/sign-in/oidc/callback",
    "staff_oidc_callback",
    "/staff",
    "/staff/sign-in",
)
RESIDENT = OidcRoutes(
    "resident",
    "/account/sign-in/one-login",
    "/account/sign-in/one-login/callback",
    "resident_oidc_callback",
    "/account",
    "/account/sign-in",
)


def staff_client(settings: Settings) -> OidcClient | None:
    """The staff provider registration, or None when it is not configured."""
    if not (
        settings.staff_oidc_issuer
        and settings.staff_oidc_client_id
        and settings.staff_oidc_client_secret
    ):
        return None
    return OidcClient(
        issuer=settings.staff_oidc_issuer,
        client_id=settings.staff_oidc_client_id,
        client_secret=settings.staff_oidc_client_secret.get_secret_value(),
        scopes="openid email profile",
    )


def resident_client(settings: Settings) -> OidcClient | None:
    """The residents' provider registration, or None when it is not configured."""
    if not (
        settings.resident_oidc_issuer
        and settings.resident_oidc_client_id
        and settings.resident_oidc_private_key
    ):
        return None
    extra = {"vtr": settings.resident_oidc_vtr} if settings.resident_oidc_vtr else {}
    return OidcClient(
        issuer=settings.resident_oidc_issuer,
        client_id=settings.resident_oidc_client_id,
        private_key_pem=load_private_key(settings.resident_oidc_private_key.get_secret_value()),
        scopes=settings.resident_oidc_scopes,
        extra_authorize_params=extra,
    )


def permit_provider_form(request: Request, issuer: str | None) -> None:
    """Let the page's provider button lead to ``issuer``'s origin (CSP ``form-action``).

    The button posts here and is redirected to the provider's authorization endpoint, which
    providers serve from their issuer's origin (GOV.UK One Login and the usual council ones do).
    """
    if issuer is None:
        return
    parts = urlsplit(issuer)
    origins = request.scope.setdefault("state", {}).setdefault(CSP_FORM_ACTION_STATE, [])
    origins.append(f"{parts.scheme}://{parts.netloc}")


def accepted_vots(settings: Settings) -> list[str]:
    """The vectors of trust a resident's ID token may carry (those asked for)."""
    if not settings.resident_oidc_vtr:
        return []
    return [str(vector) for vector in json.loads(settings.resident_oidc_vtr)]


def build_oidc_router(context: AppContext, templates: Jinja2Templates) -> APIRouter:
    """The provider routes of each configured audience (none when neither is)."""
    router = townhall_router(
        include_in_schema=False,
        default_response_class=HTMLResponse,
        dependencies=[csrf_protected()],
    )
    # Built now, so a private key that cannot be read stops the app starting, not a sign-in.
    clients = {
        "staff": staff_client(context.settings),
        "resident": resident_client(context.settings),
    }
    for routes in (STAFF, RESIDENT):
        client = clients[routes.audience]
        if client is not None:
            _add_routes(router, context, templates, routes, client)
    return router


def _add_routes(
    router: APIRouter,
    context: AppContext,
    templates: Jinja2Templates,
    routes: OidcRoutes,
    client: OidcClient,
) -> None:
    def failed(request: Request, message: str, status_code: int) -> Response:
        response = templates.TemplateResponse(
            request,
            "oidc_failed.html",
            {"message": message, "start_again": routes.sign_in_page},
            status_code=status_code,
        )
        clear_cookie(response, request, sign_in_context(request).settings, PENDING_COOKIE)
        return response

    @router.post(routes.start_path, dependencies=[public()])
    def start(request: Request) -> Response:
        """Send the browser to the provider, remembering what must come back."""
        try:
            throttle_sign_in(context, request)
            url, pending = begin_login(client, str(request.url_for(routes.callback_name)))
        except SignInThrottled as refusal:
            response = failed(request, refusal.message, 429)
            response.headers["Retry-After"] = str(refusal.seconds)
            return response
        except OidcFailed as failure:
            return failed(request, failure.message, 502)
        sign_in = sign_in_context(request)
        response = RedirectResponse(url, status_code=303)
        set_cookie(
            response,
            request,
            sign_in.settings,
            PENDING_COOKIE,
            _seal(request, pending),
            max_age=PENDING_SECONDS,
        )
        log.info("oidc_started", audience=routes.audience)
        return response

    @router.get(routes.callback_path, name=routes.callback_name, dependencies=[public()])
    def callback(request: Request) -> Response:
        """Check the provider's answer and start a session, or say why not."""
        sign_in = sign_in_context(request)
        pending = _unseal(request)
        if pending is None:
            log.info("oidc_refused", audience=routes.audience, reason="no_pending_login")
            return failed(
                request,
                "Signing in took too long or was started in another browser. Start again.",
                400,
            )
        try:
            login = complete_login(
                client,
                redirect_uri=str(request.url_for(routes.callback_name)),
                pending=pending,
                query=dict(request.query_params),
            )
            signed_in = _sign_in(request, routes.audience, login)
        except OidcFailed as failure:
            log.info("oidc_refused", audience=routes.audience, reason=failure.reason)
            status = 502 if failure.reason == "unreachable" else 400
            return failed(request, failure.message, status)
        except OidcRefused as refusal:
            log.info("oidc_refused", audience=routes.audience, reason=refusal.reason)
            return failed(request, refusal.message, 403)
        forget_viewer(request)
        response = RedirectResponse(routes.home, status_code=303)
        clear_cookie(response, request, sign_in.settings, PENDING_COOKIE)
        keep_session(response, request, signed_in.started.token)
        return response


def _sign_in(request: Request, audience: Audience, login: VerifiedLogin) -> OidcSignIn:
    sign_in = sign_in_context(request)
    settings = sign_in.settings
    if audience == "staff":
        return sign_in_staff_with_oidc(
            sign_in.database,
            login,
            roles_from_groups=settings.staff_oidc_roles_from_groups,
            groups_claim=settings.staff_oidc_groups_claim,
            sessions=sign_in.sessions,
            now=sign_in.clock(),
            replacing=session_token(request),
        )
    return sign_in_resident_with_oidc(
        sign_in.database,
        login,
        accepted_vots=accepted_vots(settings),
        sessions=sign_in.sessions,
        now=sign_in.clock(),
        replacing=session_token(request),
    )


def _seal(request: Request, pending: PendingLogin) -> str:
    """The pending login as a cookie value: base64url text and its MAC under the instance key."""
    text = base64.urlsafe_b64encode(pending.to_json().encode()).decode().rstrip("=")
    return f"{text}.{sign_in_context(request).keys.mac(_PENDING_PURPOSE, text)}"


def _unseal(request: Request) -> PendingLogin | None:
    sign_in = sign_in_context(request)
    value = read_cookie(request, sign_in.settings, PENDING_COOKIE)
    if value is None or "." not in value:
        return None
    text, mac = value.rsplit(".", 1)
    if not sign_in.keys.matches(_PENDING_PURPOSE, text, mac):
        return None
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except ValueError:
        return None
    return PendingLogin.from_json(decoded)
