"""The token endpoint (OAuth 2.0 client credentials) and the public keys that verify tokens.

This module owns ``POST /oauth/token`` (RFC 6749 section 4.4) and ``GET /.well-known/jwks.json``.
A client authenticates with HTTP Basic or ``client_id`` and ``client_secret`` in the form body
(never both), asks for ``grant_type=client_credentials`` and optionally narrows ``scope`` to
some of its grants; it gets a short-lived ES256 JWT carrying the scopes granted to it in this
environment. Errors follow RFC 6749 section 5.2 (``error`` and ``error_description`` in an
``application/json`` body) and also carry the fields of a Townhall problem, ``request_id``
included (docs/adr/0015-oauth-token-errors.md). The endpoint is public and limited per client
address, so secrets cannot be guessed at speed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from townhall.errors import BadRequest, TooManyRequests, TownhallError, Unauthenticated
from townhall.platform.auth.consumers import ClientAccess, verify_client_secret
from townhall.platform.auth.dependencies import REALM, public
from townhall.platform.auth.keys import SigningKeys
from townhall.platform.auth.tokens import SignedToken, sign_token
from townhall.platform.db import Database
from townhall.platform.http.openapi import STANDARD_ERROR_MARKER
from townhall.platform.http.problems import error_responses, request_id_of
from townhall.platform.http.routing import townhall_router
from townhall.settings import Settings

TOKEN_PATH = "/oauth/token"  # noqa: S105 (a path, not a password)
JWKS_PATH = "/.well-known/jwks.json"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
GRANT_TYPE = "client_credentials"
# A token request is a few hundred bytes; nothing larger is read.
MAX_TOKEN_REQUEST_BYTES = 8192
# Verifiers elsewhere may keep the key set this long; a new key is used before it is fetched
# only by this instance, which reads its keys from the database.
JWKS_MAX_AGE_SECONDS = 300

OAuthErrorCode = Literal[
    "invalid_request", "invalid_client", "invalid_scope", "unsupported_grant_type"
]


class TokenResponse(BaseModel):
    """A successful token request (RFC 6749 section 5.1)."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(description="A JWT to send as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (RFC 6750 token type)
    expires_in: int = Field(description="Seconds until the token expires.", examples=[900])
    scope: str = Field(
        description="The scopes the token carries, space-separated.",
        examples=["addresses:read people:read"],
    )


class OAuthProblem(BaseModel):
    """An RFC 6749 error that is also a Townhall problem: both sets of fields, one body."""

    model_config = ConfigDict(extra="forbid")

    error: OAuthErrorCode = Field(description="The RFC 6749 section 5.2 error code.")
    error_description: str = Field(examples=["The client could not be authenticated."])
    type: str = Field(examples=["/problems/unauthenticated"])
    title: str = Field(examples=["Unauthenticated"])
    status: int = Field(examples=[401])
    detail: str = Field(examples=["The client could not be authenticated."])
    instance: str = Field(examples=[TOKEN_PATH])
    request_id: str = Field(examples=["4f1c2a0e6b9d4d2f8a7e5c3b1a090807"])


class TokenRequestForm(BaseModel):
    """The form fields of a token request (documentation only: the body is read by hand)."""

    model_config = ConfigDict(extra="forbid")

    grant_type: Literal["client_credentials"]
    scope: str | None = Field(
        default=None,
        description="Space-separated scopes to narrow the token to; all granted ones if absent.",
    )
    client_id: str | None = Field(default=None, description="When not sent by HTTP Basic.")
    client_secret: str | None = Field(default=None, description="When not sent by HTTP Basic.")


class KeySet(BaseModel):
    """A JSON Web Key Set (RFC 7517): the public keys tokens are signed with."""

    model_config = ConfigDict(extra="forbid")

    keys: list[dict[str, Any]] = Field(
        examples=[[{"kty": "EC", "crv": "P-256", "x": "…", "y": "…", "kid": "…", "alg": "ES256"}]]
    )


