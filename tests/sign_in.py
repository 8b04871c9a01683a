"""Helpers for tests of people signing in: a recording sender, a clock, accounts, form posts.

``RecordingSender`` stands in for the email service and keeps what it was asked to send, so a
test reads the code a resident would find in their inbox. ``install_test_doubles`` puts it and a
settable clock on an app's sign-in context.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from townhall.platform.auth.sessions import SIGN_IN_STATE, SignInContext
from townhall.platform.auth.staff import StaffMember, create_staff_account
from townhall.platform.db import Database

PASSWORD = "correct horse battery staple"
START = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class SentEmail:
    """One email a sender was asked to send."""

    to: str
    template: str
    personalisation: dict[str, str]


@dataclass
class RecordingSender:
    """A notification sender that keeps every email instead of sending it."""

    sent: list[SentEmail] = field(default_factory=list)

    def send_email(self, to: str, template: str, personalisation: Mapping[str, str]) -> None:
        self.sent.append(SentEmail(to, template, dict(personalisation)))

    def last_code(self, to: str | None = None) -> str:
        """The code in the latest sign-in email (to ``to``, if given)."""
        for email in reversed(self.sent):
            if to is None or email.to == to:
                return email.personalisation["code"]
        msg = f"no code was sent{f' to {to}' if to else ''}"
        raise AssertionError(msg)


@dataclass
class Clock:
    """A clock that moves only when a test moves it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock on by ``timedelta(**delta)``."""
        self.now += timedelta(**delta)


def sign_in_context_of(app: FastAPI) -> SignInContext:
    """The app's sign-in context."""
    context = getattr(app.state, SIGN_IN_STATE)
    assert isinstance(context, SignInContext)
    return context


def install_test_doubles(app: FastAPI) -> tuple[RecordingSender, Clock]:
    """Give the app a recording sender and a test clock; return them."""
    context = sign_in_context_of(app)
    sender, clock = RecordingSender(), Clock()
    context.sender = sender
    context.clock = clock
    return sender, clock


def make_staff(
    database: Database,
    email: str = "officer@hackney.gov.uk",
    *,
    role: str = "housing_officer",
    name: str = "Ada Officer",
    now: datetime = START,
) -> StaffMember:
    """A staff account with ``PASSWORD``."""
    return create_staff_account(
        database,
        email=email,
        display_name=name,
        role=role,
        password=PASSWORD,
        actor="test",
        now=now,
    )


def form_token(client: TestClient, path: str) -> str:
    """The CSRF token in the form of the page at ``path``."""
    response = client.get(path)
    found = _CSRF_INPUT.search(response.text)
    assert found is not None, f"no form token on {path} ({response.status_code})"
    return found.group(1)


def sign_in_staff(
    client: TestClient, email: str = "officer@hackney.gov.uk", password: str = PASSWORD
) -> None:
    """Sign ``client`` in as staff through the sign-in form, and check it worked."""
    response = client.post(
        "/staff/sign-in",
        data={
            "email": email,
            "password": password,
            "csrf_token": form_token(client, "/staff/sign-in"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff"


def sign_in_resident(client: TestClient, sender: RecordingSender, email: str) -> None:
    """Sign ``client`` in as a resident through the email and code forms."""
    response = client.post(
        "/account/sign-in",
        data={"email": email, "csrf_token": form_token(client, "/account/sign-in")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    response = client.post(
        "/account/sign-in/code",
        data={
            "code": sender.last_code(email),
            "csrf_token": form_token(client, "/account/sign-in/code"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/account"
