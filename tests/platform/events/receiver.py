"""A real webhook receiver on loopback, for tests: records every request and answers as told.

``Receiver`` is a ``ThreadingHTTPServer`` on 127.0.0.1 with a port the system picks. It records
each request (path, headers, body, when it came, what was answered) and answers 200 unless told
otherwise: a status (500, 503, 429 with ``Retry-After``, 410), a delay, or closing the connection
without an answer, for every request or for the next few (``script``). It measures how many
requests are in flight at once, overall and per (path, ``webhook-id``): a path per subscription
lets a test see whether one event ever went to one subscription twice at the same time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Answer:
    """How to answer one request: a status, after a delay, or by closing the connection."""

    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0
    close: bool = False


@dataclass(frozen=True)
class Received:
    """One request as it came, and what it was answered (0: the connection was closed)."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int

    @property
    def event_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    """A loopback HTTP server that records webhooks; use as a context manager.

    ``port`` 0 lets the system choose; give one to bring a receiver back where another was.
    """

    def __init__(self, port: int = 0) -> None:
        self._lock = threading.Condition()
        self._received: list[Received] = []
        self._default = Answer()
        self._script: list[Answer] = []
        self._in_flight = 0
        self._in_flight_by_key: Counter[tuple[str, str]] = Counter()
        self.max_in_flight = 0
        self.max_in_flight_per_key = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- behaviour --------------------------------------------------------------------------

    def answer(self, answer: Answer) -> None:
        """Answer every request (after any scripted ones) this way from now on."""
        with self._lock:
            self._default = answer

    def script(self, *answers: Answer) -> None:
        """Answer the next requests these ways, in order, then as ``answer`` says."""
        with self._lock:
            self._script.extend(answers)

    # -- what came --------------------------------------------------------------------------

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def event_ids(self, path: str | None = None) -> set[str]:
        """The ids of the events answered 2xx (at ``path`` only, when given)."""
        return {
            item.event_id
            for item in self.received
            if 200 <= item.status < 300 and (path is None or item.path == path)
        }

    def wait_until(self, condition: Callable[[Receiver], bool], timeout: float = 10.0) -> bool:
        """Wait until ``condition(self)`` holds (checked at each request); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not condition(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # Released while waiting, so the condition may read ``received``.
                self._lock.wait(min(left, 0.05))
        return True

    # -- serving ----------------------------------------------------------------------------

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._script.pop(0) if self._script else self._default

    @contextmanager
    def _counting(self, key: tuple[str, str]) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._in_flight_by_key[key] += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            self.max_in_flight_per_key = max(
                self.max_in_flight_per_key, self._in_flight_by_key[key]
            )
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._in_flight_by_key[key] -= 1

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)
            self._lock.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go in two writes: with Nagle's algorithm the second waits for
            # the client's delayed ACK (40 ms), which would measure the receiver, not the sender.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer = receiver._next_answer()
                key = (self.path, headers.get("webhook-id", ""))
                with receiver._counting(key):
                    if answer.delay:
                        time.sleep(answer.delay)
                    status = 0 if answer.close else answer.status
                    # Recorded before answering: once the sender has its answer, it is here.
                    receiver._record(Received(self.path, headers, body, time.monotonic(), status))
                    if answer.close:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.send_response(answer.status)
                    if answer.retry_after is not None:
                        self.send_header("Retry-After", answer.retry_after)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads ``received`` instead."""

        return Handler