@dataclass(frozen=True)
class OAuthError(Exception):
    """A refused token request, answered as RFC 6749 section 5.2 says."""

    code: OAuthErrorCode
    description: str

    @property
    def problem(self) -> type[TownhallError]:
        return Unauthenticated if self.code == "invalid_client" else BadRequest


def _oauth_error_response(error: OAuthError, request: Request) -> JSONResponse:
    problem = error.problem
    body = OAuthProblem(
        error=error.code,
        error_description=error.description,
        type=f"/problems/{problem.slug}",
        title=problem.title,
        status=problem.status,
        detail=error.description,
        instance=request.url.path,
        request_id=request_id_of(request),
    )
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if error.code == "invalid_client":
        # RFC 6749 section 5.2: a 401 names the authentication scheme the client should use.
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return JSONResponse(body.model_dump(), status_code=problem.status, headers=headers)


@dataclass(frozen=True)
class TokenRequest:
    """A token request as read from the wire, not yet checked against any client."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] | None


def read_token_request(content_type: str, body: bytes, authorization: str | None) -> TokenRequest:
    """The client's credentials and requested scopes, or the OAuthError the request earns."""
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise OAuthError("invalid_request", f"Send the request as {FORM_MEDIA_TYPE}.")
    if len(body) > MAX_TOKEN_REQUEST_BYTES:
        raise OAuthError("invalid_request", "The request is larger than a token request can be.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAuthError("invalid_request", "The form could not be read.") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # RFC 6749 section 3.2: parameters must not be included more than once.
            raise OAuthError("invalid_request", f"The parameter {name} is sent more than once.")
        form[name] = value
    grant_type = form.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is missing.")
    if grant_type != GRANT_TYPE:
        raise OAuthError(
            "unsupported_grant_type", f"Only grant_type={GRANT_TYPE} is supported here."
        )
    client_id, client_secret = _client_credentials(form, authorization)
    scope = form.get("scope")
    scopes = None if scope is None else tuple(scope.split())
    if scopes is not None and not scopes:
        raise OAuthError("invalid_scope", "scope is empty: leave it out to get every grant.")
    return TokenRequest(client_id=client_id, client_secret=client_secret, scopes=scopes)


def _client_credentials(form: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    in_body = "client_id" in form or "client_secret" in form
    if authorization is not None and authorization.strip():
        if in_body:
            # RFC 6749 section 2.3: a client must use only one authentication method.
            raise OAuthError(
                "invalid_request", "Send the client's credentials by HTTP Basic or in the body."
            )
        return _basic_credentials(authorization)
    client_id = form.get("client_id", "")
    client_secret = form.get("client_secret", "")
    if not client_id or not client_secret:
        raise OAuthError(
            "invalid_client",
            "Authenticate the client: HTTP Basic, or client_id and client_secret in the body.",
        )
    return client_id, client_secret


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "Only HTTP Basic client authentication is supported.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError("invalid_client", "The Basic credentials could not be read.") from exc
    raw_id, separator, raw_secret = decoded.partition(":")
    if not separator or not raw_id or not raw_secret:
        raise OAuthError("invalid_client", "The Basic credentials could not be read.")
    # RFC 6749 section 2.3.1: both halves are form-encoded before Basic encoding.
    return unquote_plus(raw_id), unquote_plus(raw_secret)


def issue_token(
    database: Database, settings: Settings, keys: SigningKeys, request: TokenRequest
) -> SignedToken:
    """A token for the client in ``request``, or the OAuthError that refuses it."""
    access = verify_client_secret(
        database,
        request.client_id,
        request.client_secret,
        environment=settings.environment.value,
    )
    if access is None:
        raise OAuthError("invalid_client", "The client could not be authenticated.")
    return token_for(access, settings, keys, request.scopes)


def token_for(
    access: ClientAccess,
    settings: Settings,
    keys: SigningKeys,
    requested: tuple[str, ...] | None,
    *,
    now: datetime | None = None,
) -> SignedToken:
    """A token carrying ``requested`` (or every granted scope), never outliving its grants."""
    granted = {grant.scope: grant for grant in access.grants}
    if not granted:
        raise OAuthError(
            "invalid_scope",
            f"The client has no grants in the {settings.environment.value} environment.",
        )
    scopes = sorted(set(requested) if requested is not None else set(granted))
    missing = [scope for scope in scopes if scope not in granted]
    if missing:
        raise OAuthError(
            "invalid_scope", f"The client is not granted {', '.join(missing)} in this environment."
        )
    moment = now or datetime.now(UTC)
    ttl = settings.token_ttl_seconds
    for scope in scopes:
        expires_at = granted[scope].expires_at
        if expires_at is not None:
            ttl = min(ttl, int((expires_at - moment).total_seconds()))
    if ttl < 1:
        raise OAuthError("invalid_scope", "The grants asked for expire within a second.")
    purpose = "; ".join(sorted({granted[scope].purpose for scope in scopes}))
    return sign_token(
        keys.signing_key(ttl),
        settings,
        consumer_id=access.consumer_id,
        client_id=access.client_id,
        scopes=scopes,
        purpose=purpose,
        ttl_seconds=ttl,
        now=moment,
    )


_OAUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "model": OAuthProblem,
        STANDARD_ERROR_MARKER: "RFC 6749 section 5.2",
    }
    for status, description in (
        (400, "invalid_request, invalid_scope or unsupported_grant_type (RFC 6749 section 5.2)"),
        (401, "invalid_client: the client could not be authenticated (`WWW-Authenticate: Basic`)"),
    )
}


