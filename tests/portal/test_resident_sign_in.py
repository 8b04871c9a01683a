"""Resident sign-in over HTTP: an emailed code, tied to the browser that asked for it."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.sign_in import Clock, RecordingSender, form_token, install_test_doubles, sign_in_resident
from townhall.app import create_app
from townhall.platform.auth.residents import find_resident_member
from townhall.platform.auth.session_store import live_session_count
from townhall.platform.auth.sign_in_models import SessionKind
from townhall.platform.db import Database
from townhall.settings import Settings

EMAIL = "resident@example.com"


@pytest.fixture
def doubles(app: FastAPI) -> tuple[RecordingSender, Clock]:
    return install_test_doubles(app)


@pytest.fixture
def sender(doubles: tuple[RecordingSender, Clock]) -> RecordingSender:
    return doubles[0]


@pytest.fixture
def clock(doubles: tuple[RecordingSender, Clock]) -> Clock:
    return doubles[1]


def _ask_for_code(client: TestClient, email: str = EMAIL) -> int:
    response = client.post(
        "/account/sign-in",
        data={"email": email, "csrf_token": form_token(client, "/account/sign-in")},
        follow_redirects=False,
    )
    return response.status_code


def _enter_code(client: TestClient, code: str) -> object:
    return client.post(
        "/account/sign-in/code",
        data={"code": code, "csrf_token": form_token(client, "/account/sign-in")},
        follow_redirects=False,
    )


def test_the_email_form_is_labelled_and_autocompletes(client: TestClient, sender: object) -> None:
    page = client.get("/account/sign-in")
    assert page.status_code == 200
    assert "What is your email address?" in page.text
    assert 'autocomplete="email"' in page.text


def test_a_resident_signs_in_with_the_emailed_code(
    client: TestClient, sender: RecordingSender, database: Database
) -> None:
    assert _ask_for_code(client, "  Resident@Example.com ") == 303
    assert [(e.to, e.template) for e in sender.sent] == [(EMAIL, "sign-in-code")]
    code = sender.last_code()
    assert len(code) == 6
    assert code.isdigit()
    page = client.get("/account/sign-in/code")
    assert f"We have sent a code to <strong>{EMAIL}</strong>" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    assert 'inputmode="numeric"' in page.text
    response = _enter_code(client, f"{code[:3]} {code[3:]}")
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert response.headers["location"] == "/account"  # type: ignore[attr-defined]
    account = client.get("/account")
    assert account.status_code == 200
    assert EMAIL in account.text
    assert "22 November 2026 at 9:30am (UTC)" in account.text
    assert 'action="/account/sign-out"' in account.text


def test_signing_in_again_finds_the_same_account(
    client: TestClient, sender: RecordingSender, database: Database
) -> None:
    sign_in_resident(client, sender, EMAIL)
    first = client.cookies.get("townhall-session")
    sign_in_resident(client, sender, EMAIL)
    assert client.cookies.get("townhall-session") != first, "a new session at each sign-in"
    text = client.get("/account").text
    assert text.count(EMAIL) == 1


def test_a_wrong_code_says_how_many_tries_are_left_then_stops_working(
    client: TestClient, sender: RecordingSender, settings: Settings
) -> None:
    _ask_for_code(client)
    right = sender.last_code()
    wrong = "000000" if right != "000000" else "111111"
    for remaining in range(settings.one_time_code_attempts - 1, 0, -1):
        response = _enter_code(client, wrong)
        assert response.status_code == 400  # type: ignore[attr-defined]
        tries = "1 more try" if remaining == 1 else f"{remaining} more tries"
        assert f"The code is not correct. Check the email and try again: {tries}." in (
            response.text  # type: ignore[attr-defined]
        )
    used_up = _enter_code(client, wrong)
    assert "entered wrongly too many times" in used_up.text  # type: ignore[attr-defined]
    # Even the right code is refused now.
    refused = _enter_code(client, right)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert "Ask for a new code" in refused.text  # type: ignore[attr-defined]
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_a_code_expires_after_10_minutes(
    client: TestClient, sender: RecordingSender, clock: Clock
) -> None:
    _ask_for_code(client)
    clock.advance(minutes=10)
    response = _enter_code(client, sender.last_code())
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "The code has expired or has been used. Ask for a new code." in (
        response.text  # type: ignore[attr-defined]
    )


def test_a_code_works_only_in_the_browser_that_asked_for_it(
    app: FastAPI, client: TestClient, sender: RecordingSender
) -> None:
    _ask_for_code(client)
    with TestClient(app) as other_browser:
        response = _enter_code(other_browser, sender.last_code())
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert other_browser.get("/account", follow_redirects=False).status_code == 303
    # The browser that asked can still use it.
    assert _enter_code(client, sender.last_code()).status_code == 303  # type: ignore[attr-defined]


def test_a_code_is_used_once(client: TestClient, sender: RecordingSender) -> None:
    _ask_for_code(client)
    code = sender.last_code()
    challenge = client.cookies.get("townhall-sign-in")
    assert _enter_code(client, code).status_code == 303  # type: ignore[attr-defined]
    client.cookies.set("townhall-sign-in", challenge or "", domain="testserver.local")
    assert _enter_code(client, code).status_code == 400  # type: ignore[attr-defined]


def test_codes_to_one_address_are_limited_per_hour(
    app: FastAPI, sender: RecordingSender, settings: Settings, clock: Clock
) -> None:
    for _ in range(settings.one_time_codes_per_hour):
        # A new browser each time: the limit is per address, whoever asks.
        with TestClient(app) as browser:
            assert _ask_for_code(browser) == 303
    with TestClient(app) as browser:
        response = browser.post(
            "/account/sign-in",
            data={"email": EMAIL, "csrf_token": form_token(browser, "/account/sign-in")},
        )
        assert response.status_code == 400
        assert "We have sent too many codes to this email address" in response.text
    assert len(sender.sent) == settings.one_time_codes_per_hour
    clock.advance(hours=1)
    with TestClient(app) as browser:
        assert _ask_for_code(browser) == 303


def test_an_invalid_address_is_named_and_nothing_is_sent(
    client: TestClient, sender: RecordingSender
) -> None:
    response = client.post(
        "/account/sign-in",
        data={"email": "not an address", "csrf_token": form_token(client, "/account/sign-in")},
    )
    assert response.status_code == 400
    assert "Enter an email address in the correct format" in response.text
    assert sender.sent == []


def test_entering_a_code_without_asking_goes_back_to_the_start(
    client: TestClient, sender: object
) -> None:
    response = client.get("/account/sign-in/code", follow_redirects=False)
    assert response.headers["location"] == "/account/sign-in"


def test_sign_out_ends_the_resident_session(
    client: TestClient, sender: RecordingSender, database: Database
) -> None:
    sign_in_resident(client, sender, EMAIL)
    response = client.post(
        "/account/sign-out",
        data={"csrf_token": form_token(client, "/account")},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/account/sign-in?signed-out=1"
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_the_first_sign_in_makes_a_verified_account_and_records_the_change(
    client: TestClient, sender: RecordingSender, database: Database, clock: Clock
) -> None:
    from townhall.platform.auth.changes import list_changes
    from townhall.platform.http.pagination import PageRequest

    sign_in_resident(client, sender, EMAIL)
    changes = list_changes(database, PageRequest(limit=50), target_type="resident_account")
    assert [c.action for c in changes.items] == ["resident_account.created"]
    member = find_resident_member(database, changes.items[0].target_id)
    assert member is not None
    assert member.email == EMAIL
    assert member.verified_at == clock.now
    assert member.resident_id is None
    assert live_session_count(database, kind=SessionKind.RESIDENT, account_id=member.id) == 1
    assert EMAIL not in str(changes.items[0].details)


def test_codes_and_addresses_stay_out_of_the_logs(
    client: TestClient, sender: RecordingSender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in_resident(client, sender, EMAIL)
    assert EMAIL not in caplog.text
    assert sender.last_code() not in caplog.text


def test_production_without_notify_offers_no_email_sign_in(database_url: str) -> None:
    settings = Settings(
        environment="production", secret_key="k" * 40, database_url=database_url, log_format="json"
    )
    with TestClient(create_app(settings)) as client:
        page = client.get("/account/sign-in")
        assert page.status_code == 503
        assert "Signing in is not available" in page.text


def test_a_wrong_code_for_an_existing_account_is_logged_by_its_id(
    client: TestClient,
    sender: RecordingSender,
    database: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sign_in_resident(client, sender, EMAIL)
    client.post("/account/sign-out", data={"csrf_token": form_token(client, "/account")})
    _ask_for_code(client)
    caplog.set_level(logging.INFO)
    _enter_code(client, "000000" if sender.last_code() != "000000" else "111111")
    [failed] = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "resident_sign_in_failed"
    ]
    assert failed["account_id"] is not None
    assert failed["account_id"].startswith("res_")
    member = find_resident_member(database, failed["account_id"])
    assert member is not None
    assert member.email == EMAIL
    assert EMAIL not in caplog.text
