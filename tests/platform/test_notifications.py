"""Notification senders: the console sender for developers, GOV.UK Notify through its API."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import uuid

import httpx
import pytest

from townhall.platform.logging import configure_logging
from townhall.platform.notifications import (
    SIGN_IN_CODE,
    ConsoleSender,
    NotificationFailed,
    build_sender,
)
from townhall.platform.notify import NotifySender, notify_token, split_api_key
from townhall.settings import Settings

SERVICE_ID = str(uuid.UUID(int=1))
SECRET = str(uuid.UUID(int=2))
API_KEY = f"townhall_test-{SERVICE_ID}-{SECRET}"
TEMPLATE_ID = str(uuid.UUID(int=3))


@pytest.fixture(autouse=True)
def _structured_logs() -> None:
    # As an app configures them, so caplog sees each event with its fields.
    configure_logging(Settings(log_format="json"), stream=io.StringIO())


def _decode(segment: str) -> dict[str, object]:
    padded = segment + "=" * (-len(segment) % 4)
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


def test_the_console_sender_prints_the_code_but_logs_only_that_it_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    terminal = io.StringIO()
    ConsoleSender(terminal).send_email("resident@example.com", SIGN_IN_CODE, {"code": "042917"})
    assert "resident@example.com" in terminal.getvalue()
    assert "code=042917" in terminal.getvalue()
    assert "notification_printed" in caplog.text
    assert "042917" not in caplog.text
    assert "resident@example.com" not in caplog.text


def test_the_api_key_splits_into_service_id_and_secret() -> None:
    assert split_api_key(API_KEY) == (SERVICE_ID, SECRET)
    with pytest.raises(ValueError, match="two UUIDs"):
        split_api_key("not-a-key")


def test_the_token_is_an_hs256_jwt_naming_the_service() -> None:
    token = notify_token(SERVICE_ID, SECRET, 1_700_000_000)
    header, claims, signature = token.split(".")
    assert _decode(header) == {"typ": "JWT", "alg": "HS256"}
    assert _decode(claims) == {"iss": SERVICE_ID, "iat": 1_700_000_000}
    expected = hmac.new(SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    assert signature == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()


def test_notify_is_sent_the_template_address_and_personalisation() -> None:
    seen: list[httpx.Request] = []

    def notify(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": str(uuid.UUID(int=9))})

    sender = NotifySender(
        api_key=API_KEY,
        templates={SIGN_IN_CODE: TEMPLATE_ID},
        base_url="https://notify.test",
        transport=httpx.MockTransport(notify),
        clock=lambda: 1_700_000_000.5,
    )
    sender.send_email("resident@example.com", SIGN_IN_CODE, {"code": "042917"})
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == "https://notify.test/v2/notifications/email"
    assert json.loads(request.content) == {
        "email_address": "resident@example.com",
        "template_id": TEMPLATE_ID,
        "personalisation": {"code": "042917"},
    }
    scheme, token = request.headers["authorization"].split(" ")
    assert scheme == "Bearer"
    assert token == notify_token(SERVICE_ID, SECRET, 1_700_000_000)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(
            400,
            json={
                "status_code": 400,
                "errors": [{"error": "BadRequestError", "message": "resident@example.com bad"}],
            },
        ),
        httpx.Response(500, text="down"),
    ],
    ids=["refused", "server-error"],
)
def test_a_refusal_is_notification_failed_and_logs_no_address(
    answer: httpx.Response, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = NotifySender(
        api_key=API_KEY,
        templates={SIGN_IN_CODE: TEMPLATE_ID},
        base_url="https://notify.test",
        transport=httpx.MockTransport(lambda _request: answer),
    )
    with pytest.raises(NotificationFailed):
        sender.send_email("resident@example.com", SIGN_IN_CODE, {"code": "042917"})
    assert "notification_failed" in caplog.text
    assert "resident@example.com" not in caplog.text
    assert "042917" not in caplog.text


def test_an_unreachable_notify_is_notification_failed() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    sender = NotifySender(
        api_key=API_KEY,
        templates={SIGN_IN_CODE: TEMPLATE_ID},
        base_url="https://notify.test",
        transport=httpx.MockTransport(unreachable),
    )
    with pytest.raises(NotificationFailed, match="could not be reached"):
        sender.send_email("resident@example.com", SIGN_IN_CODE, {"code": "1"})


def test_settings_choose_the_sender() -> None:
    assert isinstance(build_sender(Settings(environment="development")), ConsoleSender)
    assert build_sender(Settings(environment="production", secret_key="k" * 40)) is None
    notify = build_sender(Settings(notify_api_key=API_KEY, notify_sign_in_template_id=TEMPLATE_ID))
    assert isinstance(notify, NotifySender)
    notify.close()


def test_a_notify_key_needs_the_sign_in_template() -> None:
    with pytest.raises(ValueError, match="TOWNHALL_NOTIFY_SIGN_IN_TEMPLATE_ID must be set"):
        Settings(notify_api_key=API_KEY)
