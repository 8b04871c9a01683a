"""The receiver example in docs/examples verifies what Townhall signs, and refuses the rest.

Also checks Townhall's ``sign`` against the reference Standard Webhooks library, so the example,
the dispatcher and every other receiver agree on one signature.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import queue
import threading
import time
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from townhall.platform.events.signing_secrets import new_secret, sign

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "webhook_receiver.py"
BODY = json.dumps({"id": "e1", "type": "uk.gov.townhall.address.updated", "sequence": 7}).encode()


@pytest.fixture(scope="module")
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def test_sign_agrees_with_the_reference_library() -> None:
    secret = new_secret()
    now = int(time.time())
    assert sign(secret, "e1", now, BODY) == Webhook(secret).sign(
        "e1", datetime.fromtimestamp(now, tz=UTC), BODY.decode()
    )
    assert Webhook(secret).verify(BODY, _headers(secret, "e1", now, BODY))["sequence"] == 7
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, _headers(secret, "e1", now, BODY))


def test_the_example_verifies_a_townhall_signature(example: ModuleType) -> None:
    secret = new_secret()
    now = int(time.time())
    assert example.verify(secret, _headers(secret, "e1", now, BODY), BODY)["id"] == "e1"
    # One of several signatures (as during a key change) is enough.
    several = _headers(secret, "e1", now, BODY)
    several["webhook-signature"] = (
        sign(new_secret(), "e1", now, BODY) + " " + several["webhook-signature"]
    )
    assert example.verify(secret, several, BODY)["id"] == "e1"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"body": BODY + b" "}, "no signature"),
        ({"secret": "other"}, "no signature"),
        ({"msg_id": "e2"}, "no signature"),
        ({"age": 301}, "5 minutes"),
        ({"age": -301}, "5 minutes"),
        ({"drop": "webhook-signature"}, "missing"),
        ({"timestamp": "soon"}, "whole number"),
    ],
)
def test_the_example_refuses_what_townhall_did_not_send_just_now(
    example: ModuleType, change: dict[str, Any], why: str
) -> None:
    secret = new_secret()
    now = int(time.time())
    headers = _headers(
        new_secret() if change.get("secret") else secret,
        "e1",
        now - change.get("age", 0),
        BODY,
    )
    if "msg_id" in change:
        headers["webhook-id"] = change["msg_id"]
    if "drop" in change:
        del headers[change["drop"]]
    if "timestamp" in change:
        headers["webhook-timestamp"] = change["timestamp"]
    with pytest.raises(example.InvalidSignature, match=why):
        example.verify(secret, headers, change.get("body", BODY))


def test_the_example_server_answers_at_once_and_handles_each_id_once(
    example: ModuleType,
) -> None:
    secret = new_secret()
    work: queue.Queue[dict[str, Any]] = queue.Queue()
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), example.make_handler(secret, example.SeenIds(), work)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        statuses = []
        for headers in [
            _headers(secret, "e1", int(time.time()), BODY),
            _headers(secret, "e1", int(time.time()), BODY),  # a retry of the same event
            _headers(new_secret(), "e3", int(time.time()), BODY),  # forged
        ]:
            connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
            connection.request("POST", "/", body=BODY, headers=headers)
            statuses.append(connection.getresponse().status)
            connection.close()
        assert statuses == [204, 204, 401]
        assert work.get_nowait()["id"] == "e1"
        assert work.empty()
    finally:
        server.shutdown()
        server.server_close()
