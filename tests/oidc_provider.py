"""A real, minimal OpenID provider for tests, served on a loopback port.

``serve_provider()`` runs one under uvicorn. It publishes a discovery document and a JWKS; its
``/authorize`` signs in ``provider.user`` at once and redirects back with a code (no login page);
its ``/token`` insists on the PKCE verifier and on the client's authentication:
``client_secret_post`` or ``client_secret_basic`` for the staff client, a ``private_key_jwt``
assertion checked against the registered public key for the resident client (as GOV.UK One Login
does); its ``/userinfo`` gives the email address, as One Login does. ``provider.faults`` makes it
misbehave on purpose: other claims in the ID token, or a signature by a key it never published.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from tests.browser import serve_in_thread
from townhall.settings import Settings

STAFF_CLIENT_ID = "townhall-staff"
STAFF_CLIENT_SECRET = "staff-client-secret-for-tests"
RESIDENT_CLIENT_ID = "townhall-residents"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Faults:
    """Ways the provider misbehaves on purpose."""

    # Claims put into (or, with None, taken out of) the ID token after the right ones.
    claims: dict[str, Any] = field(default_factory=dict)
    # Sign the ID token with a key the JWKS does not hold (under a published key id).
    foreign_key: bool = False


@dataclass
class Provider:
    """The provider's state: who signs in, the clients it knows, the codes it gave out."""

    resident_public_key: RSAKey
    url: str = ""
    signing_key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "op-1"})
    )
    user: dict[str, Any] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What /authorize was asked, for tests of the request itself.
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    def id_token(self, client_id: str, nonce: str) -> str:
        """The ID token for ``user``, with ``faults`` applied."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": self.user["sub"],
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        if client_id == STAFF_CLIENT_ID:
            claims.update({k: v for k, v in self.user.items() if k != "sub"})
        else:
            claims["vot"] = "Cl.Cm"
        for name, value in self.faults.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        key = self.signing_key
        if self.faults.foreign_key:
            key = RSAKey.generate_key(2048, parameters={"kid": "op-1"})
        return jwt.encode({"alg": "RS256", "kid": "op-1"}, claims, key)


def build_provider_app(provider: Provider) -> FastAPI:
    """The provider's HTTP endpoints."""
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def configuration() -> dict[str, Any]:
        return {
            "issuer": provider.url,
            "authorization_endpoint": provider.url + "/authorize",
            "token_endpoint": provider.url + "/token",
            "userinfo_endpoint": provider.url + "/userinfo",
            "jwks_uri": provider.url + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return KeySet([provider.signing_key]).as_dict(private=False)

    @app.get("/authorize")
    def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        provider.authorize_requests.append(params)
        if (
            params.get("response_type") != "code"
            or params.get("client_id") not in {STAFF_CLIENT_ID, RESIDENT_CLIENT_ID}
            or params.get("code_challenge_method") != "S256"
            or not params.get("code_challenge")
            or not params.get("nonce")
        ):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        provider.codes[code] = params
        query = urlencode({"code": code, "state": params.get("state", "")})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    @app.post("/token")
    async def token(request: Request) -> Response:
        form = {key: str(value) for key, value in (await request.form()).items()}
        client_id = _authenticated_client(provider, request, form)
        if client_id is None:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        asked = provider.codes.pop(form.get("code", ""), None)
        if (
            asked is None
            or asked["client_id"] != client_id
            or asked["redirect_uri"] != form.get("redirect_uri")
            or form.get("grant_type") != "authorization_code"
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != asked["code_challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access_token = secrets.token_urlsafe(16)
        provider.tokens[access_token] = dict(provider.user)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 180,
                "id_token": provider.id_token(client_id, asked["nonce"]),
            }
        )

    @app.get("/userinfo")
    def userinfo(request: Request) -> Response:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        user = provider.tokens.get(bearer)
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse(user)

    return app


def _authenticated_client(provider: Provider, request: Request, form: dict[str, str]) -> str | None:
    if form.get("client_assertion_type") == ASSERTION_TYPE:
        try:
            assertion = jwt.decode(form.get("client_assertion", ""), provider.resident_public_key)
            JWTClaimsRegistry(
                iss={"essential": True, "value": RESIDENT_CLIENT_ID},
                sub={"essential": True, "value": RESIDENT_CLIENT_ID},
                aud={"essential": True, "value": provider.url + "/token"},
                exp={"essential": True},
                jti={"essential": True},
            ).validate(assertion.claims)
        except (JoseError, ValueError):
            return None
        return RESIDENT_CLIENT_ID
    basic = request.headers.get("authorization", "")
    if basic.startswith("Basic "):
        client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if client_id == STAFF_CLIENT_ID and secrets.compare_digest(secret, STAFF_CLIENT_SECRET):
        return STAFF_CLIENT_ID
    return None


@dataclass(frozen=True)
class ResidentClientKey:
    """The resident client's key pair: Townhall holds the private half, the provider the public."""

    private_pem: str
    public: RSAKey


def resident_client_key() -> ResidentClientKey:
    """A fresh RSA key pair for the resident client."""
    key = RSAKey.generate_key(2048)
    public = RSAKey.import_key(key.as_dict(private=False))
    return ResidentClientKey(private_pem=key.as_pem(private=True).decode(), public=public)


@contextmanager
def serve_provider(client_key: ResidentClientKey) -> Iterator[Provider]:
    """A provider on a free loopback port until the block ends."""
    provider = Provider(resident_public_key=client_key.public)
    with serve_in_thread(build_provider_app(provider)) as server:
        provider.url = server.url
        yield provider


def settings_with_oidc(
    settings: Settings, provider: Provider, client_key: ResidentClientKey, **more: Any
) -> Settings:
    """``settings`` with both audiences signing in through ``provider``."""
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "staff_oidc_issuer": provider.url,
            "staff_oidc_client_id": STAFF_CLIENT_ID,
            "staff_oidc_client_secret": STAFF_CLIENT_SECRET,
            "staff_oidc_roles_from_groups": {
                "townhall-admins": "administrator",
                "housing": "housing_officer",
            },
            "staff_oidc_provider_name": "Hackney Staff Account",
            "resident_oidc_issuer": provider.url,
            "resident_oidc_client_id": RESIDENT_CLIENT_ID,
            "resident_oidc_private_key": client_key.private_pem,
            **more,
        }
    )


STAFF_USER = {
    "sub": "staff-subject-1",
    "email": "Grace.Officer@hackney.gov.uk",
    "email_verified": True,
    "name": "Grace Officer",
    "groups": ["everyone", "housing"],
}
RESIDENT_USER = {
    "sub": "urn:fdc:gov.uk:2022:resident-1",
    "email": "resident@example.com",
    "email_verified": True,
}
