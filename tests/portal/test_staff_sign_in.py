"""Staff sign-in over HTTP: the form, sessions and their cookies, lockout, throttling, sign-out."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.sign_in import (
    PASSWORD,
    Clock,
    RecordingSender,
    form_token,
    install_test_doubles,
    make_staff,
    sign_in_staff,
)
from townhall.app import create_app
from townhall.platform.auth.session_store import live_session_count
from townhall.platform.auth.sign_in_models import SessionKind
from townhall.platform.auth.staff import disable_staff_account
from townhall.platform.db import Database
from townhall.settings import Settings


@pytest.fixture
def doubles(app: FastAPI) -> tuple[RecordingSender, Clock]:
    return install_test_doubles(app)


@pytest.fixture
def clock(doubles: tuple[RecordingSender, Clock]) -> Clock:
    return doubles[1]


def _post_sign_in(client: TestClient, email: str, password: str) -> object:
    return client.post(
        "/staff/sign-in",
        data={
            "email": email,
            "password": password,
            "csrf_token": form_token(client, "/staff/sign-in"),
        },
        follow_redirects=False,
    )


def test_the_sign_in_form_is_labelled_and_autocompletes(client: TestClient, clock: Clock) -> None:
    page = client.get("/staff/sign-in")
    assert page.status_code == 200
    assert '<label class="govuk-label govuk-label--s" for="email">' in page.text
    assert 'autocomplete="email"' in page.text
    assert 'autocomplete="current-password"' in page.text
    assert 'type="password"' in page.text
    # The double-submit cookie backs the form's token until there is a session.
    assert page.cookies.get("townhall-csrf")


def test_staff_sign_in_shows_who_and_which_role(
    client: TestClient, database: Database, clock: Clock
) -> None:
    member = make_staff(database)
    sign_in_staff(client)
    home = client.get("/staff")
    assert home.status_code == 200
    assert "Ada Officer" in home.text
    assert "officer@hackney.gov.uk" in home.text
    assert "Housing officer" in home.text
    assert "22 November 2026 at 9:30am (UTC)" in home.text
    # The header offers sign-out, as a form carrying the session's token.
    assert 'action="/staff/sign-out"' in home.text
    assert ">Sign out</button>" in home.text
    assert live_session_count(database, kind=SessionKind.STAFF, account_id=member.id) == 1


def test_the_session_cookie_is_httponly_lax_and_unprefixed_on_plain_http(
    client: TestClient, database: Database, clock: Clock
) -> None:
    make_staff(database)
    response = _post_sign_in(client, "officer@hackney.gov.uk", PASSWORD)
    cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
    assert cookie.startswith("townhall-session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie
    assert "Domain" not in cookie


def test_over_https_cookies_are_host_prefixed_and_secure(
    app: FastAPI, database: Database, clock: Clock
) -> None:
    make_staff(database)
    with TestClient(app, base_url="https://testserver") as client:
        page = client.get("/staff/sign-in")
        assert "__Host-townhall-csrf=" in page.headers["set-cookie"]
        response = _post_sign_in(client, "officer@hackney.gov.uk", PASSWORD)
        cookie = response.headers["set-cookie"]  # type: ignore[attr-defined]
        assert cookie.startswith("__Host-townhall-session=")
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert client.get("/staff").status_code == 200


def test_production_always_uses_host_prefixed_secure_cookies(database_url: str) -> None:
    settings = Settings(
        environment="production",
        secret_key="k" * 40,
        database_url=database_url,
        log_format="json",
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        page = client.get("/staff/sign-in")
        assert page.headers["set-cookie"].startswith("__Host-townhall-csrf=")
        assert "Secure" in page.headers["set-cookie"]


def test_signing_in_starts_a_new_session_and_ends_the_old_one(
    client: TestClient, database: Database, clock: Clock
) -> None:
    member = make_staff(database)
    # A token planted before sign-in (fixation) is not the one the browser has after.
    client.cookies.set("townhall-session", "planted-by-an-attacker", domain="testserver.local")
    sign_in_staff(client)
    first = client.cookies.get("townhall-session")
    assert first
    assert first != "planted-by-an-attacker"
    sign_in_staff(client)
    second = client.cookies.get("townhall-session")
    assert second
    assert second != first
    assert live_session_count(database, kind=SessionKind.STAFF, account_id=member.id) == 1


def test_the_staff_home_needs_a_staff_session(client: TestClient, clock: Clock) -> None:
    response = client.get("/staff", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in"
    client.cookies.set("townhall-session", "not-a-session", domain="testserver.local")
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_a_wrong_password_says_so_without_saying_which_was_wrong(
    client: TestClient, database: Database, clock: Clock
) -> None:
    make_staff(database)
    wrong = _post_sign_in(client, "officer@hackney.gov.uk", "not the password at all")
    unknown = _post_sign_in(client, "nobody@hackney.gov.uk", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 400  # type: ignore[attr-defined]
        text = response.text  # type: ignore[attr-defined]
        assert "There is a problem" in text
        assert "Enter a correct email address and password" in text
        assert '<a href="#email">' in text
        assert "<title>Error: Sign in as staff" in text
        assert "townhall-session" not in response.headers.get("set-cookie", "")  # type: ignore[attr-defined]


def test_empty_fields_are_named(client: TestClient, clock: Clock) -> None:
    response = _post_sign_in(client, "", "")
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "Enter an email address" in response.text  # type: ignore[attr-defined]
    assert "Enter your password" in response.text  # type: ignore[attr-defined]
    assert '<a href="#password">' in response.text  # type: ignore[attr-defined]


def test_too_many_wrong_passwords_lock_the_account_until_a_time(
    client: TestClient, database: Database, clock: Clock, settings: Settings
) -> None:
    make_staff(database)
    for _ in range(settings.staff_lockout_attempts - 1):
        response = _post_sign_in(client, "officer@hackney.gov.uk", "a wrong password!")
        assert "Enter a correct email address" in response.text  # type: ignore[attr-defined]
    locked = _post_sign_in(client, "officer@hackney.gov.uk", "a wrong password!")
    assert "Your account is locked" in locked.text  # type: ignore[attr-defined]
    assert "Try again after 09:45 (UTC) on 22 November 2026" in locked.text  # type: ignore[attr-defined]
    # Even the right password is refused while locked...
    still = _post_sign_in(client, "officer@hackney.gov.uk", PASSWORD)
    assert "Your account is locked" in still.text  # type: ignore[attr-defined]
    # ...and accepted once the lock has passed.
    clock.advance(minutes=settings.staff_lockout_minutes)
    sign_in_staff(client)


def test_failed_sign_ins_and_lockouts_are_logged_by_account_id_only(
    client: TestClient,
    database: Database,
    clock: Clock,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    member = make_staff(database)
    caplog.set_level(logging.INFO)
    for _ in range(settings.staff_lockout_attempts):
        _post_sign_in(client, "officer@hackney.gov.uk", "a wrong password!")
    _post_sign_in(client, "nobody@hackney.gov.uk", "a wrong password!")
    events = [record.msg for record in caplog.records if isinstance(record.msg, dict)]
    failed = [e for e in events if e.get("event") == "staff_sign_in_failed"]
    locked = [e for e in events if e.get("event") == "staff_account_locked"]
    assert [e["account_id"] for e in failed] == [member.id] * (
        settings.staff_lockout_attempts - 1
    ) + [None]
    assert locked
    assert locked[0]["account_id"] == member.id
    logged = json.dumps(events, default=str) + caplog.text
    assert "officer@hackney.gov.uk" not in logged
    assert "nobody@hackney.gov.uk" not in logged
    assert "a wrong password!" not in logged


def test_sign_in_attempts_are_throttled_per_client_address(
    app: FastAPI, database_url: str, clock: Clock
) -> None:
    settings = Settings(
        environment="test",
        database_url=database_url,
        sign_in_rate_limit_per_minute=2,
        log_format="json",
    )
    throttled_app = create_app(settings)
    install_test_doubles(throttled_app)
    with TestClient(throttled_app) as client:
        for _ in range(2):
            assert _post_sign_in(client, "a@hackney.gov.uk", "a wrong password!").status_code == 400  # type: ignore[attr-defined]
        refused = _post_sign_in(client, "a@hackney.gov.uk", "a wrong password!")
        assert refused.status_code == 429  # type: ignore[attr-defined]
        assert int(refused.headers["retry-after"]) > 0  # type: ignore[attr-defined]
        assert "too many attempts to sign in from your network" in refused.text  # type: ignore[attr-defined]


def test_sign_out_ends_the_session_on_the_server(
    client: TestClient, database: Database, clock: Clock
) -> None:
    member = make_staff(database)
    sign_in_staff(client)
    token = client.cookies.get("townhall-session")
    response = client.post(
        "/staff/sign-out",
        data={"csrf_token": form_token(client, "/staff")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in?signed-out=1"
    assert live_session_count(database, kind=SessionKind.STAFF, account_id=member.id) == 0
    assert "You have signed out." in client.get("/staff/sign-in?signed-out=1").text
    # The old token, replayed, is worth nothing.
    client.cookies.set("townhall-session", token or "", domain="testserver.local")
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_sessions_end_when_idle_and_at_their_absolute_end(
    client: TestClient, database: Database, clock: Clock, settings: Settings
) -> None:
    make_staff(database)
    sign_in_staff(client)
    clock.advance(minutes=settings.session_idle_minutes - 1)
    assert client.get("/staff").status_code == 200
    clock.advance(minutes=settings.session_idle_minutes - 1)
    assert client.get("/staff").status_code == 200, "each use restarts the idle time"
    clock.advance(minutes=settings.session_idle_minutes)
    assert client.get("/staff", follow_redirects=False).status_code == 303

    sign_in_staff(client)
    signed_in_at = clock.now
    while clock.now - signed_in_at < timedelta(hours=settings.session_absolute_hours):
        assert client.get("/staff", follow_redirects=False).status_code == 200
        clock.advance(minutes=settings.session_idle_minutes - 1)
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_disabling_an_account_ends_its_sessions(
    client: TestClient, database: Database, clock: Clock
) -> None:
    make_staff(database)
    sign_in_staff(client)
    disable_staff_account(database, email="officer@hackney.gov.uk", actor="test", now=clock())
    assert client.get("/staff", follow_redirects=False).status_code == 303
    refused = _post_sign_in(client, "officer@hackney.gov.uk", PASSWORD)
    assert "Your account has been disabled" in refused.text  # type: ignore[attr-defined]


def test_a_signed_in_person_going_to_sign_in_is_sent_home(
    client: TestClient, database: Database, clock: Clock
) -> None:
    make_staff(database)
    sign_in_staff(client)
    response = client.get("/staff/sign-in", follow_redirects=False)
    assert response.headers["location"] == "/staff"


def test_a_resident_session_does_not_open_staff_pages(
    client: TestClient, doubles: tuple[RecordingSender, Clock]
) -> None:
    from tests.sign_in import sign_in_resident

    sign_in_resident(client, doubles[0], "resident@example.com")
    assert client.get("/staff", follow_redirects=False).headers["location"] == "/staff/sign-in"
