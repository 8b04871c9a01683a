"""A Townhall webhook receiver using only Python's standard library.

Run it with the subscription's secret, then subscribe its URL (POST /api/v1/subscriptions):

    TOWNHALL_WEBHOOK_SECRET=whsec_... python webhook_receiver.py --port 8080

It does what every receiver should (docs/events.md):

* verifies the Standard Webhooks signature (``webhook-signature``) over
  ``{webhook-id}.{webhook-timestamp}.{body}`` with ``hmac.compare_digest``;
* refuses a ``webhook-timestamp`` more than 5 minutes old or ahead (replayed or forged requests);
* de-duplicates on ``webhook-id``: delivery is at least once, so the same event may come twice;
* answers 2xx at once and does the work afterwards (a slow answer is a failed try, retried).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import queue
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_SECONDS = 5 * 60
SEEN_LIMIT = 100_000


class InvalidSignature(Exception):
    """The request is not a genuine, fresh Townhall delivery."""


def verify(
    secret: str, headers: dict[str, str], body: bytes, *, now: float | None = None
) -> dict[str, Any]:
    """The event in ``body`` if the headers prove Townhall sent it recently; else raise."""
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get("webhook-id")
    timestamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not (msg_id and timestamp and signatures):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError as exc:
        raise InvalidSignature("webhook-timestamp is not a whole number of seconds") from exc
    if abs((now if now is not None else time.time()) - sent_at) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is more than 5 minutes from now")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{msg_id}.{sent_at}.".encode() + body, hashlib.sha256).digest()
    # Several signatures may be sent, space separated ("v1,<base64> v1,<base64>").
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except ValueError:
            continue
        if hmac.compare_digest(given, expected):
            event: dict[str, Any] = json.loads(body)
            return event
    raise InvalidSignature("no signature matches")


class SeenIds:
    """The webhook ids already accepted, the oldest forgotten first (keep them in a database
    with a unique key in production, so a restart does not forget them)."""

    def __init__(self, limit: int = SEEN_LIMIT) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def first_time(self, msg_id: str) -> bool:
        """True the first time ``msg_id`` is seen."""
        with self._lock:
            if msg_id in self._ids:
                return False
            self._ids[msg_id] = None
            if len(self._ids) > self._limit:
                self._ids.popitem(last=False)
            return True


def handle(event: dict[str, Any]) -> None:
    """Your work: here, print the event's type, subject and position."""
    print(event.get("type"), event.get("subject"), int(event.get("sequence", 0)), flush=True)


def make_handler(
    secret: str, seen: SeenIds, work: queue.Queue[dict[str, Any]]
) -> type[BaseHTTPRequestHandler]:
    """A request handler that verifies, de-duplicates, queues the event and answers 204."""

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                event = verify(secret, dict(self.headers.items()), body)
            except (InvalidSignature, ValueError):
                self.send_response(401)
                self.end_headers()
                return
            if seen.first_time(self.headers["webhook-id"]):
                work.put(event)  # done after answering: Townhall waits only a few seconds
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: one line per event comes from handle()

    return Receiver


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    options = parser.parse_args()
    secret = os.environ["TOWNHALL_WEBHOOK_SECRET"]
    work: queue.Queue[dict[str, Any]] = queue.Queue()

    def worker() -> None:
        while True:
            handle(work.get())

    threading.Thread(target=worker, daemon=True).start()
    server = ThreadingHTTPServer(
        (options.host, options.port), make_handler(secret, SeenIds(), work)
    )
    print(f"listening on http://{options.host}:{options.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
