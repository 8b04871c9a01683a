"""Real access tokens for tests: a consumer registered through the service, a token from the app.

``TokenIssuer`` (the ``issue_token`` fixture in tests/conftest.py) registers a consumer holding
some scopes and asks the app's own ``POST /oauth/token`` for a token, exactly as a client would,
so a test of a protected route exercises the whole chain. ``forge_token`` makes the tokens no
issuer should give out (expired, signed by another key, for another instance), to show that
verification refuses them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from tests.platform.auth.factories import register_consumer
from townhall.platform.auth.consumers import RegisteredConsumer
from townhall.platform.auth.oauth import TOKEN_PATH
from townhall.platform.auth.tokens import TOKEN_TYPE, audience, issuer
from townhall.platform.db import Database
from townhall.settings import Settings


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def request_token(
    client: TestClient, consumer: RegisteredConsumer, scope: str | None = None
) -> dict[str, Any]:
    """The body of a successful token request for ``consumer`` (HTTP Basic)."""
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = client.post(
        TOKEN_PATH, data=data, auth=(consumer.consumer.client_id, consumer.client_secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class TokenIssuer:
    """Registers consumers and gets them real tokens from the app under test."""

    client: TestClient
    database: Database

    def register(
        self, scopes: Iterable[str] = (), *, name: str = "Parking permits"
    ) -> RegisteredConsumer:
        """A consumer holding ``scopes`` in the test environment."""
        return register_consumer(self.database, scopes=scopes, name=name)

    def __call__(
        self,
        scopes: Iterable[str] = (),
        *,
        consumer: RegisteredConsumer | None = None,
        scope: str | None = None,
    ) -> str:
        """A token for ``consumer`` (registered with ``scopes`` when not given).

        ``scope`` narrows the token request, as a client's ``scope`` parameter does.
        """
        holder = consumer if consumer is not None else self.register(scopes)
        return str(request_token(self.client, holder, scope)["access_token"])


def forge_token(
    settings: Settings,
    *,
    kid: str,
    consumer_id: str = "con_0000000000000000",
    scopes: Iterable[str] = ("consumers:read",),
    key: ec.EllipticCurvePrivateKey | None = None,
    now: datetime | None = None,
    ttl: timedelta = timedelta(minutes=15),
    overrides: Mapping[str, Any] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """A token shaped like the instance's, signed by ``key`` (a fresh key nobody trusts)."""
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer(settings),
        "aud": audience(settings),
        "sub": consumer_id,
        "client_id": "thcid_forged",
        "scope": " ".join(scopes),
        "purpose": "forged",
        "jti": "forged",
        "iat": int(issued.timestamp()),
        "nbf": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
        **(overrides or {}),
    }
    signer = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(
        claims,
        signer,
        algorithm="ES256",
        headers={"kid": kid, "typ": TOKEN_TYPE, **(headers or {})},
    )


def unverified_claims(token: str) -> dict[str, Any]:
    """A token's claims, read without checking anything (to learn its ``sub`` or ``exp``)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def key_id(token: str) -> str:
    """The ``kid`` in a token's header."""
    return str(jwt.get_unverified_header(token)["kid"])