def _with_rate_limit_headers(answer: JSONResponse, response: Response) -> JSONResponse:
    # The address limit's headers were set on the request's response; FastAPI does not copy
    # them onto a response the route builds itself.
    for name in ("RateLimit-Policy", "RateLimit"):
        if name in response.headers:
            answer.headers[name] = response.headers[name]
    return answer


def build_oauth_router(database: Database, settings: Settings, keys: SigningKeys) -> APIRouter:
    """Routes ``POST /oauth/token`` and ``GET /.well-known/jwks.json``."""
    router = townhall_router(tags=["oauth"])

    @router.post(
        TOKEN_PATH,
        name="issue_token",
        summary="Get an access token (client credentials)",
        dependencies=[public(rate_limited=True)],
        response_model=TokenResponse,
        responses={**_OAUTH_ERRORS, **error_responses(TooManyRequests)},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    FORM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/TokenRequestForm"}}
                },
            }
        },
    )
    async def issue(request: Request, response: Response) -> Any:
        """Exchange a client's credentials for a short-lived bearer token.

        Authenticate with HTTP Basic (`client_id:client_secret`) or with `client_id` and
        `client_secret` in the form. `scope` narrows the token to some of the client's grants.
        """
        try:
            token_request = read_token_request(
                request.headers.get("content-type", ""),
                await request.body(),
                request.headers.get("authorization"),
            )
            # argon2 and the database: off the event loop.
            signed = await run_in_threadpool(issue_token, database, settings, keys, token_request)
        except OAuthError as error:
            return _with_rate_limit_headers(_oauth_error_response(error, request), response)
        body = TokenResponse(
            access_token=signed.token, expires_in=signed.expires_in, scope=" ".join(signed.scopes)
        )
        answer = JSONResponse(
            body.model_dump(), headers={"Cache-Control": "no-store", "Pragma": "no-cache"}
        )
        return _with_rate_limit_headers(answer, response)

    @router.get(
        JWKS_PATH,
        name="signing_keys",
        summary="The public keys that verify access tokens",
        dependencies=[public()],
        response_model=KeySet,
    )
    def signing_keys() -> JSONResponse:
        """The JSON Web Key Set of the keys tokens are signed with, retiring ones included."""
        key_set = KeySet.model_validate(keys.jwks())
        return JSONResponse(
            key_set.model_dump(),
            headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
        )

    return router


def oauth_schemas() -> dict[str, dict[str, Any]]:
    """Schemas the token endpoint's documentation names but FastAPI does not generate."""
    schema = TokenRequestForm.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"TokenRequestForm": schema}
