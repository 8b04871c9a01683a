"""Signing in through OpenID Connect against a real provider on loopback, refusals included.

Each refusal test checks the page says why and that nothing is signed in: no session row, no
session cookie, and the staff or resident home still sends the browser to sign in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.oidc_provider import (
    RESIDENT_USER,
    STAFF_USER,
    Provider,
    ResidentClientKey,
    resident_client_key,
    serve_provider,
    settings_with_oidc,
)
from tests.sign_in import form_token, make_staff
from townhall.app import create_app
from townhall.platform.auth.changes import list_changes
from townhall.platform.auth.sign_in_models import (
    PortalSession,
    ResidentAccount,
    StaffAccount,
)
from townhall.platform.db import Database
from townhall.platform.http.pagination import PageRequest
from townhall.settings import Settings


@pytest.fixture(scope="module")
def client_key() -> ResidentClientKey:
    """The resident client's key pair (RSA generation is slow: one per module)."""
    return resident_client_key()


@pytest.fixture
def provider(client_key: ResidentClientKey) -> Iterator[Provider]:
    """A provider on loopback, signing in the staff user unless a test says otherwise."""
    with serve_provider(client_key) as served:
        served.user = dict(STAFF_USER)
        yield served


@pytest.fixture
def oidc_client(
    settings: Settings, provider: Provider, client_key: ResidentClientKey
) -> Iterator[TestClient]:
    """A client of an app whose staff and residents sign in through ``provider``."""
    app = create_app(settings_with_oidc(settings, provider, client_key))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def start(client: TestClient, path: str, page: str) -> str:
    """Press the provider button on ``page``; return the provider URL the app sent us to."""
    response = client.post(
        path, data={"csrf_token": form_token(client, page)}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response.headers["location"]


def provider_answer(authorize_url: str) -> str:
    """What the provider redirects the browser to: the callback path and query."""
    response = httpx.get(authorize_url, follow_redirects=False, timeout=5)
    assert response.status_code == 302, response.text
    back = urlsplit(response.headers["location"])
    return f"{back.path}?{back.query}"


def staff_round_trip(client: TestClient) -> httpx.Response:
    """Sign in at the staff provider and return the callback's answer."""
    callback = provider_answer(start(client, "/staff/sign-in/oidc", "/staff/sign-in"))
    return client.get(callback, follow_redirects=False)


def session_count(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(PortalSession)) or 0)


def assert_not_signed_in(client: TestClient, database: Database, response: httpx.Response) -> None:
    assert "set-cookie" not in response.headers or "townhall-session=" not in (
        response.headers.get("set-cookie", "")
    )
    assert session_count(database) == 0
    assert client.get("/staff", follow_redirects=False).status_code == 303
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_staff_page_offers_the_provider(oidc_client: TestClient) -> None:
    page = oidc_client.get("/staff/sign-in")
    assert "Sign in with Hackney Staff Account" in page.text
    assert 'action="/staff/sign-in/oidc"' in page.text
    assert 'name="password"' in page.text


def test_authorize_request_carries_pkce_state_and_nonce(
    oidc_client: TestClient, provider: Provider
) -> None:
    url = start(oidc_client, "/staff/sign-in/oidc", "/staff/sign-in")
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert len(query["nonce"]) >= 32
    assert "code_verifier" not in query
    assert query["redirect_uri"].endswith("/staff/sign-in/oidc/callback")


def test_staff_sign_in_creates_the_account_with_the_mapped_role(
    oidc_client: TestClient, database: Database
) -> None:
    response = staff_round_trip(oidc_client)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff"
    home = oidc_client.get("/staff")
    assert home.status_code == 200
    assert "Grace Officer" in home.text
    with database.read() as session:
        account = session.scalars(select(StaffAccount)).one()
        assert (account.email, account.role) == ("grace.officer@hackney.gov.uk", "housing_officer")
        assert account.oidc_subject == "staff-subject-1"
        account_id = account.id
    changes = list_changes(database, PageRequest(limit=10), target_id=account_id).items
    assert [change.action for change in changes] == ["staff_account.created"]


