"""Access tokens: what a token says (its claims), how it is signed, and how it is checked.

This module owns the token format and nothing about HTTP or storage. A token is a JWT (RFC 7519)
in the access-token profile of RFC 9068: header ``typ: at+jwt``, ``alg: ES256`` and the ``kid``
of the key that signed it; claims ``iss`` (this instance), ``aud`` (this instance's APIs),
``sub`` (the consumer id), ``client_id``, ``scope`` (space-separated), ``purpose`` (the grants'
stated purposes), ``jti``, ``iat``, ``nbf`` and ``exp``. Verification checks the signature
against the key named by ``kid``, the type, issuer, audience and lifetime (with a small leeway
for clocks that differ between machines); whether the consumer may still use the token's scopes
is ``townhall.platform.auth.access``'s question.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from townhall.platform.auth.keys import SigningKey, VerificationKey
from townhall.settings import Settings

TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068 JWT type, not a password)
# Clocks of the machines that issue and check tokens may differ by this much.
LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ("iss", "aud", "sub", "client_id", "scope", "jti", "iat", "nbf", "exp")


def issuer(settings: Settings) -> str:
    """The ``iss`` of this instance's tokens: its council and environment."""
    return f"urn:townhall:{settings.council_code}:{settings.environment.value}"


def audience(settings: Settings) -> str:
    """The ``aud`` of this instance's tokens: its APIs, which accept no other instance's."""
    return f"{issuer(settings)}:api"


@dataclass(frozen=True)
class TokenClaims:
    """The claims of a verified access token."""

    token_id: str
    consumer_id: str
    client_id: str
    scopes: frozenset[str]
    purpose: str
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class SignedToken:
    """A signed token and what its holder is told about it."""

    token: str
    scopes: tuple[str, ...]
    expires_in: int
    claims: TokenClaims


def sign_token(
    key: SigningKey,
    settings: Settings,
    *,
    consumer_id: str,
    client_id: str,
    scopes: Iterable[str],
    purpose: str,
    ttl_seconds: int,
    now: datetime | None = None,
) -> SignedToken:
    """A new access token for a consumer, valid for ``ttl_seconds`` from ``now``."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = issued + timedelta(seconds=ttl_seconds)
    ordered = tuple(sorted(set(scopes)))
    token_id = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": issuer(settings),
        "aud": audience(settings),
        "sub": consumer_id,
        "client_id": client_id,
        "scope": " ".join(ordered),
        "purpose": purpose,
        "jti": token_id,
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
    }
    token = jwt.encode(
        claims,
        key.private_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": TOKEN_TYPE},
    )
    return SignedToken(
        token=token,
        scopes=ordered,
        expires_in=ttl_seconds,
        claims=TokenClaims(
            token_id=token_id,
            consumer_id=consumer_id,
            client_id=client_id,
            scopes=frozenset(ordered),
            purpose=purpose,
            issued_at=issued,
            expires_at=expires,
        ),
    )


class InvalidToken(Exception):
    """A token that must not be accepted; the message says why, safe to show its holder."""


def unverified_key_id(token: str) -> str:
    """The ``kid`` in a token's header, read before anything is trusted, to pick the key."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        msg = "the token is not a JWT"
        raise InvalidToken(msg) from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        msg = "the token names no signing key"
        raise InvalidToken(msg)
    if header.get("typ") != TOKEN_TYPE:
        msg = "the token is not an access token"
        raise InvalidToken(msg)
    return kid


def verify_token(
    token: str, key: VerificationKey, settings: Settings, *, now: datetime | None = None
) -> TokenClaims:
    """The claims of ``token`` if ``key`` signed it and it is for this instance, now."""
    moment = now or datetime.now(UTC)
    if key.retire_after is not None and moment >= key.retire_after:
        msg = "the key that signed the token is retired"
        raise InvalidToken(msg)
    try:
        claims = jwt.decode(
            token,
            key.public_key,
            # Only the key's own algorithm: a token cannot choose how it is checked.
            algorithms=[key.algorithm],
            audience=audience(settings),
            issuer=issuer(settings),
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_iat": False},
        )
    except jwt.ExpiredSignatureError as exc:
        msg = "the token has expired"
        raise InvalidToken(msg) from exc
    except jwt.ImmatureSignatureError as exc:
        msg = "the token is not valid yet"
        raise InvalidToken(msg) from exc
    except jwt.InvalidSignatureError as exc:
        msg = "the token's signature does not verify"
        raise InvalidToken(msg) from exc
    except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
        msg = "the token was issued for another instance"
        raise InvalidToken(msg) from exc
    except jwt.PyJWTError as exc:
        msg = "the token is malformed"
        raise InvalidToken(msg) from exc
    return _claims(claims)


def _claims(claims: dict[str, Any]) -> TokenClaims:
    try:
        scope = claims["scope"]
        if not isinstance(scope, str):
            raise TypeError(scope)
        return TokenClaims(
            token_id=str(claims["jti"]),
            consumer_id=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=frozenset(scope.split()),
            purpose=str(claims.get("purpose", "")),
            issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (KeyError, TypeError, ValueError) as exc:
        msg = "the token's claims are malformed"
        raise InvalidToken(msg) from exc
