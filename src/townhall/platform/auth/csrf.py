"""Cross-site request forgery: every portal form carries a token a forger cannot know.

This module owns making and checking form tokens. Two kinds, as OWASP's cheat sheet describes:

* signed in: the synchronizer token, a random secret kept with the server-side session and put
  in each form; it dies with the session;
* not yet signed in (the sign-in forms): a signed double-submit token. A random value sits in an
  HttpOnly cookie and the form carries its HMAC under the instance key, so a forger who cannot
  read the victim's cookie, nor make a valid HMAC for a cookie they planted, cannot post.

``csrf_protected()`` checks every unsafe request of a router: a missing or wrong token, or a
browser that says the request is cross-site (``Sec-Fetch-Site``, ``Origin``), raises
``CsrfRejected`` before the route runs, so nothing changes. The portal answers it with a 403 page.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from townhall.platform.auth.cookies import CSRF_COOKIE, read_cookie, set_cookie
from townhall.platform.auth.sessions import identify_viewer, sign_in_context

CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PURPOSE = "csrf-double-submit"


class CsrfRejected(Exception):
    """A form arrived without a valid token, or from another site."""


@dataclass(frozen=True)
class FormToken:
    """The token a page's forms carry, and the cookie to set if the browser has none yet."""

    token: str
    new_cookie: str | None = None

    def apply(self, request: Request, response: Response) -> None:
        """Set the double-submit cookie on ``response`` if this token needs one."""
        if self.new_cookie is not None:
            context = sign_in_context(request)
            set_cookie(response, request, context.settings, CSRF_COOKIE, self.new_cookie)


def form_token(request: Request) -> FormToken:
    """The token for the forms on the page answering ``request``."""
    viewer = identify_viewer(request)
    if viewer is not None:
        return FormToken(token=viewer.csrf_token)
    context = sign_in_context(request)
    cookie = read_cookie(request, context.settings, CSRF_COOKIE)
    new_cookie = None
    if cookie is None:
        cookie = new_cookie = secrets.token_urlsafe(32)
    return FormToken(token=context.keys.mac(_PURPOSE, cookie), new_cookie=new_cookie)


async def verify_csrf(request: Request) -> None:
    """Refuse an unsafe request unless it is same-site and carries a valid form token."""
    if request.method in _SAFE_METHODS:
        return
    _refuse_cross_site(request)
    form = await request.form()
    submitted = form.get(CSRF_FIELD)
    if not isinstance(submitted, str) or not submitted:
        raise CsrfRejected
    viewer = await run_in_threadpool(identify_viewer, request)
    if viewer is not None and hmac.compare_digest(submitted, viewer.csrf_token):
        return
    context = sign_in_context(request)
    cookie = read_cookie(request, context.settings, CSRF_COOKIE)
    if cookie is not None and await run_in_threadpool(
        context.keys.matches, _PURPOSE, cookie, submitted
    ):
        return
    raise CsrfRejected


def _refuse_cross_site(request: Request) -> None:
    # Fetch metadata and Origin are sent by every current browser; they stop a forged form even
    # before its token is looked at. Their absence (older browsers, scripts) proves nothing.
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfRejected
    origin = request.headers.get("origin")
    # Hosts only: behind a TLS-terminating proxy the scheme the app sees may differ.
    host = request.headers.get("host", "").lower()
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != host:
        raise CsrfRejected


def csrf_protected() -> Any:
    """A router dependency checking the form token of every unsafe request."""
    return Depends(verify_csrf)
