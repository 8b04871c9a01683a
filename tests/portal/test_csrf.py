"""Every form the portal accepts refuses a missing or wrong token, or a cross-site post,
with a 403 page, and nothing changes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.portal.portal_routes import form_routes
from tests.sign_in import (
    PASSWORD,
    RecordingSender,
    form_token,
    install_test_doubles,
    make_staff,
    sign_in_resident,
    sign_in_staff,
)
from townhall.platform.auth.session_store import live_session_count
from townhall.platform.auth.sign_in_models import SessionKind, SignInAttempt
from townhall.platform.auth.staff import StaffMember
from townhall.platform.db import Database

RESIDENT = "resident@example.com"
# What each form would be sent with; the token is what the test gets wrong.
FIELDS = {"email": "officer@hackney.gov.uk", "password": PASSWORD, "code": "123456"}


@dataclass
class World:
    """Two signed-in browsers and what must not change."""

    staff_browser: TestClient
    resident_browser: TestClient
    staff: StaffMember
    sender: RecordingSender
    database: Database

    def snapshot(self) -> tuple[int, int, int, int]:
        with self.database.read() as session:
            attempts = session.scalar(select(func.count()).select_from(SignInAttempt)) or 0
        return (
            live_session_count(self.database, kind=SessionKind.STAFF, account_id=self.staff.id),
            len(self.sender.sent),
            attempts,
            self.staff_browser.get("/staff", follow_redirects=False).status_code
            + self.resident_browser.get("/account", follow_redirects=False).status_code,
        )


@pytest.fixture
def world(app: FastAPI, client: TestClient, database: Database) -> World:
    sender, _clock = install_test_doubles(app)
    staff = make_staff(database)
    sign_in_staff(client)
    resident_browser = TestClient(app)
    sign_in_resident(resident_browser, sender, RESIDENT)
    return World(client, resident_browser, staff, sender, database)


def test_the_portal_has_forms_to_check(app: FastAPI) -> None:
    # The walk finds every form, so a form added later is checked without editing this test.
    assert {
        ("POST", "/staff/sign-in"),
        ("POST", "/staff/sign-out"),
        ("POST", "/account/sign-in"),
        ("POST", "/account/sign-in/code"),
        ("POST", "/account/sign-out"),
    } <= set(form_routes(app))


def _forms(app: FastAPI) -> list[tuple[str, str]]:
    return form_routes(app)


@pytest.mark.parametrize("token", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
def test_every_form_refuses_a_missing_or_wrong_token(
    app: FastAPI, world: World, token: str | None
) -> None:
    before = world.snapshot()
    for method, path in form_routes(app):
        data = dict(FIELDS)
        if token is not None:
            data["csrf_token"] = token
        for browser in (world.staff_browser, world.resident_browser):
            response = browser.request(method, path, data=data, follow_redirects=False)
            assert response.status_code == 403, (method, path, response.status_code)
            assert "Your form could not be sent" in response.text
            assert "text/html" in response.headers["content-type"]
    assert world.snapshot() == before


def test_a_token_from_another_session_is_refused(app: FastAPI, world: World) -> None:
    before = world.snapshot()
    staff_token = form_token(world.staff_browser, "/staff")
    response = world.resident_browser.post(
        "/account/sign-out", data={"csrf_token": staff_token}, follow_redirects=False
    )
    assert response.status_code == 403
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}],
    ids=["fetch-metadata", "origin"],
)
def test_a_cross_site_post_is_refused_even_with_the_right_token(
    world: World, headers: dict[str, str]
) -> None:
    before = world.snapshot()
    token = form_token(world.staff_browser, "/staff")
    response = world.staff_browser.post(
        "/staff/sign-out", data={"csrf_token": token}, headers=headers, follow_redirects=False
    )
    assert response.status_code == 403
    assert world.snapshot() == before
    # The same post from the same site goes through.
    same_site = world.staff_browser.post(
        "/staff/sign-out",
        data={"csrf_token": token},
        headers={"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same_site.status_code == 303