def test_staff_role_follows_the_groups_and_links_an_existing_account(
    oidc_client: TestClient, provider: Provider, database: Database
) -> None:
    member = make_staff(database, "grace.officer@hackney.gov.uk", role="parking_officer")
    provider.user = {**STAFF_USER, "groups": ["townhall-admins"]}
    assert staff_round_trip(oidc_client).status_code == 303
    with database.read() as session:
        account = session.get(StaffAccount, member.id)
        assert account is not None
        assert (account.role, account.oidc_subject) == ("administrator", "staff-subject-1")
    actions = [
        change.action
        for change in list_changes(database, PageRequest(limit=10), target_id=member.id).items
    ]
    assert actions == [
        "staff_account.created",
        "staff_account.linked",
        "staff_account.role_changed",
    ]


def test_unmapped_group_is_refused(
    oidc_client: TestClient, provider: Provider, database: Database
) -> None:
    provider.user = {**STAFF_USER, "groups": ["everyone"]}
    response = staff_round_trip(oidc_client)
    assert response.status_code == 403
    assert "not in any group that may use Townhall" in response.text
    assert_not_signed_in(oidc_client, database, response)
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(StaffAccount)) == 0


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"nonce": "not-the-nonce"}, "wrong nonce"),
        ({"aud": "another-client"}, "wrong audience"),
        ({"iss": "https://impostor.example"}, "wrong issuer"),
        ({"exp": 1_700_000_000, "iat": 1_699_999_000}, "expired"),
        ({"nonce": None}, "no nonce"),
    ],
)
def test_id_tokens_that_do_not_verify_are_refused(
    oidc_client: TestClient,
    provider: Provider,
    database: Database,
    claims: dict[str, object],
    reason: str,
) -> None:
    provider.faults.claims = claims
    response = staff_round_trip(oidc_client)
    assert response.status_code == 400, reason
    assert "could not be verified" in response.text
    assert_not_signed_in(oidc_client, database, response)


def test_token_signed_by_another_key_is_refused(
    oidc_client: TestClient, provider: Provider, database: Database
) -> None:
    provider.faults.foreign_key = True
    response = staff_round_trip(oidc_client)
    assert response.status_code == 400
    assert "could not be verified" in response.text
    assert_not_signed_in(oidc_client, database, response)


def test_forged_state_is_refused(oidc_client: TestClient, database: Database) -> None:
    callback = provider_answer(start(oidc_client, "/staff/sign-in/oidc", "/staff/sign-in"))
    path, query = callback.split("?", 1)
    params = {key: values[0] for key, values in parse_qs(query).items()}
    params["state"] = "forged-" + params["state"][7:]
    response = oidc_client.get(path, params=params, follow_redirects=False)
    assert response.status_code == 400
    assert "Start again" in response.text
    assert_not_signed_in(oidc_client, database, response)


def test_callback_without_a_pending_login_is_refused(
    oidc_client: TestClient, database: Database
) -> None:
    callback = provider_answer(start(oidc_client, "/staff/sign-in/oidc", "/staff/sign-in"))
    oidc_client.cookies.clear()
    response = oidc_client.get(callback, follow_redirects=False)
    assert response.status_code == 400
    assert_not_signed_in(oidc_client, database, response)


def test_a_code_is_used_once(oidc_client: TestClient, database: Database) -> None:
    url = start(oidc_client, "/staff/sign-in/oidc", "/staff/sign-in")
    callback = provider_answer(url)
    assert oidc_client.get(callback, follow_redirects=False).status_code == 303
    # The pending login's cookie was cleared: replaying the answer starts nothing.
    replayed = oidc_client.get(callback, follow_redirects=False)
    assert replayed.status_code == 400
    assert session_count(database) == 1


def test_provider_down_is_a_page_not_a_500(
    settings: Settings, client_key: ResidentClientKey, database: Database
) -> None:
    with serve_provider(client_key) as gone:
        pass  # stopped: its port now refuses connections
    app = create_app(settings_with_oidc(settings, gone, client_key))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            "/staff/sign-in/oidc",
            data={"csrf_token": form_token(client, "/staff/sign-in")},
            follow_redirects=False,
        )
        assert response.status_code == 502
        assert "could not be reached" in response.text
        assert_not_signed_in(client, database, response)


def test_start_needs_the_form_token(oidc_client: TestClient) -> None:
    response = oidc_client.post("/staff/sign-in/oidc", data={}, follow_redirects=False)
    assert response.status_code == 403


