"""ASGI middleware: request id, security headers, the access log line and request metrics.

This module owns what happens around every request, whatever route answers it. It is plain ASGI
(not Starlette's ``BaseHTTPMiddleware``) so streaming responses and background work are not
buffered or cut short. It must not know any route or domain.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from townhall.platform.http.problems import PROBLEM_JSON, unexpected_error_body
from townhall.platform.logging import get_logger
from townhall.platform.metrics import Metrics

# An incoming id is reused only if it is short and plain, so it cannot inject into logs.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = get_logger("townhall.access")


def new_request_id() -> str:
    """A fresh request id: 32 hexadecimal characters."""
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Give each request an id, echo it back, log one access line and count it in metrics."""

    def __init__(self, app: ASGIApp, *, header: str, metrics: Metrics) -> None:
        self.app = app
        self.header = header.lower().encode("latin-1")
        self.header_name = header
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, self.header)
        request_id = incoming if incoming and _SAFE_REQUEST_ID.match(incoming) else new_request_id()
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["csp_nonce"] = secrets.token_urlsafe(16)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((self.header, request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                status = 500
                log.error(
                    "unhandled_exception",
                    method=scope["method"],
                    route=_route_template(scope),
                    exc_info=exc,
                )
                if response_started:
                    raise  # too late for an answer; the server closes the connection
                body = json.dumps(unexpected_error_body(request_id, scope["path"])).encode()
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", PROBLEM_JSON.encode()),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": body})
            finally:
                elapsed = time.perf_counter() - started
                route = _route_template(scope)
                self.metrics.observe_request(scope["method"], route, status, elapsed)
                log.info(
                    "request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    # Unmatched paths are not logged as they came: they may hold anything a caller typed.
    return str(path) if path else "<unmatched>"


# Request state key: origins, besides the instance, a page's forms may lead to (a list).
CSP_FORM_ACTION_STATE = "csp_form_action"


class SecurityHeadersMiddleware:
    """Add the security headers every response carries (OWASP secure headers baseline)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {key.lower() for key, _ in headers}
                nonce = scope.get("state", {}).get("csp_nonce", "")
                for key, value in self._headers(scope, nonce):
                    if key not in present:
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers(self, scope: Scope, nonce: str) -> list[tuple[bytes, bytes]]:
        path: str = scope.get("path", "")
        # A page whose form goes on to an identity provider names it (CSP_FORM_ACTION_STATE):
        # browsers apply form-action to the redirect after the post too.
        form_action = " ".join(["'self'", *scope.get("state", {}).get(CSP_FORM_ACTION_STATE, ())])
        csp = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self' data:; font-src 'self'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; "
            f"form-action {form_action}; frame-ancestors 'none'"
        )
        if path.startswith("/api/docs"):
            # The API explorer page loads its scripts from the instance and runs one inline block.
            csp = (
                "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
            )
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"content-security-policy", csp.encode("latin-1")),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(), camera=(), microphone=(), payment=()"),
        ]
        if not path.startswith("/static/"):
            # Responses may carry personal data: no shared cache may keep them.
            headers.append((b"cache-control", b"no-store"))
        if self.hsts:
            headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return headers
