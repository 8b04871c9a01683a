"""Access control from end to end, against a running Townhall: grant, call, revoke, refused.

Run it beside ``make demo`` (in another terminal, from the same directory, so that the
``townhall`` command reaches the same database as the server):

    .venv/bin/python scripts/access_flow_demo.py
    .venv/bin/python scripts/access_flow_demo.py --base-url http://127.0.0.1:8000 --json

It registers two consumers with ``townhall consumers create --json``, gets each a token from
``POST /oauth/token`` and calls a protected route with it. Then it revokes the first one's grant
(``townhall consumers revoke``) and disables the second (``townhall consumers disable``), and
calls again until the instance refuses, printing how many seconds that took: at most
``TOWNHALL_ACCESS_CACHE_SECONDS`` (5 by default), however long the tokens had left to run.
The consumers it registers stay in the database, disabled or without grants, as the change
log's record of the demonstration.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

SCOPE = "consumers:read"
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Step:
    """What happened to one consumer: its token, and how long the instance took to refuse it."""

    consumer_id: str
    change: str
    token_expires_in: int
    accepted_status: int
    refused_status: int
    seconds_to_refusal: float


def townhall_command(explicit: str | None) -> list[str]:
    """The ``townhall`` command: given, beside this Python, or on the PATH."""
    if explicit:
        return [explicit]
    beside = Path(sys.executable).with_name("townhall")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("townhall")
    if found is None:
        sys.exit("townhall is not installed here: run `make install`, or pass --townhall")
    return [found]


def run_townhall(command: list[str], *args: str) -> str:
    """Run a ``townhall`` command with this process's TOWNHALL_* settings; its output."""
    done = subprocess.run(  # noqa: S603 - our own command, with arguments we built
        [*command, *args], capture_output=True, text=True, check=False, env=os.environ.copy()
    )
    if done.returncode != 0:
        sys.exit(f"townhall {' '.join(args)} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def register(command: list[str], name: str) -> dict[str, str]:
    """A new consumer holding ``SCOPE``: its client id and secret."""
    output = run_townhall(
        command,
        "consumers",
        "create",
        name,
        "--scopes",
        SCOPE,
        "--purpose",
        "Demonstrates that revoking access takes effect within seconds.",
        "--json",
    )
    credentials: dict[str, str] = json.loads(output)
    return credentials


def get_token(client: httpx.Client, credentials: dict[str, str]) -> dict[str, Any]:
    """A token from ``POST /oauth/token`` (client credentials, HTTP Basic)."""
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(credentials["client_id"], credentials["client_secret"]),
    )
    if response.status_code != 200:
        sys.exit(f"/oauth/token answered {response.status_code}: {response.text}")
    body: dict[str, Any] = response.json()
    return body


def subject_of(token: str) -> str:
    """The consumer id in a token (its ``sub``); read, not verified: the server verifies."""
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def seconds_until_refused(
    client: httpx.Client, path: str, token: str, timeout: float
) -> tuple[int, float]:
    """Call ``path`` until it refuses ``token``: the refusal's status and the seconds it took."""
    started = time.monotonic()
    while True:
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        elapsed = time.monotonic() - started
        if response.status_code in {401, 403}:
            return response.status_code, elapsed
        if elapsed > timeout:
            sys.exit(f"{path} still accepted the token after {timeout:.0f} seconds")
        time.sleep(POLL_SECONDS)


def demonstrate(
    client: httpx.Client, command: list[str], change: str, timeout: float, say: Any
) -> Step:
    """One consumer through the whole flow; ``change`` is ``revoke`` or ``disable``."""
    credentials = register(command, f"Access flow demo ({change})")
    token_body = get_token(client, credentials)
    token = str(token_body["access_token"])
    consumer_id = subject_of(token)
    path = f"/api/v1/consumers/{consumer_id}"
    accepted = client.get(path, headers={"Authorization": f"Bearer {token}"})
    say(
        f"{consumer_id}: token for {token_body['scope']!r}, valid {token_body['expires_in']} s; "
        f"GET {path} -> {accepted.status_code}"
    )
    if accepted.status_code != 200:
        sys.exit(f"the protected route refused a fresh token: {accepted.text}")
    if change == "revoke":
        run_townhall(command, "consumers", "revoke", consumer_id, SCOPE)
        say(f"{consumer_id}: revoked {SCOPE}")
    else:
        run_townhall(command, "consumers", "disable", consumer_id)
        say(f"{consumer_id}: disabled")
    status, seconds = seconds_until_refused(client, path, token, timeout)
    say(f"{consumer_id}: refused with {status} after {seconds:.2f} s")
    return Step(
        consumer_id=consumer_id,
        change=change,
        token_expires_in=int(token_body["expires_in"]),
        accepted_status=accepted.status_code,
        refused_status=status,
        seconds_to_refusal=round(seconds, 3),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; print what happened."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--townhall", help="the townhall command (default: beside this Python)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait, at most")
    parser.add_argument("--json", action="store_true", help="print one JSON summary line")
    options = parser.parse_args(argv)

    def say(line: str) -> None:
        if not options.json:
            print(line)  # noqa: T201 - a script for people

    command = townhall_command(options.townhall)
    with httpx.Client(base_url=options.base_url, timeout=10.0) as client:
        steps = [
            demonstrate(client, command, change, options.timeout, say)
            for change in ("revoke", "disable")
        ]
    if options.json:
        print(json.dumps({"steps": [asdict(step) for step in steps]}))  # noqa: T201
    else:
        slowest = max(step.seconds_to_refusal for step in steps)
        print(f"Access ended within {slowest:.2f} s of each change.")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
