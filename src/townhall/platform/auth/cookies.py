"""The portal's cookies: their names and attributes, decided in one place.

Every cookie is HttpOnly (no script reads it), SameSite=Lax (not sent on cross-site POSTs) and
Path=/. Over HTTPS, and always in production, names carry the ``__Host-`` prefix and the Secure
flag: browsers then refuse such a cookie unless it came over HTTPS from this very host, with no
Domain attribute, so neither a network attacker nor a sibling subdomain can plant or overwrite it.
Plain ``http://127.0.0.1`` (the demo, the browser tests) cannot use either, because browsers
reject ``__Host-`` and Secure cookies from insecure origins; there the names have no prefix and
the flag is off. ``docs/adr`` records the decision.
"""

from __future__ import annotations

from fastapi import Request, Response

from townhall.settings import Environment, Settings

SESSION_COOKIE = "townhall-session"
CSRF_COOKIE = "townhall-csrf"
CHALLENGE_COOKIE = "townhall-sign-in"
HOST_PREFIX = "__Host-"


def cookies_are_secure(request: Request, settings: Settings) -> bool:
    """Whether cookies for ``request`` get the ``__Host-`` prefix and the Secure flag."""
    return settings.environment == Environment.PRODUCTION or request.url.scheme == "https"


def cookie_name(request: Request, settings: Settings, base: str) -> str:
    """The name of cookie ``base`` as this request's browser holds it."""
    return HOST_PREFIX + base if cookies_are_secure(request, settings) else base


def read_cookie(request: Request, settings: Settings, base: str) -> str | None:
    """The value of cookie ``base``, or None."""
    value = request.cookies.get(cookie_name(request, settings, base))
    return value or None


def set_cookie(
    response: Response,
    request: Request,
    settings: Settings,
    base: str,
    value: str,
    *,
    max_age: int | None = None,
) -> None:
    """Set cookie ``base`` with the portal's attributes."""
    response.set_cookie(
        cookie_name(request, settings, base),
        value,
        max_age=max_age,
        path="/",
        secure=cookies_are_secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, settings: Settings, base: str) -> None:
    """Tell the browser to forget cookie ``base``."""
    response.delete_cookie(
        cookie_name(request, settings, base),
        path="/",
        secure=cookies_are_secure(request, settings),
        httponly=True,
        samesite="lax",
    )
