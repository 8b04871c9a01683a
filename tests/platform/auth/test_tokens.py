"""The token endpoint (RFC 6749 client credentials), the token's format, and the key set."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from tests.platform.auth.factories import register_consumer
from tests.tokens import TokenIssuer, bearer, forge_token, request_token, unverified_claims
from townhall.app import create_app
from townhall.platform.auth.consumers import (
    ClientAccess,
    GrantView,
    RegisteredConsumer,
    disable_consumer,
)
from townhall.platform.auth.grants import NewGrant, grant_scope
from townhall.platform.auth.keys import SigningKeys, VerificationKey
from townhall.platform.auth.oauth import OAuthError, read_token_request, token_for
from townhall.platform.auth.tokens import (
    LEEWAY_SECONDS,
    InvalidToken,
    audience,
    issuer,
    verify_token,
)
from townhall.platform.db import Database
from townhall.settings import Settings

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def consumer(database: Database) -> RegisteredConsumer:
    return register_consumer(database, scopes=["consumers:read", "consumers:write"])


def _basic(consumer: RegisteredConsumer) -> tuple[str, str]:
    return consumer.consumer.client_id, consumer.client_secret


def _oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    # The problem fields beside the RFC 6749 ones: one shape with every other Townhall error.
    assert body["status"] == status
    assert body["detail"] == body["error_description"]
    assert body["instance"] == "/oauth/token"
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_a_client_gets_a_token_with_http_basic(
    client: TestClient, consumer: RegisteredConsumer, settings: Settings
) -> None:
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=_basic(consumer)
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.token_ttl_seconds == 900
    assert body["scope"] == "consumers:read consumers:write"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256"
    assert header["typ"] == "at+jwt"
    claims = unverified_claims(body["access_token"])
    assert claims["iss"] == issuer(settings) == "urn:townhall:E09000012:test"
    assert claims["aud"] == audience(settings)
    assert claims["sub"] == consumer.consumer.id
    assert claims["client_id"] == consumer.consumer.client_id
    assert claims["scope"] == "consumers:read consumers:write"
    assert claims["purpose"] == "Shows permit applications to parking staff."
    assert claims["exp"] - claims["iat"] == 900
    assert claims["nbf"] == claims["iat"]
    assert len(claims["jti"]) >= 16


def test_a_client_gets_a_token_with_credentials_in_the_body(
    client: TestClient, consumer: RegisteredConsumer
) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": consumer.consumer.client_id,
            "client_secret": consumer.client_secret,
        },
    )
    assert response.status_code == 200, response.text


def test_every_token_has_its_own_id(client: TestClient, consumer: RegisteredConsumer) -> None:
    first = unverified_claims(request_token(client, consumer)["access_token"])
    second = unverified_claims(request_token(client, consumer)["access_token"])
    assert first["jti"] != second["jti"]


def test_scope_narrows_the_token(client: TestClient, consumer: RegisteredConsumer) -> None:
    body = request_token(client, consumer, scope="consumers:read")
    assert body["scope"] == "consumers:read"
    assert unverified_claims(body["access_token"])["scope"] == "consumers:read"


def test_a_scope_not_granted_is_invalid_scope(client: TestClient, database: Database) -> None:
    reader = register_consumer(database, scopes=["consumers:read"])
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "consumers:read consumers:write"},
        auth=_basic(reader),
    )
    body = _oauth_error(response, 400, "invalid_scope")
    assert "consumers:write" in body["error_description"]


def test_an_empty_scope_is_invalid_scope(client: TestClient, consumer: RegisteredConsumer) -> None:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": " "},
        auth=_basic(consumer),
    )
    _oauth_error(response, 400, "invalid_scope")


def test_grants_of_another_environment_give_no_token(
    client: TestClient, database: Database
) -> None:
    elsewhere = register_consumer(database, scopes=["consumers:read"], environment="production")
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=_basic(elsewhere)
    )
    body = _oauth_error(response, 400, "invalid_scope")
    assert "no grants in the test environment" in body["error_description"]


def test_a_token_never_outlives_its_grants(client: TestClient, database: Database) -> None:
    holder = register_consumer(database, scopes=["consumers:read"])
    grant_scope(
        database,
        holder.consumer.id,
        NewGrant(
            scope="consumers:write",
            purpose="A week's migration",
            environment="test",
            expires_at=datetime.now(UTC) + timedelta(seconds=120),
        ),
        approved_by="cli:test",
    )
    body = request_token(client, holder)
    assert 100 <= body["expires_in"] <= 120
    claims = unverified_claims(body["access_token"])
    assert claims["purpose"] == "A week's migration; Shows permit applications to parking staff."
    # Narrowed to the grant without an end, the token gets the full lifetime.
    assert request_token(client, holder, scope="consumers:read")["expires_in"] == 900


@pytest.mark.parametrize(
    "auth",
    [("thcid_unknown", "thsec_whatever"), "right-id-wrong-secret"],
)
def test_a_wrong_client_is_invalid_client(
    client: TestClient, consumer: RegisteredConsumer, auth: tuple[str, str] | str
) -> None:
    credentials = (
        (consumer.consumer.client_id, consumer.client_secret + "x")
        if auth == "right-id-wrong-secret"
        else auth
    )
    assert isinstance(credentials, tuple)
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=credentials
    )
    body = _oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="townhall"'
    assert body["type"] == "/problems/unauthenticated"


def test_no_client_authentication_is_invalid_client(client: TestClient) -> None:
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    _oauth_error(response, 401, "invalid_client")


def test_a_disabled_consumer_gets_no_token(
    client: TestClient, consumer: RegisteredConsumer, database: Database
) -> None:
    disable_consumer(database, consumer.consumer.id, actor="cli:test")
    response = client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=_basic(consumer)
    )
    _oauth_error(response, 401, "invalid_client")


def test_another_grant_type_is_unsupported(
    client: TestClient, consumer: RegisteredConsumer
) -> None:
    response = client.post("/oauth/token", data={"grant_type": "password"}, auth=_basic(consumer))
    _oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize(
    ("content_type", "body", "authorization", "expected"),
    [
        ("application/json", b'{"grant_type": "client_credentials"}', None, "invalid_request"),
        (FORM, b"", None, "invalid_request"),
        (FORM, b"grant_type=client_credentials&grant_type=client_credentials", None,
         "invalid_request"),
        (FORM, b"grant_type=client_credentials&client_id=a&client_secret=b", "Basic YTpi",
         "invalid_request"),
        (FORM, b"grant_type=client_credentials", "Bearer abc", "invalid_client"),
        (FORM, b"grant_type=client_credentials", "Basic not-base64!", "invalid_client"),
        (FORM, b"grant_type=client_credentials", "Basic " + base64.b64encode(b"no-colon").decode(),
         "invalid_client"),
        (FORM, b"grant_type=client_credentials&client_id=only-an-id", None, "invalid_client"),
        (FORM, b"grant_type=client_credentials&" + b"x" * 9000, None, "invalid_request"),
        (FORM, b"grant_type=\xff", None, "invalid_request"),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused_as_rfc_6749_says(
    content_type: str, body: bytes, authorization: str | None, expected: str
) -> None:
    with pytest.raises(OAuthError) as refused:
        read_token_request(content_type, body, authorization)
    assert refused.value.code == expected


def test_basic_credentials_are_form_decoded() -> None:
    # RFC 6749 section 2.3.1: each half is form-encoded before being joined and base64-encoded.
    encoded = base64.b64encode(b"my%20client:s%3Acret+x").decode()
    request = read_token_request(FORM, b"grant_type=client_credentials", f"Basic {encoded}")
    assert (request.client_id, request.client_secret) == ("my client", "s:cret x")


def test_a_malformed_request_is_answered_over_http(client: TestClient) -> None:
    response = client.post(
        "/oauth/token",
        content=b'{"grant_type": "client_credentials"}',
        headers={"Content-Type": "application/json"},
    )
    body = _oauth_error(response, 400, "invalid_request")
    assert body["type"] == "/problems/bad-request"


def test_the_token_endpoint_is_rate_limited_per_client_address(settings: Settings) -> None:
    limited = settings.model_copy(update={"public_rate_limit_per_minute": 2})
    with TestClient(create_app(limited)) as client:
        answers = [
            client.post("/oauth/token", data={"grant_type": "client_credentials"}) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [401, 401, 429]
    refused = answers[2]
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    assert "q=2;w=60" in answers[0].headers["ratelimit-policy"]


def test_the_key_set_publishes_the_key_that_verifies_tokens(
    client: TestClient, issue_token: TokenIssuer, settings: Settings
) -> None:
    token = issue_token(["consumers:read"])
    response = client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    [key] = response.json()["keys"]
    assert key["kid"] == jwt.get_unverified_header(token)["kid"]
    public_key = jwt.PyJWK.from_dict(key).key
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["ES256"],
        audience=audience(settings),
        issuer=issuer(settings),
    )
    assert claims["scope"] == "consumers:read"


def test_the_key_set_is_empty_until_the_first_token(client: TestClient) -> None:
    assert client.get("/.well-known/jwks.json").json() == {"keys": []}


# Verification of the token format, without HTTP.


@pytest.fixture
def signing(database: Database) -> SigningKeys:
    return SigningKeys(database, lambda: b"test secret")


@pytest.fixture
def access() -> ClientAccess:
    return ClientAccess(
        consumer_id="con_1",
        client_id="thcid_1",
        name="Test",
        kind="council_service",
        rate_limit_per_minute=None,
        quota_per_day=None,
        grants=(GrantView("consumers:read", "test", "Testing", None),),
    )


@pytest.fixture
def verification(signing: SigningKeys) -> VerificationKey:
    signing.signing_key(900)
    [key] = signing.verification_keys()
    return key


def _token(
    access: ClientAccess, settings: Settings, signing: SigningKeys, now: datetime | None = None
) -> str:
    return token_for(access, settings, signing, None, now=now).token


def test_a_token_verifies_and_gives_its_claims(
    access: ClientAccess,
    settings: Settings,
    signing: SigningKeys,
    verification: VerificationKey,
) -> None:
    claims = verify_token(_token(access, settings, signing), verification, settings)
    assert claims.consumer_id == "con_1"
    assert claims.client_id == "thcid_1"
    assert claims.scopes == {"consumers:read"}
    assert claims.purpose == "Testing"
    assert claims.expires_at - claims.issued_at == timedelta(seconds=900)


def test_an_expired_token_is_refused_after_the_leeway(
    access: ClientAccess,
    settings: Settings,
    signing: SigningKeys,
    verification: VerificationKey,
) -> None:
    issued = datetime.now(UTC) - timedelta(seconds=900)
    just_expired = _token(access, settings, signing, now=issued)
    verify_token(just_expired, verification, settings)  # within the leeway for clock skew
    long_expired = _token(
        access, settings, signing, now=issued - timedelta(seconds=LEEWAY_SECONDS + 2)
    )
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(long_expired, verification, settings)


def test_a_token_from_the_future_is_refused(
    access: ClientAccess,
    settings: Settings,
    signing: SigningKeys,
    verification: VerificationKey,
) -> None:
    early = _token(access, settings, signing, now=datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(InvalidToken, match="not valid yet"):
        verify_token(early, verification, settings)


def test_a_token_of_another_instance_is_refused(
    access: ClientAccess,
    settings: Settings,
    signing: SigningKeys,
    verification: VerificationKey,
) -> None:
    other = settings.model_copy(update={"council_code": "E09000001"})
    with pytest.raises(InvalidToken, match="another instance"):
        verify_token(_token(access, other, signing), verification, settings)


def test_a_token_signed_by_another_key_is_refused(
    settings: Settings, verification: VerificationKey
) -> None:
    forged = forge_token(settings, kid=verification.kid)
    with pytest.raises(InvalidToken, match="signature"):
        verify_token(forged, verification, settings)


def test_a_token_cannot_choose_a_weaker_algorithm(
    settings: Settings, verification: VerificationKey
) -> None:
    # The classic confusion: HMAC keyed with the public key, which anyone can read.
    public_pem = verification.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = unverified_claims(forge_token(settings, kid=verification.kid))
    forged_hmac = _hs256(claims, public_pem, verification.kid)
    with pytest.raises(InvalidToken):
        verify_token(forged_hmac, verification, settings)
    unsigned = _unsigned(claims, verification.kid)
    with pytest.raises(InvalidToken):
        verify_token(unsigned, verification, settings)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(claims: dict[str, Any], kid: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def _hs256(claims: dict[str, Any], key: bytes, kid: str) -> str:
    import hashlib
    import hmac

    header = _b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def test_a_token_missing_a_claim_is_refused(
    settings: Settings, signing: SigningKeys, verification: VerificationKey
) -> None:
    key = signing.signing_key(900)
    claims = unverified_claims(forge_token(settings, kid=key.kid, key=key.private_key))
    del claims["client_id"]
    token = jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"}
    )
    with pytest.raises(InvalidToken, match="malformed"):
        verify_token(token, verification, settings)


def test_a_token_whose_scope_is_not_a_string_is_refused(
    settings: Settings, signing: SigningKeys, verification: VerificationKey
) -> None:
    key = signing.signing_key(900)
    token = forge_token(
        settings, kid=key.kid, key=key.private_key, overrides={"scope": ["consumers:read"]}
    )
    with pytest.raises(InvalidToken, match="claims are malformed"):
        verify_token(token, verification, settings)


def test_a_retired_key_verifies_nothing(
    settings: Settings, signing: SigningKeys, verification: VerificationKey
) -> None:
    key = signing.signing_key(900)
    token = forge_token(settings, kid=key.kid, key=key.private_key)
    retired = VerificationKey(
        kid=verification.kid,
        algorithm=verification.algorithm,
        public_key=verification.public_key,
        retire_after=datetime.now(UTC) - timedelta(seconds=1),
    )
    with pytest.raises(InvalidToken, match="retired"):
        verify_token(token, retired, settings)


def test_a_protected_route_accepts_a_token_from_the_endpoint(
    client: TestClient, issue_token: TokenIssuer
) -> None:
    token = issue_token(["consumers:read"])
    assert client.get("/api/v1/consumers", headers=bearer(token)).status_code == 200
