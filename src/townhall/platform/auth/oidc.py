"""OpenID Connect relying party: the authorization code flow with PKCE, state and nonce.

This module owns talking to an identity provider (the council's, for staff; GOV.UK One Login,
for residents): reading its discovery document and keys, sending the browser to its
``authorization_endpoint``, exchanging the code at its ``token_endpoint`` with the client's
authentication (``client_secret_post`` or ``private_key_jwt``), and verifying the ID token:
signature against the provider's JWKS, issuer, audience, expiry and nonce. It knows nothing of
accounts or cookies: the portal's views keep the ``PendingLogin`` between the two legs, and the
staff and resident services turn verified claims into accounts and sessions.

Authlib builds the requests (PKCE, client authentication); joserfc, which Authlib itself uses,
checks signatures. Every network call has a short timeout, and every failure is an
``OidcFailed`` with a message a person can read: a provider being down must never become a 500.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from townhall.platform.logging import get_logger

# Seconds any one call to a provider may take: a person is waiting on the other end.
NETWORK_TIMEOUT = 5.0
# Discovery documents and keys change rarely; a few minutes' cache spares a round trip per sign-in
# while a rotated key is still picked up soon (and at once, when a token names an unknown key).
DISCOVERY_TTL_SECONDS = 300.0
# Tolerated clock difference between us and the provider when checking exp and iat.
CLOCK_LEEWAY_SECONDS = 60
ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "PS256")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

log = get_logger("townhall.sign_in")


class OidcFailed(Exception):
    """Signing in through the identity provider failed; ``message`` is for the person."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class OidcClient:
    """One relying party registration at one provider."""

    issuer: str
    client_id: str
    scopes: str = "openid email profile"
    client_secret: str | None = None
    # PEM of the private key for private_key_jwt; when set, client_secret is not used.
    private_key_pem: str | None = None
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingLogin:
    """What the browser must bring back from the provider: kept in a signed cookie meanwhile."""

    state: str
    nonce: str
    code_verifier: str

    def to_json(self) -> str:
        """The pending login as text for the cookie."""
        return json.dumps([self.state, self.nonce, self.code_verifier])

    @classmethod
    def from_json(cls, text: str) -> PendingLogin | None:
        """The pending login in ``text``, or None when it is not one."""
        try:
            state, nonce, verifier = json.loads(text)
        except (ValueError, TypeError):
            return None
        if not all(isinstance(part, str) and part for part in (state, nonce, verifier)):
            return None
        return cls(state=state, nonce=nonce, code_verifier=verifier)


@dataclass(frozen=True)
class VerifiedLogin:
    """The claims of a verified ID token (and of userinfo, when the token lacked the email)."""

    issuer: str
    subject: str
    claims: dict[str, Any]


def load_private_key(value: str) -> str:
    """A PEM private key given as its text or as the path of a file holding it."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    path = Path(value)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read the private key file {path}: {exc.strerror}"
        raise ValueError(msg) from exc


class _Cache:
    """Documents fetched from providers, each kept for ``DISCOVERY_TTL_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, *, fresh: bool = False) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(url)
        if entry is not None and not fresh and now - entry[0] < DISCOVERY_TTL_SECONDS:
            return entry[1]
        try:
            response = httpx.get(url, timeout=NETWORK_TIMEOUT, follow_redirects=False)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("oidc_fetch_failed", url=url, error=type(exc).__name__)
            raise OidcFailed(
                "The sign-in service could not be reached. Try again in a few minutes.",
                reason="unreachable",
            ) from exc
        if not isinstance(document, dict):
            raise OidcFailed("The sign-in service answered wrongly.", reason="bad_document")
        with self._lock:
            self._entries[url] = (now, document)
        return document


_CACHE = _Cache()


def discovery(issuer: str) -> dict[str, Any]:
    """The provider's discovery document, checked to name the issuer we expect."""
    document = _CACHE.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        # OpenID Connect Discovery 4.3: a document for another issuer must not be used.
        raise OidcFailed("The sign-in service is set up wrongly.", reason="issuer_mismatch")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise OidcFailed("The sign-in service is set up wrongly.", reason="bad_document")
    return document


def begin_login(client: OidcClient, redirect_uri: str) -> tuple[str, PendingLogin]:
    """The provider URL to send the browser to, and what to keep until it comes back."""
    document = discovery(client.issuer)
    pending = PendingLogin(
        state=generate_token(43), nonce=generate_token(43), code_verifier=generate_token(64)
    )
    with OAuth2Client(
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=client.scopes,
        code_challenge_method="S256",
    ) as oauth:
        url, _state = oauth.create_authorization_url(
            document["authorization_endpoint"],
            state=pending.state,
            nonce=pending.nonce,
            code_verifier=pending.code_verifier,
            **dict(client.extra_authorize_params),
        )
    return str(url), pending