def test_oidc_only_hides_and_refuses_the_password_form(
    settings: Settings, provider: Provider, client_key: ResidentClientKey, database: Database
) -> None:
    make_staff(database)
    app = create_app(settings_with_oidc(settings, provider, client_key, staff_oidc_only=True))
    with TestClient(app, raise_server_exceptions=False) as client:
        page = client.get("/staff/sign-in")
        assert 'name="password"' not in page.text
        assert "Sign in with Hackney Staff Account" in page.text
        response = client.post(
            "/staff/sign-in",
            data={
                "email": "officer@hackney.gov.uk",
                "password": "correct horse battery staple",
                "csrf_token": form_token(client, "/staff/sign-in"),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/staff/sign-in"
        assert session_count(database) == 0


def resident_round_trip(client: TestClient) -> httpx.Response:
    callback = provider_answer(start(client, "/account/sign-in/one-login", "/account/sign-in"))
    return client.get(callback, follow_redirects=False)


def test_resident_signs_in_with_private_key_jwt_and_vtr(
    oidc_client: TestClient, provider: Provider, database: Database
) -> None:
    provider.user = dict(RESIDENT_USER)
    page = oidc_client.get("/account/sign-in")
    assert "Sign in with GOV.UK One Login" in page.text
    response = resident_round_trip(oidc_client)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"
    assert oidc_client.get("/account").status_code == 200
    assert json.loads(provider.authorize_requests[-1]["vtr"]) == ["Cl.Cm"]
    assert provider.authorize_requests[-1]["scope"] == "openid email"
    with database.read() as session:
        account = session.scalars(select(ResidentAccount)).one()
        assert account.email == "resident@example.com"
        assert account.oidc_subject == RESIDENT_USER["sub"]
        assert account.verified_at is not None


def test_resident_with_an_unverified_email_is_refused(
    oidc_client: TestClient, provider: Provider, database: Database
) -> None:
    provider.user = {**RESIDENT_USER, "email_verified": False}
    response = resident_round_trip(oidc_client)
    assert response.status_code == 403
    assert_not_signed_in(oidc_client, database, response)


def test_resident_token_with_a_lower_vot_is_refused(
    oidc_client: TestClient, provider: Provider, database: Database
) -> None:
    provider.user = dict(RESIDENT_USER)
    provider.faults.claims = {"vot": "Cl"}
    response = resident_round_trip(oidc_client)
    assert response.status_code == 403
    assert_not_signed_in(oidc_client, database, response)


def test_resident_client_with_the_wrong_key_is_refused_by_the_provider(
    settings: Settings, provider: Provider, database: Database
) -> None:
    provider.user = dict(RESIDENT_USER)
    stranger = resident_client_key()  # the provider holds another public key
    app = create_app(settings_with_oidc(settings, provider, stranger))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = resident_round_trip(client)
        assert response.status_code == 400
        assert_not_signed_in(client, database, response)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"staff_oidc_issuer": "https://idp.example"}, "together"),
        (
            {
                "staff_oidc_issuer": "https://idp.example",
                "staff_oidc_client_id": "x",
                "staff_oidc_client_secret": "y",
                "staff_oidc_roles_from_groups": {"g": "king"},
            },
            "unknown roles",
        ),
        ({"staff_oidc_only": True}, "needs staff OpenID Connect"),
        ({"resident_oidc_client_id": "x"}, "together"),
        ({"resident_oidc_vtr": "Cl.Cm"}, "JSON list"),
    ],
)
def test_incomplete_or_wrong_settings_are_refused(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Settings.model_validate({"environment": "test", **values})


def test_resident_private_key_may_be_a_file(
    settings: Settings,
    provider: Provider,
    client_key: ResidentClientKey,
    database: Database,
    tmp_path: Path,
) -> None:
    key_file = tmp_path / "one-login.pem"
    key_file.write_text(client_key.private_pem, encoding="utf-8")
    provider.user = dict(RESIDENT_USER)
    configured = settings_with_oidc(
        settings, provider, client_key, resident_oidc_private_key=str(key_file)
    )
    with TestClient(create_app(configured), raise_server_exceptions=False) as client:
        assert resident_round_trip(client).status_code == 303
        assert client.get("/account").status_code == 200