def complete_login(
    client: OidcClient,
    *,
    redirect_uri: str,
    pending: PendingLogin,
    query: Mapping[str, str],
) -> VerifiedLogin:
    """Check the provider's answer, exchange the code, and verify the ID token; or OidcFailed."""
    if "error" in query:
        log.info("oidc_provider_error", error=query.get("error"))
        raise OidcFailed("The sign-in service did not sign you in.", reason="provider_error")
    state = query.get("state", "")
    if not state or not secrets.compare_digest(state, pending.state):
        raise OidcFailed(_START_AGAIN, reason="state_mismatch")
    code = query.get("code", "")
    if not code:
        raise OidcFailed(_START_AGAIN, reason="no_code")
    document = discovery(client.issuer)
    token = _exchange_code(client, document, code, redirect_uri, pending.code_verifier)
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcFailed(_NOT_VERIFIED, reason="no_id_token")
    claims = _verify_id_token(client, document, id_token, pending.nonce)
    if "email" not in claims and isinstance(document.get("userinfo_endpoint"), str):
        # GOV.UK One Login gives the email address only from userinfo, not in the ID token.
        claims = {**_userinfo(document["userinfo_endpoint"], token, claims["sub"]), **claims}
    return VerifiedLogin(issuer=client.issuer, subject=str(claims["sub"]), claims=claims)


_START_AGAIN = "Signing in took too long or was started in another tab. Start again."
_NOT_VERIFIED = "The sign-in service's answer could not be verified, so you were not signed in."


def _exchange_code(
    client: OidcClient, document: dict[str, Any], code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    endpoint = document["token_endpoint"]
    extra: dict[str, str] = {}
    if client.private_key_pem is not None:
        method = "none"  # the assertion below is the authentication; authlib adds client_id
        extra = {
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": _client_assertion(client, endpoint),
        }
    else:
        method = "client_secret_post"
    try:
        with OAuth2Client(
            client_id=client.client_id,
            client_secret=client.client_secret,
            token_endpoint_auth_method=method,
            redirect_uri=redirect_uri,
            timeout=NETWORK_TIMEOUT,
        ) as oauth:
            token = oauth.fetch_token(
                endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=verifier,
                **extra,
            )
    except httpx.HTTPError as exc:
        log.warning("oidc_token_unreachable", error=type(exc).__name__)
        raise OidcFailed(
            "The sign-in service could not be reached. Try again in a few minutes.",
            reason="unreachable",
        ) from exc
    except Exception as exc:
        # Authlib raises its own OAuthError family (and ValueError for a body that is not
        # JSON); any of them means the provider refused or garbled the exchange.
        log.info("oidc_token_refused", error=type(exc).__name__)
        raise OidcFailed(_NOT_VERIFIED, reason="token_refused") from exc
    return dict(token)


def _client_assertion(client: OidcClient, audience: str) -> str:
    """A private_key_jwt assertion (RFC 7523), as GOV.UK One Login requires: RS256, short-lived."""
    assert client.private_key_pem is not None
    key = RSAKey.import_key(client.private_key_pem)
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": audience,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 60,
    }
    return jwt.encode({"alg": "RS256"}, claims, key, algorithms=["RS256"])


def _verify_id_token(
    client: OidcClient, document: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    jwks_uri = document["jwks_uri"]
    try:
        decoded = _decode(id_token, _CACHE.get(jwks_uri))
    except _UnknownKey:
        # A key rotated since we cached the set: look once more before refusing.
        try:
            decoded = _decode(id_token, _CACHE.get(jwks_uri, fresh=True))
        except _UnknownKey as exc:
            raise OidcFailed(_NOT_VERIFIED, reason="unknown_key") from exc
    registry = JWTClaimsRegistry(
        now=int(time.time()),
        leeway=CLOCK_LEEWAY_SECONDS,
        iss={"essential": True, "value": client.issuer},
        aud={"essential": True, "value": client.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(decoded)
    except JoseError as exc:
        log.info("oidc_id_token_refused", error=type(exc).__name__, detail=str(exc))
        raise OidcFailed(_NOT_VERIFIED, reason="claims_invalid") from exc
    azp = decoded.get("azp")
    if azp is not None and azp != client.client_id:
        raise OidcFailed(_NOT_VERIFIED, reason="claims_invalid")
    return decoded


class _UnknownKey(Exception):
    """The token names no key of the set we hold."""


def _decode(id_token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    try:
        key_set = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcFailed(_NOT_VERIFIED, reason="bad_jwks") from exc
    try:
        token = jwt.decode(id_token, key_set, algorithms=list(ID_TOKEN_ALGORITHMS))
    except InvalidKeyIdError as exc:
        raise _UnknownKey from exc
    except (JoseError, ValueError) as exc:
        log.info("oidc_id_token_refused", error=type(exc).__name__)
        raise OidcFailed(_NOT_VERIFIED, reason="bad_signature") from exc
    return dict(token.claims)


def _userinfo(endpoint: str, token: Mapping[str, Any], subject: str) -> dict[str, Any]:
    access_token = token.get("access_token")
    if not isinstance(access_token, str):
        raise OidcFailed(_NOT_VERIFIED, reason="no_access_token")
    try:
        response = httpx.get(
            endpoint,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=NETWORK_TIMEOUT,
        )
        response.raise_for_status()
        info = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcFailed(
            "The sign-in service could not be reached. Try again in a few minutes.",
            reason="unreachable",
        ) from exc
    # OpenID Connect Core 5.3.2: userinfo for another subject must not be used.
    if not isinstance(info, dict) or info.get("sub") != subject:
        raise OidcFailed(_NOT_VERIFIED, reason="userinfo_subject")
    return info
